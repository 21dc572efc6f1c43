"""Self-contained HTML reports of a run: a timeline, latency histograms and a table of
every exposure, from any trace the project produces.

Inputs (see docs/report.md):
- our VCD (`focusrig run --vcd`, or a hardware-in-the-loop run): logical levels, our names;
- a logic-analyzer VCD (sigrok-cli / PulseView) with a channel mapping {"D0": "cam_shutter",
  ...}; its levels are electrical and are turned into logical ones with hardware/pinmap.json
  (buttons and motor_en are active low) unless the capture is declared logical;
- a JSONL event log (`focusrig run --log`): only the firmware's events, so the timeline
  is rebuilt from them (debounced presses, exposures, lens positions at motion events).
An optional scenario adds the ground truth (presses, subject distance, lens calibration);
an optional event log next to a VCD adds the AF targets and focus times.

The page has no external resources: the plots are inline SVG drawn here, the styles are
inline, no scripts. Everything is built by `build(...)`; `render_html(data)` returns the
page as a string.
"""

import html
import json
import math
import os

from . import analysis
from . import trace as trace_mod

DIGITAL_LANES = ("af_on", "shutter_half", "shutter_full", "cam_focus", "cam_shutter",
                 "motor_en", "step", "dir")
KNOWN_SIGNALS = set(trace_mod.WIRES) | {"lens_pos", "subject_mm"}

# colours (the screenshot test looks for LENS_RGB in the plot)
LENS_COLOR = "#1f77b4"
LENS_RGB = (0x1F, 0x77, 0xB4)
TARGET_COLOR = "#ff7f0e"
SUBJECT_COLOR = "#2ca02c"
EXPO_COLOR = "#d62728"
LANE_COLOR = "#333333"
INPUT_FILL = "#c6dbef"
OUTPUT_FILL = "#fdd0a2"
BAND_COLOR = "#17becf"
AF_COLORS = {"AF": "#7b3294", "achieved": "#1a9850", "lock": "#1a9850", "AF error:": "#d73027"}
OK_COLOR = "#1a9850"
BAD_COLOR = "#d73027"


class ReportError(ValueError):
    """A problem with the report's input; str() is the one line the user sees."""


class ReportData:
    """Everything the page shows, in ns and logical levels."""

    def __init__(self):
        self.title = "focusrig report"
        self.sources = []
        self.kind = ""                  # "vcd", "sigrok vcd", "jsonl"
        self.end_ns = 0
        self.digital = {}               # lane name -> [(t_ns, 0/1)]
        self.lens = []                  # [(t_ns, steps)]
        self.lens_interp = False        # True: points joined by lines (from events)
        self.target = []                # [(t_ns, steps)] calibrated / firmware target
        self.target_label = "target"
        self.subject = []               # [(t_ns, mm)]
        self.exposures = []             # dicts, see analysis.Exposure.as_dict()
        self.focus = []                 # [(start_ns, end_ns or None, ms or None)]
        self.notes = []                 # lines shown under the summary
        self.incidents = []             # (t_ns, text): AF errors, refused shots
        self.scenario_name = ""
        self.description = ""
        self.config = {}                # the firmware configuration of the run (when known)
        self.firmware = ""              # "0.1.0 (protocol 1)" from the boot event
        self.target_name = ""           # vpico / rp2040 / hil, when the VCD says
        self.tolerance = None           # focus_tolerance (steps): the in-focus band
        self.af_marks = []              # [(t_ns, label)]: AF start / achieved / lock
        self.error_ref = ""             # what the lens error is measured against


# ---------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------

def parse_mapping(spec):
    """`D0=cam_shutter,D1=cam_focus` or a JSON file {"D0": "cam_shutter", ...} -> dict."""
    if not spec:
        return {}
    if os.path.exists(spec) or spec.endswith(".json"):
        try:
            with open(spec) as f:
                m = json.load(f)
        except OSError as e:
            raise ReportError(f"cannot read mapping file {spec}: {e.strerror}") from None
        except ValueError as e:
            raise ReportError(f"mapping file {spec} is not valid JSON ({e})") from None
        if not isinstance(m, dict) or not all(isinstance(v, str) for v in m.values()):
            raise ReportError(f"mapping file {spec} must be an object like "
                              '{"D0": "cam_shutter", "D1": "cam_focus"}')
    else:
        m = {}
        for part in spec.split(","):
            part = part.strip()
            if not part:
                continue
            if "=" not in part:
                raise ReportError(f"bad mapping entry {part!r}: write CHANNEL=signal, "
                                  "e.g. --map D0=cam_shutter,D1=cam_focus")
            k, v = part.split("=", 1)
            m[k.strip()] = v.strip()
    for ch, name in m.items():
        if name not in KNOWN_SIGNALS:
            raise ReportError(f"mapping {ch}={name}: unknown signal (known: "
                              + ", ".join(sorted(KNOWN_SIGNALS)) + ")")
    return m


