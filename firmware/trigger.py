"""Camera trigger lines (through PC817 optocouplers): focus (half-press) and shutter
(release), with the shutter pulse length, and the interrupt-time fast path.

`arm()` is called by the focus/shutter state machine whenever its state changes; while
armed, a PIO state machine (pio_shutter.py) drives the lines at the S2 contact edge
itself, tens of ns after it closes: the optocoupler, not the software, is the limit. The
S2 hard IRQ handler then accounts for the exposure (`fire_irq`), the main loop reports it
(`fired_in_irq`) and ends the pulse. With the glitch filter on, the IRQ handler fires
instead, once the contact has held (about 120-250 us after it closes on a Pico).

Timed in an interrupt, not by a loop pass (which servo AF can make tens of ms late on an
RP2040): the end of every pulse, and each burst frame after the first. Two soft timers
(`machine.Timer(-1)`, hard callbacks) do it; the main loop arms them when it learns of an
exposure (a timer callback may not arm a timer: see virtual_pico/board/_vp_softtimer.py)
and still does both itself when it gets there first. Soft timers count whole
milliseconds: a frame comes within 1 ms either side of its time, a pulse ends 0-2 ms after
`pulse_us` (the loop, when on time, ends it exactly), never before.
"""

import time

import machine
from micropython import const

SHUTTER_SM = const(4)       # PIO1 state machine 0 (the step generator has PIO0)
FRAME_EARLY_US = const(1000)    # a soft timer served by another's alarm runs <1 ms early
_ONE_SHOT = const(1)            # machine.Timer.ONE_SHOT on rp2 (softtimer.h)
FRAME_END_MARGIN_MS = const(3)  # a burst frame's backstop end: due + 2-3 ms (its frame
                                # comes 0-2 ms late, whole-ms soft timers)


