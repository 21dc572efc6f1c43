"""Timing scenarios: the JSON format, its validation (one clear line per problem) and the
contact-edge schedule it turns into, seeded chatter included. See docs/scenarios.md.

    {
      "duration_ms": 1500,                      # virtual time to run
      "config": {"af_mode": "servo"},           # firmware config overrides (validated)
      "subject_mm": [[0, 4000], [1000, 1000]],  # piecewise linear; 0 = no LiDAR return
      "presses": [{"input": "af_on", "at_ms": 100, "hold_ms": 500, "bounce_ms": 3}],
      "seed": 1,                                # contact chatter
      "serial": [{"at_ms": 50, "cmd": "move 500"}],
      "lens": {"start_pos": 0, "home_pos": -50}  # simulated lens / home switch
    }
"""

import json
import os
import random
import sys

from . import FIRMWARE_DIR

INPUTS = ("af_on", "shutter_half", "shutter_full", "jog_near", "jog_far")
TOP_KEYS = ("duration_ms", "config", "subject_mm", "presses", "seed", "serial", "lens",
            "lidar", "ticks_start_us", "irq_latency_us", "irq_jitter_us", "name",
            "description", "title", "comment", "notes", "expect")
PRESS_KEYS = ("input", "at_ms", "hold_ms", "bounce_ms")
LENS_KEYS = ("start_pos", "home_pos", "driver")
LIDAR_KEYS = ("rate_hz", "noise_cm", "first_ms", "amp", "cm_only")
SERIAL_KEYS = ("at_ms", "cmd", "hex", "typing_ms")


def serial_bytes(c):
    """The bytes a validated serial entry sends: cmd and a newline, or its raw hex."""
    if "cmd" in c:
        return (c["cmd"] + "\n").encode()
    return bytes.fromhex(c["hex"])


class ScenarioError(ValueError):
    """A problem with a scenario file; str() is the one-line message for the user."""


