"""Acceleration ramp tables: the steps from rest to `max_speed` at `accel`, grouped into
PIO words of constant period, computed once per (max_speed, accel) so that the planner
feeds the step generator from tables, with integer arithmetic, instead of float
arithmetic per word (on the RP2040 that took ~1.2 ms of CPU per word and starved the FIFO).

The ramp. From rest the lens crosses x_j = j + 0.5 (step j happens there) at
t(x) = sqrt(2 x / a), speed v(x) = sqrt(2 a x), until v reaches vmax at xa = vmax^2 / 2a;
after that t(x) = vmax / a + (x - xa) / vmax. Crossing J, the first beyond xa, is the
first at cruise speed; interval j (from crossing j to j + 1) exists for j < J.

Groups. Group k covers crossings [b_k, b_k+1): one PIO word of n_k steps at period p_k,
the chord of the exact times (p_k = (t_b(k+1) - t_b(k)) / n_k), so each step is within
`tol` of its exact time and the time at every boundary is exact to a cycle (rounding is
carried from group to group). The chord error of a group of duration T at speed v is
about a T^2 / (8 v); n_k is the largest count keeping it within tol (and <= word_cap()).
The last group is the single junction interval J - 1 -> J (part ramp, part cruise).

Braking is the mirror image: a deceleration to rest passes the same crossings in reverse,
so the same words, read backwards, brake. Index k == K (b_K == J) is cruise.

Tables (arrays, one entry per boundary k = 0..K): b (crossing index), n (steps of group
k, 0 at K), p (period of group k in cycles), v (speed at crossing b_k, steps/s), h (a
constant-speed period at that speed, cycles). t0: cycles from rest to crossing 0.

A ramp needing more than MAX_GROUPS words at `tol` is built with the bound doubled until
it fits (very slow accelerations to high speeds; `tol_s` then says the bound it has); one
that still does not fit with the longest words its bound allows (over ~260,000 steps at
10 us, ~640,000 at 25 us) cruises at the speed reached.
"""

from array import array
from math import sqrt

MAX_N = 1024            # steps per PIO word (10-bit count: stepgen.MAX_STEPS_PER_WORD;
                        # this module also runs on CPython, which has no rp2 to import)
MAX_GROUPS = 1024       # table entries at most (about 18 bytes each)


def word_cap(tol_s, freq):
    """Steps in a chord word (a ramp group, an S-curve word) at most: its whole-cycle
    period drifts up to n / 2 cycles from its exact times before the carry corrects it at
    the boundary, which itself is up to half the previous word's off; together a fifth of
    the bound. Never below the 256 steps of the words before December 2026 (a long ramp
    then needs no looser bound to fit its table), never above MAX_N."""
    k = int(0.2 * tol_s * freq)
    return 256 if k < 256 else (MAX_N if k > MAX_N else k)