class Trigger:
    """focus_pin / shutter_pin: the two camera lines, the shutter on the GPIO after the
    focus line. s2_pin / s2_active: the full-press contact the PIO watches. freq: the
    state machine clock. hw_shutter: fire from PIO (False: from the IRQ handler, used
    with the glitch filter, which must see a contact hold before it counts). timers:
    machine.Timer(-1)s for the pulse's end and the next burst frame, and two more that
    end a burst frame's pulse however late the main loop is (None: the main loop times
    all)."""

    def __init__(self, focus_pin, shutter_pin, focus_active, shutter_active, s2_pin=None,
                 s2_active=0, freq=125000000, hw_shutter=True, timers=None):
        import rp2
        import pio_shutter
        self._fon = focus_active
        self._son = shutter_active
        self._s2 = s2_pin
        self._s2_active = s2_active
        self._s2_dirty = b"\x01"       # S2's debounce window is open while [_s2_di] is
        self._s2_di = 0                 # set (watch_bounce: until then, never settled)
        self._sm = rp2.StateMachine(SHUTTER_SM, pio_shutter.shutter_program, freq=freq,
                                    in_base=s2_pin, set_base=focus_pin)
        self._sm.active(1)          # waits disarmed; exec'd line changes work in any state
        # set-pins opcodes by (focus on, shutter on), active levels applied
        self._ops = [pio_shutter.set_lines_opcode(self._bits(f, sh))
                     for sh in (0, 1) for f in (0, 1)]
        self.hw = hw_shutter and s2_pin is not None and s2_active == 0
        self._lines(0, 0)                       # inactive first
        self.pulse_us = 100000
        self.armed = False
        self.sm_armed = False        # the state machine waits for S2
        self.firing = False          # shutter line asserted
        self.fired_at = 0            # ticks_us of the current exposure
        self.fired_in_irq = False    # set by the IRQ fast path, cleared by the main loop
        self.focus_wanted = False    # half-press held (or AF-ON in shutter-wake use)
        self.frames = 0
        t = tuple(timers) if timers else (None, None)
        self._end_timer, self._frame_timer = t[0], t[1]
        # a frame's pulse cannot have its end timer set where it starts (in the frame
        # timer's callback: rp2 must not arm a soft timer there, softtimer.c), so one is
        # set with the frame, alternating between two: the next frame's, and the
        # current pulse's still pending (a loop 10x slower held a 30 ms pulse 78 ms)
        self._frame_ends = t[2:4] if len(t) >= 4 else None
        self._end_cb = self._end_irq         # bound once (a hard IRQ must not allocate)
        self._frame_cb = self._frame_irq
        self.end_planned = False     # the end timer runs for the current pulse
        self.frame_planned = False   # the frame timer fires a burst frame at frame_at
        self.frame_at = 0            # ticks_us
        self.frame_fired = False     # set by the frame timer, cleared by the main loop
        self.frame_ok = False        # the focus machine allows a frame (priority, focus)
        self.ends = 0                # pulses ended (the main loop re-arms on a change)

    def _bits(self, focus, shutter):
        f = self._fon if focus else 1 - self._fon
        s = self._son if shutter else 1 - self._son
        return f | s << 1

    def _lines(self, focus, shutter):
        self._sm.exec(self._ops[(1 if focus else 0) + (2 if shutter else 0)])

    # ---- arming (main loop) ---------------------------------------------------------------
    def arm(self, on):
        """May a full press fire at once? With hw, the state machine then watches S2; it is
        not started while S2 is closed (a button held since boot never fires) or still
        bouncing after a release (a bounce is not a press): rearm() retries later."""
        # with IRQs off (the PIO still fires at the contact meanwhile): the S2 handler
        # (fire_irq) takes the state machine's word and clears sm_armed, so a press
        # landing between the checks and the put would be armed for again, with the
        # contact closed (a second word, read later as a shot that never was). What an
        # IRQ cannot change is settled before: the section delays every press stamp that
        # lands in it (38 us on the virtual Pico with a method call inside; ~10 now).
        s2 = self._s2
        ok = on and self.hw
        dirty = self._s2_dirty
        di = self._s2_di
        irq = machine.disable_irq()
        self.armed = on
        if (ok and s2 is not None and not self.firing and not dirty[di]
                and s2.value() != self._s2_active):
            if not self.sm_armed:
                sm = self._sm
                while sm.rx_fifo():
                    sm.get()
                sm.put(1)
                self.sm_armed = True
        elif self.sm_armed:
            self._sm.restart()
            self.sm_armed = False
        machine.enable_irq(irq)

    def watch_bounce(self, dirty, idx):
        """S2's debounce state: dirty[idx] is set while its window is open (inputs.dirty);
        the state machine is never armed on a contact still bouncing."""
        self._s2_dirty = dirty
        self._s2_di = idx

    def rearm(self):
        """Main loop: start the state machine if arming had to wait for S2 to settle."""
        if self.armed and not self.sm_armed and self.hw:
            self.arm(True)

    def _pio_fired(self):
        return self._sm.rx_fifo() > 0

    # ---- IRQ fast path (no allocation) --------------------------------------------------
    def fire_irq(self, t):
        """The full press was accepted in its IRQ handler at t: account for the exposure
        the state machine made at the contact edge, or (IRQ firing) make it now."""
        if self.firing:
            return False
        if self._pio_fired():
            self._sm.get()                      # it holds the lines on; the CPU ends the pulse
            self.sm_armed = False
        elif self.armed and not self.sm_armed:
            self._lines(1, 1)
        else:
            return False
        self._started(t)
        self.fired_in_irq = True
        self.armed = False
        return True

    def _started(self, t):
        self.firing = True
        self.fired_at = t
        self.frames += 1
        self.end_planned = False
        self.frame_planned = False

    def _end_irq(self, _timer):
        """The end timer (hard): end the pulse when due (the main loop may have already)."""
        if self.firing and time.ticks_diff(time.ticks_us(), self.fired_at) >= self.pulse_us:
            self._end_pulse()

    def _end_pulse(self):
        """Shutter line off (focus as the half press wants it); counted for the loop."""
        self._lines(self.focus_wanted, 0)
        self.firing = False
        self.ends = (self.ends + 1) & 0x3FFFFFFF

    def _frame_irq(self, _timer):
        """The frame timer (hard): the planned burst frame, if the contact is still held
        and the last pulse has ended (else the main loop fires it when it can)."""
        if not self.frame_planned or not self.frame_ok or self.firing or self.sm_armed:
            return
        s2 = self._s2
        if s2 is not None and s2.value() != self._s2_active:
            return          # released, its IRQ handler not run yet (or a bounce: the loop)
        now = time.ticks_us()
        if time.ticks_diff(now, self.frame_at) < -FRAME_EARLY_US:
            return
        self._lines(1, 1)
        self._started(now)
        self.frame_fired = True

    def plan_frame(self, at):
        """Main loop: the next burst frame is due at ticks_us `at` (the S2 release, or
        anything that stops the burst, calls cancel_frame)."""
        self.frame_at = at
        self.frame_planned = True
        tm = self._frame_timer
        if tm is not None:
            left = time.ticks_diff(at, time.ticks_us())
            tm.init(mode=_ONE_SHOT, period=(left // 1000 + 1 if left > 0 else 0),
                    callback=self._frame_cb, hard=True)
            ends = self._frame_ends
            if ends is not None:
                # the frame comes 0-2 ms after `at`: its pulse ends FRAME_END_MARGIN_MS
                # after it is due at the latest (the loop's end timer, when it runs in
                # time, ends it sooner; _end_irq ends only a pulse that is due)
                left = left + self.pulse_us if left > 0 else self.pulse_us
                ends[(self.frames + 1) & 1].init(
                    mode=_ONE_SHOT, period=left // 1000 + FRAME_END_MARGIN_MS,
                    callback=self._end_cb, hard=True)

    def cancel_frame(self):
        """Also from the S2 release's IRQ handler: no frame after the contact opened."""
        self.frame_planned = False

    def timer_due(self, now, within_us):
        """Hard IRQ (the refill timer's): is a pulse end or a burst frame due within
        `within_us` of ticks_us `now`? Their soft timers share PendSV with it."""
        if self.firing and self.pulse_us - time.ticks_diff(now, self.fired_at) < within_us:
            return True
        return self.frame_planned and time.ticks_diff(self.frame_at, now) < within_us

    def take_frame(self):
        """Main loop: True once per frame the frame timer fired (then `fired_at`)."""
        if not self.frame_fired:
            return False
        self.frame_fired = False
        return True

    # ---- main loop ----------------------------------------------------------------------
    def fire(self):
        """Start an exposure now (main loop). Returns False when one is in progress."""
        # with IRQs off: the S2 handler (fire_irq) checks and sets the same state, and an
        # IRQ can land between any two bytecodes (else one exposure could count twice)
        irq = machine.disable_irq()
        if self.firing or self._pio_fired():
            machine.enable_irq(irq)
            return False
        if self.sm_armed:
            self._sm.restart()
            self.sm_armed = False
        self._lines(1, 1)
        self._started(time.ticks_us())
        machine.enable_irq(irq)
        return True

    def focus(self, on):
        irq = machine.disable_irq()     # a timer's frame between the check and the write
        self.focus_wanted = on          # would lose its shutter line
        if not self.firing:
            self._lines(on, 0)
        machine.enable_irq(irq)

    def service(self, now):
        """End the shutter pulse when due, and have the end timer do it on time when the
        loop is late. Returns ms until then (-1 when idle)."""
        if not self.firing:
            return -1
        irq = machine.disable_irq()     # the end or frame timer may act meanwhile
        left = self.pulse_us - time.ticks_diff(time.ticks_us(), self.fired_at)
        if left <= 0 and self.firing:
            self._end_pulse()
        machine.enable_irq(irq)
        if left <= 0:
            return -1
        tm = self._end_timer
        if tm is not None and not self.end_planned:
            self.end_planned = True
            tm.init(mode=_ONE_SHOT, period=(left + 999) // 1000 + 1, callback=self._end_cb,
                    hard=True)
        return (left + 999) // 1000

    def release_all(self):
        self.frame_planned = False
        for tm in (self._end_timer, self._frame_timer) + (self._frame_ends or ()):
            if tm is not None:
                tm.deinit()
        self._sm.active(0)
        self.sm_armed = False
        self._lines(0, 0)               # (exec works on a stopped state machine too)
        self.firing = False
        self.armed = False
