"""Virtual Pico power-on: read the board setup, wire the simulated devices, install the
virtual-time hook into asyncio, then run the flash folder's boot.py and main.py exactly as
the board's firmware would. Usage (the host's runner does this):

    micropython [-i] _vp_boot.py SETUP.json

SETUP.json is written by focusrig.virtual_pico.runner (mode, duration, pin map, contact
edges, subject distance, LiDAR, lens/driver model, timed serial commands, trace path).
"flash_full": true (tests, through runner.run(extra_setup=...)) makes opening a file on
the flash for writing fail with ENOSPC.

Paced mode (`focusrig emulate`, see focusrig.virtual_pico.emulate): virtual time follows
the wall clock, the interpreter runs under a pseudo-terminal with `-i` so the REPL follows
boot.py / main.py, "run" lists the files to run (a raw-REPL soft reset runs boot.py only),
"control" names a file of button / subject commands the kernel polls while idling, and
machine.reset() / machine.soft_reset() end the process with the exit codes the emulator
turns into a hard or soft reset.
"""

import gc
import json
import os
import sys

import micropython
from _vp_kernel import K, SIG_LENS_POS
import _vp_devices as dev
import _vp_cpu
from _vp_usbcdc import UsbCdc

try:
    import _vphook      # the project's interpreter build (virtual_pico/cmod)
except ImportError:
    _vphook = None

BOARD = None


def _install_asyncio_hook():
    """Replace asyncio's IOQueue.wait_io_event: advance virtual time instead of sleeping,
    then dispatch what is ready. Readiness is checked directly (ThreadSafeFlag and Python
    streams through their ioctl, real fds with one zero-timeout poll): the unix port's
    select.poll waits in 1 ms wall-clock steps whenever a non-fd object is registered.
    asyncio's C half keys tasks by the board's clock too."""
    import select
    import time
    import asyncio.core as core
    if _vphook is not None:
        _vphook.set_asyncio_clock(time.ticks_ms)
    POLLIN, POLLOUT = select.POLLIN, select.POLLOUT
    fdpoll = select.poll()

    def ready(s, want):
        io = getattr(s, "ioctl", None)
        if io is not None:
            return io(3, want)          # MP_STREAM_POLL
        fdpoll.register(s, want)
        r = fdpoll.poll(0)
        fdpoll.unregister(s)
        return r[0][1] if r else 0

    def want_of(sm):
        return (POLLIN if sm[0] is not None else 0) | (POLLOUT if sm[1] is not None else 0)

    def wait_io_event(self, dt):
        # what this costs a Pico (core.py's Python, select's C, the USB task): _vp_cpu
        K.c_work(int((_vp_cpu.WAIT_IO + _vp_cpu.WAIT_IO_STREAM * len(self.map))
                     * _vp_cpu.scale_in_use))
        # a Pico's poll looks at its objects before it waits (extmod/modselect.c:400-411,
        # the rp2 path): a ThreadSafeFlag an IRQ set while the loop ran is seen at once.
        # Idling first waited for the next wake instead (up to a LiDAR frame, ~3 ms).
        if dt != 0:
            for sm in self.map.values():
                if ready(sm[2], want_of(sm)):
                    dt = 0
                    break
        if K.probing:
            m0 = micropython.mem_total()
            K.idle(dt)
            K.sim_alloc += micropython.mem_total() - m0
        else:
            K.idle(dt)
        for sm in list(self.map.values()):
            s = sm[2]
            ev = ready(s, want_of(sm))
            if not ev:
                continue
            if ev & ~POLLOUT and sm[0] is not None:
                core._task_queue.push(sm[0], core.ticks())      # virtual now
                sm[0] = None
            if ev & ~POLLIN and sm[1] is not None:
                core._task_queue.push(sm[1], core.ticks())
                sm[1] = None
            if sm[0] is None and sm[1] is None:
                self._dequeue(s)
            elif sm[0] is None:
                self.poller.modify(s, POLLOUT)
            else:
                self.poller.modify(s, POLLIN)

    core.IOQueue.wait_io_event = wait_io_event