def sniff(path):
    """'vcd' or 'jsonl' from the file's first non-blank character."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except IsADirectoryError:
        raise ReportError(f"{path} is a directory: give a .vcd or .jsonl file") from None
    except OSError as e:
        raise ReportError(f"cannot read {path}: {e.strerror}") from None
    text = head.lstrip()
    if text.startswith(b"$"):
        return "vcd"
    if text.startswith(b"{"):
        return "jsonl"
    raise ReportError(f"{path} is neither a VCD nor a JSONL event log: give the file "
                      "`focusrig run --vcd/--log` wrote, or a sigrok VCD with --map")


def electrical_to_logical(tr, names):
    """Apply hardware/pinmap.json polarities to the named signals of a capture."""
    from . import pinmap
    sigs = pinmap.signals(pinmap.load())
    for n in names:
        if n in sigs and n in tr.signals and sigs[n][1] == 0:
            tr.signals[n] = [(t, 1 - v) for t, v in tr.signals[n]]


def read_vcd(path, mapping=None, levels="electrical"):
    """A Trace from our VCD, or from a logic-analyzer VCD through `mapping`."""
    try:
        if mapping:
            tr = trace_mod.read_vcd(path, mapping)
            # channels left unmapped are dropped
            for name in list(tr.signals):
                if name not in KNOWN_SIGNALS:
                    del tr.signals[name]
            if levels == "electrical":
                electrical_to_logical(tr, [n for n in mapping.values()])
        else:
            tr = trace_mod.read_vcd(path)
    except (IndexError, ValueError, UnicodeDecodeError):
        raise ReportError(f"{path}: not a readable VCD file (truncated or damaged?)") from None
    found = [n for n in tr.signals if n in KNOWN_SIGNALS and tr.signals[n]]
    if not found:
        chans = ", ".join(sorted(tr.signals)[:8]) or "none"
        raise ReportError(f"{path}: no focusrig signals (channels: {chans}); for a logic-"
                          "analyzer capture give --map D0=cam_shutter,D1=cam_focus,...")
    for n in list(tr.signals):
        ch = tr.signals[n]
        if ch and ch[0][0] > 0:
            ch.insert(0, (0, 0 if n not in ("lens_pos", "subject_mm") else ch[0][1]))
    return tr


EMBED_TAG = "focusrig-run"
_EMBED_KEYS = ("name", "description", "duration_ms", "presses", "subject_mm", "config",
               "config_full", "seed", "serial")


def embed_run(vcd_path, scenario, events, target=None):
    """Put the run's scenario, configuration and event log into our VCD as a $comment, so
    that a report from the VCD alone has the targets, AF times, config and firmware
    version. GTKWave, PulseView/sigrok and our reader skip comments."""
    meta = {"scenario": {k: scenario[k] for k in _EMBED_KEYS if k in scenario},
            "events": events, "target": target}
    text = json.dumps(meta, separators=(",", ":"), sort_keys=True).replace("$", "\\u0024")
    with open(vcd_path) as f:
        body = f.read()
    tmp = vcd_path + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"$comment {EMBED_TAG} {text} $end\n")
        f.write(body)
    os.replace(tmp, vcd_path)


def read_embedded(path):
    """The metadata embed_run() wrote, or None."""
    try:
        with open(path, errors="replace") as f:
            head = f.read(1 << 16)
            if EMBED_TAG not in head:
                return None
            while "$enddefinitions" not in head:
                more = f.read(1 << 20)
                if not more:
                    break
                head += more
    except OSError:
        return None
    import re
    m = re.search(r"\$comment " + EMBED_TAG + r" (.*?) \$end", head, re.S)
    if not m:
        return None
    try:
        meta = json.loads(m.group(1))
    except ValueError:
        return None
    return meta if isinstance(meta, dict) and isinstance(meta.get("scenario"), dict) else None


def read_jsonl(path):
    events = []
    try:
        with open(path, encoding="utf-8-sig") as f:
            for i, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    e = json.loads(line)
                except ValueError:
                    raise ReportError(f"{path} line {i}: not a JSON event line") from None
                if isinstance(e, dict):
                    events.append(e)
    except UnicodeDecodeError:
        raise ReportError(f"{path}: not a text JSONL event log") from None
    except OSError as e:
        raise ReportError(f"cannot read {path}: {e.strerror}") from None
    if not any("t" in e for e in events):
        raise ReportError(f"{path}: no timed firmware events (was it written by "
                          "`focusrig run --log`?)")
    return events


# ---------------------------------------------------------------------------------------
# building the data
# ---------------------------------------------------------------------------------------

def build(path, mapping=None, levels="electrical", scenario=None, events_path=None):
    """ReportData for one input file (+ optional scenario dict and event log)."""
    kind = sniff(path)
    d = ReportData()
    d.sources.append(path)
    events = None
    tr = None
    if kind == "jsonl":
        events = read_jsonl(path)
        d.kind = "jsonl"
        _from_events(d, events)
    else:
        tr = read_vcd(path, mapping, levels)
        d.kind = "sigrok vcd" if mapping else "vcd"
        embedded = None if mapping else read_embedded(path)
        if embedded:
            d.target_name = embedded.get("target") or ""
            if scenario is None:
                scenario = embedded["scenario"]
            if not events_path and isinstance(embedded.get("events"), list):
                events = embedded["events"]
        _from_trace(d, tr)
        if events_path:
            events = read_jsonl(events_path)
            d.sources.append(events_path)
        if events is not None:
            _targets_from_events(d, events)
            d.focus = [(a * 1000, b * 1000 if b else None, ms)
                       for a, b, ms in analysis.focus_times(events)]
        _exposures_from_trace(d, tr, scenario, events)
        if embedded and not events_path:
            d.notes.append("scenario, configuration and event log: embedded in the VCD by "
                           "`focusrig run`")
    if scenario is not None:
        _add_scenario(d, scenario, events)
    d.sharp_zones = sharp_zones(events) if events is not None else []
    if events is not None:
        d.incidents = [(e["t"] * 1000, f"{e.get('ev')}: {e.get('why', '')}") for e in events
                       if e.get("ev") in ("af_error", "shot_refused") and "t" in e]
        d.af_marks = af_marks(events)
        boot = next((e for e in events if e.get("ev") == "boot" and "version" in e), None)
        if boot:
            d.firmware = f"{boot['version']} (protocol {boot.get('protocol', '?')})"
    elif tr is not None:
        d.af_marks = [(t, "AF start") for t in (tr.rising("af_on") if tr.signals.get("af_on") else [])]
    if scenario is not None:
        d.scenario_name = scenario.get("name") or ""
        d.description = scenario.get("description") or ""
        d.config = dict(scenario.get("config_full") or {})
    if d.config:
        d.tolerance = d.config.get("focus_tolerance")
    if d.tolerance is None and any(e["error"] is not None for e in d.exposures):
        from .scenario import firmware_config
        d.tolerance = firmware_config().DEFAULTS.get("focus_tolerance")
        d.notes.append(f"focus_tolerance: the firmware's default ({d.tolerance} steps) is "
                       "assumed; the log does not carry the configuration (give --scenario)")
    name = d.scenario_name
    d.title = "focusrig report: " + (name or os.path.basename(path))
    return d


def af_marks(events):
    """[(t_ns, label)]: AF start, focus achieved (with the time it took), lock; marks at
    the same moment share one label."""
    out = []
    for e in events:
        ev, t = e.get("ev"), e.get("t")
        if t is None:
            continue
        if ev == "af_start":
            label = "AF start"
        elif ev == "af_achieved":
            label = f"achieved {e['ms']:.0f} ms" if isinstance(e.get("ms"), (int, float)) else "achieved"
        elif ev == "af_lock":
            label = "lock"
        elif ev == "af_error":
            label = f"AF error: {e.get('why', '')}"
        else:
            continue
        tn = t * 1000
        if out and out[-1][0] == tn:
            out[-1] = (tn, out[-1][1] + " + " + label)
        else:
            out.append((tn, label))
    return out


def _from_trace(d, tr):
    for n in DIGITAL_LANES:
        if tr.signals.get(n):
            d.digital[n] = tr.signals[n]
    d.lens = list(tr.signals.get("lens_pos", []))
    d.subject = list(tr.signals.get("subject_mm", []))
    end = tr.end_ns
    for ch in tr.signals.values():
        if ch:
            end = max(end, ch[-1][0])
    d.end_ns = end


def _press_starts(tr, name="shutter_full", quiet_ns=20000000):
    """Full-press starts seen in a trace: a rising edge after >= quiet_ns released
    (contact chatter folds into its press)."""
    out = []
    last_fall = None
    prev = 0
    for t, v in tr.changes(name):
        if v and not prev:
            if last_fall is None or t - last_fall >= quiet_ns or not out:
                out.append(t)
        elif prev and not v:
            last_fall = t
        prev = v
    return out


def _exposures_from_trace(d, tr, scenario, events=None):
    if scenario is not None:
        # the same figures as `focusrig run --summary`: analysis.exposures with the subject
        # at the last AF start in one-shot mode (focus, lock, recompose)
        cfg = scenario["config_full"]
        starts = analysis.af_starts(cfg, events, tr)
        exps = analysis.exposures(tr, scenario["presses"], cfg["lens_cal"],
                                  scenario["subject_mm"], starts)
        d.exposures = [e.as_dict() for e in exps]
        d.error_ref = _error_ref(starts)
        return
    presses = _press_starts(tr)
    tgt = d.target
    for i, t in enumerate(tr.rising("cam_shutter")):
        e = {"frame": i + 1, "t_ns": t, "press_ns": None, "latency_us": None,
             "lens_pos": tr.value_at("lens_pos", t), "target": None, "error": None,
             "subject_mm": tr.value_at("subject_mm", t)}
        before = [p for p in presses if p <= t]
        if before and (i == 0 or before[-1] > d.exposures[-1]["t_ns"]):
            e["press_ns"] = before[-1]
            e["latency_us"] = (t - before[-1]) / 1000.0
        if tgt:
            e["target"] = _value_at(tgt, t)
            if e["lens_pos"] is not None and e["target"] is not None:
                e["error"] = e["lens_pos"] - e["target"]
        d.exposures.append(e)
    if not presses:
        d.notes.append("no shutter_full channel: latencies need the press (map it, or "
                       "give --scenario)")


def _value_at(points, t):
    v = None
    for tt, x in points:
        if tt > t:
            break
        v = x
    return v


def _targets_from_events(d, events):
    pts = []
    for e in events:
        if "target" in e and "t" in e and e.get("ev") in ("motion_start", "af_achieved",
                                                           "retarget", "motion_retarget"):
            pts.append((e["t"] * 1000, e["target"]))
    if pts:
        d.target = pts
        d.target_label = "firmware target"


def _from_events(d, events):
    """Timeline from the firmware's events alone."""
    end = max(e.get("t", 0) for e in events) * 1000
    d.end_ns = end
    lanes = {"af_on": [(0, 0)], "shutter_half": [(0, 0)], "shutter_full": [(0, 0)],
             "cam_shutter": [(0, 0)]}
    lens = []
    for e in events:
        ev = e.get("ev")
        t = e.get("t")
        if t is None:
            continue
        tn = t * 1000
        if ev in ("press", "release") and e.get("input") in lanes:
            trace_mod._append(lanes[e["input"]], tn, 1 if ev == "press" else 0)
        elif ev == "exposure":
            lanes["cam_shutter"].append((tn, 1))
            lanes["cam_shutter"].append((tn + 1000000, 0))     # marker width: 1 ms
        if "pos" in e and ev in ("motion_start", "motion_stop", "exposure", "af_achieved"):
            lens.append((tn, e["pos"]))
    for k, v in lanes.items():
        v.sort()
        d.digital[k] = v
    lens.sort()
    d.lens = lens
    d.lens_interp = True
    _targets_from_events(d, events)
    d.focus = [(a * 1000, b * 1000 if b else None, ms)
               for a, b, ms in analysis.focus_times(events)]
    fulls = [e["t"] * 1000 for e in events if e.get("ev") == "press"
             and e.get("input") == "shutter_full" and "t" in e]
    # the firmware's AF targets: what the lens should be on (the calibrated position for
    # the distance AF measured), and that distance
    af = [(e["t"] * 1000, e["target"], e.get("mm")) for e in events
          if e.get("ev") == "af_target" and "t" in e and "target" in e]
    used = set()
    for e in events:
        if e.get("ev") != "exposure":
            continue
        t = e["t"] * 1000
        x = {"frame": e.get("frame"), "t_ns": t, "press_ns": None, "latency_us": None,
             "lens_pos": e.get("pos"), "target": None, "error": None, "subject_mm": None}
        before = [p for p in fulls if p <= t]
        if before and before[-1] not in used:       # the first frame of a press; burst
            x["press_ns"] = before[-1]                # frames that follow have no press
            used.add(before[-1])
        last = [a for a in af if a[0] <= t]
        if last:
            x["target"], x["subject_mm"] = last[-1][1], last[-1][2]
            if x["lens_pos"] is not None:
                x["error"] = x["lens_pos"] - x["target"]
        d.exposures.append(x)
    d.error_ref = "the firmware's AF target (the calibrated position for the distance AF measured)"
    d.notes.append("from the firmware's event log: presses are the debounced ones, lens "
                   "positions are those reported at motion events (joined by lines). "
                   "Press-to-exposure latency is not in the log (the firmware stamps an "
                   "exposure at its own press handling, not when the shutter line moved): "
                   "record a VCD (`focusrig run --vcd`) or capture with a logic analyzer")


