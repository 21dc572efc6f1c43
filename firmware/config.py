"""Configuration: the one list of keys, defaults and limits; validation; the JSON file on
flash, written atomically (temporary file + rename).

Pure logic apart from load/save, so the host tool imports this same file on CPython to
validate scenario overrides with exactly the firmware's rules.
"""

import json
import os

CONFIG_FILE = "config.json"
TMP_FILE = "config.tmp"

# key: (default, kind, lo, hi) -- kind: "enum:a|b", "int", "num", "cal", "stack"
SCHEMA = {
    # behaviour (contract names)
    "focus_mode": ("bbf", "enum:bbf|shutter", 0, 0),
    "af_mode": ("one_shot", "enum:one_shot|servo|group", 0, 0),
    "priority": ("release", "enum:release|focus", 0, 0),
    "drive": ("single", "enum:single|continuous", 0, 0),
    "shutter_pulse_ms": (100, "int", 5, 2000),
    "burst_fps": (5, "num", 0.1, 30),
    "debounce_ms": (10, "int", 0, 200),
    "glitch_us": (0, "int", 0, 100000),
    "max_speed": (20000, "num", 10, 200000),
    "accel": (100000, "num", 10, 5000000),
    "lens_cal": ([[300, 4100], [500, 2500], [1000, 1300], [2000, 700], [4000, 400], [8000, 250]],
                 "cal", 2, 64),
    "focus_timeout_ms": (1000, "int", 10, 60000),
    # AF tuning
    "focus_tolerance": (2, "int", 0, 1000),
    "lidar_min_amp": (100, "int", 0, 65535),
    # motion and driver
    "driver": ("a4988", "enum:a4988|drv8825|tmc2209", 0, 0),
    "step_pulse_ns": (0, "int", 0, 100000),
    "step_low_ns": (0, "int", 0, 100000),
    "dir_setup_ns": (0, "int", 0, 100000),
    "enable_wake_us": (-1, "int", -1, 100000),
    "idle_disable_ms": (0, "int", 0, 3600000),
    "step_error_us": (25, "num", 0.1, 100),
    "jerk": (0, "num", 0, 1e12),
    "backlash_steps": (0, "int", 0, 10000),
    "backlash_dir": (1, "enum:1|-1", 0, 0),
    "min_pos": (-1000000, "int", -10000000, 10000000),
    "max_pos": (1000000, "int", -10000000, 10000000),
    "home_speed": (2000, "num", 10, 100000),
    "home_slow_speed": (200, "num", 10, 100000),
    "home_backoff": (200, "int", 1, 100000),
    "home_max_steps": (100000, "int", 10, 10000000),
    "home_timeout_ms": (20000, "int", 100, 600000),
    # photographer features
    "jog_fine": (1, "int", 1, 10000),
    "jog_coarse": (50, "int", 1, 100000),
    "jog_repeat_ms": (150, "int", 20, 5000),
    "long_press_ms": (800, "int", 100, 10000),
    "pull_ms": (2000, "int", 0, 600000),
    "marks": ({}, "marks", 0, 0),
    "stack_near": (0, "int", -10000000, 10000000),
    "stack_far": (0, "int", -10000000, 10000000),
    "stack_step": (10, "int", 1, 1000000),
    "stack_count": (0, "int", 0, 10000),
    "settle_ms": (200, "int", 0, 60000),
    "stack_shots": (1, "int", 1, 100),
    "stack_return": (True, "bool", 0, 0),
    # optics: depth of field, group focus, hyperfocal (docs/dof.md)
    "focal_mm": (50, "num", 1, 2000),
    "sensor": ("ff", "sensor", 0, 0),                  # coc preset: ff 30, apsc 20, m43 15 um
    "coc_um": (0, "num", 0, 500),                      # 0 = the sensor preset
    "aperture": (0, "fnum", 0, 256),                   # the f-number set on the lens, 0/null = not set
    "max_fnumber": (22, "num", 0.5, 256),              # the lens's smallest aperture
    "group_window_ms": (3000, "int", 0, 60000),
    "hyperfocal_tap_ms": (350, "int", 0, 2000),        # AF-ON double tap, 0 = off
    # reliability: the hardware watchdog's timeout (ms, 0 = off; from the next boot)
    "watchdog_ms": (2000, "int", 0, 8388),
}

DEFAULTS = {k: v[0] for k, v in SCHEMA.items()}

# Driver presets: (min STEP high ns, min STEP low ns, DIR setup ns, wake from sleep us).
# Numbers from the datasheets (shared/notes hardware facts); the DRV8825 uses the
# field-safe 4 us pulse (a DRV8825-family part skipped steps at 2.2 us, none at >= 4 us).
DRIVERS = {
    "a4988": (1000, 1000, 200, 1000),
    "drv8825": (4000, 4000, 650, 1700),
    "tmc2209": (100, 100, 20, 0),
}
PIO_OVERHEAD_NS = 40        # the step loop's 5 fixed cycles at 125 MHz


