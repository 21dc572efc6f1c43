"""Application wiring: builds every part from pins.py and the config, drives the outputs
inactive first, and runs the asyncio tasks: the service loop (woken by input IRQs and by
its own deadlines), the serial command reader and the event writer.
"""

import asyncio
import gc
import select
import sys
import time

from waits import earliest
from machine import Pin, UART
import machine

import pins
import config
import stepgen
import inputs
import lidar
import lenscal
import trigger
import motion
import focus
import protocol
import version
import commands
import features
import watchdog

CMD_POLL_MS = 5            # the command reader retries after a read that found nothing
CMD_YIELD_BYTES = 32       # it lets the other tasks run after this many bytes of one line
GC_IDLE_MS = 5000          # collect when idle once this long after the last collection
AF_POLL_MS = 2             # while AF runs the loop polls the LiDAR (100 Hz) this often,
IDLE_POLL_MS = 50          # and this often when nothing else is due: a pass and its wake
                           # cost ~1.4 ms of CPU on an RP2040 (asyncio's alone ~0.5), and
                           # with AF off nothing waits for a frame (an AF start, a status,
                           # read the UART first); the UART holds 28 frames (256 B)
S1 = pins.IN_SHUTTER_HALF
S2 = pins.IN_SHUTTER_FULL
AFON = pins.IN_AF_ON
HOME = pins.IN_HOME


def driver_timing(cfg, freq):
    """(Timing, wake_us) from the driver preset and any explicit overrides."""
    hi, lo, setup, wake = config.driver_pulses(cfg)
    return stepgen.Timing(freq, hi, lo, setup), wake


