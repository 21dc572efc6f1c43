"""Jerk-limited (double-S, "S-curve") rest-to-rest motion profile.

For a move of D steps under max speed V, acceleration A and jerk J the acceleration
ramps up at J (phase 1), holds at A (phase 2), ramps down (phase 3), the speed cruises
at V, and the braking mirrors it (the standard seven-phase profile; phases shrink or
vanish for short moves). smove.py turns it into PIO words; this module answers "how long
from position p0 to p1" and "how fast at p".

Float32 on a Pico. Spans are never differences of absolute times (a 5 s move has 0.5 us
time resolution in float32, enough to make an 8 ms word 0.1 % too fast): each phase is
timed in its own small clock (phase 1 from the start, phase 3 backwards from its end,
whose times are below A/J), phase 2 by its constant acceleration (time = 2 dx / (v0 + v1))
and the cruise by distance / speed. Positions -> times in closed form in phases 1 and 2,
by a few Newton steps in phase 3 (monotone from below: no overshoot, no bisection).

Pure Python: runs on the board and in the host tests.
"""

from math import sqrt

# where a position lies (the `ph` of a state)
PH_JERK_UP = 1
PH_ACCEL = 2
PH_JERK_DOWN = 3
PH_CRUISE = 4


class SCurve:
    def __init__(self, d, v, a, j):
        d = float(d)
        if v * j >= a * a:
            tj = a / j
            ta = tj + v / a
        else:
            tj = sqrt(v / j)
            ta = 2 * tj
        tv = d / v - ta
        if tv < 0:
            # the cruise speed is not reached: no cruise phase
            tv = 0.0
            tj = a / j
            delta = a * a * a * a / (j * j) + 4 * a * d
            ta = (a * a / j + sqrt(delta)) / (2 * a)
            if ta < 2 * tj:
                # the acceleration limit is not reached either
                tj = (d / (2 * j)) ** (1.0 / 3.0)
                ta = 2 * tj
        self.j = j
        self.tj = tj
        self.ta = ta
        self.tv = tv
        self.alim = al = j * tj              # acceleration actually reached
        self.vlim = vl = (ta - tj) * al      # speed actually reached
        self.d = d
        self.t_end = 2 * ta + tv
        t2 = ta - 2 * tj                     # length of phase 2
        self.v1 = v1 = j * tj * tj / 2       # end of phase 1
        self.x1 = x1 = j * tj * tj * tj / 6
        self.v2 = v1 + al * t2               # end of phase 2
        self.x2 = x1 + v1 * t2 + al * t2 * t2 / 2
        self.xa = vl * ta / 2                # end of the acceleration: phase 3 ends here

    # ---- time -> position (the reference the tests sample) ---------------------------
    def _acc_x(self, t):
        """Position during the acceleration phase (0 <= t <= ta)."""
        j, tj, ta, al, vl = self.j, self.tj, self.ta, self.alim, self.vlim
        if t < tj:
            return j * t * t * t / 6
        if t < ta - tj:
            return al / 6 * (3 * t * t - 3 * tj * t + tj * tj)
        r = ta - t
        return vl * ta / 2 - vl * r + j * r * r * r / 6

    def x(self, t):
        ta, tv = self.ta, self.tv
        if t <= ta:
            return self._acc_x(t)
        if t <= ta + tv:
            return self.xa + self.vlim * (t - ta)
        if t >= self.t_end:
            return self.d
        return self.d - self._acc_x(self.t_end - t)

    # ---- position -> time, in the acceleration half ---------------------------------
    def state(self, x, r0=0.0):
        """(phase, phase clock, speed) at position x (0 <= x, first half of the move).
        The clock is t from the start in phase 1, the time r left to the end of phase 3
        in phase 3, unused (0) in phase 2 and the cruise. r0: a phase-3 clock known to be
        at or below the answer (the previous crossing's r minus the steps between at its
        speed: the speed only rises), which saves most of the Newton steps."""
        j = self.j
        if x <= self.x1:
            t = (6 * x / j) ** (1.0 / 3.0) if x > 0 else 0.0
            return PH_JERK_UP, t, j * t * t / 2
        if x <= self.x2:
            return PH_ACCEL, 0.0, sqrt(self.v1 * self.v1 + 2 * self.alim * (x - self.x1))
        vl = self.vlim
        if x >= self.xa:
            return PH_CRUISE, 0.0, vl
        # phase 3: xa - x = vl r - j r^3 / 6, solved for r by Newton from r = (xa - x) / vl
        # (below the root; the function is convex, so every step stays below it)
        g = self.xa - x
        r = g / vl
        if r0 > r:
            r = r0
        for _ in range(12):
            dr = (g - vl * r + j * r * r * r / 6) / (vl - j * r * r / 2)
            r += dr
            if dr <= r * 1e-7:
                break
        if r > self.tj:
            r = self.tj
        return PH_JERK_DOWN, r, vl - j * r * r / 2

    def between(self, x0, s0, x1, s1):
        """Seconds from x0 to x1 (x0 <= x1, both in the first half), given their states."""
        p0, q0, v0 = s0
        p1, q1, v1 = s1
        t = 0.0
        if p0 == PH_JERK_UP:
            t += (q1 if p1 == PH_JERK_UP else self.tj) - q0
        if p0 <= PH_ACCEL <= p1:
            lo = x0 if p0 == PH_ACCEL else self.x1
            hi = x1 if p1 == PH_ACCEL else self.x2
            va = v0 if p0 == PH_ACCEL else self.v1
            vb = v1 if p1 == PH_ACCEL else self.v2
            if hi > lo:
                t += 2 * (hi - lo) / (va + vb)
        if p0 <= PH_JERK_DOWN <= p1:
            t += (q0 if p0 == PH_JERK_DOWN else self.tj) - (q1 if p1 == PH_JERK_DOWN else 0.0)
        if p1 == PH_CRUISE:
            t += (x1 - (x0 if p0 == PH_CRUISE else self.xa)) / self.vlim
        return t

    def _half_span(self, x0, x1):
        return self.between(x0, self.state(x0), x1, self.state(x1))

    def span(self, p0, p1):
        """Seconds from position p0 to p1 (0 <= p0 <= p1 <= d); the braking half mirrors
        the acceleration half."""
        h = self.d / 2
        if p1 <= h:
            return self._half_span(p0, p1)
        if p0 >= h:
            return self._half_span(self.d - p1, self.d - p0)
        return self._half_span(p0, h) + self._half_span(self.d - p1, h)

    def v_at(self, p):
        """Speed at position p."""
        if p <= 0 or p >= self.d:
            return 0.0
        return self.state(p if p <= self.d / 2 else self.d - p)[2]

    def time_at(self, p):
        """The time the position reaches p (0 <= p <= d)."""
        return self.span(0.0, p if p < self.d else self.d)
