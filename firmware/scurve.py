"""Jerk-limited (double-S, "S-curve") rest-to-rest motion profile.

For a move of D steps under max speed V, acceleration A and jerk J the acceleration
ramps up at J, holds at A, ramps down, the speed cruises at V, and the braking mirrors it
(the standard seven-phase profile; phases shrink or vanish for short moves). The planner
asks for the time at which the position reaches a given value (bisection on the
monotonic position function) and for the speed there.

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

    def time_at(self, p, lo=0.0):
        """The time the position reaches p (0 <= p <= d), searching from `lo`."""
        hi = self.t_end
        if p >= self.d:
            return hi
        for _ in range(48):
            mid = (lo + hi) / 2
            if mid <= lo or mid >= hi:
                break           # as fine as the float type goes (float32 on a Pico)
            if self.x(mid) < p:
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2
