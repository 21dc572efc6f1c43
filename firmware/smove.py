"""The PIO words of one jerk-limited (S-curve) move, built before its first step.

A rest-to-rest S-curve is symmetric: step i and step d-1-i lie the same time from either
end. So only the acceleration half is computed, once, when the move starts: groups of
steps at a constant period (words), each a chord of the exact crossing times, as ramp.py
does for the trapezoid. Then the move is those words, a cruise at the speed reached (or
the one middle interval of a move that never cruises), and the same words read backwards.
While the lens moves a word costs a table read, as a trapezoid word does; the floats
(scurve.py) run only here, before the state machine starts.

Crossing c is the position c + 0.5, where step c happens. Boundaries b[0] = 0 < ... < b[m]:
word k has b[k+1] - b[k] steps at period p[k] cycles, from crossing b[k] to b[k+1]; v[k]
is the speed at crossing b[k] (v[m] at the top). The chord error of a word of duration T
at speed v and acceleration up to A is about A T^2 / 8v; its steps number the most that
keep it within the bound. A half that needs more than MAX_WORDS words is rebuilt with the
bound doubled, as ramp.py does (self.tol_s is the bound it has); one that needs more with
the longest words its bound allows (ramp.word_cap) cruises at the speed reached.
"""

from array import array
from math import sqrt

from ramp import MAX_N, word_cap
from scurve import SCurve

MAX_WORDS = 1024        # words in the acceleration half at most (12 bytes each)

_UP = 0
_CRUISE = 1
_DOWN = 2
_LAST = 3
_DONE = 4               # planner.SM_DONE


_cache = []             # [key, tables...] of the last full-speed acceleration half


def prepare(vmax, accel, jerk, freq, tol_s):
    """Build the acceleration half of a full-speed S-curve now (at boot or a config
    change), so that a move's first step does not wait for it (about 1 ms of float Python
    per word on an RP2040)."""
    sc = SCurve(1 << 28, vmax, accel, jerk)
    d = 2 * int(sc.xa + 2) + 1                  # the shortest move that cruises
    SMove(d, vmax, accel, jerk, freq, tol_s)


class SMove:
    def __init__(self, d, vmax, accel, jerk, freq, tol_s, chunk_s=0.008):
        """A move of d > 0 steps from rest to rest."""
        self.d = d
        self.freq = freq
        sc = SCurve(d, vmax, accel, jerk)
        hmin = int(freq / vmax)                 # no period shorter than max_speed's
        if hmin * vmax < freq:
            hmin += 1
        self._hmin = hmin
        half = (d - 1) >> 1                     # crossings 0 .. half are the first half
        m = int(sc.xa + 0.5)                    # first crossing at or past the top
        if m + 0.5 < sc.xa:
            m += 1
        if m > half:
            m = half
        # a move that reaches max_speed has the same acceleration half whatever its
        # length: built once (prepare(), at config time), reused by every such move
        key = (vmax, accel, jerk, freq, tol_s, m) if sc.tv > 0 and m < half else None
        if key is not None and _cache and _cache[0] == key:
            self.b, self.p, self.v, self.m, self.tol_s, self._carry, self.capped = _cache[1:]
            self.built = False
        else:
            while not self._build(sc, m, tol_s):
                tol_s *= 2
            if key is not None:
                _cache[:] = [key, self.b, self.p, self.v, self.m, self.tol_s, self._carry,
                             self.capped]
            self.built = True
        m = self.m
        self.vtop = vt = self.v[len(self.p)]
        cruise = d - 1 - 2 * m                  # intervals between the two halves
        if cruise == 1:                         # the middle interval of a move: timed exactly
            c = m + 0.5
            self.hc = 2 * sc.between(c, sc.state(c), d / 2, sc.state(d / 2)) * freq
        else:
            self.hc = freq / (vt if self.capped else sc.vlim)
        # the cruise in integers (1/16 cycles): a float per word is a heap object on a Pico
        self._hc16 = int(self.hc * 16 + 0.5)
        self._carry16 = int(self._carry * 16)
        self.per = 0                            # the last word's period (cycles)
        n = int(vt * chunk_s)
        self._cruise_n = 1 if n < 1 else (MAX_N if n > MAX_N else n)
        self.t0 = int(sc.span(0.0, 0.5) * freq + 0.5)   # rest -> crossing 0 (and back)
        self.phase = _UP if m > 0 else _CRUISE
        self.k = 0
        self.left = cruise

    def _build(self, sc, m, tol_s):
        """The words of the half within tol_s; False when they do not fit MAX_WORDS and a
        looser bound would make fewer (as ramp.py)."""
        freq = self.freq
        hmin = self._hmin
        a = sc.alim
        b = array("i", [0])
        p = array("i")
        v = array("i")
        c = 0
        x = 0.5
        st = sc.state(x)
        carry = 0.0
        n = 1
        nmax = word_cap(tol_s, freq)
        self.capped = False
        while c < m:
            vc = st[2]
            n = int(vc * sqrt(5.0 * vc * tol_s / a))    # chord error A T^2 / 8v, with margin
            if n < 1:
                n = 1
            if n > nmax:
                n = nmax
            if n > m - c:
                n = m - c
            x1 = x + n
            st1 = sc.state(x1, st[1] - n / vc if st[0] == 3 else 0.0)     # 3: jerk down
            cyc = sc.between(x, st, x1, st1) * freq + carry
            pk = int(cyc / n + 0.5)
            if pk < hmin:
                pk = hmin
            carry = cyc - pk * n
            p.append(pk)
            v.append(int(vc))
            c += n
            b.append(c)
            x = x1
            st = st1
            if len(p) >= MAX_WORDS and c < m:
                if n < nmax:
                    return False                # a looser bound makes fewer, longer words
                self.capped = True              # cruise at the speed reached
                break
        v.append(int(st[2]))
        self.b, self.p, self.v = b, p, v
        self.m = c                              # the crossing at the top
        self.tol_s = tol_s
        self._carry = carry
        return True

    def next_word(self):
        """Steps of the next word (its period in cycles in self.per: no tuple per word);
        self.phase is _DONE after the last (its period is the time from the last step to
        rest)."""
        ph = self.phase
        if ph == _UP:
            k = self.k
            self.k = k + 1
            if k + 1 == self.m_words():
                self.phase = _CRUISE
            self.per = self.p[k]
            return self.b[k + 1] - self.b[k]
        if ph == _CRUISE:
            left = self.left
            if left > 0:
                n = left if left < self._cruise_n else self._cruise_n
                cyc16 = n * self._hc16 + self._carry16
                per = (cyc16 + 8 * n) // (16 * n)
                if per < self._hmin:
                    per = self._hmin
                self._carry16 = cyc16 - 16 * per * n
                self.left = left - n
                self.per = per
                return n
            self.k = self.m_words()
            self.phase = _DOWN if self.k > 0 else _LAST
            return self.next_word()
        if ph == _DOWN:
            k = self.k - 1
            self.k = k
            if k == 0:
                self.phase = _LAST
            self.per = self.p[k]
            return self.b[k + 1] - self.b[k]
        self.phase = _DONE
        self.per = self.t0
        return 1

    def m_words(self):
        return len(self.p)

    def speed(self):
        """Speed (steps/s) at the next step: for a retarget leaving the S-curve."""
        ph = self.phase
        if ph == _UP:
            return self.v[self.k]
        if ph == _CRUISE:
            return self.vtop
        if ph == _DOWN:
            return self.v[self.k]
        return self.v[0]
