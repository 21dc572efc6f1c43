"""The virtual Pico's watchdog and chip reset: `machine.WDT`, `machine.reset_cause()`,
`machine.reset()` and what a reset does to the board, after MicroPython v1.28.0's rp2 port
and the pico-sdk it uses:

- ports/rp2/machine_wdt.c:33 `WDT_TIMEOUT_MAX 8388` (0xffffff / 2 / 1000: RP2040-E1, the
  counter ticks twice per us); :40-42 an id other than 0 -> ValueError "WDT(%d) doesn't
  exist"; :46-48 a timeout above the max -> ValueError "timeout exceeds 8388"; :49
  `watchdog_enable(timeout, false)`; :56 `feed()` = `watchdog_update()` (reload).
  extmod/machine_wdt.c: WDT(id=0, timeout=5000). No deinit, no timeout_ms() on rp2.
- ports/rp2/modmachine.c:51-52 PWRON_RESET 1, WDT_RESET 3; :68-73 `machine.reset()` is
  `watchdog_reboot()`; :75-83 `reset_cause()` is WDT_RESET when the watchdog caused the
  reboot (pico-sdk `watchdog_caused_reboot()`: any REASON bit on the RP2040, so after
  machine.reset() too).
- pico-sdk `watchdog_enable`: the watchdog resets every block but the oscillators (PSM
  WDSEL): the timer restarts at 0, every pad returns to its reset state (input, pull-down:
  hardware/README.md "Power-up"; the driver's ENABLE has the 10 k pull-up R1), the PIO
  stops, GPIO IRQs are off, the USB device drops off the bus. Flash survives.
- RP2040 datasheet 4.7.6: CTRL (0x40058000) bit 30 ENABLE; the firmware clears it through
  `machine.mem32` to stop the watchdog at Ctrl-C (firmware/watchdog.py); `_vp_mem32`
  routes CTRL and REASON here.

A reset (watchdog timeout or machine.reset() in a scenario run) puts the board in its
reset state at once, lets the firmware's Python stack unwind with the CPU model, trace and
device watchers off (on a Pico nothing of it runs), then spends BOOT_NS in reset/boot with
the pads as they are and runs boot.py / main.py again (`_vp_boot.main`). In paced mode
(`focusrig emulate`) a reset ends the interpreter with the hard-reset exit code instead.
"""

from _vp_kernel import K, MASK30
import _vp_softtimer

try:
    import _vphook
except ImportError:     # CPython unit tests
    _vphook = None

WDT_TIMEOUT_MAX = 8388          # machine_wdt.c:33
PWRON_RESET = 1                 # modmachine.c:51
WDT_RESET = 3                   # modmachine.c:52
CTRL = 0x40058000               # WATCHDOG_BASE + 0x00
REASON = 0x40058008             # WATCHDOG_BASE + 0x08
ENABLE = 1 << 30
# reset -> the firmware's clock start on the rp2040 target: 424-430 ms (docs/targets.md)
BOOT_NS = 425000000


class Reset(BaseException):
    """Unwinds the firmware after a chip reset (not an Exception: nothing catches it)."""


class _Chip:
    def __init__(self):
        self.cause = PWRON_RESET
        self.enabled = False
        self.timeout_ns = 0
        self.last_feed = 0
        self.gen = 0                    # the pending expiry check's generation
        self.resets = 0
        self.pullups = ()               # GPIOs with an external pull-up (set by the board)
        self.usb = None                 # the board's USB CDC model (set by the board)
        self.log = []                   # [(t_ns, cause)] of each reset

    def enable(self, timeout_ms):
        self.enabled = True
        self.timeout_ns = timeout_ms * 1000000
        self.last_feed = K.now
        self.gen += 1
        K.at(K.now + self.timeout_ns, self._check, self.gen)

    def feed(self):
        K.sync()
        self.last_feed = K.now

    def stop(self):
        self.enabled = False
        self.gen += 1

    def _check(self, gen):
        if gen != self.gen or not self.enabled:
            return
        due = self.last_feed + self.timeout_ns
        if K.now < due:
            K.at(due, self._check, gen)
            return
        reset(WDT_RESET)


CHIP = _Chip()


class WDT:
    """machine.WDT (rp2): one watchdog; starting it again reloads the same one."""

    def __init__(self, id=0, timeout=5000):
        if id != 0:
            raise ValueError("WDT(%d) doesn't exist" % id)
        if timeout > WDT_TIMEOUT_MAX:
            raise ValueError("timeout exceeds %d" % WDT_TIMEOUT_MAX)
        CHIP.enable(timeout if timeout > 0 else 0)

    def feed(self):
        w = K.hw()
        CHIP.feed()
        K.hw_done(w)