def _add_scenario(d, s, events):
    """Ground truth: subject distance, calibrated target, true press times."""
    dur_ns = int(s["duration_ms"] * 1e6)
    d.end_ns = max(d.end_ns, dur_ns)
    if not d.subject:
        d.subject = trace_mod.subject_changes(s["subject_mm"], s["duration_ms"])
    cal = analysis.lens_cal(s["config_full"]["lens_cal"])
    tgt = []
    for t, mm in d.subject:
        if mm > 0:
            trace_mod._append(tgt, t, round(cal.steps_for(mm), 1))
    d.target = tgt
    d.target_label = "calibrated position, subject now"
    if d.kind == "jsonl":
        # true press times from the scenario (the first frame of each press); errors
        # against the calibrated target for the subject AF focused on, as --summary does
        spans = sorted(p["at_ms"] * 1e6 for p in s["presses"] if p["input"] == "shutter_full")
        starts = analysis.af_starts(s["config_full"], events)
        d.error_ref = _error_ref(starts)
        used = set()
        for x in d.exposures:
            t = x["t_ns"]
            x["press_ns"] = None
            before = [k for k, a in enumerate(spans) if a <= t]
            if before and before[-1] not in used:
                x["press_ns"] = int(spans[before[-1]])
                used.add(before[-1])
            ref = t
            if starts:
                prior = [a for a in starts if a <= t]
                ref = prior[-1] if prior else t
            mm = trace_mod.subject_mm_at(s["subject_mm"], ref / 1e6)
            x["subject_mm"] = mm
            x["target"] = x["error"] = None
            if mm > 0 and x["lens_pos"] is not None:
                x["target"] = cal.steps_for(mm)
                x["error"] = x["lens_pos"] - x["target"]