def firmware_config():
    """The firmware's own config module (firmware/config.py), imported on CPython."""
    if "micropython" not in sys.modules:
        import types
        mp = types.ModuleType("micropython")
        mp.const = lambda x: x
        sys.modules["micropython"] = mp
    import importlib.util
    spec = importlib.util.spec_from_file_location("fr_firmware_config",
                                                  os.path.join(FIRMWARE_DIR, "config.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _num(where, v, lo=0.0, hi=None, allow_none=False):
    if v is None and allow_none:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ScenarioError(f"{where}: must be a number, got {json.dumps(v)}")
    if v != v or v in (float("inf"), float("-inf")):
        raise ScenarioError(f"{where}: must be a finite number")
    if v < lo:
        if lo == 0:
            raise ScenarioError(f"{where}: must not be negative, got {v}")
        raise ScenarioError(f"{where}: must be at least {lo}, got {v}")
    if hi is not None and v > hi:
        raise ScenarioError(f"{where}: must be at most {hi}, got {v}")
    return v


MAX_BYTES = 4 << 20         # a scenario is a few kB; anything this big is the wrong file
BUILTIN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenarios")


def builtin_names():
    return sorted(n[:-5] for n in os.listdir(BUILTIN_DIR) if n.endswith(".json"))


def resolve(path):
    """A scenario file path; a bare built-in name (`portrait`) means the bundled one."""
    if not os.path.exists(path) and os.sep not in path and "/" not in path:
        name = path[:-5] if path.endswith(".json") else path
        cand = os.path.join(BUILTIN_DIR, name + ".json")
        if os.path.exists(cand):
            return cand
    return path


def load(path):
    path = resolve(path)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except IsADirectoryError:
        raise ScenarioError(f"{path} is a folder: give a scenario .json file") from None
    except FileNotFoundError:
        raise ScenarioError(f"no scenario file {path}: check the path (built-in scenarios: "
                            f"{', '.join(builtin_names())}, or {BUILTIN_DIR}/NAME.json)") from None
    except OSError as e:
        raise ScenarioError(f"cannot read scenario {path}: {(e.strerror or str(e)).lower()}") from None
    if len(data) > MAX_BYTES:
        raise ScenarioError(f"{path} is larger than {MAX_BYTES // 1024} kB: not a scenario "
                            "file (see docs/scenarios.md)")
    try:
        text = data.decode("utf-8-sig")        # a UTF-8 BOM (Windows editors) is fine
    except UnicodeDecodeError as e:
        raise ScenarioError(f"{path} is not a text file (byte {e.start} is not UTF-8): give "
                            "the scenario's JSON file (see docs/scenarios.md)") from None
    if "\x00" in text:
        raise ScenarioError(f"{path} is not a text file (it contains NUL bytes): give the "
                            "scenario's JSON file (see docs/scenarios.md)")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise ScenarioError(f"{path}: not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    return validate(raw)


def validate(raw):
    """Check a scenario dict; returns a normalised copy or raises ScenarioError."""
    if not isinstance(raw, dict):
        raise ScenarioError("scenario must be a JSON object")
    for k in raw:
        if k not in TOP_KEYS:
            raise ScenarioError(f"unknown scenario key {json.dumps(k)} (known: {', '.join(TOP_KEYS)})")
    s = {}
    cfgmod = firmware_config()
    cfg_over = raw.get("config", {})
    if not isinstance(cfg_over, dict):
        raise ScenarioError("config: must be an object of firmware config keys")
    try:
        s["config_full"] = cfgmod.merged(cfgmod.DEFAULTS, cfg_over)
    except cfgmod.ConfigError as e:
        raise ScenarioError(f"config: {e}") from None
    s["config"] = dict(cfg_over)
    presses = raw.get("presses", [])
    if not isinstance(presses, list):
        raise ScenarioError("presses: must be a list")
    s["presses"] = []
    last = 0.0
    for i, p in enumerate(presses):
        w = f"presses[{i}]"
        if not isinstance(p, dict):
            raise ScenarioError(f"{w}: must be an object with input, at_ms, hold_ms")
        for k in p:
            if k not in PRESS_KEYS:
                raise ScenarioError(f"{w}: unknown key {json.dumps(k)} (known: {', '.join(PRESS_KEYS)})")
        inp = p.get("input")
        if inp not in INPUTS:
            raise ScenarioError(f"{w}.input: unknown input {json.dumps(inp)} (inputs: {', '.join(INPUTS)})")
        if "at_ms" not in p:
            raise ScenarioError(f"{w}: at_ms is required")
        at = _num(f"{w}.at_ms", p["at_ms"])
        hold = _num(f"{w}.hold_ms", p.get("hold_ms", 100))
        bounce = _num(f"{w}.bounce_ms", p.get("bounce_ms", 0), hi=1000)
        if bounce > 0 and hold > 0 and bounce >= hold:
            raise ScenarioError(f"{w}: bounce_ms ({bounce}) must be shorter than hold_ms ({hold})")
        s["presses"].append({"input": inp, "at_ms": at, "hold_ms": hold, "bounce_ms": bounce})
        last = max(last, at + hold + bounce)
    subj = raw.get("subject_mm", [[0, 0]])
    if not isinstance(subj, list) or not subj:
        raise ScenarioError("subject_mm: must be a list of [t_ms, distance_mm] points")
    pts = []
    for i, p in enumerate(subj):
        if not isinstance(p, list) or len(p) != 2:
            raise ScenarioError(f"subject_mm[{i}]: must be [t_ms, distance_mm], got {json.dumps(p)}")
        t = _num(f"subject_mm[{i}] time", p[0])
        d = _num(f"subject_mm[{i}] distance", p[1], hi=1000000)
        if pts and t < pts[-1][0]:
            raise ScenarioError(f"subject_mm[{i}]: times must not decrease ({t} after {pts[-1][0]})")
        pts.append([t, d])
    s["subject_mm"] = pts
    seed = raw.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ScenarioError(f"seed: must be a whole number, got {json.dumps(seed)}")
    s["seed"] = seed
    serial = raw.get("serial", [])
    if not isinstance(serial, list):
        raise ScenarioError("serial: must be a list of {at_ms, cmd}")
    s["serial"] = []
    for i, c in enumerate(serial):
        if (not isinstance(c, dict) or set(c) - set(SERIAL_KEYS)
                or ("cmd" in c) == ("hex" in c)):
            raise ScenarioError(f"serial[{i}]: must be an object {{\"at_ms\": number, \"cmd\": text}} "
                                f"(or \"hex\": raw bytes instead of cmd; optional \"typing_ms\")")
        e = {"at_ms": _num(f"serial[{i}].at_ms", c.get("at_ms", 0)),
             "typing_ms": _num(f"serial[{i}].typing_ms", c.get("typing_ms", 0), 0, 10000)}
        if "cmd" in c:
            if not isinstance(c["cmd"], str) or "\n" in c["cmd"] or not c["cmd"].strip():
                raise ScenarioError(f"serial[{i}].cmd: must be one line of text")
            e["cmd"] = c["cmd"]
        else:
            try:
                bytes.fromhex(c["hex"])
            except (TypeError, ValueError):
                raise ScenarioError(f"serial[{i}].hex: must be bytes in hex, e.g. \"6361669e0a\"") from None
            e["hex"] = c["hex"]
        s["serial"].append(e)
        last = max(last, c.get("at_ms", 0))
    lens = raw.get("lens", {})
    if not isinstance(lens, dict) or set(lens) - set(LENS_KEYS):
        raise ScenarioError(f"lens: must be an object with keys among {', '.join(LENS_KEYS)}")
    s["lens"] = {}
    for k in ("start_pos", "home_pos"):
        if k in lens and lens[k] is not None:
            v = lens[k]
            if isinstance(v, bool) or not isinstance(v, int):
                raise ScenarioError(f"lens.{k}: must be a whole number of steps")
            s["lens"][k] = v
    lid = raw.get("lidar", {})
    if not isinstance(lid, dict) or set(lid) - set(LIDAR_KEYS):
        raise ScenarioError(f"lidar: must be an object with keys among {', '.join(LIDAR_KEYS)}")
    s["lidar"] = {}
    if "rate_hz" in lid:
        s["lidar"]["rate_hz"] = _num("lidar.rate_hz", lid["rate_hz"], 1, 500)
    if "noise_cm" in lid:
        s["lidar"]["noise_cm"] = int(_num("lidar.noise_cm", lid["noise_cm"], 0, 100))
    if "first_ms" in lid:
        s["lidar"]["first_ms"] = _num("lidar.first_ms", lid["first_ms"], 0, 1000)
    if "amp" in lid:
        s["lidar"]["amp"] = int(_num("lidar.amp", lid["amp"], 0, 65535))
    if "cm_only" in lid:
        if not isinstance(lid["cm_only"], bool):
            raise ScenarioError("lidar.cm_only: must be true or false")
        s["lidar"]["cm_only"] = lid["cm_only"]
    dur = raw.get("duration_ms")
    if dur is None:
        dur = last + 1000
    s["duration_ms"] = _num("duration_ms", dur, hi=3600000)
    if s["duration_ms"] <= 0:
        raise ScenarioError("duration_ms: must be positive")
    s["ticks_start_us"] = int(_num("ticks_start_us", raw.get("ticks_start_us", 0), 0, (1 << 30) - 1))
    s["irq_latency_us"] = _num("irq_latency_us", raw.get("irq_latency_us", 20), 0, 10000)
    s["irq_jitter_us"] = _num("irq_jitter_us", raw.get("irq_jitter_us", 5), 0, 10000)
    s["name"] = str(raw.get("name", ""))
    s["description"] = str(raw.get("description", ""))
    s["expect"] = raw.get("expect", {})
    spans(s)      # overlapping presses are an error
    return s


def spans(s):
    """{input: [(start_ns, end_ns, bounce_start_ns, bounce_end_ns)]}, a full press also
    holding the half press for the same span, overlapping half-press spans merged."""
    out = {k: [] for k in INPUTS}
    for p in s["presses"]:
        a = int(round(p["at_ms"] * 1e6))
        b = int(round((p["at_ms"] + p["hold_ms"]) * 1e6))
        bn = int(round(p["bounce_ms"] * 1e6))
        out[p["input"]].append([a, b, bn, bn])
        if p["input"] == "shutter_full":
            out["shutter_half"].append([a, b, bn, bn])
    for inp, lst in out.items():
        lst.sort()
        merged = []
        for sp in lst:
            if merged and sp[0] <= merged[-1][1] + merged[-1][3]:
                if inp != "shutter_half":
                    raise ScenarioError(f"presses of {inp} overlap (at {sp[0] / 1e6:g} ms)")
                if sp[1] > merged[-1][1]:
                    merged[-1][1] = sp[1]
                    merged[-1][3] = sp[3]
                continue
            merged.append(list(sp))
        out[inp] = merged
    return out


def chatter(rng, t0, bounce_ns, final):
    """Edges (t_ns, logical level) for a contact that moves to `final` at t0 and bounces
    for bounce_ns: the first edge is the real one, then random toggles, ending settled on
    `final` no later than t0 + bounce_ns."""
    edges = [(t0, final)]
    if bounce_ns <= 0:
        return edges
    t = t0
    level = final
    end = t0 + bounce_ns
    while True:
        # bounces get longer apart as the contact settles: 5 us .. ~bounce/4
        gap = int(rng.uniform(5000, max(6000, bounce_ns / 4)) * (0.3 + 0.7 * (t - t0) / bounce_ns))
        gap = max(gap, 2000)
        if t + gap >= end:
            break
        t += gap
        level = 1 - level
        edges.append((t, level))
    if level != final:
        t_last = min(end, edges[-1][0] + 2000)
        edges.append((t_last, final))
    return edges


def edges(s, pins):
    """Sorted [[t_ns, gpio, electrical level], ...] for the virtual Pico, and the logical
    per-input edge lists for the trace."""
    rng = random.Random(s["seed"])
    out = []
    logical = {}
    for inp, lst in spans(s).items():
        gpio, active = pins[inp]
        ev = []
        for a, b, bn_a, bn_b in lst:
            ev += chatter(rng, a, bn_a, 1)
            ev += chatter(rng, b, bn_b, 0)
        logical[inp] = ev
        for t, lv in ev:
            out.append([t, gpio, active if lv else 1 - active])
    out.sort(key=lambda e: (e[0], e[1]))
    return out, logical