class Board:
    def __init__(self, setup):
        self.setup = setup
        self.pins = setup["pins"]           # name -> [gpio, active level]
        K.seed(setup.get("seed", 0))
        K.irq_latency_ns = int(setup.get("irq_latency_us", 20) * 1000)
        K.irq_jitter_ns = int(setup.get("irq_jitter_us", 5) * 1000)
        K.us_start = setup.get("ticks_start_us", 0) & ((1 << 30) - 1)
        # ticks_ms() starts at 0 at power-on, as on a Pico; asyncio's C half, which keys
        # some tasks (create_task, Event.set, cancel), reads the same clock (_vphook
        # set_asyncio_clock, below). Until December 2026 it read the host's, and the
        # virtual clock was put 2**28 ms ahead of it so such tasks looked due at once; the
        # host's clock then made the task order, and the virtual time of a run, differ
        # from run to run.
        K.ms_start = 0
        end_ms = setup.get("end_ms", -1)
        K.end_ns = int(end_ms * 1000000) if end_ms >= 0 else -1
        self.trace = None
        if setup.get("trace"):
            self.trace = dev.TraceWriter(setup["trace"])
            K.trace_fn = self.trace.record
        # every input floats high through the firmware's pull-ups unless a contact drives it
        for name, (gpio, active) in self.pins.items():
            if name in setup.get("inputs", ()):
                K.gpio_ext[gpio] = 1 - active
        self.contacts = dev.Contacts(setup.get("edges_file"))
        K.contacts = self.contacts
        self.subject = dev.Subject(setup.get("subject", [[0, 0]]))
        lid = setup.get("lidar", {})
        self.lidar = dev.TFLuna(self.subject, lid.get("rate_hz", 100), lid.get("first_ms", 3),
                                lid.get("noise_cm", 0), lid.get("amp", 1200),
                                lid.get("cm_only", False))
        K.uart_devices[setup.get("lidar_uart", 0)] = self.lidar
        lens = setup.get("lens", {})
        p = self.pins
        home = p.get("home", [-1, 0])
        self.lens = dev.Lens(p["step"][0], p["dir"][0], p["motor_en"][0], p["motor_en"][1],
                             lens.get("min_high_ns", 1000), lens.get("min_low_ns", 1000),
                             lens.get("setup_ns", 200), lens.get("wake_ns", 0),
                             home[0] if lens.get("home_pos") is not None else -1,
                             lens.get("home_pos"), home[1], lens.get("start_pos", 0))
        usb = setup.get("usb", {})
        self.usb = UsbCdc(usb.get("host_connected", True), usb.get("host_reading", True),
                          usb.get("drain_bytes_per_ms", 1000))
        self.serial = dev.SerialScript(self.usb, setup.get("serial", []))
        if setup.get("usb_lines"):
            self.usb.line_file = open(setup["usb_lines"], "wb")
        probe = setup.get("alloc_probe")
        if probe:
            _instrument_board()
            K.at(int(probe[0] * 1000000), _probe_start)
            K.at(int(probe[1] * 1000000), _probe_end)
        K.on_end.append(self.finish)

    def finish(self):
        global _RESERVED
        K.sync()
        self.usb.uninstall()            # the host reads what is left in the TX FIFO
        if self.usb.line_file is not None:
            self.usb.line_file.close()
        fw_heap = _firmware_heap()
        # the firmware is done: the block that sized its heap as a Pico's makes room for
        # the report (its profiles ran out of memory after a watchdog reset's second boot)
        _RESERVED = None
        gc.collect()
        stats = {
            "t_ns": K.now,
            "irqs": K.irq_count,
            "irq_alloc_errors": K.irq_alloc_errors,
            "lens_pos": self.lens.pos,
            "steps": self.lens.steps,
            "driver_faults": self.lens.faults,
            "shortest_high_ns": self.lens.shortest_high_ns,
            "shortest_setup_ns": self.lens.shortest_setup_ns,
            "lidar_frames": self.lidar.frames,
            "sim_mem_alloc": K.sim_mem,
            "heap_reserved": K.heap_reserved,
            "firmware_mem_alloc": fw_heap,
            "alloc_probe": K.probe_result,
            "trace_dropped": self.trace.dropped if self.trace else 0,
            "cpu_ns": K.cpu_ns,
            # bytecode cycles per firmware module and the collections charged (CPU model)
            "cpu_profile": _cpu_profile(),
            "usb_rx_bytes": self.usb.rx_bytes,
            "usb_tx_bytes": self.usb.tx_bytes,
            "usb_interrupts": self.usb.interrupts,
            "resets": _chip_resets(),
        }
        if self.trace:
            self.trace.record(K.now, SIG_LENS_POS, self.lens.pos)
            self.trace.close()
        path = self.setup.get("stats")
        if path:
            with open(path, "w") as f:
                json.dump(stats, f)


