"""Motion planner: turns goals (go to a position, follow a moving target, stop) into a
stream of step segments for the PIO step generator, within `max_speed` and `accel`.

Model. The lens position is continuous, X (steps); a STEP pulse happens each time X
crosses a half-integer (k + 0.5), so the step count always equals the position change.
The planner's state is either *at rest* on an integer position, or *at a crossing* (X is a
half-integer, the next step is due now) moving at speed v. From that state it plans the
time-optimal trapezoid (move), a feedback law (track) or a brake (stop), then emits one
segment: n steps at a constant period, lasting until the next crossing. Everything is
re-planned from exact integer positions at every segment (the distance to go is an
integer difference, never a float position), so position errors never accumulate.

Float32. The RP2040 port computes in single precision (7 digits): the speed carried from
segment to segment drifts by a few parts in 10^5, so "can the lens still stop before the
target" is decided with a relative tolerance (SNAP): a brake that overshoots the target
by less than that ends exactly on it with a deceleration at most SNAP above `accel`,
instead of planning a turnaround (which, with exact comparisons, never ended a move).

Reversal. If the plan brakes to zero before the next crossing, the segment ends at the
turnaround and a DIR segment brings the lens back to the same crossing moving the other
way (the profile is symmetric about the turnaround).

Segments are tuples, consumed by motion.py:
    (SEG_DIR, level, seconds)  set DIR, then wait (includes the gap to the next step)
    (SEG_STEPS, n, seconds)    n steps, evenly spaced over `seconds`, first one now
"""

from math import sqrt

from scurve import SCurve

# plain ints, not const(): this module also runs on CPython in the host tests
SEG_DIR = 0
SEG_STEPS = 1

MODE_IDLE = 0
MODE_MOVE = 1
MODE_TRACK = 2

MAX_N = 256
TRACK_STILL_V = 100.0       # steps/s: a target slower than this counts as still
TRACK_RESTART = 1.5         # steps: a resting lens follows a still target this far off
SNAP = 0.002                # relative: braking distance within this of the target lands on it
SNAP_STEPS = 0.01           # absolute part of the same tolerance (steps)


