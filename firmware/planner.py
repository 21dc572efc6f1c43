"""Motion planner: turns goals (go to a position, follow a moving target, stop) into PIO
step words within `max_speed` and `accel`, from the precomputed ramp (ramp.py), in integer
arithmetic: on the RP2040 a word costs tens of microseconds of Python, not a millisecond.

State. At rest on an integer position, or moving in direction s with the next step due at
crossing index j of the ramp: the lens then moves at the ramp's speed v_j, and braking
from here takes exactly j + 1 more steps (the braking profile is the ramp read backwards).
So every decision is an integer comparison: with R steps to the target (this one
included) the room is e = R - (j + 1):
    e < 0            cannot stop in time: brake to rest, come back (a DIR word)
    e >= 2 * group   accelerate through the whole next group (one table word)
    0 < e            the peak is inside it: part of the group (live chord), a peak word
                     when e is odd, and the same part back down
    e == 0           brake: the groups below, read backwards
This samples the time-optimal continuous profile exactly (to the step-time bound of the
table), from rest or from any state a retarget finds it in.

Tracking (servo) follows a target position and velocity: at each word it accelerates one
group, holds the current speed for a couple of milliseconds, or brakes one group, toward
v_target + min(gain * error, sqrt(accel * error)), in integers; a still target within 1.5
steps becomes a move onto its nearest whole step (no dithering).

Jerk-limited moves (jerk > 0) from rest take their words from smove.py, built before the
first step (the acceleration half, read forwards then backwards); a retarget leaves the
S-curve at the crossing of the ramp whose speed is just below the current speed.

Words, consumed by motion.py (all times in PIO cycles). next_word() returns the kind and
leaves the word in the planner's `arg` and `cyc` (no tuple per word: on the RP2040 a word
then allocates nothing, and the servo's 500 words/s made no garbage):
    SEG_DIR      set DIR to level `arg`; the next step comes `cyc` later
    SEG_STEPS    `arg` steps `cyc` apart, the first one now
    SEG_NONE     nothing: the goal is reached (at rest)
    SEG_LATER    (only with self.irq set) the next word needs floats (a live chord, an
                 S-curve), which allocate: nothing was planned, the main loop plans it.
                 A start from rest is integers (the servo's reversals come from here)
                 but for an S-curve move's.
next_segment() gives the same as a tuple (or None), for host tools and tests.
"""

from ramp import Ramp, MAX_N

# plain ints, not const(): this module also runs on CPython in the host tests
SEG_NONE = -1
SEG_LATER = -2
SEG_DIR = 0
SEG_STEPS = 1

MODE_IDLE = 0
MODE_MOVE = 1
MODE_TRACK = 2

SM_DONE = 4                 # smove.SMove.phase after the last word (smove is imported lazily)

TRACK_STILL_V = 100         # steps/s: a target slower than this counts as still
TRACK_RESTART16 = 24        # 1/16 steps (1.5 steps): a resting lens follows a still
                            # target this far off
TRACK_HOLD_MS = 2           # servo: hold a speed this long between decisions
TRACK_ERR16_MAX = 1 << 24   # errors beyond this (1/16 steps) count as this (small ints)


