"""Depth of field: the thin-lens formulas in full, and what follows from them for a group
of subjects and for the hyperfocal distance. Pure arithmetic on numbers passed in (no
hardware, no config, no state); the host's tests import this same file.

Units: millimetres throughout (focal length f, distances, circle of confusion c), so on
the RP2040's float32 every quantity stays between ~1e-2 and ~1e7 and every formula is a
few products and quotients of positive numbers: no cancellation of nearly equal terms
except (s - f), (H - s) and (F - n), which are differences of inputs, not of results.

Formulas (Greenleaf, Photographic Optics, 1950, as published by DOFMaster,
www.dofmaster.com/equations.html; docs/dof.md):

    H      = f^2 / (N c) + f                 hyperfocal distance
    near s = s (H - f) / (H + s - 2 f)       near limit of sharpness, focused at s
    far  s = s (H - f) / (H - s)             far limit (infinity for s >= H)

A group from n (nearest) to F (farthest): both limits at once. Writing the limits as
reciprocals, 1/near = 1/s + (s - f)/(s (H - f)) and 1/far = 1/s - (s - f)/(s (H - f)), so

    1/n + 1/F = 2/s                          ->  s = 2 n F / (n + F)
    1/n - 1/F = 2 (s - f) / (s (H - f))      ->  N = f^2 (F - n) / (c (s - f) (n + F))

exactly (no approximation): focus at s and stop down to N, and n and F are exactly the
limits. F = infinity gives s = 2 n = H, the hyperfocal case.
"""

import math

INF = float("inf")

# circle of confusion presets, micrometres (full frame, APS-C, Micro Four Thirds)
SENSOR_COC_UM = {"ff": 30, "apsc": 20, "m43": 15}


def coc_mm(coc_um, sensor):
    """The circle of confusion in mm: coc_um when set (> 0), else the sensor preset."""
    return (coc_um if coc_um > 0 else SENSOR_COC_UM[sensor]) / 1000


def hyperfocal(f, n_stop, c):
    """H in mm for focal length f (mm), f-number n_stop, circle of confusion c (mm)."""
    return f * f / (n_stop * c) + f


def near_limit(s, f, n_stop, c):
    """Nearest sharp distance when focused at s (mm)."""
    h = hyperfocal(f, n_stop, c)
    return s * (h - f) / (h + s - 2 * f)


def far_limit(s, f, n_stop, c):
    """Farthest sharp distance when focused at s (mm); INF at or beyond the hyperfocal."""
    h = hyperfocal(f, n_stop, c)
    if s >= h:
        return INF
    return s * (h - f) / (h - s)


def group(n, far, f, c):
    """(s, N): the focus distance whose depth of field runs exactly from n to far, and
    the f-number that makes it so. far may be INF (s = 2n, the hyperfocal case).
    Needs f < n <= far; n == far gives N = 0 (any aperture)."""
    if far == INF:
        s = 2.0 * n
        return s, f * f / (c * (s - f))
    s = 2.0 * n * far / (n + far)
    return s, f * f * (far - n) / (c * (s - f) * (n + far))


def focus_for_near(near, f, n_stop, c):
    """The focus distance whose near limit is `near` at f-number n_stop (mm); the
    hyperfocal distance when that near limit is H/2 or farther (everything beyond it is
    then sharp already)."""
    h = hyperfocal(f, n_stop, c)
    if 2 * near >= h:
        return h
    return near * (h - 2 * f) / (h - f - near)


def stops(n_from, n_to):
    """Stops from f-number n_from to n_to (positive: n_to is the smaller aperture)."""
    return 2 * math.log(n_to / n_from) / math.log(2)


def best_cover(dists, f, n_stop, c):
    """Where to focus at f-number n_stop to have the most of `dists` (sorted, mm) sharp,
    when not all of them can be. Candidate zones start at each distance (the zone's near
    limit on it); the one holding the most distances wins, ties go to the one holding
    the wider share of the group's depth (1/distance, the scale blur grows on), then to
    the nearer. Returns (s, count, zone_near, zone_far)."""
    k = len(dists)
    lo_inv = 1 / dists[-1]
    hi_inv = 1 / dists[0]
    best = (0.0, 0, 0.0, 0.0, -1.0)
    j = 0
    for i in range(k):
        s = focus_for_near(dists[i], f, n_stop, c)
        zn = near_limit(s, f, n_stop, c)
        zf = far_limit(s, f, n_stop, c)
        if j < i:
            j = i
        while j + 1 < k and dists[j + 1] <= zf:
            j += 1
        count = j - i + 1
        # share of the group's depth inside the zone, in 1/distance
        a = 1 / zn if 1 / zn < hi_inv else hi_inv
        b = 0.0 if zf == INF else 1 / zf
        b = b if b > lo_inv else lo_inv
        share = a - b if a > b else 0.0
        if count > best[1] or (count == best[1] and share > best[4] * 1.0001):
            best = (s, count, zn, zf, share)
    return best[0], best[1], best[2], best[3]