# sensor preset names as typed -> the preset (circle of confusion: dof.SENSOR_COC_UM)
SENSOR_NAMES = {"ff": "ff", "fullframe": "ff", "full": "ff", "fx": "ff", "35mm": "ff",
                "apsc": "apsc", "dx": "apsc", "m43": "m43", "mft": "m43",
                "microfourthirds": "m43", "fourthirds": "m43"}


def driver_pulses(cfg):
    """(high ns, low ns, setup ns, wake us) after the explicit overrides."""
    hi, lo, setup, wake = DRIVERS[cfg["driver"]]
    if cfg["step_pulse_ns"]:
        hi = cfg["step_pulse_ns"]
    if cfg["step_low_ns"]:
        lo = cfg["step_low_ns"]
    if cfg["dir_setup_ns"]:
        setup = cfg["dir_setup_ns"]
    if cfg["enable_wake_us"] >= 0:
        wake = cfg["enable_wake_us"]
    return hi, lo, setup, wake


WATCHDOG_MIN_MS = 200      # a littlefs write with a compaction stalls the CPU ~165 ms


class ConfigError(ValueError):
    pass


def _num(key, v, lo, hi, integer):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError("%s: must be a number, got %s" % (key, _show(v)))
    if integer and v != int(v):
        raise ConfigError("%s: must be a whole number, got %s" % (key, _show(v)))
    if not (lo <= v <= hi):
        raise ConfigError("%s: must be between %s and %s, got %s" % (key, lo, hi, _show(v)))
    return int(v) if integer else v


def _show(v):
    s = json.dumps(v)
    return s if len(s) <= 40 else s[:37] + "..."


def check_value(key, v):
    """Validate one value; returns it normalised or raises ConfigError."""
    if key not in SCHEMA:
        raise ConfigError("unknown config key %s" % _show(key))
    default, kind, lo, hi = SCHEMA[key]
    if kind.startswith("enum:"):
        choices = kind[5:].split("|")
        sv = str(v) if isinstance(v, int) and not isinstance(v, bool) else v
        if sv not in choices:
            raise ConfigError("%s: must be one of %s, got %s" % (key, ", ".join(choices), _show(v)))
        return int(sv) if isinstance(default, int) else sv
    if kind == "int":
        return _num(key, v, lo, hi, True)
    if kind == "num":
        return _num(key, v, lo, hi, False)
    if kind == "bool":
        if not isinstance(v, bool):
            raise ConfigError("%s: must be true or false, got %s" % (key, _show(v)))
        return v
    if kind == "cal":
        return check_cal(key, v, lo, hi)
    if kind == "fnum":                                  # optional: null = 0 = not set
        return 0 if v is None else _num(key, v, lo, hi, False)
    if kind == "sensor":
        w = v.lower().replace("-", "").replace("_", "").replace(" ", "") \
            if isinstance(v, str) else None
        if w not in SENSOR_NAMES:
            raise ConfigError("%s: must be ff (full frame), apsc (APS-C) or m43 (Micro Four "
                              "Thirds), got %s" % (key, _show(v)))
        return SENSOR_NAMES[w]
    if kind == "marks":
        if not isinstance(v, dict):
            raise ConfigError("%s: must be an object of mark name to position" % key)
        out = {}
        for name, pos in v.items():
            if name not in ("A", "B", "C", "D"):
                raise ConfigError("%s: mark names are A, B, C, D, got %s" % (key, _show(name)))
            out[name] = _num(key + "." + name, pos, -10000000, 10000000, True)
        return out
    raise ConfigError("%s: unsupported kind" % key)


def check_cal(key, v, lo, hi):
    if not isinstance(v, list) or not (lo <= len(v) <= hi):
        raise ConfigError("%s: must be a list of %d to %d [distance_mm, steps] points" % (key, lo, hi))
    out = []
    for p in v:
        if not isinstance(p, list) or len(p) != 2:
            raise ConfigError("%s: each point must be [distance_mm, steps], got %s" % (key, _show(p)))
        d = _num(key + " distance", p[0], 1, 1000000, False)
        s = _num(key + " steps", p[1], -10000000, 10000000, True)
        out.append([d, s])
    out.sort(key=lambda p: p[0])
    for i in range(1, len(out)):
        if out[i][0] == out[i - 1][0]:
            raise ConfigError("%s: two points at %s mm" % (key, out[i][0]))
    # the focus position strictly monotonic in the distance, as `focusrig calibrate`
    # checks: a table that turns back sends AF the wrong way between those points
    sign = 1 if out[-1][1] > out[0][1] else -1
    for i in range(1, len(out)):
        a, b = out[i - 1], out[i]
        if b[1] == a[1]:
            raise ConfigError("%s: not monotonic: the same position %s at %s mm and %s mm"
                              % (key, a[1], a[0], b[0]))
        if (b[1] - a[1]) * sign < 0:
            raise ConfigError("%s: not monotonic: the position should %s with distance, but "
                              "%s mm -> %s steps, %s mm -> %s steps"
                              % (key, "rise" if sign > 0 else "fall", a[0], a[1], b[0], b[1]))
    return out