class App:
    def __init__(self):
        # outputs inactive first, before anything else can go wrong
        self.p_focus = Pin(pins.CAM_FOCUS, Pin.OUT, value=1 - pins.ACTIVE_CAM_FOCUS)
        self.p_shutter = Pin(pins.CAM_SHUTTER, Pin.OUT, value=1 - pins.ACTIVE_CAM_SHUTTER)
        self.p_en = Pin(pins.MOTOR_EN, Pin.OUT, value=1 - pins.ACTIVE_MOTOR_EN)
        self.p_led = Pin(pins.LED, Pin.OUT, value=1 - pins.ACTIVE_LED)
        self.clock = protocol.Clock()
        self.out = protocol.Out(self.clock)
        self.cfg, note = config.load()
        self.boot_note = note
        self.wd = watchdog.Watchdog(self.cfg["watchdog_ms"])    # started by run, fed by _ticker
        self.save_pending = False
        self._ticker_task = None
        self._input_cb = self._input            # bound once: no method object per pass
        self._ends_seen = 0                     # trigger.ends at the last look
        self._gc_at = time.ticks_ms()   # the last collection (the loop's idle policy)
        self.heap_total = 0             # gc.mem_alloc() + gc.mem_free(), taken at boot
        self._tick_due = time.ticks_ms()
        self.freq = machine.freq()
        timing, wake = driver_timing(self.cfg, self.freq)
        self.wake_us = wake
        self.gen = stepgen.StepGen(0, Pin(pins.STEP, Pin.OUT, value=0),
                                   Pin(pins.DIR, Pin.OUT, value=0), self.p_en,
                                   pins.ACTIVE_MOTOR_EN, self.freq, timing, machine.mem32)
        self.motion = motion.Motion(self.gen, self._motion_cfg(), self._motion_event,
                                    machine.Timer(-1))
        self.trigger = trigger.Trigger(self.p_focus, self.p_shutter,
                                       pins.ACTIVE_CAM_FOCUS, pins.ACTIVE_CAM_SHUTTER,
                                       Pin(pins.SHUTTER_FULL, Pin.IN, Pin.PULL_UP),
                                       pins.ACTIVE_SHUTTER_FULL, self.freq,
                                       hw_shutter=self.cfg["glitch_us"] == 0,
                                       timers=tuple(machine.Timer(-1) for _ in range(4)))
        self.motion.shutter = self.trigger  # type: ignore  (its timers share PendSV with the refill IRQ)
        self.uart = UART(pins.LIDAR_UART, baudrate=pins.LIDAR_BAUD,
                         tx=Pin(pins.LIDAR_TX), rx=Pin(pins.LIDAR_RX))
        self.lidar = lidar.Lidar(self.uart, self.cfg["lidar_min_amp"])
        self.lidar.request_mm()
        self.cal = lenscal.LensCal(self.cfg["lens_cal"])
        self.focus = focus.FocusMachine(self.cfg, self.motion, self.trigger, self.lidar,
                                        self.cal, self.out)
        self.focus.group.set_led(self.p_led, pins.ACTIVE_LED)    # depth-of-field answers
        self.flag = asyncio.ThreadSafeFlag()
        in_pins = [Pin(g, Pin.IN, Pin.PULL_UP) for g in pins.INPUT_GPIOS]
        self.inputs = inputs.Inputs(pins.INPUT_NAMES, in_pins, pins.INPUT_ACTIVES,
                                    self.cfg["debounce_ms"], self.cfg["glitch_us"], self.flag,
                                    switches=(HOME,))
        self.trigger.watch_bounce(self.inputs.dirty, S2)
        self.commands = commands.Commands(self)
        self.extras = features.Features(self)    # jog, marks, stacking, homing
        self._hook = self._isr_hook          # bound once (a hard IRQ must not allocate)
        self.inputs.isr_hook = self._hook

    def _motion_cfg(self):
        c = dict(self.cfg)
        c["_wake_us"] = self.wake_us
        return c

    # ---- interrupt hook: the full-press fast path, the limit switch's stop -------------
    def _isr_hook(self, idx, state, t):
        if idx == S2 and not self.inputs.held_at_boot[S2]:
            if state == 1:
                self.trigger.fire_irq(t)
            else:
                self.trigger.cancel_frame()     # no burst frame after the release
        elif idx == HOME and state == 1 and self.motion.moving and self.extras.homing.halts():
            self.motion.halt_irq()          # the main loop's halt() does the bookkeeping

    # ---- events from parts -------------------------------------------------------------
    def _motion_event(self, name, **fields):
        t = time.ticks_us()
        self.out.event(name, t, **fields)
        if name == "motion_stop":
            why = fields.get("why", "done")
            self.focus.on_moved(t, why)
            if self.extras:
                self.extras.on_moved(t, why)

    def _input(self, t, idx, st):
        name = self.inputs.names[idx]
        self.out.event("press" if st else "release", t, input=name)
        f = self.focus
        if idx == S1:
            f.half_press(st == 1, t)
        elif idx == S2:
            irq = st == 1 and self.trigger.fired_in_irq and self.trigger.fired_at == t
            if irq:
                self.trigger.fired_in_irq = False
            f.full_press(st == 1, t, irq)
        elif idx == AFON:
            f.af_button(st == 1, t, "af_on")
        if self.extras:
            self.extras.on_input(t, idx, st)

    # ---- the service loop --------------------------------------------------------------
    def step(self):
        """Do everything that is due. Returns ms until something else will be."""
        now = time.ticks_us()
        w = self.motion.service()       # first: a fast ramp's FIFO holds ~2 ms of steps
        self.clock.update(now)
        self.inputs.dispatch(self._input_cb)
        w = earliest(w, self.inputs.settle(now))
        self.inputs.dispatch(self._input_cb)
        if self.motion.halted_in_irq:
            self.motion.halt()          # stopped in the IRQ, no switch event (a lost race)
        self.trigger.rearm()
        if self.lidar.poll():
            self.focus.on_reading(time.ticks_us())
        w = earliest(w, self.motion.service())
        tr = self.trigger
        w = earliest(w, tr.service(now))
        if tr.ends != self._ends_seen:       # a pulse ended (here or in the end timer)
            self._ends_seen = tr.ends
            self.focus.update_armed()
        w = earliest(w, self.focus.service(now))
        if self.extras:
            w = earliest(w, self.extras.service(now))
        if self.save_pending and not self.motion.busy() and not self.trigger.firing:
            self._save()
        self.out.pump()             # this pass's lines, now that its work is done
        return w

    def _save(self, event=True):
        """Write the config to flash. Returns None when written, else why not (one line).
        event: also say so in a config_saved / config_error event (a deferred save has no
        reply left to carry it). A failed write is not retried: the next change tries."""
        self.save_pending = False
        self.wd.feed()      # a write can stall the CPU ~165 ms (config.WATCHDOG_MIN_MS):
                            # from a fresh feed, not from the last pass's (IDLE_POLL_MS ago)
        try:
            config.save(self.cfg)
        except Exception as e:  # noqa: BLE001 - flash full, I/O error: the loop goes on
            why = config.save_error(e)
            if event:
                self.out.event("config_error", why=why)
            return why
        if event:
            self.out.event("config_saved")
        return None

    async def _ticker(self):
        """The service loop's clock: runs step() when something is due. Other tasks that
        run step() (an IRQ, a command) and create a sooner deadline cut its sleep short
        (kick), so nothing waits for the next round."""
        while True:
            try:
                w = self.step()
                self.wd.service(not self.out.q)     # feed (or the test hook's hang)
                busy = self.motion.busy() or self.focus.af_running() or self.trigger.firing
                # no gc.mem_alloc() here: on a Pico it scans the whole heap (~9 ms)
                if not busy and time.ticks_diff(time.ticks_ms(), self._gc_at) > GC_IDLE_MS:
                    self._collect()         # now, where a pause cannot hurt
                # the parts say when they are due (motion: when its queue runs low); AF
                # polls the LiDAR (100 Hz) a little more often than its frames come
                cap = AF_POLL_MS if self.focus.af_running() else IDLE_POLL_MS
                d = cap if w < 0 or w > cap else w
                self._tick_due = time.ticks_add(time.ticks_ms(), d)
                await asyncio.sleep_ms(d)
            except asyncio.CancelledError:
                pass                    # kicked: run step() now

    def _collect(self):
        """Collect while nothing moves or fires, before the heap fills: the pause (a few ms
        on an RP2040) then never falls inside a move or a shot (docs/motion.md)."""
        gc.collect()
        self._gc_at = time.ticks_ms()

    def _kick(self, w):
        """After a step() outside the ticker: wake it if w (ms) comes before its wake."""
        if w < 0 or self._ticker_task is None:
            return
        if time.ticks_diff(self._tick_due, time.ticks_add(time.ticks_ms(), w)) > 0:
            self._tick_due = time.ticks_ms()
            self._ticker_task.cancel()

    async def _irq_waker(self):
        while True:
            await self.flag.wait()
            self._kick(self.step())

    def commands_apply(self, changes):
        return self.commands.apply_quiet(changes)

    async def _commands(self):
        """Serial commands, one line each. Bytes are taken one at a time and only when
        stdin polls readable: on rp2 a readline() blocks the whole event loop from a
        line's first byte to its newline (docs/virtual_pico.md), and one non-UTF-8 byte
        would raise inside it. Between lines the task waits in asyncio's poll for the
        first byte (a StreamReader's read(1)), not on a timer. A line longer than MAX_LINE, or not text, gets one error
        reply; the next line works."""
        handler = self.commands
        inp = sys.stdin.buffer
        poller = select.poll()
        poller.register(inp, select.POLLIN)
        buf = bytearray(protocol.MAX_LINE + 1)
        n = 0
        run = 0                         # bytes read since the last yield
        over = False
        reader = asyncio.StreamReader(inp)
        while True:
            ready = False
            for _ in poller.ipoll(0):       # ipoll: no list per call (poll() makes one)
                ready = True
            if ready:
                b = inp.read(1)
            else:
                # nothing there: sleep in asyncio's poll until the host sends (no
                # polling every few ms, which cost an RP2040 several % when idle)
                b = await reader.read(1)
            if not b:
                await asyncio.sleep_ms(CMD_POLL_MS)
                continue
            c = b[0]
            if c != 10 and c != 13:
                if n < len(buf):
                    buf[n] = c
                    n += 1
                else:
                    over = True
                run += 1
                if run >= CMD_YIELD_BYTES:      # a long line must not starve the loop
                    run = 0
                    await asyncio.sleep_ms(0)
                continue
            run = 0
            line = bytes(buf[:n])
            n = 0
            if over:
                over = False
                self.out.error("?", "command longer than %d characters" % protocol.MAX_LINE)
            else:
                try:
                    text = line.decode()
                except UnicodeError:
                    text = None
                    self.out.error("?", "command is not text (UTF-8)")
                if text and text.strip():
                    handler.run(text)
                    # its reply (and a move's motion_start) first: the pass after it
                    # can take a LiDAR backlog and, early in a fast move, the refill
                    # IRQ's share of the CPU (10-20 ms)
                    self.out.pump()
                    self._kick(self.step())
            # one line per turn: the writer sends its reply before the next is made (a
            # burst of queued lines would otherwise overflow the output queue: `lost`)
            await asyncio.sleep_ms(0)

    def boot_report(self):
        gc.collect()
        used = gc.mem_alloc()
        self.heap_total = used + gc.mem_free()      # once: each is a heap scan (~9 ms)
        self.out.event("boot", version=version.VERSION, protocol=version.PROTOCOL,
                       config=self.boot_note or "config.json loaded",
                       reset_cause=watchdog.reset_cause(), watchdog_ms=self.wd.timeout_ms,
                       mem_alloc=used, mem_free=self.heap_total - used,
                       held=[self.inputs.names[i] for i in range(self.inputs.n)
                             if self.inputs.held_at_boot[i]])

    async def run(self):
        self.wd.start()
        self.boot_report()              # collects first (its figures are after a collection)
        self._gc_at = time.ticks_ms()
        asyncio.create_task(self.out.writer())
        asyncio.create_task(self._irq_waker())
        asyncio.create_task(self._commands())
        self._ticker_task = asyncio.create_task(self._ticker())
        while True:
            await asyncio.sleep_ms(60000)



def safe_boot():
    """AF-ON + full press held at power-up: skip the firmware (stay at the REPL)."""
    a = Pin(pins.AF_ON, Pin.IN, Pin.PULL_UP)
    s = Pin(pins.SHUTTER_FULL, Pin.IN, Pin.PULL_UP)
    return a.value() == pins.ACTIVE_AF_ON and s.value() == pins.ACTIVE_SHUTTER_FULL


def main():
    import micropython
    emergency = getattr(micropython, "alloc_emergency_exception_buf", None)
    if emergency:               # rp2 has it; the unix port (virtual Pico) does not
        emergency(100)
    if safe_boot():
        print("focusrig: safe boot (AF-ON + shutter held): firmware not started")
        return
    app = App()
    try:
        asyncio.run(app.run())
    except KeyboardInterrupt:
        app.wd.stop()           # the user wants the REPL: no reset under their hands
        raise
    finally:
        app.trigger.release_all()
        app.gen.enable(False)
        asyncio.new_event_loop()