def _error_ref(starts):
    if starts is None:
        return ("the calibrated position for the subject's distance at the exposure "
                "(servo: the lens follows the subject)")
    return ("the calibrated position for the subject's distance at the last AF start "
            "(one-shot: focus, lock, recompose)")


# ---------------------------------------------------------------------------------------
# SVG
# ---------------------------------------------------------------------------------------

def _nice_step(span, n=8):
    raw = span / max(n, 1)
    if raw <= 0:
        return 1
    p = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * p >= raw:
            return m * p
    return 10 * p


def nice_ticks(lo, hi, n=5):
    """Axis ticks at round numbers (1, 2, 5 x 10^k apart) between lo and hi."""
    if hi <= lo:
        return [lo]
    step = _nice_step(hi - lo, n)
    v = math.ceil(lo / step) * step
    out = []
    while v <= hi + step * 1e-9:
        out.append(0.0 if abs(v) < step * 1e-9 else v)
        v += step
    return out


def _fmt_num(v):
    """A tick label: no trailing zeros, no float noise."""
    if abs(v - round(v)) < 1e-9:
        return f"{round(v):d}"
    return f"{v:.6g}"


def _fmt_time(t_ns, step_ns):
    if step_ns >= 1e6:
        return f"{t_ns / 1e6:g} ms"
    if step_ns >= 1e3:
        return f"{t_ns / 1e3:g} us"
    return f"{t_ns:g} ns"


def _digital_path(changes, t0, t1, x0, w, y_hi, y_lo):
    """SVG path for a digital signal; pixel columns with several edges become a filled
    band (dense STEP pulses stay readable)."""
    if not changes:
        return "", ""
    scale = w / (t1 - t0)
    cols = {}
    level = changes[0][1]
    for t, v in changes:
        if t <= t0:
            level = v
            continue
        if t > t1:
            break
        c = int((t - t0) * scale)
        cols[c] = cols.get(c, 0) + 1
    line = []
    band = []
    lvl = level
    x_prev = x0
    y = y_hi if lvl else y_lo
    line.append(f"M{x0:.1f},{y}")
    for t, v in changes:
        if t <= t0:
            continue
        if t > t1:
            break
        x = x0 + (t - t0) * scale
        c = int((t - t0) * scale)
        if cols.get(c, 0) > 2:
            band.append(c)
        if v != lvl:
            line.append(f"H{x:.1f}V{y_hi if v else y_lo}")
            lvl = v
        x_prev = x
    del x_prev
    line.append(f"H{x0 + w:.1f}")
    bpath = ""
    if band:
        band = sorted(set(band))
        runs = []
        s = band[0]
        p = band[0]
        for c in band[1:]:
            if c > p + 1:
                runs.append((s, p))
                s = c
            p = c
        runs.append((s, p))
        bpath = "".join(f"M{x0 + a:.1f},{y_hi}h{b - a + 1}V{y_lo}h{-(b - a + 1)}Z" for a, b in runs)
    return "".join(line), bpath


def _polyline(points, t0, t1, x0, w, vmin, vmax, y_top, h, step=True):
    if not points:
        return ""
    sx = w / (t1 - t0)
    sy = h / ((vmax - vmin) or 1)

    def Y(v):
        return y_top + h - (v - vmin) * sy

    out = []
    prev = None
    for t, v in points:
        if t > t1:
            break
        x = x0 + max(t - t0, 0) * sx
        if prev is None:
            out.append(f"M{x:.1f},{Y(v):.1f}")
        elif step:
            out.append(f"H{x:.1f}V{Y(v):.1f}")
        else:
            out.append(f"L{x:.1f},{Y(v):.1f}")
        prev = v
    if step and prev is not None:
        out.append(f"H{x0 + w:.1f}")
    return "".join(out)