class Ramp:
    def __init__(self, vmax, accel, freq, tol_s):
        """The ramp's words within tol_s; a ramp that needs more than MAX_GROUPS words at
        that bound (a very slow acceleration to a high speed) is built with the bound
        doubled until it fits: self.tol_s is the bound it has."""
        while not self._build(vmax, accel, freq, tol_s):
            tol_s *= 2

    def _build(self, vmax, accel, freq, tol_s):
        vmax = float(vmax)
        a = float(accel)
        self.vmax = vmax
        self.a = a
        self.freq = freq
        self.tol_s = tol_s
        xa = vmax * vmax / (2 * a)
        J = int(xa + 0.5)                       # first crossing index with x_J > xa
        if J + 0.5 <= xa:
            J += 1
        self.xa = xa
        self.J = J
        b = array("i", [0])
        n = array("H")
        p = array("i")
        v = array("i")
        h = array("i")
        carry = 0.0
        j = 0
        capped = False
        pmin = int(freq / vmax) + 1             # the shortest period below max_speed
        k = MAX_N
        kmax = word_cap(tol_s, freq)
        while j < J - 1:                        # groups over the ramp proper
            vj = sqrt(2 * a * (j + 0.5))
            k = int(vj * sqrt(5.0 * vj * tol_s / a))   # chord error a T^2 / 8v: 5/8 of tol
            if k < 1:
                k = 1
            if k > kmax:
                k = kmax
            if j + k > J - 1:
                k = J - 1 - j
            vk = sqrt(2 * a * (j + k + 0.5))
            cyc = 2.0 * k / (vj + vk) * freq + carry
            pk = int(cyc / k + 0.5)
            if pk < pmin:
                pk = pmin       # a rounding carried into a short group: never above vmax
            carry = cyc - pk * k
            n.append(k)
            p.append(pk)
            v.append(int(vj))
            h.append(int(freq / vj + 0.5))
            j += k
            b.append(j)
            if len(n) >= MAX_GROUPS - 1:
                capped = j < J - 1
                break
        if capped and k < kmax:
            return False                        # a looser bound makes fewer, longer words
        if capped:
            # every word already kmax steps: cruise at the speed reached (crossing j is
            # the last of the table; a ramp of more than ~260,000 steps at 10 us, ~640,000
            # at 25 us)
            vt = sqrt(2 * a * (j + 0.5))
            self.J = J = j
            self.vtop = vt
        else:
            self.vtop = vmax
            if J >= 1:                          # the junction: crossing J-1 to J
                tj = self.span(J - 0.5, J + 0.5)
                cyc = tj * freq + carry
                n.append(1)
                p.append(max(int(cyc + 0.5), pmin))
                vj = sqrt(2 * a * (J - 0.5))
                v.append(int(vj))
                h.append(int(freq / vj + 0.5))
                if b[len(b) - 1] != J:
                    b.append(J)
        n.append(0)
        p.append(0)
        v.append(int(self.vtop))
        h.append(int(freq / self.vtop + 0.5))
        self.b, self.n, self.p, self.v, self.h = b, n, p, v, h
        self.K = len(n) - 1
        self.t0 = int(self.time_at(0.5) * freq + 0.5)   # rest -> crossing 0
        return True

    def time_at(self, x):
        """Seconds from rest to position x (steps) along the ramp, then cruise."""
        if x <= self.xa:
            return sqrt(2 * x / self.a)
        return self.vmax / self.a + (x - self.xa) / self.vmax

    def span(self, x0, x1):
        """Seconds from position x0 to x1 (x0 < x1) along the ramp, then cruise, without
        differences of absolute times: in float32 (7 digits) t(x1) - t(x0) of a 1 s ramp
        is off by ~0.1 us, half a percent of a 20 us step."""
        xa = self.xa
        vm = self.vmax
        if x0 >= xa:
            return (x1 - x0) / vm
        v0 = sqrt(2 * self.a * x0)
        if x1 <= xa:
            return 2 * (x1 - x0) / (v0 + sqrt(2 * self.a * x1))
        return 2 * (xa - x0) / (v0 + vm) + (x1 - xa) / vm

    def speed_at(self, j):
        """Speed (steps/s) at crossing j."""
        x = j + 0.5
        if x >= self.xa or j >= self.J:
            return self.vtop
        return sqrt(2 * self.a * x)

    def chord(self, j0, j1):
        """Period in cycles of one word of j1 - j0 steps covering crossings j0..j1-1 (j0 <
        j1 <= J): the live form of a group, for the parts of a move off the table's
        boundaries."""
        return int(self.span(j0 + 0.5, j1 + 0.5) * self.freq / (j1 - j0) + 0.5)

    def peak(self, m):
        """Cycles between the two crossings of index m either side of a peak at m + 1
        (the middle interval of a move with an even number of steps past crossing m)."""
        return int(2 * self.span(m + 0.5, m + 1.0) * self.freq + 0.5)

    def group_of(self, j):
        """Index k of the group holding crossing j (b_k <= j < b_k+1), K at cruise."""
        b = self.b
        lo, hi = 0, self.K
        if j >= b[hi]:
            return hi
        while hi - lo > 1:
            mid = (lo + hi) >> 1
            if b[mid] <= j:
                lo = mid
            else:
                hi = mid
        return lo

    def index_for_speed(self, v):
        """The highest crossing index whose ramp speed is at most v (steps/s)."""
        if v >= self.vtop:
            return self.J
        j = int(v * v / (2 * self.a) - 0.5)
        if j < 0:
            return 0
        return j if j < self.J else self.J
