"""Figures from a run: press-to-exposure latency, focus acquisition time, lens error at
each exposure, servo tracking error. Measured from the trace (what a logic analyzer would
see) with the scenario as ground truth; the firmware's events only name the moments
(AF start / achieved) the trace cannot tell apart.
"""

import importlib.util
import math
import os

from . import FIRMWARE_DIR
from . import trace as trace_mod


def _lenscal_module():
    spec = importlib.util.spec_from_file_location("fr_firmware_lenscal",
                                                  os.path.join(FIRMWARE_DIR, "lenscal.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def lens_cal(table):
    """The firmware's own calibration code, run on the host."""
    return _lenscal_module().LensCal(table)


class Exposure:
    def __init__(self, t_ns, frame):
        self.t_ns = t_ns
        self.frame = frame
        self.press_ns = None        # the full press that caused it (first frame of a press)
        self.latency_us = None
        self.lens_pos = None
        self.target = None          # calibrated position for the true subject distance
        self.error = None           # lens_pos - target (steps)
        self.subject_mm = None

    def as_dict(self):
        return {k: getattr(self, k) for k in ("frame", "t_ns", "press_ns", "latency_us",
                                              "lens_pos", "target", "error", "subject_mm")}


def exposures(tr, presses, cal_table, subject_points, af_starts_ns=None):
    """Every cam_shutter assertion, with latency from its full press (first frame only)
    and the lens error against the calibrated target for the subject: the subject at the
    last AF start when `af_starts_ns` is given (one-shot: focus and recompose is the
    point), else the subject at the moment of the exposure (servo)."""
    cal = lens_cal(cal_table)
    out = []
    full = sorted(p["at_ms"] * 1e6 for p in presses if p["input"] == "shutter_full")
    spans = [(p["at_ms"] * 1e6, (p["at_ms"] + p["hold_ms"] + p.get("bounce_ms", 0)) * 1e6)
             for p in presses if p["input"] == "shutter_full"]
    used = set()
    for i, t in enumerate(tr.rising("cam_shutter")):
        e = Exposure(t, i + 1)
        for k, (a, b) in enumerate(spans):
            if a <= t <= b + 5e6 and k not in used:
                e.press_ns = int(a)
                e.latency_us = (t - a) / 1000.0
                used.add(k)
                break
        e.lens_pos = tr.value_at("lens_pos", t)
        ref = t
        if af_starts_ns:
            before = [a for a in af_starts_ns if a <= t]
            if before:
                ref = before[-1]
        mm = trace_mod.subject_mm_at(subject_points, ref / 1e6)
        e.subject_mm = mm
        if mm > 0:
            e.target = cal.steps_for(mm)
            e.error = e.lens_pos - e.target
        out.append(e)
    del full
    return out


def focus_times(events):
    """[(af_start_us, achieved_us or None, ms)] from the firmware's AF events."""
    out = []
    start = None
    for e in events:
        if e.get("ev") == "af_start":
            if start is not None:
                out.append((start, None, None))
            start = e["t"]
        elif e.get("ev") == "af_achieved" and start is not None:
            out.append((start, e["t"], (e["t"] - start) / 1000.0))
            start = None
        elif e.get("ev") in ("af_error", "af_cancel") and start is not None:
            out.append((start, None, None))
            start = None
    if start is not None:
        out.append((start, None, None))
    return out


def tracking_error(tr, cal_table, subject_points, t0_ns, t1_ns, step_ns=1000000):
    """(max |error|, rms error) of lens_pos against the calibrated target, sampled every
    step_ns between t0 and t1."""
    cal = lens_cal(cal_table)
    lp = tr.signals["lens_pos"]
    j = 0
    cur = lp[0][1]
    errs = []
    t = t0_ns
    while t <= t1_ns:
        while j < len(lp) and lp[j][0] <= t:
            cur = lp[j][1]
            j += 1
        mm = trace_mod.subject_mm_at(subject_points, t / 1e6)
        if mm > 0:
            errs.append(cur - cal.steps_for(mm))
        t += step_ns
    if not errs:
        return None, None
    mx = max(abs(e) for e in errs)
    rms = math.sqrt(sum(e * e for e in errs) / len(errs))
    return mx, rms


def direction_reversals(tr, t0_ns, t1_ns):
    """How often the lens changed direction between t0 and t1 (hunting)."""
    last = None
    rev = 0
    prev = None
    for t, v in tr.signals["lens_pos"]:
        if t < t0_ns or t > t1_ns:
            prev = v
            continue
        if prev is not None and v != prev:
            d = 1 if v > prev else -1
            if last is not None and d != last:
                rev += 1
            last = d
        prev = v
    return rev


def af_starts(cfg, events=None, tr=None):
    """When the focused-on subject was chosen, for the lens error of each frame: in one-shot
    AF the subject at the last AF start before the frame (focus, lock, recompose: the LiDAR
    then sees the background, which is not what the lens should be on). From the firmware's
    `af_start` events; without events from the trace (AF-ON presses, and half presses in
    shutter mode). None in servo mode: there the subject at the exposure counts."""
    if cfg.get("af_mode", "one_shot") != "one_shot":
        return None
    if events is not None:
        return [e["t"] * 1000 for e in events if e.get("ev") == "af_start" and "t" in e]
    if tr is not None:
        out = list(tr.rising("af_on")) if tr.signals.get("af_on") else []
        if cfg.get("focus_mode") == "shutter" and tr.signals.get("shutter_half"):
            out += tr.rising("shutter_half")
        return sorted(out)
    return None


def in_focus(error, tol):
    """(in focus?, margin in steps) for a lens error: inside the focus tolerance band
    (config focus_tolerance, steps) around the calibrated position; margin = what is left
    of the band (negative: outside by that much). (None, None) when the error is unknown."""
    if error is None:
        return None, None
    margin = tol - abs(error)
    return margin >= 0, margin


def summary(res, tr):
    """The demo table row for one run."""
    s = res.scenario
    cfg = s["config_full"]
    starts = af_starts(cfg, res.events)
    exps = exposures(tr, s["presses"], cfg["lens_cal"], s["subject_mm"], starts)
    lat = [e.latency_us for e in exps if e.latency_us is not None]
    ft = [x[2] for x in focus_times(res.events) if x[2] is not None]
    errs = [e.error for e in exps if e.error is not None]
    return {
        "frames": len(exps),
        "latency_us": lat,
        "focus_ms": ft,
        "errors": errs,
        "exposures": [e.as_dict() for e in exps],
        "tolerance": cfg.get("focus_tolerance", 2),
        "in_focus": [in_focus(e.error, cfg.get("focus_tolerance", 2))[0] for e in exps],
        "af_errors": [e for e in res.events if e.get("ev") == "af_error"],
        "refused": [e for e in res.events if e.get("ev") == "shot_refused"],
    }
