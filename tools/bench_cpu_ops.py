"""What single Python operations cost on each target: the CPU model's calibration data.

    python tools/bench_cpu_ops.py                   both targets (about 40 s)
    python tools/bench_cpu_ops.py --target virtual

A tiny firmware (written to a temporary folder, not the product's) times N repetitions of
each operation with ticks_us, less an empty loop's, and prints microseconds per
operation: the virtual Pico's CPU model (costs per opcode class times SCALE,
board/_vp_cpu.py) against the official v1.28.0 firmware on the emulated RP2040. The last
column is rp2040 / virtual: 1.0 is a perfect model of that operation. The CPU model is
calibrated on whole scenarios (tools/bench_realtime.py), so single operations can be off
both ways; this shows which (docs/virtual_pico.md "CPU model").
"""

import argparse
import ast
import os
import shutil
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "host_tools"))

from focusrig import scenario as scn  # noqa: E402
from focusrig.virtual_pico import runner as vp  # noqa: E402

N = 2000
# (name, set-up lines, the operation): each timed in a loop of N
OPS = [
    ("loop iteration (range)", "", "pass"),
    ("local int add", "a = 1", "a = a + 1"),
    ("global name load", "", "g"),
    ("instance attribute load", "o = O()", "o.x"),
    ("instance attribute store", "o = O()", "o.x = 1"),
    ("bytearray item load", "b = bytearray(8)", "b[3]"),
    ("Python function call", "", "f()"),
    ("method call", "o = O()", "o.m()"),
    ("built-in call, local name", "tu = time.ticks_us", "tu()"),
    ("time.ticks_diff(a, b)", "", "time.ticks_diff(5, 3)"),
    ("Pin.value()", "p = Pin(2, Pin.IN, Pin.PULL_UP)", "p.value()"),
    ("UART.any()", "u = UART(1, 115200)", "u.any()"),
    ("disable_irq + enable_irq", "", "machine.enable_irq(machine.disable_irq())"),
    ("float multiply", "x = 1.5", "x * 2.5"),
    ("small tuple build", "a = 1", "(a, a)"),
]

FIRMWARE = '''import time
import machine
from machine import Pin, UART
led = Pin(25, Pin.OUT, value=0)     # the run's time origin (outputs first)
g = 1


class O:
    def __init__(self):
        self.x = 1

    def m(self):
        pass


def f():
    pass


def timed(body):
    t0 = time.ticks_us()
    body()
    return time.ticks_diff(time.ticks_us(), t0)

{cases}

base = timed(case_0)
print("OPS", [round(base / {n}, 3)] + [round((timed(c) - base) / {n}, 3) for c in CASES[1:]])
while True:
    time.sleep_ms(1000)
'''


def firmware():
    cases, names = [], []
    for i, (_, setup, op) in enumerate(OPS):
        lines = ["def case_%d():" % i]
        if setup:
            lines.append("    " + setup)
        lines += ["    for _ in range(%d):" % N, "        " + op]
        cases.append("\n".join(lines) + "\n")
        names.append("case_%d" % i)
    text = "\n\n".join(cases) + "\n\nCASES = [%s]\n" % ", ".join(names)
    return FIRMWARE.replace("{cases}", text).replace("{n}", str(N))


def run_firmware(target, folder, tag, duration_ms=400, raw=None):
    """Boot `folder` (a firmware of its own: main.py first lights nothing but configures
    the LED pin, the run's time origin) on a target; the value it printed after `tag`.
    raw: the scenario's other keys (config, serial, presses, subject_mm)."""
    orig = vp.prepare_flash

    def prepare(flash, cfg=None, firmware_dir=None, mpy=True):
        return orig(flash, cfg, firmware_dir=folder, mpy=mpy)

    vp.prepare_flash = prepare
    try:
        raw = dict(raw or {"subject_mm": [[0, 2000]]}, duration_ms=duration_ms)
        if target == "rp2040":
            from focusrig.rp2040 import runner
            res = runner.run(scn.validate(raw))
        else:
            res = vp.run(scn.validate(raw))
    finally:
        vp.prepare_flash = orig
    for line in res.raw_lines:
        if line.startswith(tag + " "):
            return ast.literal_eval(line[len(tag) + 1:])
    raise SystemExit(f"{target}: the benchmark printed nothing (last lines: {res.raw_lines[-3:]})")


def product_firmware(folder, main):
    """Fill `folder` with the product's firmware modules and a main.py of its own."""
    src = os.path.join(ROOT, "firmware")
    for n in os.listdir(src):
        if n.endswith(".py") and n != "main.py":
            shutil.copy(os.path.join(src, n), folder)
    with open(os.path.join(folder, "main.py"), "w") as f:
        f.write(main)


def on_targets(doc, prefix, fill, tag, duration_ms=400, raw=None):
    """The command line (--target) and the runs: a temporary folder filled by fill(folder)
    booted on each target chosen. Returns (targets, {target: what it printed after tag})."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--target", choices=("virtual", "rp2040", "both"), default="both")
    args = ap.parse_args()
    targets = ["virtual", "rp2040"] if args.target == "both" else [args.target]
    folder = tempfile.mkdtemp(prefix=prefix)
    figs = {}
    try:
        fill(folder)
        for t in targets:
            print(f"[{t}] ...", file=sys.stderr, flush=True)
            figs[t] = run_firmware(t, folder, tag, duration_ms, raw)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return targets, figs


def main():
    def fill(folder):
        with open(os.path.join(folder, "main.py"), "w") as f:
            f.write(firmware())

    targets, figs = on_targets(__doc__, "cpu-ops-", fill, "OPS")
    names = [OPS[0][0]] + [o[0] for o in OPS[1:]]
    w = max(len(n) for n in names)
    print("== us per operation (an empty loop's iteration subtracted, but for the first row) ==")
    print(f"{'':{w}}  " + "  ".join(f"{t:>8}" for t in targets) + ("  rp2040/virtual" if len(targets) == 2 else ""))
    for i, n in enumerate(names):
        vals = [figs[t][i] for t in targets]
        ratio = f"  {vals[1] / vals[0]:.2f}" if len(vals) == 2 and vals[0] > 0 else ""
        print(f"{n:{w}}  " + "  ".join(f"{v:>8.2f}" for v in vals) + ratio)


if __name__ == "__main__":
    main()