def timeline_svg(d, t0=None, t1=None, width=1200, analog=True, lanes=None, title=None,
                 marks=()):
    """The stacked timeline: digital lanes, then lens position / target / subject."""
    t0 = 0 if t0 is None else t0
    t1 = (d.end_ns or 1) if t1 is None else t1
    if t1 <= t0:
        t1 = t0 + 1
    lanes = [n for n in (lanes or DIGITAL_LANES) if n in d.digital]
    left, right = 110, 70
    w = width - left - right
    lane_h, gap = 16, 10
    top = 24 if title else 8
    ah = 230 if analog else 0
    height = top + len(lanes) * (lane_h + gap) + (ah + 20 if analog else 0) + 30
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
         f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
         f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>']
    if title:
        o.append(f'<text x="{left}" y="16" font-weight="bold">{html.escape(title)}</text>')
    bottom = height - 30
    # time grid
    step = _nice_step(t1 - t0, 10)
    g = math.ceil(t0 / step) * step
    while g <= t1:
        x = left + (g - t0) * w / (t1 - t0)
        o.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" stroke="#e6e6e6"/>')
        o.append(f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle" fill="#555">'
                 f'{_fmt_time(g - (t0 if t0 and step < 1e6 else 0), step)}</text>')
        g += step
    y = top
    for n in lanes:
        y_hi, y_lo = y, y + lane_h
        fill = INPUT_FILL if n in trace_mod.INPUT_SIGNALS else OUTPUT_FILL
        o.append(f'<text x="{left - 8}" y="{y_lo - 3}" text-anchor="end">{n}</text>')
        o.append(f'<rect x="{left}" y="{y_hi - 2}" width="{w}" height="{lane_h + 4}" '
                 f'fill="{fill}" fill-opacity="0.25"/>')
        line, band = _digital_path(d.digital[n], t0, t1, left, w, y_hi, y_lo)
        if band:
            o.append(f'<path d="{band}" fill="{LANE_COLOR}" fill-opacity="0.55"/>')
        o.append(f'<path d="{line}" fill="none" stroke="{LANE_COLOR}" stroke-width="1.5"/>')
        y += lane_h + gap
    if analog:
        ay = y + 10
        vals = [v for _, v in d.lens] + [v for _, v in d.target]
        if vals:
            vmin, vmax = min(vals), max(vals)
            pad = max((vmax - vmin) * 0.08, 5)
            vmin, vmax = vmin - pad, vmax + 2.5 * pad      # room for the legend on top
            o.append(f'<rect x="{left}" y="{ay}" width="{w}" height="{ah}" fill="none" stroke="#bbb"/>')
            for v in nice_ticks(vmin, vmax, 5):
                yy = ay + ah - ah * (v - vmin) / (vmax - vmin)
                o.append(f'<line x1="{left - 4}" y1="{yy:.1f}" x2="{left}" y2="{yy:.1f}" stroke="{LENS_COLOR}"/>')
                o.append(f'<text x="{left - 8}" y="{yy + 4:.1f}" text-anchor="end" fill="{LENS_COLOR}">{_fmt_num(v)}</text>')
            o.append(f'<text x="{left - 8}" y="{ay - 4}" text-anchor="end" fill="{LENS_COLOR}" font-size="11">steps</text>')
            if d.target:
                p = _polyline(d.target, t0, t1, left, w, vmin, vmax, ay, ah, step=True)
                o.append(f'<path d="{p}" fill="none" stroke="{TARGET_COLOR}" stroke-width="2" '
                         f'stroke-dasharray="6,4"/>')
            p = _polyline(d.lens, t0, t1, left, w, vmin, vmax, ay, ah, step=not d.lens_interp)
            if d.tolerance is not None and p:
                # the focus-tolerance band: lens_pos +- focus_tolerance, at true scale
                bw = max(2 * d.tolerance * ah / (vmax - vmin), 1.0)
                o.append(f'<path class="tolerance-band" d="{p}" fill="none" stroke="{BAND_COLOR}" '
                         f'stroke-opacity="0.35" stroke-width="{bw:.2f}" stroke-linejoin="bevel"/>')
            o.append(f'<path d="{p}" fill="none" stroke="{LENS_COLOR}" stroke-width="3" '
                     f'shape-rendering="crispEdges"/>')
        else:
            o.append(f'<text x="{left + 10}" y="{ay + 20}" fill="#888">no lens position in this input</text>')
        subj = [(t, v) for t, v in d.subject]
        if subj and any(v > 0 for _, v in subj):
            smax = max(v for _, v in subj) * 1.08
            smin = 0
            o.extend(sharp_zone_svg(getattr(d, "sharp_zones", ()), t0, t1, left, w, smin,
                                    smax, ay, ah))
            p = _polyline(subj, t0, t1, left, w, smin, smax, ay, ah, step=True)
            o.append(f'<path d="{p}" fill="none" stroke="{SUBJECT_COLOR}" stroke-width="1.5" '
                     f'stroke-opacity="0.9"/>')
            for v in nice_ticks(smin, smax, 5):
                yy = ay + ah - ah * (v - smin) / (smax - smin)
                o.append(f'<text x="{left + w + 6}" y="{yy + 4:.1f}" fill="{SUBJECT_COLOR}">{_fmt_num(v / 1000)} m</text>')
        # legend
        lx = left + 8
        ly = ay + 14
        items = [(LENS_COLOR, "lens_pos (steps)", "")]
        if d.tolerance is not None and d.lens:
            items.append((BAND_COLOR, f"focus tolerance ±{d.tolerance} steps", 'stroke-opacity="0.35"'))
        if d.target:
            items.append((TARGET_COLOR, d.target_label + " (steps)", 'stroke-dasharray="6,4"'))
        if subj:
            items.append((SUBJECT_COLOR, "subject distance (right axis, m)", ""))
        items.append((EXPO_COLOR, "exposure (cam_shutter)", ""))
        for col, label, dash in items:
            o.append(f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 22}" y2="{ly - 4}" stroke="{col}" '
                     f'stroke-width="3" {dash}/>')
            o.append(f'<text x="{lx + 28}" y="{ly}">{html.escape(label)}</text>')
            lx += 36 + 6.3 * len(label)
    # exposure markers
    for e in d.exposures:
        t = e["t_ns"]
        if t0 <= t <= t1:
            x = left + (t - t0) * w / (t1 - t0)
            o.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" stroke="{EXPO_COLOR}" '
                     f'stroke-width="1.5" stroke-opacity="0.8"/>')
            o.append(f'<text x="{x + 3:.1f}" y="{top + 10}" fill="{EXPO_COLOR}" font-size="11">'
                     f'#{e["frame"]}</text>')
    if analog:
        for k, (t, label) in enumerate(getattr(d, "af_marks", ())):
            if t0 <= t <= t1:
                x = left + (t - t0) * w / (t1 - t0)
                col = AF_COLORS.get(label.split()[0], AF_COLORS["AF"])
                o.append(f'<line class="af-mark" x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" '
                         f'stroke="{col}" stroke-width="1.5" stroke-dasharray="5,3"/>')
                o.append(f'<text x="{x + 3:.1f}" y="{top + 24 + 12 * (k % 2)}" fill="{col}" '
                         f'font-size="11">{html.escape(label)}</text>')
    for t, label in marks:
        if t0 <= t <= t1:
            x = left + (t - t0) * w / (t1 - t0)
            o.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" stroke="#7b3294" '
                     f'stroke-dasharray="3,3"/>')
            o.append(f'<text x="{x + 3:.1f}" y="{bottom - 4}" fill="#7b3294" font-size="11">{html.escape(label)}</text>')
    o.append("</svg>")
    return "\n".join(o)


