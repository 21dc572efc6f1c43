"""`machine` on the virtual Pico: Pin (with IRQs), UART, Timer, WDT and friends, on the
virtual GPIO bank and clock of `_vp_kernel`. Only what an RP2040 MicroPython port offers,
with its constant values, so firmware written against the stubs runs unchanged.
"""

from _vp_kernel import K

_sys_path = None
import sys  # noqa: E402

_saved = sys.path[:]
sys.path.clear()
from machine import mem8, mem16, mem32, Signal  # noqa: F401,E402  (built-in helpers)
sys.path.extend(_saved)
del _saved
import _vp_softtimer  # noqa: E402  (machine.Timer: extmod/machine_timer.c, shared/runtime/softtimer.c)
import _vp_wdt  # noqa: E402  (watchdog, reset cause, chip reset: ports/rp2 machine_wdt.c, modmachine.c)

import _vp_mem32  # noqa: E402
mem32 = _vp_mem32.MEM32  # noqa: F811  (watchdog and PIO FDEBUG registers; host memory is not a Pico's)
_FREQ = 125000000


def freq(hz=None):
    global _FREQ
    if hz is None:
        return _FREQ
    _FREQ = hz


def unique_id():
    return b"\xe6\x61\x38\x52\x0f\x1c\x2d\x29"


def reset():
    _vp_wdt.reset(_vp_wdt.WDT_RESET)     # watchdog_reboot (modmachine.c:68-73)


def soft_reset():
    raise SystemExit(0)


def reset_cause():
    return _vp_wdt.reset_cause()


PWRON_RESET = _vp_wdt.PWRON_RESET
WDT_RESET = _vp_wdt.WDT_RESET


def idle():
    K.idle(1)


def lightsleep(ms=None):
    K.sleep_ns((ms or 0) * 1000000)


def deepsleep(ms=None):
    raise SystemExit(0)


def disable_irq():
    """Mask interrupts: due hard IRQs wait (in order) until enable_irq()."""
    return K.disable_irq()


def enable_irq(state=1):
    K.enable_irq(state)


def time_pulse_us(pin, level, timeout_us=1000000):
    return -1


class _PinIrq:
    def __init__(self, line):
        self._line = line

    def flags(self):
        return self._line.cur_flags if self._line else 0

    def trigger(self):
        return self._line.trigger if self._line else 0


class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    ALT = 3
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_LOW_LEVEL = 1
    IRQ_HIGH_LEVEL = 2
    IRQ_FALLING = 4
    IRQ_RISING = 8

    def __init__(self, id, mode=-1, pull=-1, *, value=None, alt=-1):
        if isinstance(id, str):
            id = 25 if id == "LED" else int(id.lstrip("GP"))
        if not (0 <= id <= 29):
            raise ValueError("invalid pin")
        self._id = id
        self._irq = None
        self.init(mode, pull, value=value)

    def init(self, mode=-1, pull=-1, *, value=None, alt=-1):
        g = self._id
        if value is not None:
            K.gpio_out[g] = 1 if value else 0   # latch before switching to output
        if mode in (Pin.OUT, Pin.OPEN_DRAIN):
            K.gpio_is_out[g] = True
            K.drive_output(g, K.gpio_out.get(g, 0))
        elif mode == Pin.IN:
            K.gpio_is_out[g] = False
        if pull != -1:
            K.gpio_pull[g] = 1 if pull == Pin.PULL_UP else (0 if pull == Pin.PULL_DOWN else None)

    def value(self, v=None):
        w = K.hw()              # may run in a hard IRQ: the trace record is board work
        if v is None:
            r = K.level(self._id)
            K.hw_done(w)
            return r
        v = 1 if v else 0
        if K.gpio_is_out.get(self._id):
            K.drive_output(self._id, v)
        else:
            K.gpio_out[self._id] = v
        K.hw_done(w)
        return None

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def high(self):
        self.value(1)

    def low(self):
        self.value(0)

    def toggle(self):
        self.value(1 - K.gpio_out.get(self._id, 0))

    def irq(self, handler=None, trigger=IRQ_FALLING | IRQ_RISING, hard=False):
        if handler is None and self._irq is not None and trigger == (Pin.IRQ_FALLING | Pin.IRQ_RISING):
            return self._irq
        line = K.set_irq(self._id, handler, trigger, hard, self)
        self._irq = _PinIrq(line)
        return self._irq

    def __repr__(self):
        return "Pin(GPIO%d)" % self._id


