"""Timing traces: the virtual Pico's pin trace as logical signals, written as VCD (GTKWave,
PulseView and sigrok-cli read it) and read back for analysis and reports.

VCD signal names are a contract: inputs af_on, shutter_half, shutter_full (the contacts as
they are, chatter included), outputs cam_focus, cam_shutter, step, dir, motor_en, and the
integers lens_pos (steps) and subject_mm. Levels are logical: 1 = pressed / asserted.
Timescale 1 ns, so PIO edges (8 ns apart at 125 MHz) keep their exact times. lens_pos and
subject_mm are whole numbers in VCD `real` variables (see write_vcd) so that every
sigrok-based tool reads the whole file.
"""

import io

from vcd import VCDWriter

INPUT_SIGNALS = ("af_on", "shutter_half", "shutter_full", "jog_near", "jog_far", "home")
OUTPUT_SIGNALS = ("cam_focus", "cam_shutter", "step", "dir", "motor_en")
WIRES = ("af_on", "shutter_half", "shutter_full", "cam_focus", "cam_shutter", "step", "dir",
         "motor_en", "jog_near", "jog_far", "home")
SIG_LENS_POS = 64
SIG_DRIVER_FAULT = 67
VCD_DATE = "focusrig virtual Pico"      # fixed: the same scenario gives the same bytes


class Trace:
    """Logical signal changes: name -> [(t_ns, value)], sorted, starting at t=0."""

    def __init__(self):
        self.signals = {}
        self.end_ns = 0

    def changes(self, name):
        return self.signals.get(name, [])

    def value_at(self, name, t_ns):
        v = None
        for t, x in self.signals.get(name, []):
            if t > t_ns:
                break
            v = x
        return v

    def rising(self, name):
        out = []
        prev = 0
        for t, v in self.signals.get(name, []):
            if v and not prev:
                out.append(t)
            prev = v
        return out

    def falling(self, name):
        out = []
        prev = 0
        for t, v in self.signals.get(name, []):
            if prev and not v:
                out.append(t)
            prev = v
        return out


def from_run(res):
    """Build the logical trace of a virtual Pico run (runner.Result)."""
    tr = Trace()
    gpio_name = {}
    for name, (gpio, active) in res.pins.items():
        gpio_name[gpio] = (name, active)
    sig = {n: [] for n in WIRES}
    sig["lens_pos"] = []
    sig["subject_mm"] = []
    sig["driver_fault"] = []
    initial = {n: 0 for n in WIRES}
    for t, s, v in sorted(res.trace, key=lambda r: r[0]):
        if s == SIG_LENS_POS:
            _append(sig["lens_pos"], t, v)
        elif s == SIG_DRIVER_FAULT:
            _append(sig["driver_fault"], t, v)
        elif s in gpio_name:
            name, active = gpio_name[s]
            if name in sig:
                _append(sig[name], t, 1 if v == active else 0)
    for n in WIRES:
        if not sig[n] or sig[n][0][0] > 0:
            sig[n].insert(0, (0, initial[n]))
    if not sig["lens_pos"]:
        sig["lens_pos"] = [(0, res.scenario.get("lens", {}).get("start_pos", 0))]
    sig["subject_mm"] = subject_changes(res.scenario["subject_mm"], res.scenario["duration_ms"])
    tr.signals = sig
    tr.end_ns = int(res.scenario["duration_ms"] * 1e6)
    return tr


def _append(lst, t, v):
    if lst and lst[-1][1] == v:
        return
    if lst and lst[-1][0] == t:
        lst[-1] = (t, v)
        if len(lst) > 1 and lst[-2][1] == v:
            lst.pop()
        return
    lst.append((t, v))


def subject_mm_at(points, t_ms):
    if t_ms <= points[0][0]:
        return points[0][1]
    for i in range(1, len(points)):
        t1, d1 = points[i]
        if t_ms <= t1:
            t0, d0 = points[i - 1]
            if d0 == 0 or d1 == 0 or t1 == t0:
                return d0 if t_ms < t1 else d1
            return d0 + (d1 - d0) * (t_ms - t0) / (t1 - t0)
    return points[-1][1]