def _chip_resets():
    """[[t_ns, reset_cause], ...] of the chip resets in this run (board/_vp_wdt.py)."""
    w = sys.modules.get("_vp_wdt")
    return [[t, c] for t, c in w.CHIP.log] if w else []


def _instrument_board():
    """For the allocation probe: bytes allocated inside the board's own code (the PIO
    engine catching up inside sm.put(), the UART model inside uart.any() ...) are the
    virtual Pico's, not the firmware's. Fixed-arity wrappers: *args would allocate."""
    import machine
    import rp2
    mt = micropython.mem_total

    def wrap0(cls, name):
        f = getattr(cls, name)

        def w(self):
            if not K.probing:
                return f(self)
            m0 = mt()
            r = f(self)
            K.sim_alloc += mt() - m0
            return r
        setattr(cls, name, w)

    def wrap1(cls, name):
        f = getattr(cls, name)

        def w(self, a=None):
            if not K.probing:
                return f(self) if a is None else f(self, a)
            m0 = mt()
            r = f(self) if a is None else f(self, a)
            K.sim_alloc += mt() - m0
            return r
        setattr(cls, name, w)

    for n in ("tx_fifo", "rx_fifo", "restart"):
        wrap0(rp2.StateMachine, n)
    for n in ("put", "exec", "active"):
        wrap1(rp2.StateMachine, n)
    wrap0(machine.UART, "any")
    wrap1(machine.UART, "readinto")
    wrap1(machine.Pin, "value")


def _probe_start(_):
    """Allocation probe: micropython.mem_total() counts every byte ever allocated; the
    virtual Pico's own share (time advanced inside asyncio's wait) is measured apart."""
    K.probing = True
    K.sim_alloc = 0
    K.probe_t0 = K.now
    K.probe_a0 = micropython.mem_total()


def _probe_end(_):
    total = micropython.mem_total() - K.probe_a0
    K.probing = False
    secs = (K.now - K.probe_t0) / 1e9
    fw = total - K.sim_alloc
    K.probe_result = {"seconds": secs, "total_bytes": total, "sim_bytes": K.sim_alloc,
                      "firmware_bytes": fw, "firmware_bytes_per_s": fw / secs if secs else 0}


PICO_FREE_AT_REPL = 241696     # gc.mem_free() at a bare REPL, official v1.28.0 RPI_PICO
BOARD_WORK = 4096              # the board's own working room (within 2 % of a Pico's heap)
_RESERVED = None


