"""The HIL jig's pins: hardware/jig_wiring.json is their single source of truth.

`python -m focusrig.jigpins --write` regenerates firmware/jig/jig_pins.py from it;
`--check` exits 1 when the generated file is out of date.
"""

import json
import os
import sys

from . import FIRMWARE_DIR, HARDWARE_DIR

WIRING_PATH = os.path.join(HARDWARE_DIR, "jig_wiring.json")
JIG_DIR = os.path.join(FIRMWARE_DIR, "jig")
JIG_PINS_PATH = os.path.join(JIG_DIR, "jig_pins.py")


def load(path=WIRING_PATH):
    with open(path) as f:
        w = json.load(f)
    validate(w)
    return w


def validate(w):
    """Raise ValueError on wiring the jig firmware cannot use."""
    base = w["capture_base"]
    for i, (name, c) in enumerate(w["capture"].items()):
        if c["jig_gpio"] != base + i:
            raise ValueError(f"capture {name}: jig GPIO must be {base + i} (consecutive "
                             f"from capture_base {base}), got {c['jig_gpio']}")
    if len(w["capture"]) != 5:
        raise ValueError("the capture program samples exactly 5 pins")
    used = {}
    for group in ("drive", "capture"):
        for name, p in w[group].items():
            g = p["jig_gpio"]
            if not 0 <= g <= 29:
                raise ValueError(f"{name}: GP{g} is not an RP2040 GPIO")
            if g in used:
                raise ValueError(f"{name}: jig GP{g} already used by {used[g]}")
            used[g] = name
    return w


def render(w):
    cap = list(w["capture"])
    drive = list(w["drive"])
    lines = [
        '"""Jig GPIO assignments. GENERATED from hardware/jig_wiring.json by',
        "`python -m focusrig.jigpins --write`: do not edit.",
        "",
        "DRIVE: DUT button input -> jig GPIO (open drain). CAPTURE_*: the DUT outputs on",
        "consecutive jig GPIOs from CAPTURE_BASE, bit i of a sample = CAPTURE_NAMES[i].",
        '"""',
        "",
        "DRIVE = {",
    ]
    for n in drive:
        lines.append(f"    {n!r}: {w['drive'][n]['jig_gpio']},")
    lines += [
        "}",
        "DRIVE_NAMES = (" + ", ".join(repr(n) for n in drive) + ",)",
        f"CAPTURE_BASE = {w['capture_base']}",
        f"CAPTURE_COUNT = {len(cap)}",
        "CAPTURE_NAMES = (" + ", ".join(repr(n) for n in cap) + ",)",
        f"RESET_GPIO = {w['reset']['jig_gpio']}",
        f"UART_ID = {w['uart']['id']}",
        f"UART_TX = {w['uart']['jig_tx']}",
        f"UART_RX = {w['uart']['jig_rx']}",
        f"UART_BAUD = {w['uart']['baud']}",
        "",
    ]
    return "\n".join(lines)


def main(argv=None):
    from .pinmap import generated_file_main
    return generated_file_main(argv, "python -m focusrig.jigpins", __doc__,
                               lambda: render(load()), WIRING_PATH, JIG_PINS_PATH, "make pins")


if __name__ == "__main__":
    sys.exit(main())