def subject_changes(points, duration_ms):
    """The subject distance sampled every 1 ms (integer mm), changes only."""
    out = []
    for ms in range(0, int(duration_ms) + 1):
        v = int(round(subject_mm_at(points, ms)))
        _append(out, ms * 1000000, v)
    return out


def write_vcd(trace, path_or_file):
    """Write the trace as VCD (logical levels, 1 ns timescale)."""
    own = isinstance(path_or_file, str)
    f = open(path_or_file, "w") if own else path_or_file
    try:
        with VCDWriter(f, timescale="1 ns", date=VCD_DATE, version="focusrig") as w:
            vars_ = {}
            for n in WIRES:
                ch = trace.signals.get(n, [(0, 0)])
                vars_[n] = w.register_var("focusrig", n, "wire", size=1, init=ch[0][1])
            for n in ("lens_pos", "subject_mm"):
                # whole numbers in a `real` variable: libsigrok 0.5.2 (Debian's sigrok-cli
                # and PulseView) stops reading a VCD at the first multi-bit vector value,
                # but skips real values; GTKWave shows them as numbers or analog
                ch = trace.signals.get(n, [(0, 0)])
                vars_[n] = w.register_var("focusrig", n, "real", init=float(ch[0][1]))
            merged = []
            for n, v in vars_.items():
                for t, x in trace.signals.get(n, [])[1:]:
                    merged.append((t, n, x))
            merged.sort(key=lambda r: (r[0], r[1]))
            for t, n, x in merged:
                w.change(vars_[n], t, float(x) if n in ("lens_pos", "subject_mm") else x)
            if trace.end_ns:
                last = merged[-1][0] if merged else 0
                if trace.end_ns > last:
                    w.change(vars_["lens_pos"], trace.end_ns, float(trace.signals["lens_pos"][-1][1]))
    finally:
        if own:
            f.close()


def vcd_text(trace):
    buf = io.StringIO()
    write_vcd(trace, buf)
    return buf.getvalue()


def read_vcd(path, mapping=None):
    """Read a VCD (ours, or one captured with sigrok / PulseView) into a Trace.

    `mapping` renames signals: {"D0": "cam_shutter", ...} (our names are used as-is).
    Multi-bit vectors are read as integers. Times are converted to ns."""
    mapping = mapping or {}
    ids = {}
    scale_ns = 1.0
    tr = Trace()
    t = 0
    with open(path) as f:
        tokens = f.read().split()
    i = 0
    n = len(tokens)
    in_defs = True
    while i < n:
        tok = tokens[i]
        if in_defs:
            if tok == "$timescale":
                j = i + 1
                spec = ""
                while tokens[j] != "$end":
                    spec += tokens[j]
                    j += 1
                scale_ns = _timescale_ns(spec)
                i = j + 1
                continue
            if tok == "$var":
                # $var type size id name [range] $end
                vid, name = tokens[i + 3], tokens[i + 4]
                name = mapping.get(name, name)
                ids.setdefault(vid, []).append(name)
                tr.signals.setdefault(name, [])
                j = i + 1
                while tokens[j] != "$end":
                    j += 1
                i = j + 1
                continue
            if tok == "$enddefinitions":
                in_defs = False
            i += 1
            continue
        if tok.startswith("#"):
            t = int(round(int(tok[1:]) * scale_ns))
            i += 1
            continue
        if tok.startswith("$"):
            i += 1
            continue
        if tok[0] in "bBrR":
            val, vid = tok[1:], tokens[i + 1]
            i += 2
            try:
                v = int(val, 2) if tok[0] in "bB" else int(float(val))
            except ValueError:
                v = 0
        else:
            val, vid = tok[0], tok[1:]
            i += 1
            v = 1 if val == "1" else 0
        for name in ids.get(vid, ()):
            _append(tr.signals[name], t, v)
        tr.end_ns = t
    return tr


def _timescale_ns(spec):
    units = {"s": 1e9, "ms": 1e6, "us": 1e3, "ns": 1.0, "ps": 1e-3, "fs": 1e-6}
    num = ""
    for ch in spec:
        if ch.isdigit():
            num += ch
        else:
            break
    unit = spec[len(num):]
    return int(num or 1) * units.get(unit, 1.0)