ZONE_COLOR = "#2ca02c"


def sharp_zones(events):
    """Depth-of-field zones from dof_focus events: [(from_ns, to_ns or None, near_mm,
    far_mm or None (infinity), label)]; a zone lasts until the next AF start."""
    zones = []
    for e in events:
        ev, t = e.get("ev"), e.get("t")
        if t is None:
            continue
        if ev == "af_start" and zones and zones[-1][1] is None:
            zones[-1] = (zones[-1][0], t * 1000) + zones[-1][2:]
        if ev == "dof_focus" and e.get("zone_near") is not None:
            if zones and zones[-1][1] is None:
                zones[-1] = (zones[-1][0], t * 1000) + zones[-1][2:]
            n = e.get("aperture") or e.get("fnumber")
            far = e.get("zone_far")
            label = (f"sharp at f/{n:g}: {e['zone_near'] / 1000:.2f}-"
                     + ("inf" if far is None else f"{far / 1000:.2f}") + " m")
            zones.append((t * 1000, None, e["zone_near"], far, label))
    return zones


def sharp_zone_svg(zones, t0, t1, x0, w, vmin, vmax, y_top, h):
    """SVG shading of the sharp zones on the subject-distance axis (vmin..vmax mm)."""
    out = []

    def y(v):
        v = min(max(v, vmin), vmax)
        return y_top + h - h * (v - vmin) / (vmax - vmin)

    for a, b, near, far, label in zones:
        b = t1 if b is None else b
        if b <= t0 or a >= t1 or vmax <= vmin:
            continue
        xa = x0 + (max(a, t0) - t0) * w / (t1 - t0)
        xb = x0 + (min(b, t1) - t0) * w / (t1 - t0)
        ya, yb = y(vmax if far is None else far), y(near)
        out.append(f'<rect class="sharp-zone" x="{xa:.1f}" y="{ya:.1f}" width="{xb - xa:.1f}" '
                   f'height="{max(yb - ya, 1):.1f}" fill="{ZONE_COLOR}" fill-opacity="0.15">'
                   f'<title>{html.escape(label)}</title></rect>')
        out.append(f'<text x="{xa + 3:.1f}" y="{ya + 11:.1f}" fill="{ZONE_COLOR}" '
                   f'font-size="10">{html.escape(label)}</text>')
    return out


def histogram_svg(values, title, unit, color="#4a7fb5", width=560, height=220, bins=None):
    left, bottom_pad, top = 46, 40, 26
    w = width - left - 16
    h = height - top - bottom_pad
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
         f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
         f'<rect width="{width}" height="{height}" fill="#fff"/>',
         f'<text x="{left}" y="16" font-weight="bold">{html.escape(title)}</text>']
    if not values:
        o.append(f'<text x="{left}" y="{top + 30}" fill="#888">no data</text></svg>')
        return "\n".join(o)
    lo, hi = min(values), max(values)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    n = bins or max(5, min(30, int(math.sqrt(len(values)) * 2)))
    bw = (hi - lo) / n
    counts = [0] * n
    for v in values:
        k = min(int((v - lo) / bw), n - 1)
        counts[k] += 1
    cmax = max(counts)
    for k, c in enumerate(counts):
        x = left + k * w / n
        bh = h * c / cmax
        o.append(f'<rect x="{x + 1:.1f}" y="{top + h - bh:.1f}" width="{w / n - 2:.1f}" '
                 f'height="{bh:.1f}" fill="{color}"><title>{lo + k * bw:.2f}..{lo + (k + 1) * bw:.2f} {unit}: {c}</title></rect>')
    o.append(f'<line x1="{left}" y1="{top + h}" x2="{left + w}" y2="{top + h}" stroke="#333"/>')
    for v in nice_ticks(lo, hi, 5):
        x = left + w * (v - lo) / (hi - lo)
        o.append(f'<line x1="{x:.1f}" y1="{top + h}" x2="{x:.1f}" y2="{top + h + 4}" stroke="#333"/>')
        o.append(f'<text x="{x:.1f}" y="{top + h + 16}" text-anchor="middle">{_fmt_num(v)}</text>')
    o.append(f'<text x="{left + w / 2}" y="{top + h + 32}" text-anchor="middle" fill="#555">{html.escape(unit)}</text>')
    o.append(f'<text x="{left - 6}" y="{top + 10}" text-anchor="end">{cmax}</text>')
    o.append(f'<text x="{left - 6}" y="{top + h}" text-anchor="end">0</text>')
    o.append("</svg>")
    return "\n".join(o)


