"""`time` on the virtual Pico: the built-in module, with the clock replaced by virtual time.

ticks_us/ticks_ms/ticks_cpu read the kernel's virtual clock, wrapping at 2**30 like the
board; sleep_* advance it, running interrupts on the way. ticks_diff/ticks_add are
implemented here with the board's 2**30 period: the 64-bit unix port's built-ins use a
2**62 period and would hide wraparound bugs.
"""

import sys

_saved = sys.path[:]
sys.path.clear()
from time import *  # noqa: F401,F403  (the built-in time module)
from time import localtime, gmtime  # noqa: F401
from time import time_ns as _real_time_ns, sleep_us as _real_sleep_us  # wall clock (emulate)
sys.path.extend(_saved)
del _saved

from _vp_kernel import K  # noqa: E402

_EPOCH_S = 1767225600  # 2026-01-01T00:00:00Z: the board's RTC after the host set it


_MASK = (1 << 30) - 1     # 2**30 itself is not a small int on the board
_HALF = 1 << 29


def ticks_diff(a, b):
    """Signed a - b on the 2**30 ticks circle (valid for |a - b| < 2**29). Small-int
    arithmetic only: it runs in hard IRQ handlers, where the board's C version cannot
    allocate either."""
    d = (a - b) & _MASK
    if d >= _HALF:
        d = d - _HALF - _HALF
    return d


def ticks_add(t, delta):
    w = K.hw()
    r = (t + delta) & _MASK
    K.hw_done(w)
    return r


def ticks_us():
    K.clock_read()
    w = K.hw()
    r = K.ticks_us()
    K.hw_done(w)
    return r


def ticks_ms():
    K.clock_read()
    w = K.hw()
    r = K.ticks_ms()
    K.hw_done(w)
    return r


def ticks_cpu():
    return ticks_us()


def sleep_us(us):
    if us > 0:
        K.sleep_ns(int(us) * 1000)


def sleep_ms(ms):
    if ms > 0:
        K.sleep_ns(int(ms) * 1000000)


def sleep(s):
    if s > 0:
        K.sleep_ns(int(s * 1000000000))


def time():
    return _EPOCH_S + K.now // 1000000000


def time_ns():
    return _EPOCH_S * 1000000000 + K.now