class Planner:
    def __init__(self, max_speed, accel, freq=125000000, tol_s=0.00001, chunk_s=0.008,
                 ramp=None):
        self.freq = freq
        self.tol_s = tol_s          # bound on a step's deviation from the ideal profile
        self.chunk_s = chunk_s      # cruise words last about this long
        self.jerk = 0.0
        self.track_gain = 50        # 1/s: speed per step of error near the target
        self.ramp = ramp if ramp is not None else Ramp(max_speed, accel, freq, tol_s)
        self._use(self.ramp)
        self.pos = 0                # integer position (steps emitted so far)
        self.s = 0                  # direction of motion: +1 / -1, 0 at rest
        self.j = 0                  # next step at this crossing index of the ramp
        self.k = 0                  # ... in this group of it (b[k] <= j < b[k + 1])
        self.at_rest = True
        self.mode = MODE_IDLE
        self.target = 0
        self.tgt_v = 0              # track mode: target velocity (steps/s, int)
        self.tgt_x16 = 0            # track mode: target position (1/16 steps, int)
        self._sc = None             # S-curve words of the current move (jerk > 0)
        self._sc_target = 0
        self.built = False          # S-curve words were computed (floats: heap garbage)
        self.arg = 0                # the last word: DIR level, or steps
        self.cyc = 0                # ... its cycles (DIR setup, or step period)
        self.irq = False            # planning in a hard IRQ (heap locked): table words
                                    # only, SEG_LATER for the rest

    def set_limits(self, max_speed, accel, jerk=0.0):
        """New limits; the ramp is rebuilt only when speed or acceleration change."""
        self.jerk = float(jerk)
        r = self.ramp
        if r.vmax != float(max_speed) or r.a != float(accel):
            self._use(Ramp(max_speed, accel, self.freq, self.tol_s))
        if self.jerk > 0:
            from smove import prepare   # only with jerk > 0: not in the heap otherwise
            prepare(self.vmax, self.a, self.jerk, self.freq, self.tol_s)

    def _use(self, ramp):
        self.ramp = ramp
        self.vmax = ramp.vmax
        self.a = ramp.a
        # gain * e <= sqrt(accel * e) while e <= accel / gain^2: no square root needed there
        # (1/16 steps; one step less, for the ramp's boundary speeds lying below the curve)
        self._lin16 = int(ramp.a / (self.track_gain * self.track_gain) * 16) - 16
        self._cruise_n = _clip(int(ramp.vtop * self.chunk_s))
        self._lim_g = 0             # _vdes16's last group (a search hint)

    def fresh(self, pos):
        """A planner at rest at `pos` with the same limits and ramp (after a halt)."""
        p = Planner(0, 0, self.freq, self.tol_s, self.chunk_s, self.ramp)
        p.jerk = self.jerk
        p.pos = pos
        p.target = pos
        return p

    # ---- goals -----------------------------------------------------------------------
    def move_to(self, target):
        """Go to an integer position, time-optimally, and rest there."""
        self.mode = MODE_MOVE
        self.target = int(target)

    def track(self, x, v):
        """Follow a target now at x (steps) moving at v (steps/s)."""
        self.track16(int(x * 16), int(v))

    def track16(self, x16, v):
        """track() in integers: x16 in 1/16 steps, v in steps/s (the servo's path: a
        float is a heap object on the RP2040, and this runs at every word)."""
        self.mode = MODE_TRACK
        self.tgt_x16 = x16
        self.tgt_v = v

    def stop(self):
        """Brake at `accel` and rest on the first integer position reachable."""
        if self.at_rest:
            self.mode = MODE_IDLE
            return
        self._leave_scurve()
        self.mode = MODE_MOVE
        self.target = self.pos + self.s * (self.j + 1)

    def idle(self):
        """At rest with nothing left to do."""
        if not self.at_rest:
            return False
        if self.mode == MODE_MOVE:
            return self.target == self.pos
        return self.mode != MODE_TRACK

    def velocity(self):
        if self.at_rest:
            return 0.0
        if self._sc is not None:
            return self.s * self._sc.speed()
        return self.s * self.ramp.speed_at(self.j)

    # ---- words ---------------------------------------------------------------------------
    def next_segment(self):
        """The next word as a tuple (kind, arg, cyc), or None at the goal: next_word() for
        host tools and tests (it allocates; the firmware calls next_word())."""
        kind = self.next_word()
        return None if kind == SEG_NONE else (kind, self.arg, self.cyc)

    def next_word(self):
        """The next word's kind (its arguments in self.arg, self.cyc); SEG_NONE when the
        goal is reached (at rest)."""
        if self.at_rest:
            if self.irq and self.jerk > 0 and self.mode == MODE_MOVE:
                return SEG_LATER            # an S-curve move's start builds its words
            return self._start()
        sc = self._sc
        if sc is not None:
            if self.mode == MODE_MOVE and self._sc_target == self.target:
                return self._sc_word(sc)
            if self.irq:
                return SEG_LATER
            self._leave_scurve()
        if self.mode == MODE_MOVE:
            return self._move((self.target - self.pos) * self.s - self.j - 1)
        if self.mode == MODE_TRACK:
            return self._track()
        return self._down()

    def _steps(self, n, per):
        self.pos += n * self.s
        self.arg = n
        self.cyc = per
        return SEG_STEPS

    def _move(self, e):
        """A move's next word. The hot path: the table words up and down are inline
        here (a call costs as much as the rest of a word on an RP2040)."""
        r = self.ramp
        j = self.j
        k = self.k
        if e <= 0:                  # e == 0: on the braking curve; e < 0: overshoot
            if j == 0 or j != r.b[k]:
                return self._down()     # the last step, or back to a boundary
            k -= 1                      # brake through the group below: its table word
            n = r.n[k]
            self.j = r.b[k]
            self.k = k
            self.pos += n * self.s
            self.arg = n
            self.cyc = r.p[k]
            return SEG_STEPS
        if k == r.K:                # cruise
            return self._steps(e if e < self._cruise_n else self._cruise_n, r.h[k])
        top = r.b[k + 1]
        if 2 * (top - j) <= e:      # the whole rest of this group, and still stop in time
            if j != r.b[k]:
                return self._up()       # from inside the group: a live chord
            n = r.n[k]
            self.j = top
            self.k = k + 1
            self.pos += n * self.s
            self.arg = n
            self.cyc = r.p[k]
            return SEG_STEPS
        if self.irq:
            return SEG_LATER                    # the peak: live chords, in floats
        q = e >> 1
        if q:
            self.j = j + q
            return self._steps(q, r.chord(j, j + q))
        return self._steps(1, r.peak(j))        # e == 1: the middle interval of the move

    def _up(self):
        """Accelerate through the rest of the current group: its table word from its
        boundary, a live chord from inside it."""
        r = self.ramp
        j = self.j
        k = self.k
        top = r.b[k + 1]
        if j == r.b[k]:
            self.j = top
            self.k = k + 1
            return self._steps(r.n[k], r.p[k])
        if self.irq:
            return SEG_LATER
        self.j = top
        self.k = k + 1
        return self._steps(top - j, r.chord(j, top))

    def _down(self):
        """Brake one group (or back to a boundary); from crossing 0, the last step."""
        r = self.ramp
        j = self.j
        if j == 0:
            self._steps(1, r.t0)
            self.s = 0
            self.at_rest = True
            return SEG_STEPS
        k = self.k
        b = r.b[k]
        if j == b:
            self.j = r.b[k - 1]
            self.k = k - 1
            return self._steps(r.n[k - 1], r.p[k - 1])
        if self.irq:
            return SEG_LATER
        self.j = b
        return self._steps(j - b, r.chord(b, j))

    def _track(self):
        """One word toward the target: accelerate a group, hold, or brake a group. All
        integers: speeds at the table's boundaries (r.v), errors in 1/16 steps."""
        r = self.ramp
        j = self.j
        s = self.s
        k = self.k
        e16 = self.tgt_x16 - (self.pos << 4) - 8 * s
        tv = self.tgt_v
        if (-TRACK_STILL_V < tv < TRACK_STILL_V and -TRACK_RESTART16 <= e16 <= TRACK_RESTART16
                and j == 0):
            # a (nearly) still target and the lens slow and on it: settle onto the nearest
            # whole step; a reading a step away restarts tracking
            self.target = (self.tgt_x16 + 8) >> 4
            self.mode = MODE_MOVE
            return self.next_word()
        vd = self._vdes16(e16) * s          # desired speed along the motion
        vj = r.v[k]
        b = r.b
        if vd > 0:
            if j < r.J and vd >= (vj + r.v[k + 1]) >> 1:
                if j != b[k]:
                    return self._up()
                n = r.n[k]                  # a whole table word up (inline: the hot path)
                self.j = b[k + 1]
                self.k = k + 1
                self.pos += n * s
                self.arg = n
                self.cyc = r.p[k]
                return SEG_STEPS
            if not (j > 0 and vd <= (vj + r.v[k if j > b[k] else k - 1]) >> 1):
                n = vj * TRACK_HOLD_MS // 1000      # hold this speed (_clip, inline)
                n = 1 if n < 1 else (MAX_N if n > MAX_N else n)
                if j == b[k]:
                    self.pos += n * s
                    self.arg = n
                    self.cyc = r.h[k]
                    return SEG_STEPS
                if self.irq:
                    return SEG_LATER
                return self._steps(n, int(self.freq / r.speed_at(j) + 0.5))   # rare: off a boundary
        if j == 0 or j != b[k]:
            return self._down()
        k -= 1                              # a whole table word down (inline)
        n = r.n[k]
        self.j = b[k]
        self.k = k
        self.pos += n * s
        self.arg = n
        self.cyc = r.p[k]
        return SEG_STEPS

    def _vdes16(self, e16):
        """Signed speed (steps/s) the tracking law asks for at error e16 (1/16 steps):
        v_target + min(gain * error, sqrt(accel * error)), the square root read off the
        ramp (the speed at x = error / 2 is sqrt(accel * error))."""
        r = self.ramp
        ae = e16 if e16 >= 0 else -e16
        if ae > TRACK_ERR16_MAX:
            ae = TRACK_ERR16_MAX
        corr = (self.track_gain * ae) >> 4
        if ae > self._lin16:                # beyond the linear zone: the square root bounds
            half = ae >> 5
            j = half if half < r.J else r.J
            # the group of crossing j: searched from the last one (errors change little
            # from word to word; a bisection costs a quarter of a word's time)
            g = self._lim_g
            b = r.b
            if g < r.K and b[g + 1] <= j:
                g += 1
                if g < r.K and b[g + 1] <= j:
                    g = r.group_of(j)
            elif b[g] > j:
                g -= 1
                if b[g] > j:
                    g = r.group_of(j)
            self._lim_g = g
            lim = r.v[g]
            if lim < corr:
                corr = lim
        v = self.tgt_v + (corr if e16 >= 0 else -corr)
        vm = r.v[r.K]
        return vm if v > vm else (-vm if v < -vm else v)

    def _start(self):
        r = self.ramp
        if self.mode == MODE_MOVE:
            d = self.target - self.pos
            if d == 0:
                self.mode = MODE_IDLE
                return SEG_NONE
            s = 1 if d > 0 else -1
            if self.jerk > 0:
                return self._sc_begin(d * s, s)
        elif self.mode == MODE_TRACK:
            e16 = self.tgt_x16 - (self.pos << 4)
            if (-TRACK_RESTART16 <= e16 <= TRACK_RESTART16
                    and -TRACK_STILL_V < self.tgt_v < TRACK_STILL_V):
                return SEG_NONE              # on a still target (hysteresis: no dithering)
            s = 1 if (e16 + (self.tgt_v << 4) // 50) > 0 else -1    # where it is in 20 ms
            if self._vdes16(e16) * s <= 0:
                return SEG_NONE
        else:
            return SEG_NONE
        self.at_rest = False
        self.s = s
        self.j = 0
        self.k = 0
        return self._dir(s, r.t0)

    def _dir(self, s, cyc):
        self.arg = 1 if s > 0 else 0
        self.cyc = cyc
        return SEG_DIR

    # ---- jerk-limited moves ------------------------------------------------------------
    def _sc_begin(self, d, s):
        from smove import SMove     # only with jerk > 0: not in the heap otherwise
        sm = SMove(d, self.vmax, self.a, self.jerk, self.freq, self.tol_s, self.chunk_s)
        self._sc = sm
        self.built = sm.built
        self._sc_target = self.target
        self.at_rest = False
        self.s = s
        self.j = 0
        self.k = 0
        return self._dir(s, sm.t0)

    def _sc_word(self, sm):
        self._steps(sm.next_word(), sm.per)
        if sm.phase == SM_DONE:
            self.s = 0
            self.at_rest = True
            self._sc = None
        return SEG_STEPS

    def _leave_scurve(self):
        sm = self._sc
        if sm is not None:
            self._sc = None
            self.j = self.ramp.index_for_speed(sm.speed())
            self.k = self.ramp.group_of(self.j)


def _clip(n):
    return 1 if n < 1 else (MAX_N if n > MAX_N else n)


def _floor(x):
    i = int(x)
    return i - 1 if i > x else i


def optimal_time(d, vmax, a):
    """Analytic time-optimal trapezoid duration for a d-step move from rest to rest."""
    d = abs(d)
    if d <= vmax * vmax / a:
        return 2 * (d / a) ** 0.5
    return d / vmax + vmax / a
