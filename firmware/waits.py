"""Service-loop deadlines: every part's service() returns the milliseconds until it next
needs to run, -1 meaning "nothing pending"; these combine such values."""

import time


def earliest(a, b):
    """The sooner of two waits (-1 = none)."""
    if a < 0:
        return b
    if b < 0:
        return a
    return a if a < b else b


def ms_until(now, t):
    """Whole ms from ticks_us `now` until ticks_us `t` (0 if past), rounded up."""
    d = time.ticks_diff(t, now)
    if d <= 0:
        return 0
    return (d + 999) // 1000