# ---------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------

def _stats(vals):
    if not vals:
        return "-"
    s = sorted(vals)
    med = s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2
    return f"min {s[0]:.1f} / median {med:.1f} / max {s[-1]:.1f}"


def _lat_stats(lat):
    if lat and max(abs(x) for x in lat) < 1:
        return _stats([x * 1000 for x in lat]) + " ns"
    return _stats(lat) + (" us" if lat else " (not measurable from this input)")


def _latency_words(us):
    return f"{us * 1000:.0f} ns" if abs(us) < 1 else f"{us:.1f} us"


def _cell(v, fmt):
    return "-" if v is None else fmt.format(v)


def render_html(d, zooms=6):
    lat = [e["latency_us"] for e in d.exposures if e["latency_us"] is not None]
    errs = [e["error"] for e in d.exposures if e["error"] is not None]
    ft = [f[2] for f in d.focus if f[2] is not None]
    css = ("body{font-family:sans-serif;margin:16px;color:#222}h1{font-size:20px;margin:0 0 4px}"
           "h2{font-size:16px;margin:18px 0 6px}.meta{color:#555;font-size:13px}"
           "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;"
           "padding:3px 8px;text-align:right}th{background:#f0f0f0}.row{display:flex;"
           "flex-wrap:wrap;gap:12px}.sum td{text-align:left}.shots td:nth-child(3){text-align:center}")
    css += (".shots td:nth-child(3){font-weight:bold}.ok{color:" + OK_COLOR + "}.bad{color:"
            + BAD_COLOR + "}.unk{color:#888}.verdict{font-size:17px;margin:10px 0 4px}"
            "h2.eng{border-top:2px solid #ccc;padding-top:10px;margin-top:26px}")
    o = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
         f"<title>{html.escape(d.title)}</title><style>{css}</style></head><body>",
         f"<h1>{html.escape(d.title)}</h1>"]
    o.extend(header_html(d))
    o.extend(shots_html(d, ft))
    o.append('<h2 class="eng" id="detail">Engineer\'s detail</h2>')
    o.append('<div class="meta">source: ' + ", ".join(html.escape(s) for s in d.sources)
             + f" ({html.escape(d.kind)}), {d.end_ns / 1e6:.1f} ms; "
             f"{len(d.exposures)} exposures; press-to-exposure {_lat_stats(lat)}; "
             f"focus acquisition {_stats(ft)} ms; lens error at exposure {_stats(errs)} steps</div>")
    o.append('<h2 id="timeline">Timeline</h2>')
    o.append(timeline_svg(d))
    o.append('<div class="meta">Digital lanes are logical (1 = pressed / asserted). '
             'Red lines: exposures (cam_shutter rising). Dashed lines: AF start (purple), '
             'focus achieved and lock (green). The pale band around the lens line is the focus '
             'tolerance (its true width on this axis). Dense STEP edges show as a grey band.</div>')
    o.append('<h2>Latency and error</h2><div class="row">')
    if lat and max(abs(x) for x in lat) < 1:
        o.append(histogram_svg([x * 1000 for x in lat], "press-to-exposure latency", "ns"))
    else:
        o.append(histogram_svg(lat, "press-to-exposure latency", "us"))
    o.append(histogram_svg(errs, "lens error at exposure", "steps (lens_pos - target)", color="#d08c2a"))
    if ft:
        o.append(histogram_svg(ft, "focus acquisition", "ms", color="#2ca02c"))
    o.append("</div>")
    o.append('<h2>Exposures</h2><table><tr><th>frame</th><th>exposure (ms)</th><th>press (ms)</th>'
             '<th>press-to-exposure (us)</th><th>lens_pos (steps)</th><th>target (steps)</th>'
             '<th>focus error (steps)</th><th>subject (mm)</th></tr>')
    for e in d.exposures:
        o.append("<tr>" + "".join(f"<td>{c}</td>" for c in (
            e["frame"], _cell(e["t_ns"] / 1e6, "{:.3f}"),
            _cell(None if e["press_ns"] is None else e["press_ns"] / 1e6, "{:.3f}"),
            _cell(e["latency_us"], "{:.1f}"), _cell(e["lens_pos"], "{}"),
            _cell(e["target"], "{:.1f}"), _cell(e["error"], "{:+.1f}"),
            _cell(e["subject_mm"], "{:.0f}"))) + "</tr>")
    if not d.exposures:
        o.append('<tr><td colspan="8" style="text-align:center">no exposures</td></tr>')
    o.append("</table>")
    zs = [e for e in d.exposures if e["press_ns"] is not None][:zooms]
    if zs:
        o.append("<h2>Around each press (first %d)</h2>" % len(zs))
        for e in zs:
            a, b = e["press_ns"], e["t_ns"]
            span = max(b - a, 20000)
            o.append(timeline_svg(d, a - span // 2, b + span, width=1200, analog=False,
                                  lanes=("shutter_half", "shutter_full", "cam_focus", "cam_shutter"),
                                  title=f"frame {e['frame']}: press at {a / 1e6:.3f} ms, "
                                        + ("exposure " + _latency_words(e['latency_us']) + " later"
                                           if e['latency_us'] is not None else
                                           f"exposure event at {b / 1e6:.3f} ms"),
                                  marks=[(a, "press")]))
    if d.focus:
        o.append("<h2>Focus acquisitions</h2><table><tr><th>AF start (ms)</th><th>achieved (ms)</th>"
                 "<th>time (ms)</th></tr>")
        for a, b, ms in d.focus:
            o.append(f"<tr><td>{a / 1e6:.3f}</td><td>{_cell(None if b is None else b / 1e6, '{:.3f}')}</td>"
                     f"<td>{_cell(ms, '{:.1f}')}</td></tr>")
        o.append("</table>")
    if d.incidents:
        o.append("<h2>AF errors and refused shots</h2><ul>")
        for t, text in d.incidents:
            o.append(f"<li>{t / 1e6:.3f} ms: {html.escape(text)}</li>")
        o.append("</ul>")
    for n in d.notes:
        o.append(f'<p class="meta">{html.escape(n)}</p>')
    o.append('<p class="meta">Generated by focusrig report; self-contained (no external '
             'resources).</p></body></html>')
    return "\n".join(o)


