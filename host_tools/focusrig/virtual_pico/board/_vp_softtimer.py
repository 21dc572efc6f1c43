"""The virtual Pico's `machine.Timer`: MicroPython v1.28.0's soft timers on the rp2 port,
millisecond grain and all.

On a Pico `machine.Timer(-1)` is not a hardware timer per object but one entry in a heap
of soft timers, counted in whole `ticks_ms`, that one hardware alarm serves:

- extmod/machine_timer.c:58-70 the period becomes whole ms: `period * 1000 // tick_hz`,
  or `1000 / freq` truncated (a freq above 1 kHz is 1 ms), at least 1 ms; :81-89 `hard=`
  picks a hard callback (run in the handler, heap locked) or a scheduled one; :128
  `init()` removes the entry first; :88 it is inserted only with a callback.
- shared/runtime/softtimer.c:139-148 `soft_timer_insert`: expiry = `ticks_ms() + delta`;
  the alarm is reprogrammed only when the new entry became the earliest.
- ports/rp2/mphalport.c:241-248 `soft_timer_schedule_at_ms`: the alarm goes off
  `expiry - ticks_ms()` ms (at least 0) after *now*, in us: so from an init at 10.7 ms a
  2 ms timer runs at 12.7 ms, not at the 12 ms boundary.
- mphalport.c:250-254 the alarm's ISR pends PendSV, which runs `soft_timer_handler`
  (softtimer.c:84-112): every entry whose expiry is <= `ticks_ms()` *now* runs, so an entry
  served by another entry's alarm can run up to ~1 ms early; a periodic one is re-queued
  at expiry + delta (no drift); the alarm is then set for the earliest left.
- PendSV is masked by `machine.disable_irq()` (PRIMASK): a due handler waits for
  `enable_irq()`. It runs at the lowest priority (ports/rp2/pendsv.c:50, 66): a GPIO
  interrupt preempts a hard timer callback between two of its bytecodes (the kernel's
  run_handler(preemptible=True)), and PendSV never preempts itself.
- softtimer.c:85-111 the handler walks a *local* copy of the heap and stores it back at
  the end: a `Timer.init()` or `deinit()` from inside a timer callback edits the heap it
  is about to overwrite (the timer is lost, or the heap corrupted). The virtual Pico stops
  the run with that message rather than guess which.
"""

from _vp_kernel import K, MASK30, NS_PER_MS, NS_PER_US

ONE_SHOT = 1        # softtimer.h:35-36
PERIODIC = 2


def _diff(a, b):
    """ticks_diff on the 30-bit ms counter."""
    return ((a - b + (1 << 29)) & MASK30) - (1 << 29)


class SoftTimers:
    """The heap of soft timers and its one hardware alarm (a list: a board has a few)."""

    def __init__(self):
        self.entries = []           # Timer objects with _expiry / _delta / _mode / _hard
        self._alarm_gen = 0         # the latest alarm target wins (hardware_alarm_set_target)
        self.in_handler = False

    def clear(self):
        """Chip reset: no timer survives, a pending alarm does nothing."""
        self.entries = []
        self._alarm_gen += 1
        self.in_handler = False

    def _check(self, what):
        if self.in_handler:
            raise RuntimeError("virtual-pico: Timer." + what + "() inside a timer callback: "
                               "on a Pico soft_timer_handler overwrites the heap it edits "
                               "(shared/runtime/softtimer.c:85-111); arm timers from the main loop")

    def insert(self, timer, delta_ms):
        self._check("init")
        timer._expiry = (K.ticks_ms() + delta_ms) & MASK30
        self.entries.append(timer)
        if self._earliest() is timer:
            self._schedule(timer._expiry)

    def remove(self, timer, what="deinit"):
        self._check(what)
        if timer in self.entries:
            self.entries.remove(timer)

    def _earliest(self):
        best = None
        for e in self.entries:
            if best is None or _diff(e._expiry, best._expiry) < 0:
                best = e
        return best

    def _schedule(self, expiry_ms):
        ms = _diff(expiry_ms, K.ticks_ms())
        if ms < 0:
            ms = 0
        self._alarm_gen += 1
        t = (K.now // NS_PER_US) * NS_PER_US + ms * NS_PER_MS     # get_absolute_time: us
        K.at(t, self._alarm, self._alarm_gen)

    def _alarm(self, gen):
        if gen != self._alarm_gen:
            return                  # reprogrammed since
        # alarm ISR -> PendSV -> the handler: the same entry cost as a pin's hard IRQ
        K.at(K.now + K.hard_entry_ns(), self._pendsv, None)

    def _pendsv(self, _arg):
        if not K.irq_enabled:
            K.hold(self._pendsv, None)      # PRIMASK: runs at enable_irq()
            return
        if self.in_handler:
            return          # PendSV does not preempt itself: the running pass reschedules
        now_ms = K.ticks_ms()
        due = [e for e in self.entries if _diff(e._expiry, now_ms) <= 0]
        due.sort(key=lambda e: _diff(e._expiry, now_ms))
        for e in due:
            if e not in self.entries:
                continue
            self.entries.remove(e)
            self.in_handler = True
            try:
                e._dispatch()
            finally:
                self.in_handler = False
            if e._mode == PERIODIC and e._cb is not None:
                e._expiry = (e._expiry + e._delta) & MASK30
                self.entries.append(e)
        K.catch_up()                # the callbacks' own bytecodes took time
        nxt = self._earliest()
        if nxt is not None:
            self._schedule(nxt._expiry)


TIMERS = SoftTimers()


class Timer:
    ONE_SHOT = ONE_SHOT
    PERIODIC = PERIODIC

    def __init__(self, id=-1, **kw):
        if id != -1:
            raise ValueError("Timer doesn't exist")         # machine_timer.c:111-113
        self._delta = 1000
        self._mode = PERIODIC
        self._cb = None
        self._hard = False
        self._expiry = 0
        if kw:
            self.init(**kw)

    def init(self, *, mode=PERIODIC, period=-1, freq=None, tick_hz=1000, callback=None,
             hard=False):
        w = K.hw()              # C on a Pico: allocates nothing, even in a hard handler
        try:
            self._init(mode, period, freq, tick_hz, callback, hard)
        finally:
            K.hw_done(w)

    def _init(self, mode, period, freq, tick_hz, callback, hard):
        TIMERS.remove(self, "init")
        self._mode = mode
        if freq is not None:
            delta = int(1000 / freq)
        elif period >= 0:
            delta = period * 1000 // tick_hz
        else:
            delta = self._delta
        if delta < 1:
            delta = 1
        elif delta >= 0x40000000:
            raise ValueError("period too large")
        self._delta = delta
        if callback is not None:
            self._cb = callback
        self._hard = bool(hard)
        if self._cb is not None:
            TIMERS.insert(self, delta)

    def deinit(self):
        w = K.hw()
        try:
            TIMERS.remove(self)
        finally:
            K.hw_done(w)

    def _dispatch(self):
        # mp_irq_dispatch (softtimer.c:92), in PendSV: other interrupts preempt it
        K.run_handler(self._cb, self, self._hard, preemptible=True)
