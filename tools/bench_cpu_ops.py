"""What single Python operations cost on each target: the CPU model's calibration data.

    python tools/bench_cpu_ops.py                   both targets (about 15 s)
    python tools/bench_cpu_ops.py --target virtual

A tiny firmware (written to a temporary folder, not the product's) times N repetitions of
each operation with ticks_us, less an empty loop's, and prints microseconds per
operation, then asyncio's round trip: the virtual Pico's CPU model (board/_vp_cpu.py,
whose costs come from these rows) against the official v1.28.0 firmware on the emulated
RP2040. The last column is rp2040 / virtual: 1.0 is a perfect model of that operation
(docs/virtual_pico.md "The CPU model" says which rows are off and why).
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
ASYNC_N = 300
# the asyncio rows (not OPS: an event loop, not a statement): us per `await sleep_ms(0)`
ASYNC_OPS = ["asyncio round trip, await sleep_ms(0)", "  the same, stdin registered (a reader)"]
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
    ("Python function call, 2 args", "a = 1", "f2(a, a)"),
    ("method call, 1 arg", "o = O(); a = 1", "o.m1(a)"),
    ("class attribute load", "o = O()", "o.K"),
    ("int compare", "a = 1", "a < 5"),
    ("bytearray item store", "b = bytearray(8)", "b[3] = 1"),
    ("dict item load", "d = {'k': 1}", "d['k']"),
    ("module function call", "", "time.ticks_us()"),
    ("float add, 2 locals", "x = 1.5; y = 2.5", "x + y"),
    ("float compare, 2 locals", "x = 1.5; y = 2.5", "x < y"),
    ("StateMachine.put(0)", "s = sm", "s.put(0)"),
    ("StateMachine.tx_fifo()", "s = sm", "s.tx_fifo()"),
    ("len(bytearray)", "b = bytearray(8)", "len(b)"),
    ("max(a, 0)", "a = 1", "max(a, 0)"),
    ("list append + pop", "l = []", "l.append(1); l.pop()"),
    # (the traceback cleared first, as asyncio does: else each raise grows it, a copy each)
    ("raise + except", "e = ValueError()",
     "e.__traceback__ = None\n        try:\n            raise e\n        except ValueError:\n            pass"),
    ("json.loads, a move command", "import json; t = '{\"cmd\": \"move\", \"to\": 1200}'", "json.loads(t)"),
    ("'%d' % int", "a = 1200", "'%d' % a"),
    ("builtin name load", "", "len"),
    ("isinstance(a, int)", "a = 1", "isinstance(a, int)"),
    ("any(bytearray(4))", "b = bytearray(4)", "any(b)"),
    ("int(str)", "t = '1200'", "int(t)"),
    ("str.split, a command line", "t = 'move 1200'", "t.split()"),
    ("json.dump(int) to BytesIO", "import io; bio = io.BytesIO(bytearray(64)); sk = bio.seek", "sk(0); json.dump(1234567, bio)"),
    ("json.dump(dict) to BytesIO", "import io; bio = io.BytesIO(bytearray(64)); sk = bio.seek; d = {'pos': 1200, 'steps': 5}", "sk(0); json.dump(d, bio)"),
    ("json.dump(str) to BytesIO", "import io; bio = io.BytesIO(bytearray(64)); sk = bio.seek; n = 'motion_start'", "sk(0); json.dump(n, bio)"),
    ("BytesIO.seek(0), bound", "import io; bio = io.BytesIO(bytearray(64)); sk = bio.seek", "sk(0)"),
    ("ThreadSafeFlag.set()", "f = asyncio.ThreadSafeFlag()", "f.set()"),
    ("array('i') item load", "from array import array; r = array('i', [5] * 8)", "r[3]"),
    ("array('i') item store", "from array import array; r = array('i', [5] * 8)", "r[3] = 7"),
    ("list item load", "r = [5] * 8", "r[3]"),
    ("o.x += 1", "o = O()", "o.x += 1"),
    ("int multiply", "a = 1200; b = 3", "a * b"),
    ("int shift", "a = 1200", "a >> 1"),
    ("int too big for a small int", "a = 1 << 29", "a + a"),
    ("if o.x: (attribute truth)", "o = O()", "if o.x:\n            pass"),
    ("Python call, 2 args, a big frame", "a = 1", "fbig(a, a)"),
    ("bytes.decode(), 10 bytes", "b = b'move 20000'", "b.decode()"),
    ("generator send (resume, yield)", "g = gn(); g.send(None)", "g.send(None)"),
    ("asyncio task queue push + pop", "q = TQ(); t = asyncio.create_task(co())", "q.push(t, 0); q.pop()"),
]

FIRMWARE = '''import sys
import time
import json
import asyncio
import machine
from machine import Pin, UART
import rp2
led = Pin(25, Pin.OUT, value=0)     # the run's time origin (outputs first)
g = 1


@rp2.asm_pio()
def drain():
    pull()


sm = rp2.StateMachine(0, drain, freq=125000000)     # takes a word a cycle: put never waits
sm.active(1)


class O:
    K = 3

    def __init__(self):
        self.x = 1

    def m(self):
        pass

    def m1(self, a):
        pass


def f():
    pass


def f2(a, b):
    pass


def fbig(a, b):
    """13 locals and a deep stack: its frame is on the heap (py/objfun.c
    VM_MAX_STATE_ON_STACK), allocated and freed by each call."""
    if a:
        return -1
    c = d = e = f_ = g_ = h = i = j = k = m = n = 0
    return c + d + e + f_ + g_ + h + i + j + k + m + n + b


def gn():
    while True:
        yield


async def co():
    pass


try:
    from _asyncio import TaskQueue as TQ
except ImportError:
    from asyncio.core import TaskQueue as TQ


def timed(body):
    t0 = time.ticks_us()
    body()
    return time.ticks_diff(time.ticks_us(), t0)

{cases}

async def spin(n):
    t0 = time.ticks_us()
    for _ in range(n):
        await asyncio.sleep_ms(0)
    return time.ticks_diff(time.ticks_us(), t0)


async def reader():
    await asyncio.StreamReader(sys.stdin).read(1)


async def spin_with_stdin(n):
    asyncio.create_task(reader())
    return await spin(n)


base = timed(case_0)
out = [round(base / {n}, 3)] + [round((timed(c) - base) / {n}, 3) for c in CASES[1:]]
for co in (spin, spin_with_stdin):                  # asyncio: the loop's round trip
    out.append(round(asyncio.run(co(ASYNC_N)) / ASYNC_N - base / {n}, 3))
print("OPS", out)
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
    return (FIRMWARE.replace("{cases}", text).replace("{n}", str(N))
            .replace("ASYNC_N", str(ASYNC_N)))


def boot_firmware(target, folder, duration_ms=400, raw=None):
    """Boot `folder` (a firmware of its own: main.py first lights nothing but configures
    the LED pin, the run's time origin) on a target for duration_ms; the run's result.
    raw: the scenario's other keys (config, serial, presses, subject_mm)."""
    orig = vp.prepare_flash

    def prepare(flash, cfg=None, firmware_dir=None, mpy=True):
        return orig(flash, cfg, firmware_dir=folder, mpy=mpy)

    vp.prepare_flash = prepare
    try:
        raw = dict(raw or {"subject_mm": [[0, 2000]]}, duration_ms=duration_ms)
        if target == "rp2040":
            from focusrig.rp2040 import runner
            return runner.run(scn.validate(raw))
        return vp.run(scn.validate(raw))
    finally:
        vp.prepare_flash = orig


def run_firmware(target, folder, tag, duration_ms=400, raw=None):
    """boot_firmware(); the value the firmware printed after `tag`."""
    res = boot_firmware(target, folder, duration_ms, raw)
    for line in res.raw_lines:
        if line.startswith(tag + " "):
            return ast.literal_eval(line[len(tag) + 1:])
    raise SystemExit(f"{target}: the benchmark printed nothing (last lines: {res.raw_lines[-3:]})")


def print_table(title, names, targets, cell):
    """A figure per row and target: cell(target, name) -> its text."""
    w = max(len(n) for n in names)
    print("== %s ==" % title)
    print(f"{'':{w}}  " + "  ".join(f"{t:>8}" for t in targets))
    for n in names:
        print(f"{n:{w}}  " + "  ".join(f"{cell(t, n):>8}" for t in targets))


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

    targets, figs = on_targets(__doc__, "cpu-ops-", fill, "OPS", duration_ms=5000)
    names = [o[0] for o in OPS] + ASYNC_OPS
    w = max(len(n) for n in names)
    print("== us per operation (an empty loop's iteration subtracted, but for the first row) ==")
    print(f"{'':{w}}  " + "  ".join(f"{t:>8}" for t in targets) + ("  rp2040/virtual" if len(targets) == 2 else ""))
    for i, n in enumerate(names):
        vals = [figs[t][i] for t in targets]
        ratio = f"  {vals[1] / vals[0]:.2f}" if len(vals) == 2 and vals[0] > 0 else ""
        print(f"{n:{w}}  " + "  ".join(f"{v:>8.2f}" for v in vals) + ratio)


if __name__ == "__main__":
    main()
