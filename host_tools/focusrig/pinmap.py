"""The pin map: hardware/pinmap.json is the single source of truth for every GPIO.

`python -m focusrig.pinmap --write` regenerates firmware/pins.py from it;
`--check` exits 1 when the generated file is out of date (run by `make test`).
"""

import argparse
import json
import os
import sys

from . import FIRMWARE_DIR, HARDWARE_DIR

PINMAP_PATH = os.path.join(HARDWARE_DIR, "pinmap.json")
PINS_PY_PATH = os.path.join(FIRMWARE_DIR, "pins.py")


def load(path=PINMAP_PATH):
    with open(path) as f:
        pm = json.load(f)
    validate(pm)
    return pm


def validate(pm):
    """Raise ValueError on a pin map no board could have."""
    used = {}
    for group in ("inputs", "outputs"):
        for name, p in pm[group].items():
            g = p["gpio"]
            if not (0 <= g <= 29):
                raise ValueError(f"{name}: GP{g} is not an RP2040 GPIO")
            if p["active"] not in ("low", "high"):
                raise ValueError(f"{name}: active must be 'low' or 'high'")
            if g in used:
                raise ValueError(f"{name}: GP{g} already used by {used[g]}")
            used[g] = name
    for name, u in pm["uart"].items():
        for k in ("tx", "rx"):
            g = u[k]
            if g in used:
                raise ValueError(f"uart {name}.{k}: GP{g} already used by {used[g]}")
            used[g] = f"{name}.{k}"
    out = pm["outputs"]
    if out["dir"]["gpio"] != out["step"]["gpio"] + 1:
        # not required by the PIO program (side-set and out pins are set independently),
        # but it keeps the two driver wires next to each other on the header
        raise ValueError("dir must be the GPIO right after step")
    return pm


def signals(pm):
    """{name: (gpio, active_level)} for every input and output."""
    s = {}
    for group in ("inputs", "outputs"):
        for name, p in pm[group].items():
            s[name] = (p["gpio"], 1 if p["active"] == "high" else 0)
    return s


def render_pins_py(pm):
    lines = [
        '"""GPIO assignments. GENERATED from hardware/pinmap.json by `make pins`: do not edit.',
        "",
        "ACTIVE_* is the electrical level that means pressed / asserted.",
        '"""',
        "",
        "from micropython import const",
        "",
    ]
    for group in ("inputs", "outputs"):
        lines.append(f"# {group}")
        for name, p in pm[group].items():
            up = name.upper()
            lines.append(f"{up} = const({p['gpio']})  # {p['desc']}")
            lines.append(f"ACTIVE_{up} = const({1 if p['active'] == 'high' else 0})")
        lines.append("")
    lines.append("# UARTs")
    for name, u in pm["uart"].items():
        up = name.upper()
        lines.append(f"{up}_UART = const({u['id']})")
        lines.append(f"{up}_TX = const({u['tx']})")
        lines.append(f"{up}_RX = const({u['rx']})")
        lines.append(f"{up}_BAUD = const({u['baud']})")
    lines.append("")
    lines.append("# every input, in the order the input handler numbers them")
    for i, n in enumerate(pm["inputs"]):
        lines.append(f"IN_{n.upper()} = const({i})")
    lines.append("INPUT_NAMES = (" + ", ".join(repr(n) for n in pm["inputs"]) + ",)")
    lines.append("INPUT_GPIOS = (" + ", ".join(str(p["gpio"]) for p in pm["inputs"].values()) + ",)")
    lines.append("INPUT_ACTIVES = (" + ", ".join("1" if p["active"] == "high" else "0"
                                                 for p in pm["inputs"].values()) + ",)")
    lines.append("")
    return "\n".join(lines)


def generated_file_main(argv, prog, doc, make_text, source, target, fix):
    """`--write` regenerates `target` from `source`, `--check` exits 1 when it is stale.
    Shared by the generated firmware constant files (pins.py, jig_pins.py)."""
    ap = argparse.ArgumentParser(prog=prog, description=doc)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--write", action="store_true", help="regenerate " + os.path.relpath(target))
    g.add_argument("--check", action="store_true", help="fail if it is stale")
    a = ap.parse_args(argv)
    rel_t = os.path.relpath(target, os.path.dirname(FIRMWARE_DIR))
    rel_s = os.path.relpath(source, os.path.dirname(FIRMWARE_DIR))
    try:
        text = make_text()
    except (OSError, ValueError, KeyError) as e:
        print(f"focusrig: bad {rel_s}: {e}", file=sys.stderr)
        return 2
    if a.write:
        with open(target, "w") as f:
            f.write(text)
        print(f"wrote {target}")
        return 0
    try:
        with open(target) as f:
            cur = f.read()
    except OSError:
        cur = ""
    if cur != text:
        print(f"{rel_t} differs from {rel_s}: run `{fix}`", file=sys.stderr)
        return 1
    print(f"{rel_t} matches {rel_s}")
    return 0


def main(argv=None):
    return generated_file_main(argv, "python -m focusrig.pinmap", __doc__,
                               lambda: render_pins_py(load()), PINMAP_PATH, PINS_PY_PATH,
                               "make pins")


if __name__ == "__main__":
    sys.exit(main())
