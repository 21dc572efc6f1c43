"""Motion controller: owns the lens position and feeds the planner's segments to the PIO
step generator. Converts segment durations to exact PIO cycle counts (carrying the
rounding remainder so step times never drift), keeps the TX FIFO topped up from the main
loop, handles ENABLE with the driver's wake delay, soft limits and backlash, and reports
motion start / stop through a callback.

Position bookkeeping: `planner.pos` is where the lens will be once every queued word has
run; `pos_now()` is where it is now, from the schedule of words handed to the PIO.
"""

from array import array
import gc
import micropython
from micropython import const
import time
from time import ticks_add, ticks_diff, ticks_us  # hot paths: a global, not an attribute too

import planner as pl
import stepgen as sg
from stepgen import DIR_WORD_OVERHEAD, FIFO_DEPTH, L_SHIFT, STEP_WORD_RISE
from waits import ms_until

_US_PER_S = const(1000000)
TRACK_HORIZON_US = const(4000)   # servo: queue at most this much motion ahead
QN = const(16)                   # words in flight at most (FIFO 8 + the one running)
MOVE_REFILL_US = const(12000)   # moves: top up once less than this is queued
REFILL_TICK_MS = const(1)       # while moving, a timer looks at the FIFO this often
MOVE_WAKE_MS = const(4)         # ... so a move's main-loop pass comes no more often than
                                # this (a pass and its wake cost ~1.4 ms on an RP2040): the
                                # timer tops up short words, and a word only the main loop
                                # can plan is scheduled from it at once
REFILL_LOW_US = const(4000)     # ... and be back before less than this is (short words)
MOVE_HORIZON_US = const(24000)   # moves: enough to ride out a GC pause, short enough
                                 # that a stop or a new target acts within ~25 ms
IRQ_MAX_WORDS = const(4)        # the refill IRQ plans at most this many words a pass
IRQ_BUDGET_US = const(600)      # and, while the shutter's timers run (a pulse is on or
                                # a burst frame planned: trigger.py, `shutter`),
                                # stops once it has taken this long (a servo word costs
                                # ~0.3 ms on an RP2040): a burst frame or a pulse end,
                                # timers that share PendSV, wait at most about this,
SHUTTER_FIRST_US = const(2000)  # ... and a tick with more than this queued stands aside
                                # when a pulse end or burst frame is due within it
IRQ_FILL_US = const(8000)       # and a move only this far ahead: it shares PendSV with
                                # the shutter's timers, which wait for it (the main loop
                                # fills the rest of MOVE_HORIZON_US)
IRQ_MAX_CYC = const(0x70000)    # the refill IRQ leaves longer words (slow steps, long
                                # dwells) to the main loop: their FIFO words (L << 11) and
                                # sums pass 2^30, a heap-allocated int on the RP2040


