"""Lens calibration: distance (mm) to focus position (steps), from a table of measured
[distance_mm, steps] points. Focus travel is close to linear in 1/distance, so the table
is interpolated linearly in 1/distance; beyond the table the end points hold (clamp).

Two forms: steps_for() in floats (commands, DOF), and steps16() in integers, 1/16 step,
for the servo's 100 Hz path, which must not allocate (a float is a heap object on the
RP2040 port): 1/distance as INV_ONE // mm, the fraction between two points in 1/4096.
"""

# plain ints, not const(): the host's report and analysis load this module on CPython
INV_ONE = 1 << 28               # 1/distance in units of 2**-28 per mm
_FRAC = 12                      # interpolation fraction: 1/4096
_D_MAX = 1 << 18                # 1/distance spans are scaled below this first
_SPAN16_MAX = 1 << 18           # 16 x steps between two points the integer form takes


class LensCal:
    def __init__(self, table):
        self.set(table)

    def set(self, table):
        pts = sorted(table, key=lambda p: p[0])
        if len(pts) < 2:
            raise ValueError("lens_cal needs at least 2 points")
        self.inv = [1.0 / p[0] for p in pts]    # increasing distance -> decreasing 1/d
        self.steps = [p[1] for p in pts]
        self.inv_i = [INV_ONE // max(1, int(p[0])) for p in pts]
        self.st16 = [int(p[1] * 16) for p in pts]
        self.int_ok = all(-_SPAN16_MAX < self.st16[i] - self.st16[i - 1] < _SPAN16_MAX
                          for i in range(1, len(pts)))

    def steps16(self, mm):
        """Focus position x 16 for a subject at `mm` (an int), in integer arithmetic."""
        if not self.int_ok:
            return int(self.steps_for(mm if mm > 0 else 1) * 16)
        inv, st = self.inv_i, self.st16
        x = INV_ONE // (mm if mm > 0 else 1)
        if x >= inv[0]:
            return st[0]
        n = len(inv)
        if x <= inv[n - 1]:
            return st[n - 1]
        for i in range(1, n):
            if x >= inv[i]:
                a = x - inv[i]
                d = inv[i - 1] - inv[i]
                while d >= _D_MAX:      # keep a << _FRAC below 2**30 (no big int)
                    a >>= 1
                    d >>= 1
                q = (a << _FRAC) // d
                return st[i] + (((st[i - 1] - st[i]) * q) >> _FRAC)
        return st[n - 1]

    def steps_for(self, mm):
        """Focus position for a subject at `mm` (float steps, clamped to the table)."""
        inv, st = self.inv, self.steps
        x = 1.0 / mm
        if x >= inv[0]:
            return float(st[0])
        if x <= inv[-1]:
            return float(st[-1])
        for i in range(1, len(inv)):
            if x >= inv[i]:
                f = (x - inv[i]) / (inv[i - 1] - inv[i])
                return st[i] + f * (st[i - 1] - st[i])
        return float(st[-1])

    def table(self):
        return [[round(1.0 / self.inv[i]), self.steps[i]] for i in range(len(self.inv))]
