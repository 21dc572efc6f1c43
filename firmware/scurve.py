"""Jerk-limited (double-S, "S-curve") rest-to-rest motion profile.

For a move of D steps under max speed V, acceleration A and jerk J the acceleration
ramps up at J, holds at A, ramps down, the speed cruises at V, and the braking mirrors it
(the standard seven-phase profile; phases shrink or vanish for short moves). The planner
asks for the time between two positions (span) and for the speed at a position.

Float32. Times are never taken as differences of absolute times (on a Pico a 5 s move
has 0.5 us time resolution, enough to make an 8 ms segment 0.1 % too fast): the
acceleration phase is timed from the start, the cruise directly (distance / speed) and
the braking phase backwards from the end, where its times are small.

Pure Python: runs on the board and in the host tests.
"""

from math import sqrt


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
        self.alim = j * tj                   # acceleration actually reached
        self.vlim = (ta - tj) * self.alim    # speed actually reached
        self.d = d
        self.t_end = 2 * ta + tv

    def _acc_x(self, t):
        """Position during the acceleration phase (0 <= t <= ta)."""
        j, tj, ta, al, vl = self.j, self.tj, self.ta, self.alim, self.vlim
        if t < tj:
            return j * t * t * t / 6
        if t < ta - tj:
            return al / 6 * (3 * t * t - 3 * tj * t + tj * tj)
        r = ta - t
        return vl * ta / 2 - vl * r + j * r * r * r / 6

    def _acc_v(self, t):
        j, tj, ta, al, vl = self.j, self.tj, self.ta, self.alim, self.vlim
        if t < tj:
            return j * t * t / 2
        if t < ta - tj:
            return al * (t - tj / 2)
        r = ta - t
        return vl - j * r * r / 2

    def x(self, t):
        ta, tv = self.ta, self.tv
        if t <= ta:
            return self._acc_x(t)
        if t <= ta + tv:
            return self.vlim * ta / 2 + self.vlim * (t - ta)
        if t >= self.t_end:
            return self.d
        return self.d - self._acc_x(self.t_end - t)

    def v(self, t):
        ta, tv = self.ta, self.tv
        if t <= ta:
            return self._acc_v(t)
        if t <= ta + tv:
            return self.vlim
        if t >= self.t_end:
            return 0.0
        return self._acc_v(self.t_end - t)

    def _acc_time(self, y):
        """The time in the acceleration phase at which the position is y (0 <= y <= the
        phase's length): bisection on the monotonic position, as fine as the floats go."""
        lo = 0.0
        hi = self.ta
        for _ in range(48):
            mid = (lo + hi) / 2
            if mid <= lo or mid >= hi:
                break           # as fine as the float type goes (float32 on a Pico)
            if self._acc_x(mid) < y:
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2

    def _bounds(self):
        xa = self.vlim * self.ta / 2        # end of the acceleration phase
        return xa, self.d - xa              # ... and start of the braking phase

    def _acc_span(self, y0, y1):
        """Time from y0 to y1 (y0 <= y1) within the acceleration phase. A difference of
        two phase times, unless those times are too coarse for it (a long, gentle ramp
        in float32): then Simpson's rule on 1/speed, whose error is relative."""
        t0 = self._acc_time(y0) if y0 > 0 else 0.0
        t1 = self._acc_time(y1)
        dt = t1 - t0
        if y0 > 0 and t1 > 64 * dt:
            vm = self._acc_v(self._acc_time((y0 + y1) / 2))
            dt = (y1 - y0) / 6 * (1 / self._acc_v(t0) + 4 / vm + 1 / self._acc_v(t1))
        return dt

    def span(self, p0, p1):
        """Time to go from position p0 to p1 (0 <= p0 <= p1 <= d)."""
        xa, xc = self._bounds()
        t = 0.0
        if p0 < xa:
            q = p1 if p1 < xa else xa
            t += self._acc_span(p0, q)
            p0 = q
        if p0 < p1 and p0 < xc:
            q = p1 if p1 < xc else xc
            t += (q - p0) / self.vlim
            p0 = q
        if p0 < p1:
            t += self._acc_span(self.d - p1, self.d - p0)     # braking mirrors the ramp
        return t

    def v_at(self, p):
        """Speed at position p."""
        xa, xc = self._bounds()
        if p <= 0 or p >= self.d:
            return 0.0
        if p < xa:
            return self._acc_v(self._acc_time(p))
        if p <= xc:
            return self.vlim
        return self._acc_v(self._acc_time(self.d - p))

    def time_at(self, p):
        """The time the position reaches p (0 <= p <= d)."""
        return self.span(0.0, p if p < self.d else self.d)