def reset_cause():
    return CHIP.cause


def mem32_get(addr):
    """machine.mem32 reads of the watchdog's registers (CTRL, REASON); _vp_mem32 routes."""
    if addr == CTRL:
        return (ENABLE if CHIP.enabled else 0) | 0x07000000       # + PAUSE_* bits
    if addr == REASON:
        return 1 if CHIP.cause == WDT_RESET else 0
    raise ValueError("virtual-pico: mem32[0x%08x] is not modelled" % addr)


def mem32_set(addr, value):
    if addr == CTRL:
        if value & (1 << 31):
            reset(WDT_RESET)            # CTRL.TRIGGER
        if value & ENABLE:
            if not CHIP.enabled:
                CHIP.enable(CHIP.timeout_ns // 1000000)
        else:
            CHIP.stop()
        return
    raise ValueError("virtual-pico: mem32[0x%08x] is not modelled" % addr)




_saved = {}


def _noop(*a):
    pass


def reset(cause):
    """The chip resets now: everything to its reset state, then unwind the firmware."""
    if K.paced:
        raise SystemExit(99)        # _vp_boot.EXIT_HARD_RESET: the emulator powers on again
    import sys
    import rp2
    CHIP.cause = cause
    CHIP.stop()
    CHIP.resets += 1
    CHIP.log.append((K.now, cause))
    K.sync()
    # pads: every output the firmware or a PIO drove goes to input with the pad pull-down;
    # a pin with an external pull-up then reads 1 (the level is traced and the devices
    # watching it see it first, as drive_output tells them)
    for g in list(K.gpio_is_out):
        if K.gpio_is_out[g]:
            K.drive_output(g, 1 if g in CHIP.pullups else 0)
            K.gpio_is_out[g] = False
    for g in range(30):
        K.gpio_pull[g] = 0
    for g in CHIP.pullups:
        K.gpio_ext[g] = 1
    # GPIO IRQs off: queued dispatches of the old handlers do nothing
    for line in K.irqs.values():
        line.handler = _noop
    K.irqs.clear()
    K._held_irqs = []
    K.irq_enabled = True
    _vp_softtimer.TIMERS.clear()           # the alarm and the soft-timer heap are gone
    # PIO stopped and its instruction memory cleared
    for sm in K.sms:
        sm.active = False
    K.sms = []
    rp2._BLOCKS[:] = [rp2._Block(0), rp2._Block(1)]
    K.uarts.clear()
    usb = CHIP.usb
    if usb is not None:
        usb.rx = bytearray()                # the device's ring is gone with it
        usb.host_pending = bytearray()
    # the firmware's stack unwinds in no time and touches nothing a Pico would see
    _saved["trace"] = K.trace_fn
    _saved["watchers"] = K.pin_watchers
    _saved["out"] = dict(K.gpio_out)
    _saved["cpu"] = K._cpu
    K.trace_fn = None
    K.pin_watchers = {}
    K._cpu = False
    if _vphook is not None:
        _vphook.set_alarm(-1)
    if K.heap_locked:
        K.heap_locked = False
        import micropython
        micropython.heap_unlock()
    K.in_irq = False
    raise Reset()


def reboot(keep):
    """After the unwind: undo what the dying firmware touched, spend the boot time with
    the pads in reset state, restart the timer at 0 and drop the firmware's modules so
    boot.py / main.py import them afresh. Raises SystemExit when the run ends meanwhile."""
    import sys
    import asyncio
    K.trace_fn = _saved.pop("trace", K.trace_fn)
    K.pin_watchers = _saved.pop("watchers", K.pin_watchers)
    out = _saved.pop("out", None)
    if out is not None:
        K.gpio_out.clear()
        K.gpio_out.update(out)
    for g in list(K.gpio_is_out):
        K.gpio_is_out[g] = False
    for g in range(30):
        K.gpio_pull[g] = 0
    for name in list(sys.modules):
        if name not in keep:
            del sys.modules[name]
    asyncio.new_event_loop()
    if _vphook is not None:
        _vphook.take()              # the unwind's bytecodes took no time
    K._cpu = _saved.pop("cpu", K._cpu)
    K.sleep_ns(BOOT_NS)
    usb = CHIP.usb
    if usb is not None:
        usb.rx = bytearray()        # typed while the device was off the bus: lost
        usb.host_pending = bytearray()
    K.us_start = (-(K.now // 1000)) & MASK30       # ticks_us() restarts at 0
    K._arm()
