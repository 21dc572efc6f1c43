"""What single operations allocate on each target: the heap model's calibration data.

    python tools/bench_alloc.py                     both targets (about 20 s)
    python tools/bench_alloc.py --target virtual

A tiny firmware of its own repeats each operation N times with the collector off (its
set-up done first) and prints the growth of gc.mem_alloc() per operation, in bytes (16-byte blocks, as py/gc.c
counts them). On the virtual Pico gc.mem_alloc() is the firmware's heap as the CPU model
accounts it (board/_vp_gc.py: what the firmware's own code allocated, not the board
model's): a row that differs is an allocation the model gives the firmware and a Pico
does not, or the other way round. The product's steady servo + burst (issue 10, goal 4)
is made of these operations: bench_realtime's allocation figure is their sum.
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

from bench_cpu_ops import on_targets, print_table  # noqa: E402

N = 50
# (name, set-up lines, the operation)
OPS = [
    ("nothing (a loop)", "", "pass"),
    ("float add", "x = 1.5; y = 2.5", "x + y"),
    ("small tuple (a, a)", "a = 1", "(a, a)"),
    ("empty list []", "", "[]"),
    ("bound method o.m", "o = O()", "o.m"),
    ("call with **kw", "", "kw(a=1, b=2)"),
    ("big frame call", "a = 1", "fbig(a, a)"),
    ("raise + except", "e = ValueError()",
     "e.__traceback__ = None\n        try:\n            raise e\n        except ValueError:\n            pass"),
    ("bytes.decode(), 10 bytes", "b = b'move 20000'", "b.decode()"),
    ("str.split, a command line", "t = 'move 1200'", "t.split()"),
    ("'%d' % int", "a = 1200", "'%d' % a"),
    ("json.dump(dict) to BytesIO", "bio = io.BytesIO(bytearray(64)); d = {'pos': 1200}", "bio.seek(0); json.dump(d, bio)"),
    ("json.loads, a move command", "t = '{\"cmd\": \"move\", \"to\": 1200}'", "json.loads(t)"),
    ("BytesIO.readinto(buf, n)", "bio = io.BytesIO(bytearray(64)); buf = bytearray(64)", "bio.seek(0); bio.readinto(buf, 32)"),
    ("select.poll().poll(0), stdout", "p = select.poll(); p.register(out, select.POLLOUT)", "p.poll(0)"),
    ("stdout.write(buf, off, n)", "buf = bytearray(b' ' * 31 + b'\\n')", "out.write(buf, 0, 32)"),
    ("UART.any()", "u = UART(1, 115200)", "u.any()"),
    ("UART.readinto(buf) (empty)", "u = UART(1, 115200); buf = bytearray(9)", "u.readinto(buf)"),
    ("UART.read(9) (empty)", "u = UART(1, 115200)", "u.read(9)"),
    ("StateMachine.put(0)", "s = sm", "s.put(0)"),
    ("Pin.value()", "p = Pin(2, Pin.IN, Pin.PULL_UP)", "p.value()"),
    ("time.ticks_us()", "", "time.ticks_us()"),
    ("Timer.init(one shot)", "t = Timer(-1)", "t.init(mode=Timer.ONE_SHOT, period=1000, callback=cb)"),
    ("micropython.schedule", "", "micropython.schedule(cb, None)\n        sched_drain()"),
    ("ThreadSafeFlag.set()", "f = asyncio.ThreadSafeFlag()", "f.set()"),
    ("array('i', 4) item store", "from array import array; r = array('i', [0] * 4)", "r[1] = 70000"),
    ("disable_irq + enable_irq", "", "machine.enable_irq(machine.disable_irq())"),
]

FIRMWARE = '''import gc
import io
import json
import select
import sys
import time
import asyncio
import machine
import micropython
from machine import Pin, UART, Timer
import rp2
led = Pin(25, Pin.OUT, value=0)     # the run's time origin (outputs first)
out = getattr(sys.stdout, "buffer", sys.stdout)


@rp2.asm_pio()
def drain():
    pull()


sm = rp2.StateMachine(0, drain, freq=125000000)
sm.active(1)


class O:
    def __init__(self):
        self.x = 1

    def m(self):
        pass


def kw(**k):
    pass


def fbig(a, b):
    if a:
        return -1
    c = d = e = f_ = g_ = h = i = j = k = m = n = 0
    return c + d + e + f_ + g_ + h + i + j + k + m + n + b


def cb(_):
    pass


def sched_drain():
    pass            # the scheduled callback runs at the next bytecodes' pending check


def start():
    gc.collect()
    gc.disable()
    return gc.mem_alloc()


def end(a):
    b = gc.mem_alloc()
    gc.enable()
    return b - a

{cases}

base = case_0()
print("ALLOC", [round((c() - base) / {n}, 1) for c in CASES])
while True:
    time.sleep_ms(1000)
'''


def firmware():
    cases = []
    for i, (_, setup, op) in enumerate(OPS):
        lines = ["def case_%d():" % i]
        if setup:
            lines.append("    " + setup)     # not measured (a UART's ring buffers ...)
        lines += ["    a = start()", "    for _ in range(%d):" % N, "        " + op, "    return end(a)"]
        cases.append("\n".join(lines) + "\n")
    text = "\n\n".join(cases) + "\n\nCASES = [%s]\n" % ", ".join("case_%d" % i for i in range(len(OPS)))
    return FIRMWARE.replace("{cases}", text).replace("{n}", str(N))


def main():
    def fill(folder):
        with open(os.path.join(folder, "main.py"), "w") as f:
            f.write(firmware())

    targets, figs = on_targets(__doc__, "alloc-", fill, "ALLOC", duration_ms=3000)
    names = [o[0] for o in OPS]
    print_table("bytes allocated per operation (gc.mem_alloc(), the collector off; "
                "a loop's own subtracted)", names, targets,
                lambda t, n: "%.1f" % figs[t][names.index(n)])


if __name__ == "__main__":
    main()
