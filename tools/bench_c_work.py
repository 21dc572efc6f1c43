"""CPU load of work that is C only on a Pico, on each target: the CPU model's data for
UART receive interrupts, USB serial writes and time.sleep_ms() (board/_vp_cpu.py
UART_RX_IRQ, USB_TX_PACKET, BODIES).

    python tools/bench_c_work.py                    both targets (about 2 min)
    python tools/bench_c_work.py --target virtual

Five tiny firmwares (the product's modules beside them, for pins.py), 2 s each: idle; a
loop sleeping 5 ms and asking UART.any() with the LiDAR streaming at 100 Hz into it, and
the same loop without the UART; a loop writing a 64-byte line to the USB serial every
10 ms, and the same loop without the write. It prints the share of the run the CPU was
busy (`stats["cpu_load"]` on the rp2040 target, charged time on the virtual Pico) and
what the UART and the USB cost over their loops, in ms per second.
"""

import argparse
import os
import shutil
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "host_tools"))

from bench_cpu_ops import product_firmware  # noqa: E402
from focusrig import scenario as scn  # noqa: E402
from focusrig.virtual_pico import runner as vp  # noqa: E402

BASE = """import time
from machine import Pin
led = Pin(25, Pin.OUT, value=0)     # the run's time origin (outputs first)
time.ticks_us()                     # (the virtual Pico's CPU model starts here)
"""
CASES = {
    "idle": BASE + "while True:\n    time.sleep_ms(1000)\n",
    "uart": BASE + ("from machine import UART\nimport pins\n"
                    "u = UART(pins.LIDAR_UART, pins.LIDAR_BAUD, tx=Pin(pins.LIDAR_TX), "
                    "rx=Pin(pins.LIDAR_RX), rxbuf=1024)\n"
                    "while True:\n    time.sleep_ms(5)\n    if u.any() > 900:\n        u.read()\n"),
    "loop 5 ms": BASE + "n = 0\nwhile True:\n    time.sleep_ms(5)\n    if len(BASE_) > 900:\n        pass\n",
    "usb": BASE + ("import sys\nw = sys.stdout.buffer.write\nline = b'x' * 63 + b'\\n'\n"
                   "while True:\n    time.sleep_ms(10)\n    w(line)\n"),
    "loop 10 ms": BASE + ("w = len\nline = b'x' * 63 + b'\\n'\n"
                          "while True:\n    time.sleep_ms(10)\n    w(line)\n"),
}
CASES["loop 5 ms"] = CASES["loop 5 ms"].replace("BASE_", "b'x'")


def busy(target, main, ms=2000):
    folder = tempfile.mkdtemp(prefix="c-work-")
    orig = vp.prepare_flash
    try:
        product_firmware(folder, main)
        vp.prepare_flash = (lambda flash, cfg=None, firmware_dir=None, mpy=True:
                            orig(flash, cfg, firmware_dir=folder, mpy=mpy))
        raw = scn.validate({"subject_mm": [[0, 2000]], "duration_ms": ms})
        if target == "rp2040":
            from focusrig.rp2040 import runner
            return runner.run(raw).stats["cpu_load"]
        st = vp.run(raw).stats
        return st["cpu_ns"] / st["t_ns"]
    finally:
        vp.prepare_flash = orig
        shutil.rmtree(folder, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target", choices=("virtual", "rp2040", "both"), default="both")
    args = ap.parse_args()
    targets = ["virtual", "rp2040"] if args.target == "both" else [args.target]
    figs = {}
    for t in targets:
        print(f"[{t}] ...", file=sys.stderr, flush=True)
        figs[t] = {k: busy(t, m) for k, m in CASES.items()}
        f = figs[t]
        f["UART over its loop (ms/s)"] = (f["uart"] - f["loop 5 ms"]) * 1000
        f["USB over its loop (ms/s)"] = (f["usb"] - f["loop 10 ms"]) * 1000
    names = list(next(iter(figs.values())))
    w = max(len(n) for n in names)
    print("== CPU busy (share of the run), and C work over its loop ==")
    print(f"{'':{w}}  " + "  ".join(f"{t:>8}" for t in targets))
    for n in names:
        print(f"{n:{w}}  " + "  ".join(f"{figs[t][n]:>8.4f}" for t in targets))


if __name__ == "__main__":
    main()