class Motion:
    def __init__(self, gen, cfg, on_event, timer=None):
        self.gen = gen                  # stepgen.StepGen
        self._timer = timer             # machine.Timer: tops the FIFO up while moving
        self._lock = False              # the main loop is changing the plan, or a service
                                        # pass runs: the timer's pass stands aside
        self._tick = self._on_tick      # bound once
        self._put = gen.sm.put          # bound once: the hot path's FIFO write
        self._later = self._on_later    # bound once: scheduled from the refill IRQ
        self._later_due = False         # ... and not yet run
        self.freq = gen.freq
        self.timing = gen.timing
        self._cyc_per_us = gen.freq // _US_PER_S
        self.on_event = on_event        # fn(name, **fields)
        self._speed_cap = 0.0           # temporary speed limit (homing, eased pulls)
        self.plan = pl.Planner(cfg["max_speed"], cfg["accel"], freq=gen.freq,
                               tol_s=cfg["step_error_us"] / 1e6)
        self.configure(cfg)
        self._carry = 0                 # cycles owed to (+) or by (-) the next word
        # words in flight, a ring of QN: end (ticks_us), position after, signed steps,
        # start (ticks_us), period (cycles); preallocated: no heap per word
        self._q_end = array("i", bytes(4 * QN))
        self._q_pos = array("i", bytes(4 * QN))
        self._q_n = array("i", bytes(4 * QN))
        self._q_start = array("i", bytes(4 * QN))
        self._q_per = array("i", bytes(4 * QN))
        self._qh = 0                    # oldest word
        self._qc = 0                    # words in the ring
        self._end = time.ticks_us()     # when the last pushed word finishes
        self._rem = 0                   # cycles past _end not yet a whole us
        self._extra_dwell = 0           # wake-up cycles to add to the next DIR word
        self.moving = False
        self._legs = []                 # remaining targets of a multi-leg move (backlash)
        self.last_pos = 0               # position after the last completed word
        self.clamped = False
        self._trk_x16 = 0               # servo target: 1/16 steps, steps/s, ticks_us
        self._trk_v = 0
        self._trk_t = 0
        self.enabled = False
        self.fault = None               # e.g. "limit": motion refused until cleared
        self.underruns = 0              # words that found the PIO already idle mid-motion
        self.late_us = 0                # total time the PIO waited for them
        self._announce = None           # motion_start (pos, target, reason) not yet said
        self._stop_why = None           # motion_stop not yet said (the lens is at rest)
        self.halted_in_irq = False      # halt_irq() stopped the PIO; halt() not yet run
        self._halt_t = 0                # ticks_us just after it did
        self._idle_since = time.ticks_ms()
        self._h_kind = -1               # a word the refill IRQ planned but could not
        self._h_arg = 0                 # push (IRQ_MAX_CYC): the main loop pushes it
        self._h_cyc = 0
        self._h_signed = 0
        self._h_pos = 0
        self.shutter = None             # trigger.Trigger (app.py): while its pulse is on or a
                                        # frame is planned, refill passes keep to IRQ_BUDGET_US
        self._dir_level = 0             # the last DIR word's level (slow steps' dwells keep it)

    def configure(self, cfg):
        self._lock = True
        self._configure(cfg)
        self._lock = False

    def _configure(self, cfg):
        self.max_speed = cfg["max_speed"]
        self.accel = cfg["accel"]
        self.jerk = cfg["jerk"]
        self.plan.set_limits(self._cap(cfg["max_speed"]), cfg["accel"], self.jerk)
        self._set_floor()
        self.min_pos = cfg["min_pos"]
        self.max_pos = cfg["max_pos"]
        self.backlash = cfg["backlash_steps"]
        self.backlash_dir = cfg["backlash_dir"]
        self.idle_disable_ms = cfg["idle_disable_ms"]
        self.wake_us = cfg["_wake_us"]

    def _cap(self, v):
        return v if not self._speed_cap or self._speed_cap > v else self._speed_cap

    def limit_speed(self, v):
        """Run below `v` steps/s until limit_speed(0) (homing, slow approaches)."""
        self._lock = True
        self._speed_cap = float(v)
        self.plan.set_limits(self._cap(self.max_speed), self.accel, self.jerk)
        self._set_floor()
        self._lock = False

    def _set_floor(self):
        """Shortest step period in cycles: the driver's minimum and max_speed."""
        v = self.plan.vmax
        f = int(self.freq / v)
        if f * v < self.freq:
            f += 1
        t = self.timing
        self._p_floor = f if f > t.min_period else t.min_period
        self._p_max = t.max_period
        self._p_min = t.min_period
        self._h5 = t.h + sg.STEP_OVERHEAD       # PIO low count L = period - _h5
        self._d_min = t.min_dwell

    def refuse(self):
        """True (and reported) when motion is locked out by a fault."""
        if self.fault:
            self.on_event("motion_refused", why=self.fault)
            return True
        return False

    # ---- goals -----------------------------------------------------------------------
    def clamp(self, target):
        t = int(target)
        c = t
        if c < self.min_pos:
            c = self.min_pos
        elif c > self.max_pos:
            c = self.max_pos
        self.clamped = c != t
        return c

    def move_to(self, target, reason="move"):
        """Time-optimal move; the final approach is made from `backlash_dir` when
        backlash compensation is on. Returns the (clamped) target."""
        if self.refuse():
            return self.pos_now()
        t = self.clamp(target)
        if self.clamped:
            self.on_event("limit_clamp", requested=int(target), target=t)
        self._legs.clear()
        if self.backlash > 0:
            start = self.plan.pos if self.plan.at_rest else self.plan.target
            if (t - start) * self.backlash_dir < 0 or not self.plan.at_rest:
                over = self.clamp(t - self.backlash_dir * self.backlash)
                if over != t:
                    self._legs.append(t)
                    t = over
        self._lock = True
        self._begin(reason, t)
        self.plan.move_to(t)
        self._lock = False
        return self._legs[-1] if self._legs else t

    def track(self, x, v, t=None):
        """Follow a target at x (steps) at time t (ticks_us, default now) moving at v
        (steps/s). Each word is planned against where the target will be when the PIO
        reaches it, and the FIFO is kept short (TRACK_HORIZON_US) so a new reading takes
        effect quickly."""
        self.track16(int(x * 16), int(v), time.ticks_us() if t is None else t)

    def track16(self, x16, v, t):
        """track() in integers (the servo's 100 Hz path allocates nothing): x16 in 1/16
        steps, v in steps/s, t in ticks_us."""
        if self.refuse():
            return
        if self._legs:
            self._legs.clear()          # in place: a new [] was 32 bytes a LiDAR frame
        lo = self.min_pos << 4
        hi = self.max_pos << 4
        self.clamped = not lo <= x16 <= hi
        x16 = lo if x16 < lo else (hi if x16 > hi else x16)
        self._lock = True
        if not self.moving:
            self._begin("track", x16 >> 4)
        self._trk_x16 = x16
        self._trk_v = v
        self._trk_t = t
        self.plan.track16(x16, v)
        self._lock = False

    def stop(self):
        """Brake within `accel` and hold."""
        self._lock = True
        self._legs.clear()
        self.plan.stop()
        self._lock = False

    def set_position(self, pos):
        """Declare the lens to be at `pos` (homing). Only at rest."""
        if self.moving:
            return False
        self.plan = self.plan.fresh(pos)
        self.last_pos = pos
        self._qc = 0
        return True

    def halt(self):
        """Stop at once (limit switch): drop everything queued in the PIO."""
        self._lock = True
        sm = self.gen.sm
        sm.active(0)
        while sm.tx_fifo():
            sm.exec("pull()")
        sm.restart()            # clears ISR (the pulse width) among the internal state
        self.gen.load_timing(self.timing)
        sm.active(1)
        now = self._halt_t if self.halted_in_irq else time.ticks_us()
        self.halted_in_irq = False
        pos = self.pos_now(now)
        self.plan = self.plan.fresh(pos)
        self._qc = 0
        self._end = now
        self._carry = 0
        self._legs.clear()
        self._h_kind = -1
        self._lock = False
        self._finish(pos, "halt")

    def halt_irq(self):
        """The limit switch's hard IRQ (no heap): stop the step PIO now and note when
        (midway between a clock read just before and one just after: a STEP rise the
        schedule puts within about a microsecond of the stop can still be miscounted).
        halt() from the main loop does the rest and counts the steps up to that moment;
        until then service() leaves the FIFO and the words in flight alone."""
        t0 = time.ticks_us()
        self.gen.sm.active(0)
        t1 = time.ticks_us()
        self._halt_t = time.ticks_add(t0, time.ticks_diff(t1, t0) // 2)
        self.halted_in_irq = True

    # ---- state -----------------------------------------------------------------------
    def busy(self):
        return self.moving

    def pos_now(self, now=None):
        """Where the lens is now, counting the steps of the word in progress (they are
        evenly spaced, the first STEP_WORD_RISE cycles after the word starts)."""
        if now is None:
            now = time.ticks_us()
        pos = self.last_pos
        i = self._qh
        for _ in range(self._qc):
            if time.ticks_diff(now, self._q_end[i]) >= 0:
                pos = self._q_pos[i]
                i = (i + 1) & (QN - 1)
                continue
            n = self._q_n[i]
            if n:
                into = time.ticks_diff(now, self._q_start[i]) * self._cyc_per_us - STEP_WORD_RISE
                k = into // self._q_per[i] + 1 if into >= 0 else 0
                if k > abs(n):
                    k = abs(n)
                pos = self._q_pos[i] - (n - k if n > 0 else n + k)
            break
        return pos

    def target(self):
        return self._legs[-1] if self._legs else self.plan.target

    # ---- feeding the PIO ---------------------------------------------------------------
    def _begin(self, reason, target):
        if not self.enabled:
            self.gen.enable(True)
            self.enabled = True
            self._extra_dwell = self.wake_us * self._cyc_per_us
        if not self.moving:
            self.moving = True
            if self._timer is not None:
                self._timer.init(period=REFILL_TICK_MS, callback=self._tick, hard=True)
            self.underruns = 0
            self.late_us = 0
            # said once the first words are in the FIFO: the lens starts before the host hears
            self._announce = (self.pos_now(), target, reason)

    def _announced(self):
        a = self._announce
        if a is not None:
            self._announce = None
            self.on_event("motion_start", pos=a[0], target=a[1], reason=a[2])

    def _on_tick(self, _timer):
        """The refill timer: a hard IRQ every REFILL_TICK_MS while moving. It preempts
        the main loop anywhere, in C too (a collection, an event's JSON, a USB write),
        so none of that lets the FIFO run dry. It looks first and tops up only when the
        queue is short, with table words only and allocating nothing (the planner's irq
        mode): a start from rest, a move's peak and the events stay with the main loop.
        While the main loop changes the plan or services (_lock) it stands aside."""
        now = ticks_us()
        ahead = ticks_diff(self._end, now)
        if ahead > REFILL_LOW_US:
            return          # most ticks of a move: first, in the fewest bytecodes (the
                            # servo's bound below, TRACK_HORIZON_US // 2, is lower)
        if self._lock or self.halted_in_irq or not self.moving:
            return
        if not self._qc and self.plan.at_rest:
            return          # a start (or a servo resting on its target): the main loop's
        if self.plan.mode == pl.MODE_TRACK and ahead > TRACK_HORIZON_US // 2:
            return
        sh = self.shutter
        if ahead > SHUTTER_FIRST_US and sh is not None and sh.timer_due(now, SHUTTER_FIRST_US):
            return          # a pulse end or burst frame is due: it goes first
        self._lock = True
        self.plan.irq = True
        try:
            self._retire(now)
            if not self._fill(now, True) and not self._later_due:
                # a word only the main loop can plan: a pass in thread mode, at once
                self._later_due = True
                try:
                    micropython.schedule(self._later, None)
                except Exception:   # noqa: BLE001 - the queue is full (RuntimeError, or a
                    self._later_due = False     # MemoryError making it): the ticker comes
        finally:
            self.plan.irq = False
            self._lock = False

    def _on_later(self, _arg):
        self._later_due = False
        self.service()

    def service(self):
        """Top up the FIFO. Returns ms until it wants to run again (-1: nothing to do)."""
        if not self.moving and self._stop_why is None and self._announce is None and (
                not self.enabled or self.idle_disable_ms <= 0):
            return -1       # at rest, nothing to say or switch off: twice a pass, 100 passes/s
        if self._lock:
            return 1
        self._lock = True
        try:
            w = self._service()
        finally:
            self._lock = False
        # the events after the lock: their JSON takes a millisecond or two on an RP2040,
        # and the refill IRQ must not stand aside for it
        if self._announce is not None:
            self._announced()
        if self._stop_why is not None:
            why = self._stop_why
            self._stop_why = None
            self._say_stop(self.last_pos, why)
        return w

    def _retire(self, now):
        """Forget the words the PIO has finished."""
        q_end = self._q_end
        while self._qc and time.ticks_diff(now, q_end[self._qh]) >= 0:
            self.last_pos = self._q_pos[self._qh]
            self._qh = (self._qh + 1) & (QN - 1)
            self._qc -= 1

    def _service(self):
        if self.halted_in_irq:
            return 1                    # the PIO is stopped: halt() comes next
        now = time.ticks_us()
        plan = self.plan
        tracking = plan.mode == pl.MODE_TRACK
        if self.moving and not tracking:
            ahead = time.ticks_diff(self._end, now) - MOVE_REFILL_US
            if ahead > 0:                   # plenty queued: come back when it is not
                ahead //= 1000
                return ahead if ahead > MOVE_WAKE_MS else MOVE_WAKE_MS
        self._retire(now)
        if not self.moving:
            if self.enabled and self.idle_disable_ms > 0:
                # '>': ticks_ms is whole ms, so never before idle_disable_ms has passed
                left = self.idle_disable_ms - time.ticks_diff(time.ticks_ms(), self._idle_since)
                if left < 0:
                    self.gen.enable(False)
                    self.enabled = False
                    return -1
                return left + 1
            return -1
        gen = self.gen
        # a start from rest: hold the state machine while the first words go in, so it
        # starts with a full FIFO (a fast ramp's first 8 words last ~2 ms, less than the
        # Python that makes them takes on an RP2040)
        cold = not self._qc and plan.at_rest
        if cold:
            gen.sm.active(0)
        self._fill(now, False)
        if cold:
            if plan.built:
                # an S-curve's words were just computed, in floats (tens of KB of
                # garbage): collect while the state machine is held, so the pause delays
                # the first step and no collection falls inside the move
                plan.built = False
                gc.collect()
            gen.sm.active(1)
            self._rebase(time.ticks_diff(time.ticks_us(), now))
            gen.clear_stall()           # the wait before this start is not an underrun
        if self.plan.idle() and not self._legs and self._h_kind < 0:
            if time.ticks_diff(now, self._end) >= 0:
                self._rest(self.plan.pos)
                self._stop_why = "done"         # said by service(), after the lock
                return -1
            return ms_until(now, self._end)
        if tracking:
            if plan.at_rest and not self._qc:
                return -1       # on a still target: the next reading (track16) restarts
            d = time.ticks_diff(self._end, now) - TRACK_HORIZON_US // 2
            return 1 if d <= 1000 else (d + 999) // 1000
        # come back once the queue is below MOVE_REFILL_US, but no sooner than
        # MOVE_WAKE_MS: until then the refill timer tops short words up, and schedules
        # a pass at once for a word only the main loop can plan
        w = (time.ticks_diff(self._end, time.ticks_us()) - MOVE_REFILL_US) // 1000
        return w if w > MOVE_WAKE_MS else MOVE_WAKE_MS

    def _fill(self, now, irq):
        """Plan and push words while the FIFO has room and the horizon is not reached.
        irq: from the refill IRQ (no heap: the planner's table words only, and a word
        too long for small ints is held for the main loop). False when it stopped at a
        word it left to the main loop (or, for slow steps, to a later pass). This is
        the hot path (a word costs ~0.3 ms of Python on an RP2040, and the fastest
        ramp's words last about that long), so the push is inline and its state is in
        locals for the pass, written back at its one exit: the FIFO level is read once
        per pass (and again when the room runs out), the PIO's stall flag once, before
        the first push (the only one that can find it dry).

        A push: the word into the FIFO, its rounding carried (cycles owed to the next
        word), and its end, position and period into the ring of words in flight."""
        gen = self.gen
        plan = self.plan
        held = self._h_kind >= 0
        if held and irq:
            return False
        tracking = plan.mode == pl.MODE_TRACK
        horizon = TRACK_HORIZON_US if tracking else (IRQ_FILL_US if irq else MOVE_HORIZON_US)
        lo = self.min_pos << 4
        hi = self.max_pos << 4
        left = IRQ_MAX_WORDS if irq else QN     # words this pass may still plan
        room = 0
        check = True                    # the stall flag: before the first push only
        ok = True
        carry = self._carry
        end = self._end
        rem = self._rem
        qc = self._qc
        qi = (self._qh + qc) & (QN - 1)         # the ring's next slot
        q_end = self._q_end
        q_pos = self._q_pos
        q_n = self._q_n
        q_start = self._q_start
        q_per = self._q_per
        put = self._put
        p_floor = self._p_floor
        p_max = self._p_max
        h5 = self._h5
        cpu = self._cyc_per_us
        while True:
            if room <= 0:
                room = FIFO_DEPTH - gen.sm.tx_fifo()
                if room > QN - qc:
                    room = QN - qc
                if room > left:
                    room = left
                if room <= 0:
                    break
            ahead = ticks_diff(end, now)
            if ahead > horizon and not held:
                break
            if held:                    # the word a pass before this one planned
                held = False
                kind = self._h_kind
                self._h_kind = -1
                arg = self._h_arg
                cyc = self._h_cyc
                signed = self._h_signed
                pos = self._h_pos
                resting = False
            else:
                if tracking:
                    # where the target will be when this word starts: v * dt in 1/16
                    # steps, dt in 64 us units (16 / 1e6 * 64 = 1 / 976.6), small ints
                    dt = ticks_diff(end if ahead > 0 else now, self._trk_t) >> 6
                    if dt > 4000:
                        dt = 4000
                    x16 = self._trk_x16 + self._trk_v * dt // 977
                    plan.tgt_x16 = lo if x16 < lo else (hi if x16 > hi else x16)
                before = plan.pos
                # a start with nothing in flight: the PIO waited legitimately (a start
                # while words are still in flight is not: a stall then is an underrun)
                resting = plan.at_rest and not qc
                kind = plan.next_word()
                if kind < 0:
                    if kind == pl.SEG_LATER:
                        ok = False      # the main loop plans this one
                        break
                    if self._legs:
                        plan.move_to(self._legs.pop(0))
                        continue
                    break
                arg = plan.arg
                cyc = plan.cyc
                pos = plan.pos
                signed = pos - before
                if irq and cyc >= IRQ_MAX_CYC:
                    self._hold(kind, arg, cyc, signed, pos)
                    ok = False
                    break
            if check:
                check = False
                if not resting and gen.stalled():
                    # the PIO ran dry in the middle of a motion, since the last push:
                    # every queued word is done
                    self._qc = qc
                    self._end = end
                    self._dry(ticks_us())
                    qc = 0
                    qi = self._qh
                    end = self._end
                    resting = True
            if kind:                                            # SEG_STEPS
                per = cyc + (carry - STEP_WORD_RISE) // arg     # carry the rise, rounding
                if per < p_floor:
                    per = p_floor   # rounding never makes a step faster than max_speed
                if per <= p_max:
                    dur = STEP_WORD_RISE + arg * per
                    carry += arg * cyc - dur
                    put(((arg - 1) << 1) | ((per - h5) << L_SHIFT))     # stepgen.step_word
                else:
                    # slower than a step word's L reaches: each step a 1-step word and a
                    # dwell (a dir word at the same level), 2 FIFO words a step; the rest
                    # of the word waits for room (one word of these lasts >= 16 ms)
                    k = room >> 1
                    if k < arg:
                        if k < 1:
                            self._hold(kind, arg, cyc, signed, pos)
                            break
                        s = 1 if signed > 0 else -1
                        self._hold(kind, arg - k, cyc, signed - k * s, pos)
                        pos -= (arg - k) * s
                        signed = k * s
                        arg = k
                    per = cyc + carry // arg        # pairs last `per`, the rise inside
                    dur = arg * per
                    carry += arg * cyc - dur
                    dwell = 1 | (self._dir_level << 1) | (
                        (per - STEP_WORD_RISE - self._p_min - DIR_WORD_OVERHEAD) << 2)
                    w1 = (self._p_min - h5) << L_SHIFT
                    for _ in range(arg):
                        put(w1)
                        put(dwell)
                    room -= 2 * arg - 1
            else:                                               # SEG_DIR
                d = cyc + carry - DIR_WORD_OVERHEAD
                dmin = self._d_min + self._extra_dwell
                if d < dmin:
                    d = dmin
                self._extra_dwell = 0
                dur = d + DIR_WORD_OVERHEAD
                carry += cyc - dur
                self._dir_level = arg
                put(1 | (arg << 1) | (d << 2))                  # stepgen.dir_word
                per = 0
            if not -1000 <= carry <= 1000:
                carry = 0                       # a pad (setup, wake) the profile cannot absorb
            start = end if ticks_diff(end, now) > 0 else now
            tot = rem + dur
            us = tot // cpu
            rem = tot - us * cpu
            end = ticks_add(start, us)   # pyright: ignore[reportArgumentType] (ticks are ints)
            q_end[qi] = end             # pyright: ignore[reportArgumentType, reportCallIssue] (ticks are ints)
            q_pos[qi] = pos
            q_n[qi] = signed
            q_start[qi] = start         # pyright: ignore[reportArgumentType, reportCallIssue]
            q_per[qi] = per
            qi = (qi + 1) & (QN - 1)
            qc += 1
            if resting:
                gen.clear_stall()   # (once the word is in: cleared while the state
                                    # machine still waits, the flag sets again)
            room -= 1
            left -= 1
            if irq and ticks_diff(ticks_us(), now) > IRQ_BUDGET_US:
                sh = self.shutter
                if sh is not None and (sh.firing or sh.frame_planned):
                    break
        self._carry = carry
        self._end = end
        self._rem = rem
        self._qc = qc
        return ok and self._h_kind < 0

    def _hold(self, kind, arg, cyc, signed, pos):
        """A word planned but not pushed in this pass (the IRQ's long words, slow steps
        waiting for FIFO room): the next main-loop pass pushes it first."""
        self._h_kind = kind
        self._h_arg = arg
        self._h_cyc = cyc
        self._h_signed = signed
        self._h_pos = pos

    def _dry(self, t):
        """The PIO waited on an empty FIFO mid-motion (seen in hardware, before a push):
        count it, and resynchronise the model (every queued word is done; the next
        starts now)."""
        self.underruns += 1
        lag = time.ticks_diff(t, self._end)
        if lag > 0:
            self.late_us += lag
        while self._qc:
            self.last_pos = self._q_pos[self._qh]
            self._qh = (self._qh + 1) & (QN - 1)
            self._qc -= 1
        self._end = t

    def _rebase(self, shift):
        """The words queued in this pass started `shift` us late (the state machine was
        held while they went in): move their times."""
        if shift <= 0 or not self._qc:
            return
        i = self._qh
        for _ in range(self._qc):
            self._q_end[i] = time.ticks_add(self._q_end[i], shift)      # pyright: ignore[reportArgumentType, reportCallIssue]
            self._q_start[i] = time.ticks_add(self._q_start[i], shift)  # pyright: ignore[reportArgumentType, reportCallIssue]
            i = (i + 1) & (QN - 1)
        self._end = time.ticks_add(self._end, shift)  # pyright: ignore[reportArgumentType]

    def _finish(self, pos, why):
        self._rest(pos)
        self._say_stop(pos, why)

    def _rest(self, pos):
        self.moving = False
        if self._timer is not None:
            self._timer.deinit()
        self.last_pos = pos
        self._idle_since = time.ticks_ms()

    def _say_stop(self, pos, why):
        self._announced()
        self.on_event("motion_stop", pos=pos, why=why, clamped=self.clamped,
                      underruns=self.underruns, late_us=self.late_us)