def _size_heap_as_pico(setup):
    """Leave the firmware the heap a Pico has: measure the board's share, then take what
    is beyond PICO_FREE_AT_REPL (+ the board's working room) in one block. The
    firmware's gc.mem_free() then reads as on a Pico; its gc.mem_alloc() includes the
    board's share (K.sim_mem) and the block (K.heap_reserved)."""
    global _RESERVED
    gc.collect()
    K.sim_mem = gc.mem_alloc()
    spare = gc.mem_free() - setup.get("pico_free", PICO_FREE_AT_REPL) - BOARD_WORK
    if spare > 16:
        # in one block; a large heap for a long run, already fragmented by the board's
        # set-up, may have no block that big: then none (reserved in pieces, the
        # firmware found no block for its code). Its gc figures and the automatic
        # collections come from _vp_gc / vphook's model of a Pico's heap either way;
        # only a real MemoryError at a Pico's heap size is not reproduced then.
        try:
            _RESERVED = bytearray(spare)
        except MemoryError:
            _RESERVED = None
        gc.collect()
        K.heap_reserved = gc.mem_alloc() - K.sim_mem


def _cpu_profile():
    try:
        import _vphook
        prof = {str(n): c for n, c, _ in _vphook.profile()}
        prof["(collections)"] = _vphook.gc_stats()[0]
        for n, _, a in _vphook.profile():
            prof["(alloc) " + str(n)] = a
        for op, a in _vphook.op_alloc():
            prof["(alloc op) 0x%02x" % op] = a
        for n, op, a in _vphook.net_profile():      # not freed at once: the heap's growth
            prof["(net) %s 0x%02x" % (n, op)] = a
        for n, a in _vphook.net_functions():        # the same by function
            prof["(netfn) %s" % n] = a
        for n, op, h, p in _vphook.map_profile():   # map lookups past the cache, probes
            prof["(map) %s 0x%02x" % (n, op)] = [h, p]
        return prof
    except (ImportError, AttributeError):
        return {}


def _firmware_heap():
    """The firmware's live heap now: gc.mem_alloc() after a collect, less the board's
    share and the reserved block (a built-in gc cannot be shadowed, so the firmware's own
    gc.mem_alloc() includes them; hosts subtract stats' sim_mem_alloc + heap_reserved)."""
    gc.collect()
    return gc.mem_alloc() - K.sim_mem - K.heap_reserved


def _warm_up_assembler():
    nop()  # type: ignore # noqa: F821  (PIO assembler DSL)


# outputs with a pull-up on the board (hardware/README.md: R1 keeps the driver's active-low
# ENABLE off while the RP2040 resets); every other pad resets to its pull-down
EXTERNAL_PULLUPS = ("motor_en",)
EXIT_SOFT_RESET = 0      # Ctrl-D at a REPL also ends the unix port with 0
EXIT_HARD_RESET = 99


class Control:
    """Commands from the emulator (buttons, subject distance), one per line appended to
    a file, polled while the firmware idles (paced mode only). Times are the host's wall
    clock (time.time_ns(), the same clock paced virtual time follows), so lines read a
    little late still act at the right moment:

        edges [[wall_ns, gpio, level], ...]   drive input pins
        subject [[wall_ns, mm], ...]          new subject distance path
    """

    CHUNK = 4096

    def __init__(self, path, board):
        self.path = path
        self.board = board
        self.buf = b""
        self.next_ns = 0
        try:
            self.pos = os.stat(path)[6]
        except OSError:
            self.pos = 0

    def poll(self, k):
        real = k.real_ns()
        if real < self.next_ns:
            return
        self.next_ns = real + 5000000
        try:
            size = os.stat(self.path)[6]
        except OSError:
            return
        if size <= self.pos:
            return
        n = size - self.pos
        if n > self.CHUNK:
            n = self.CHUNK
            self.next_ns = real         # more to read: come back soon
        with open(self.path, "rb") as f:
            f.seek(self.pos)
            data = f.read(n)
        self.pos += len(data)
        buf = self.buf + data
        start = 0
        while True:
            i = buf.find(b"\n", start)
            if i < 0:
                break
            line = buf[start:i]
            start = i + 1
            try:
                self.command(line.decode())
            except Exception as e:  # noqa: BLE001 - a bad control line must not stop the board
                sys.stderr.write("virtual-pico: bad control line %r: %r\n" % (line[:60], e))
        self.buf = buf[start:]
        k.wake = True

    def command(self, line):
        parts = line.split(None, 1)
        if not parts:
            return
        # wall clock -> virtual time (see Kernel.real_ns)
        off = K._real_base - K._real_t0
        if parts[0] == "edges":
            for w, gpio, level in json.loads(parts[1]):
                K.at(int(w) + off, _drive, (int(gpio), int(level)))
        elif parts[0] == "subject":
            self.board.subject._p = [(int(w) + off, float(d)) for w, d in json.loads(parts[1])]
        else:
            raise ValueError("unknown command")