def check_all(cfg):
    """Cross-key rules on a complete config; raises ConfigError."""
    if cfg["min_pos"] >= cfg["max_pos"]:
        raise ConfigError("min_pos must be below max_pos")
    if cfg["drive"] == "continuous" and cfg["shutter_pulse_ms"] >= 1000 / cfg["burst_fps"]:
        raise ConfigError("shutter_pulse_ms must be shorter than one burst frame (1000 / burst_fps ms)")
    if cfg["home_slow_speed"] > cfg["home_speed"]:
        raise ConfigError("home_slow_speed must not exceed home_speed")
    for k, least in (("coc_um", 1), ("aperture", 0.5)):
        if 0 < cfg[k] < least:
            raise ConfigError("%s: must be 0 (%s) or at least %s, got %s"
                              % (k, "the sensor preset" if k == "coc_um" else "not set",
                                 least, cfg[k]))
    if 0 < cfg["watchdog_ms"] < WATCHDOG_MIN_MS:
        raise ConfigError("watchdog_ms: must be 0 (off) or at least %d (a flash write stalls "
                          "the CPU up to ~165 ms), got %s" % (WATCHDOG_MIN_MS, cfg["watchdog_ms"]))
    if cfg["aperture"] > cfg["max_fnumber"]:
        raise ConfigError("aperture f/%s is beyond the lens's smallest aperture max_fnumber "
                          "f/%s" % (cfg["aperture"], cfg["max_fnumber"]))
    hi, lo, _, _ = driver_pulses(cfg)
    fastest = 1000000000 // (hi + lo + PIO_OVERHEAD_NS)
    if cfg["max_speed"] > fastest:
        raise ConfigError("max_speed %s is faster than %s pulses allow (%d steps/s): lower it or "
                          "shorten step_pulse_ns / step_low_ns" % (cfg["max_speed"], cfg["driver"], fastest))


def merged(base, changes):
    """A new config: base with `changes` applied, validated; base is not modified."""
    cfg = dict(base)
    for k, v in changes.items():
        cfg[k] = check_value(k, v)
    check_all(cfg)
    return cfg


def load(path=CONFIG_FILE):
    """(config, note): a missing or bad file falls back to the defaults, and says so."""
    try:
        with open(path) as f:
            raw = json.load(f)
    except OSError:
        return dict(DEFAULTS), "no %s: using defaults" % path
    except ValueError:
        return dict(DEFAULTS), "%s is corrupt: using defaults" % path
    except Exception as e:  # noqa: BLE001 - MemoryError etc.: boot on defaults all the same
        return dict(DEFAULTS), "%s unreadable (%s): using defaults" % (path, type(e).__name__)
    if not isinstance(raw, dict):
        return dict(DEFAULTS), "%s is not an object: using defaults" % path
    try:
        cfg = merged(DEFAULTS, {k: v for k, v in raw.items() if k in SCHEMA})
    except ConfigError as e:
        return dict(DEFAULTS), "%s rejected (%s): using defaults" % (path, e)
    unknown = [k for k in raw if k not in SCHEMA]
    if unknown:
        return cfg, "%s: ignored unknown keys %s" % (path, ", ".join(sorted(unknown)))
    return cfg, None


def save(cfg, path=CONFIG_FILE):
    """Write only what differs from the defaults, atomically: a failed write (flash full,
    I/O error: OSError) raises and leaves the old file as it was, without a temporary file."""
    diff = {k: v for k, v in cfg.items() if k in SCHEMA and v != DEFAULTS[k]}
    try:
        with open(TMP_FILE, "w") as f:
            json.dump(diff, f)
        os.rename(TMP_FILE, path)
    except Exception:
        try:
            os.remove(TMP_FILE)
        except OSError:
            pass
        raise


# errno -> words for a failed flash write (MicroPython's OSError carries only the number)
_ERRNO_WORDS = {28: "flash full", 30: "flash is read-only", 5: "flash I/O error",
                12: "out of memory", 13: "permission denied", 2: "no such file or folder",
                21: "a folder is in the way", 27: "file too big", 84: "flash filesystem corrupt"}


def save_error(e):
    """One line for the host: why the config could not be written."""
    n = e.args[0] if isinstance(e, OSError) and e.args else None
    if isinstance(n, int):
        words = _ERRNO_WORDS.get(n, "filesystem error")
        return "not saved to flash: %s (errno %d); active until restart" % (words, n)
    if isinstance(e, MemoryError):
        return "not saved to flash: out of memory; active until restart"
    return "not saved to flash: %s; active until restart" % _show(str(e))