CONFIG_SHOWN = ("focus_mode", "af_mode", "priority", "drive", "burst_fps", "focus_tolerance",
                "max_speed", "accel", "driver", "debounce_ms", "glitch_us", "shutter_pulse_ms")


def header_html(d):
    """Scenario, firmware, target and configuration: what this run was."""
    o = []
    parts = []
    if d.scenario_name:
        parts.append(f"scenario <b>{html.escape(d.scenario_name)}</b>")
    parts.append("firmware " + (html.escape(d.firmware) if d.firmware else "unknown (no boot event)"))
    if d.target_name:
        parts.append(f"ran on {html.escape(d.target_name)}")
    parts.append(f"{d.end_ns / 1e9:.2f} s")
    o.append('<div class="meta">' + "; ".join(parts) + "</div>")
    if d.description:
        o.append(f'<div class="meta">{html.escape(d.description)}</div>')
    if d.config:
        cfg = ", ".join(f"{k} {html.escape(json.dumps(d.config[k]))}" for k in CONFIG_SHOWN
                        if k in d.config)
        cal = d.config.get("lens_cal")
        if cal:
            cfg += "; lens_cal " + " ".join(f"{_fmt_num(a / 1000)} m:{b}" for a, b in cal)
        o.append(f'<div class="meta">config: {cfg}</div>')
    else:
        o.append('<div class="meta">config: unknown (give --scenario, or a VCD written by '
                 '`focusrig run`)</div>')
    return o


def frame_rows(d):
    """The photographer's view of each frame: (frame, t_ns, in focus?, subject_mm, margin,
    error) with margin = focus_tolerance - |error| (steps)."""
    tol = d.tolerance
    rows = []
    for e in d.exposures:
        ok, margin = (analysis.in_focus(e["error"], tol) if tol is not None else (None, None))
        rows.append((e["frame"], e["t_ns"], ok, e["subject_mm"], margin, e["error"]))
    return rows


def _gauge(error, tol, width=170, height=18):
    """A small bar: the tolerance band in green, the lens error as a dot."""
    if error is None or tol is None:
        return ""
    span = max(3 * tol, abs(error) * 1.2, 1)
    mid = width / 2

    def x(v):
        return mid + max(-span, min(span, v)) * (width / 2 - 6) / span

    ok = abs(error) <= tol
    col = OK_COLOR if ok else BAD_COLOR
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
            f'<line x1="2" y1="{height / 2}" x2="{width - 2}" y2="{height / 2}" stroke="#bbb"/>'
            f'<rect x="{x(-tol):.1f}" y="3" width="{max(x(tol) - x(-tol), 2):.1f}" height="{height - 6}" '
            f'fill="{OK_COLOR}" fill-opacity="0.3"/>'
            f'<line x1="{mid}" y1="2" x2="{mid}" y2="{height - 2}" stroke="#555"/>'
            f'<circle cx="{x(error):.1f}" cy="{height / 2}" r="4.5" fill="{col}"/></svg>')


def shots_html(d, ft):
    """The photographer's view: each frame in focus or not, distance, margin."""
    rows = frame_rows(d)
    o = ['<h2 id="shots">The shots</h2>']
    known = [r for r in rows if r[2] is not None]
    good = sum(1 for r in known if r[2])
    if not rows:
        verdict = "No frames were taken."
    elif not known:
        verdict = (f"{len(rows)} frame{'s' if len(rows) != 1 else ''}; in focus or not cannot be "
                   "told from this input (no target or tolerance: give --scenario)")
    else:
        verdict = (f"<b>{good} of {len(rows)}</b> frame{'s' if len(rows) != 1 else ''} in focus")
    if ft:
        verdict += "; focus acquired in " + ", ".join(f"{x:.0f} ms" for x in ft)
    o.append(f'<div class="verdict">{verdict}.</div>')
    if not rows:
        return o
    tol = d.tolerance
    o.append('<table class="shots"><tr><th>frame</th><th>taken at (s)</th><th>in focus</th>'
             '<th>subject (m)</th><th>margin (steps)</th><th>lens error (steps)</th>'
             f'<th>lens vs. the ±{tol if tol is not None else "?"} step band</th></tr>')
    for frame, t, ok, mm, margin, err in rows:
        word = ('<span class="ok">in focus</span>' if ok else
                '<span class="bad">out of focus</span>' if ok is not None else
                '<span class="unk">unknown</span>')
        o.append("<tr>" + "".join(f"<td>{c}</td>" for c in (
            frame, f"{t / 1e9:.3f}", word,
            "-" if not mm else f"{mm / 1000:.2f}",
            _cell(margin, "{:+.1f}"), _cell(err, "{:+.1f}"), _gauge(err, tol))) + "</tr>")
    o.append("</table>")
    if d.error_ref and known:
        o.append(f'<div class="meta">In focus: the lens within focus_tolerance ({tol} steps) '
                 f'of {html.escape(d.error_ref)}. Margin: what is left of that band.</div>')
    return o


def write_report(d, out_path):
    text = render_html(d)
    with open(out_path, "w") as f:
        f.write(text)
    return out_path