def _drive(arg):
    K.drive_input(arg[0], arg[1])
    K.wake = True


BOARD_MODULES = ("_vp_kernel", "_vp_devices", "_vp_pio", "_vp_cpu", "_vp_usbcdc", "machine",
                 "rp2", "time", "_vp_heapq", "_vp_wdt", "_vp_mem32", "_vp_faults", "_vp_gc", "_vp_softtimer")


def _idle_to_end():
    """The firmware has stopped (Ctrl-C): the board idles at its REPL until the run ends."""
    try:
        while True:
            K.idle(-1)
    except SystemExit:
        pass


def _hard_reset():
    raise SystemExit(EXIT_HARD_RESET)


def _soft_reset():
    raise SystemExit(EXIT_SOFT_RESET)


def _unlock_heap():
    """A Ctrl-C can land inside a hard IRQ handler, with the heap locked (the kernel's
    run_handler locks it once; unlocking an unlocked heap would corrupt the lock depth)."""
    if K.in_irq:
        try:
            micropython.heap_unlock()
        except Exception:  # noqa: BLE001
            pass
    K.in_irq = False


def _flash_full(flash):
    """Setup option "flash_full": the flash has no free block, so opening a file in the
    flash folder for writing fails with OSError(28) (ENOSPC), as littlefs does when full."""
    import builtins
    real_open = builtins.open
    where = flash.rstrip("/") + "/"

    def open_on_full_flash(name, mode="r", *args, **kw):
        if isinstance(name, str) and ("w" in mode or "a" in mode or "+" in mode or "x" in mode) \
                and (not name.startswith("/") or name.startswith(where)):
            raise OSError(28)
        return real_open(name, mode, *args, **kw)
    builtins.open = open_on_full_flash


def _pico_main_globals():
    """__main__'s globals as a Pico hands them to boot.py and main.py (both run in it):
    py/runtime.c mp_init makes the dict (one slot) with __name__, then rp2's frozen
    _boot.py (ports/rp2/modules/_boot.py) runs in it: pyexec stores its __file__, it
    imports vfs, machine and rp2, binds bdev and fs, and deletes vfs, bdev and fs. A map
    places keys by hash and keeps a deleted key's slot (py/map.c), so the same insertions
    and deletions give main.py's globals a Pico's slots: the probes its lookups make,
    which the CPU model charges (a built-in's name misses the globals first)."""
    g = {"__name__": "__main__"}            # BUILD_MAP 1: a map of one slot, as mp_init's
    g["__file__"] = "_boot.py"
    g["vfs"] = None
    g["machine"] = sys.modules.get("machine")
    g["rp2"] = sys.modules.get("rp2")
    g["bdev"] = None
    g["fs"] = None
    del g["vfs"], g["bdev"], g["fs"]
    return g


def _run_file(name, g):
    try:
        os.stat(name)
    except OSError:
        return False
    with open(name) as f:
        src = f.read()
    g["__file__"] = name
    if _vphook is not None:
        _vphook.qstrs_firmware(True, name)  # its qstrs are the firmware's (a Pico compiles it)
    try:
        code = compile(src, name, "exec")
    finally:
        if _vphook is not None:
            _vphook.qstrs_firmware(False)
    exec(code, g)
    return True


