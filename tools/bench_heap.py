"""What each firmware module costs in heap on each target (issue 10: heap after boot).

    python tools/bench_heap.py                      both targets (about 30 s)
    python tools/bench_heap.py --target rp2040

A firmware of its own (the product's modules, with a main.py that imports them one at a
time in the order app.py needs them) prints gc.mem_alloc() growth per import, after a
collection: the module's bytecode (the official UF2 has no ROMFS, so `.mpy` code is
loaded into RAM), its constants and whatever it builds at import, plus any module it
imports that was not loaded yet. Then the lazily imported ones (S-curve, stacking).
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

from bench_cpu_ops import on_targets, print_table, product_firmware  # noqa: E402

ORDER = ("asyncio", "pins", "waits", "version", "config", "ramp", "planner", "stepgen",
         "pio_step", "pio_shutter", "motion", "lenscal", "lidar", "inputs", "trigger", "dof",
         "groupfocus", "focus", "protocol", "commands", "homing", "features", "watchdog",
         "app", "smove", "scurve", "stacking")

MAIN = '''import gc
from machine import Pin
led = Pin(25, Pin.OUT, value=0)     # the run's time origin (outputs first)
gc.collect()
out = [("(interpreter and this main.py)", gc.mem_alloc())]
for m in %r:
    gc.collect()
    a = gc.mem_alloc()
    __import__(m)
    gc.collect()
    out.append((m, gc.mem_alloc() - a))
print("HEAP", out)
import time
while True:
    time.sleep_ms(1000)
'''


def main():
    def fill(folder):
        product_firmware(folder, MAIN % (ORDER,))

    targets, figs = on_targets(__doc__, "heap-", fill, "HEAP", duration_ms=3000)
    figs = {t: dict(v) for t, v in figs.items()}
    names = list(next(iter(figs.values())))
    boot = [n for n in names if n not in ("smove", "scurve", "stacking")]
    for t in targets:
        figs[t]["sum at boot (modules only)"] = sum(figs[t].get(n, 0) for n in boot)
    print_table("heap per module, bytes (gc.mem_alloc() after a collection)",
                names + ["sum at boot (modules only)"], targets,
                lambda t, n: figs[t].get(n, 0))


if __name__ == "__main__":
    main()