class UART:
    """UART with a simulated device attached by the board setup (K.uart_devices[id]).

    Reads wait as ports/rp2/machine_uart.c does (v1.28.0): for the first byte up to
    `timeout` ms, after each byte up to `timeout_char` ms, at least one character time
    rounded up to whole ms (:406-410), counted in whole ticks_ms with `elapsed > timeout`
    (:599-621): so a read asking for more than any() has waits 1-2 ms at 115200 baud,
    and an empty read with timeout=0 waits for the next ms tick."""

    INV_TX = 1
    INV_RX = 2
    RTS = 1
    CTS = 2

    def __init__(self, id, baudrate=115200, bits=8, parity=None, stop=1, **kw):
        self._id = id
        self._rx = bytearray(kw.get("rxbuf", 256))
        self._head = 0
        self._n = 0
        self.overruns = 0
        self.init(baudrate, bits, parity, stop, **kw)
        K.uarts[id] = self
        dev = K.uart_devices.get(id)
        if dev is not None:
            dev.attach(self)

    def init(self, baudrate=115200, bits=8, parity=None, stop=1, **kw):
        self.baudrate = baudrate
        self.timeout = kw.get("timeout", 0)
        tc = kw.get("timeout_char", 0)
        least = 13000 // baudrate + 1           # machine_uart.c:407
        self.timeout_char = tc if tc > least else least

    def deinit(self):
        K.uarts.pop(self._id, None)

    # device side -------------------------------------------------------------
    def _rx_byte(self, b):
        if self._n >= len(self._rx):
            self.overruns += 1
            return
        self._rx[(self._head + self._n) % len(self._rx)] = b
        self._n += 1

    # firmware side -----------------------------------------------------------
    def _pump(self):
        dev = K.uart_devices.get(self._id)
        if dev is not None:
            dev.pump(self)

    def any(self):
        w = K.hw()
        self._pump()
        K.hw_done(w)
        return self._n

    def read(self, n=-1):
        self._pump()
        if n < 0:
            n = self._n             # read(): what is there (rp2 reads until the timeout)
            if n == 0:
                return None
        out = bytearray(n)
        got = self.readinto(out, n)
        return bytes(out[:got]) if got else None

    def _wait_byte(self, start_ms, timeout):
        """machine_uart.c:601-617: wait until a byte is there or `timeout` whole ms
        have passed since start_ms; time and IRQs go on meanwhile."""
        while True:
            self._pump()
            if self._n:
                return True
            if (K.ticks_ms() - start_ms) & 0x3FFFFFFF > timeout:
                return False
            nxt = (K.now // 1000000 + 1) * 1000000         # the next ms tick
            ev = K.next_event_ns()
            K.advance_to(ev if 0 <= ev < nxt else nxt)

    def readinto(self, buf, nbytes=-1):
        w = K.hw()
        n = len(buf) if nbytes < 0 else nbytes
        size = len(self._rx)
        start = K.ticks_ms()
        timeout = self.timeout
        got = 0
        while got < n:
            if not self._wait_byte(start, timeout):
                break
            buf[got] = self._rx[self._head]
            self._head = (self._head + 1) % size
            self._n -= 1
            got += 1
            start = K.ticks_ms()             # inter-character timeout from here
            timeout = self.timeout_char
        K.hw_done(w)
        return got if got else None

    def write(self, buf):
        dev = K.uart_devices.get(self._id)
        if dev is not None:
            dev.receive(bytes(buf))
        return len(buf)

    def flush(self):
        pass

    def txdone(self):
        return True


Timer = _vp_softtimer.Timer      # soft timers in whole ms, as on rp2 (see _vp_softtimer)


WDT = _vp_wdt.WDT


class ADC:
    CORE_TEMP = 4

    def __init__(self, pin):
        self._pin = pin

    def read_u16(self):
        return 0
