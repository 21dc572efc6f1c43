"""Lens calibration: distance (mm) to focus position (steps), from a table of measured
[distance_mm, steps] points. Focus travel is close to linear in 1/distance, so the table
is interpolated linearly in 1/distance; beyond the table the end points hold (clamp).
"""


class LensCal:
    def __init__(self, table):
        self.set(table)

    def set(self, table):
        pts = sorted(table, key=lambda p: p[0])
        if len(pts) < 2:
            raise ValueError("lens_cal needs at least 2 points")
        self.inv = [1.0 / p[0] for p in pts]    # increasing distance -> decreasing 1/d
        self.steps = [p[1] for p in pts]

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