def main():
    global BOARD
    setup_path = sys.argv[1] if len(sys.argv) > 1 else "vpico_setup.json"
    with open(setup_path) as f:
        setup = json.load(f)
    flash = setup.get("flash")
    if flash:
        os.chdir(flash)
        if setup.get("flash_full"):
            _flash_full(flash)
    _install_asyncio_hook()
    BOARD = Board(setup)
    if setup.get("faults"):
        import _vp_faults       # injected device faults (tests/test_faults.py)
        _vp_faults.install(BOARD, setup["faults"])
    paced = setup.get("mode") == "paced"
    if paced:
        K.start_paced()
        if setup.get("control"):
            K.idle_hooks.append(Control(setup["control"], BOARD).poll)
    import machine  # noqa: F401  (on a real Pico these live in ROM, not the heap)
    if paced:
        machine.reset = _hard_reset
        machine.soft_reset = _soft_reset
    import rp2  # noqa: F401
    import asyncio  # noqa: F401  (frozen on the board)
    rp2.asm_pio()(_warm_up_assembler)   # the assembler's own tables are board memory too
    import _vp_gc  # noqa: F401  (board modules imported below: loaded before the heap is sized)
    import _vp_wdt  # noqa: F401
    import _vp_mem32  # noqa: F401
    _size_heap_as_pico(setup)
    if setup.get("ready"):
        # the emulator holds input until here: a Ctrl-C before this point would hit the
        # interpreter's start-up instead of boot.py / main.py
        with open(setup["ready"], "w") as f:
            f.write("1")
    if not paced:
        # a scenario run: the USB CDC model owns the serial, firmware bytecodes cost time
        # (the emulator keeps the pty's line discipline and free CPU: docs/virtual_pico.md)
        BOARD.usb.install()
        import _vp_gc
        sys.modules["gc"] = _vp_gc  # the firmware's gc: its own heap, as on a Pico
        _vp_cpu.install([sys.modules[n] for n in BOARD_MODULES if n in sys.modules] + [globals()],
                        setup.get("cpu_scale", _vp_cpu.SCALE), K.sim_mem + K.heap_reserved,
                        setup.get("pico_free", PICO_FREE_AT_REPL))
        K.irq_entry = int(_vp_cpu.IRQ_ENTRY * _vp_cpu.scale_in_use)
        K.irq_entry_timer = int(_vp_cpu.IRQ_ENTRY_TIMER * _vp_cpu.scale_in_use)
        K.uart_rx_irq = int(_vp_cpu.UART_RX_IRQ * _vp_cpu.scale_in_use)
        BOARD.usb.tx_packet_cycles = int(_vp_cpu.USB_TX_PACKET * _vp_cpu.scale_in_use)
        K.cpu_armed = True          # charged from the firmware's first clock read
    import _vp_wdt
    _vp_wdt.CHIP.pullups = tuple(BOARD.pins[n][0] for n in EXTERNAL_PULLUPS if n in BOARD.pins)
    _vp_wdt.CHIP.usb = BOARD.usb
    keep = set(sys.modules)         # a chip reset drops every module imported after this
    while True:
        try:
            main_globals = _pico_main_globals()
            for name in setup.get("run", ("boot.py", "main.py")):
                _run_file(name, main_globals)
        except _vp_wdt.Reset:
            try:
                _vp_wdt.reboot(keep)    # the watchdog (or machine.reset()): boot again
            except SystemExit:
                break
            continue
        except SystemExit:
            if paced:
                raise               # the emulator turns this into a reset
        except KeyboardInterrupt as e:
            _unlock_heap()
            sys.print_exception(e)      # as on a board: main.py stops, the REPL waits
            if not paced:
                _idle_to_end()
        except Exception as e:  # noqa: BLE001
            if not paced:
                raise
            _unlock_heap()
            sys.print_exception(e)
        break
    if paced:
        gc.collect()
        return                  # on to the REPL (the interpreter runs with -i)
    if K.on_end:
        try:
            K.finish()
        except SystemExit:
            pass


main()