class Planner:
    def __init__(self, max_speed, accel, chunk_s=0.008, tol_s=0.000002):
        self.set_limits(max_speed, accel)
        self.chunk_s = chunk_s      # aim for segments about this long when cruising
        self.tol_s = tol_s          # allowed deviation of a step from the ideal profile
        self.pos = 0                # integer position (steps emitted so far)
        self.v = 0.0                # speed at the current crossing (>= 0), 0 at rest
        self.s = 0                  # direction of motion: +1 / -1, 0 at rest
        self.at_rest = True
        self.mode = MODE_IDLE
        self.target = 0
        self.tgt_v = 0.0            # track mode: target velocity (steps/s)
        self.tgt_x = 0.0            # track mode: target position (steps)
        self.track_gain = 50.0      # 1/s: speed per step of error near the target
        self.track_tau = 0.005      # s: how fast the speed error is closed
        self._pending = None        # DIR segment due after a turnaround
        self._brake = False         # stopping: decelerate only, onto a whole step
        self._ph = [0.0] * 6        # current plan: (acc, length) x 3 phases
        self.jerk = 0.0             # steps/s^3; 0 = trapezoid
        self._sc = None             # S-curve of the current move (jerk > 0)
        self._sc_start = 0
        self._sc_target = 0
        self._sc_d = 0              # its length in whole steps

    def set_limits(self, max_speed, accel, jerk=0.0):
        self.vmax = float(max_speed)
        self.a = float(accel)
        self.jerk = float(jerk)

    # ---- goals -----------------------------------------------------------------------
    def move_to(self, target):
        """Go to an integer position, time-optimally, and rest there."""
        self.mode = MODE_MOVE
        self.target = int(target)
        self._brake = False

    def track(self, x, v):
        """Follow a target now at x (steps) moving at v (steps/s)."""
        self.mode = MODE_TRACK
        self.tgt_x = float(x)
        self.tgt_v = float(v)
        self._brake = False

    def stop(self):
        """Brake at `accel` and rest on the first integer position reachable."""
        if self.at_rest:
            self.mode = MODE_IDLE
            return
        ahead = 0.5 + self.v * self.v / (2 * self.a)     # from the crossing's step, >= 0.5
        self.mode = MODE_MOVE
        self.target = self.pos + self.s * _ceil(ahead - SNAP_STEPS)
        self._brake = True          # never speed up to reach that whole step

    def idle(self):
        """At rest with nothing left to do."""
        if not self.at_rest or self._pending is not None:
            return False
        if self.mode == MODE_MOVE:
            return self.target == self.pos
        if self.mode == MODE_TRACK:
            return False
        return True

    def velocity(self):
        return self.v * self.s

    # ---- planning ----------------------------------------------------------------------
    def _plan_move(self, u, d):
        """Time-optimal plan from speed u (along the motion) with d steps to go:
        phases (acc, length) in self._ph. Brake-to-turnaround when d <= 0 or too close."""
        a, vm = self.a, self.vmax
        ph = self._ph
        b = u * u / (2 * a)                 # braking distance at accel
        ph[0] = ph[1] = ph[2] = ph[3] = ph[4] = ph[5] = 0.0
        slack = d * SNAP + SNAP_STEPS       # float32 drift of b against d
        if d <= 0 or b > d + slack:
            ph[0] = -a
            ph[1] = b                       # brake to zero: turnaround
            return
        if self._brake or b >= d - slack:
            # stopping, or at the braking point: one constant deceleration (at most
            # accel * (1 + SNAP)) that ends exactly on the target
            ph[4] = -(u * u) / (2 * d)
            ph[5] = d
            return
        up2 = (u * u + 2 * a * d) / 2       # peak speed squared of accel-then-brake
        if up2 <= vm * vm:
            ph[0] = a
            ph[1] = (up2 - u * u) / (2 * a)
            if ph[1] < 0:
                ph[1] = 0.0
            ph[4] = -a
            ph[5] = d - ph[1]
        else:
            ph[0] = a
            ph[1] = (vm * vm - u * u) / (2 * a)
            if ph[1] < 0:
                ph[1] = 0.0
            ph[2] = 0.0
            ph[3] = d - ph[1] - (vm * vm) / (2 * a)
            if ph[3] < 0:
                ph[3] = 0.0
            ph[4] = -a
            ph[5] = d - ph[1] - ph[3]

    def _plan_track(self, u):
        a, s = self.a, self.s
        e = self.tgt_x - self.pos            # from the crossing, or the rest position
        if not self.at_rest:
            e -= 0.5 * s
        ae = e if e >= 0 else -e
        lin = self.track_gain * ae
        corr = sqrt(a * ae)                  # fastest speed that can still stop on target
        if lin < corr:
            corr = lin
        vdes = self.tgt_v + (corr if e >= 0 else -corr)
        if vdes > self.vmax:
            vdes = self.vmax
        elif vdes < -self.vmax:
            vdes = -self.vmax
        want = (vdes - u * s) / self.track_tau
        if want > a:
            want = a
        elif want < -a:
            want = -a
        acc = want * s if s else want        # along the motion
        ph = self._ph
        ph[0] = acc
        ph[1] = u * 0.004 + 0.5              # re-evaluate after ~4 ms of travel
        if acc > 0:
            room = (self.vmax * self.vmax - u * u) / (2 * acc)
            if room < ph[1]:
                ph[1] = room if room > 0 else 0.0
        ph[2] = 0.0
        ph[3] = 1e9 if acc >= 0 else 0.0      # then hold the speed reached
        ph[4] = 0.0
        ph[5] = 0.0
        if acc < 0:
            ph[1] = u * u / (2 * -acc) if u > 0 else 0.0   # (turnaround if followed)

    def _walk(self, u, dist):
        """(time, speed) after travelling `dist` steps along the current plan from speed u."""
        ph = self._ph
        t = 0.0
        i = 0
        while i < 6 and dist > 1e-12:
            acc = ph[i]
            ln = ph[i + 1]
            i += 2
            if ln <= 0:
                continue
            step = dist if dist < ln else ln
            t += _travel_time(u, acc, step)
            v2 = u * u + 2 * acc * step
            u = sqrt(v2) if v2 > 0 else 0.0
            dist -= step
        if dist > 1e-12 and u > 0:
            t += dist / u
        return t, u

    # ---- segment generation -------------------------------------------------------------
    def next_segment(self):
        """The next segment, or None when the goal is reached (at rest)."""
        if self._pending is not None:
            seg = self._pending
            self._pending = None
            return seg
        if self.at_rest:
            return self._start()
        sc = self._sc
        if sc is not None:
            if self.mode == MODE_MOVE and self._sc_target == self.target:
                return self._sc_segment(sc)
            self._sc = None      # retargeted: blend on with the acceleration-limited law
        u, s = self.v, self.s
        # at the crossing pos + s/2; distances from it in integer arithmetic first, so a
        # position beyond 2**23 (float32's last half-step) keeps its half step
        togo = (self.target - self.pos) * s  # whole steps from pos to the target
        if self.mode == MODE_MOVE:
            rem = togo - 0.5                 # 0.5, 1.5, ... (or <= -0.5: behind us)
            self._plan_move(u, rem)
        elif self.mode == MODE_TRACK:
            e = (self.tgt_x - self.pos) - 0.5 * s
            if (-TRACK_STILL_V < self.tgt_v < TRACK_STILL_V and -TRACK_RESTART <= e <= TRACK_RESTART
                    and u * u < 2 * self.a):
                # the target is (nearly) still and the lens is on it: settle onto the
                # nearest whole step and rest there instead of dithering around it; the
                # next reading restarts tracking only if the target moves a step away
                self.target = _floor(self.tgt_x + 0.5)
                self.mode = MODE_MOVE
                self._brake = False
                return self.next_segment()
            rem = -1.0
            self._plan_track(u)
        else:
            rem = -1.0
            self._plan_move(u, 0.0)         # no goal: brake
        ph = self._ph
        if ph[0] < 0 and ph[2] == 0 and ph[3] == 0 and ph[5] == 0 and ph[1] < 1.0:
            return self._turn(-ph[0])        # stops before the next crossing
        n = self._choose_n()
        if self.mode == MODE_MOVE and rem > 0 and ph[0] >= 0:
            left = togo                      # steps left including this one
            if n >= left:
                t, _ = self._walk(u, rem)
                self.pos += left * s
                self.v = 0.0
                self.s = 0
                self.at_rest = True
                return (SEG_STEPS, left, t)
        t, v = self._walk(u, float(n))
        if v <= 0:
            # braking runs out inside this segment: make it end in a turnaround
            return self._turn(-ph[0] if ph[0] < 0 else self.a)
        self.v = v if v < self.vmax else self.vmax
        self.pos += n * s
        return (SEG_STEPS, n, t)

    def _start(self):
        if self.mode == MODE_MOVE:
            d = self.target - self.pos
            if d == 0:
                self.mode = MODE_IDLE
                return None
            s = 1 if d > 0 else -1
            if self.jerk > 0:
                return self._sc_begin(d * s, s)
            self._plan_move(0.0, float(d * s))
        elif self.mode == MODE_TRACK:
            e = self.tgt_x - self.pos
            if -TRACK_RESTART <= e <= TRACK_RESTART and -TRACK_STILL_V < self.tgt_v < TRACK_STILL_V:
                return None                  # on a still target (hysteresis: no dithering)
            s = 1 if (e + self.tgt_v * 0.02) > 0 else -1
            self.s = s
            self._plan_track(0.0)
            if self._ph[0] <= 0:
                self.s = 0
                return None
        else:
            return None
        t, u = self._walk(0.0, 0.5)          # from rest to the first crossing
        self.at_rest = False
        self.s = s
        self.v = u
        return (SEG_DIR, 1 if s > 0 else 0, t)

    # ---- jerk-limited moves ------------------------------------------------------------
    def _sc_begin(self, d, s):
        sc = SCurve(d, self.vmax, self.a, self.jerk)
        self._sc = sc
        self._sc_d = d
        self._sc_target = self.target
        self._sc_start = self.pos
        t = sc.span(0.0, 0.5)
        self.at_rest = False
        self.s = s
        self.v = sc.v_at(0.5)
        return (SEG_DIR, 1 if s > 0 else 0, t)

    def _sc_segment(self, sc):
        s = self.s
        done = (self.pos - self._sc_start) * s          # whole steps taken (integers)
        x = done + 0.5                                  # the crossing we are at
        left = self._sc_d - done                        # steps left, this one included
        xa, xc = sc._bounds()
        cruise = xa <= x and x + self.v * self.chunk_s <= xc
        n = self._n_for(self.v, 0.0 if cruise else sc.alim)
        if n >= left:
            self.pos += left * s
            self.v = 0.0
            self.s = 0
            self.at_rest = True
            self._sc = None
            return (SEG_STEPS, left, sc.span(x, sc.d))
        self.v = sc.v_at(x + n)
        self.pos += n * s
        return (SEG_STEPS, n, sc.span(x, x + n))

    def _turn(self, a):
        """Braking ends before the next crossing: take this step, stop, come back to
        this crossing moving the other way (symmetric: same time out and back)."""
        u = self.v
        t = u / a if a > 0 else 0.0
        self.pos += self.s
        self.s = -self.s
        self._pending = (SEG_DIR, 1 if self.s > 0 else 0, t)
        if u <= 0:
            self.at_rest = True
            self.s = 0
        return (SEG_STEPS, 1, t)

    def _choose_n(self):
        """_n_for() with the largest acceleration among the phases this segment would
        actually cover (a braking phase far ahead does not shorten cruise segments)."""
        ph = self._ph
        n = self._n_for(self.v, 0.0)
        for _ in range(3):
            amax = 0.0
            start = 0.0
            for i in (0, 2, 4):
                ln = ph[i + 1]
                if ln <= 0:
                    continue
                if start < n:
                    m = ph[i] if ph[i] > 0 else -ph[i]
                    if m > amax:
                        amax = m
                start += ln
            n2 = self._n_for(self.v, amax)
            if n2 >= n:
                break
            n = n2
        return n

    def _n_for(self, u, amax):
        """Steps in the next segment: as many as keep every step within tol_s of the
        ideal profile (a segment spaces its steps evenly; under acceleration A over a
        segment of duration D the worst deviation is about A D^2 / (8 u)), and no more
        than chunk_s of travel."""
        n = int(u * self.chunk_s)
        if amax > 0:
            lim = int(u * sqrt(8.0 * u * self.tol_s / amax))
            if lim < n:
                n = lim
        if n < 1:
            n = 1
        if n > MAX_N:
            n = MAX_N
        return n


def _travel_time(u, acc, dist):
    """Time to cover `dist` steps from speed u under constant acceleration acc."""
    disc = u * u + 2 * acc * dist
    if disc < 0:
        disc = 0.0
    den = u + sqrt(disc)
    if den <= 0:
        return sqrt(2 * dist / acc) if acc > 0 else 0.0
    return 2 * dist / den


def _floor(x):
    i = int(x)
    return i - 1 if i > x else i


def _ceil(x):
    i = int(x)
    return i + 1 if i < x else i


def optimal_time(d, vmax, a):
    """Analytic time-optimal trapezoid duration for a d-step move from rest to rest."""
    d = abs(d)
    if d <= vmax * vmax / a:
        return 2 * sqrt(d / a)
    return d / vmax + vmax / a
