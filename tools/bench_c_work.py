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

from bench_cpu_ops import boot_firmware, print_table, product_firmware  # noqa: E402

BASE = """import time
from machine import Pin
led = Pin(25, Pin.OUT, value=0)     # the run's time origin (outputs first)
time.ticks_us()                     # (the virtual Pico's CPU model starts here)
"""
CASES = {  # (the loops' own cost is subtracted from the UART's and the USB's below)
    "idle": BASE + "while True:\n    time.sleep_ms(1000)\n",
    "uart": BASE + ("from machine import UART\nimport pins\n"
                    "u = UART(pins.LIDAR_UART, pins.LIDAR_BAUD, tx=Pin(pins.LIDAR_TX), "
                    "rx=Pin(pins.LIDAR_RX), rxbuf=1024)\n"
                    "while True:\n    time.sleep_ms(5)\n    if u.any() > 900:\n        u.read()\n"),
    "loop 5 ms": BASE + "while True:\n    time.sleep_ms(5)\n    if len(b'x') > 900:\n        pass\n",
    "usb": BASE + ("import sys\nw = sys.stdout.buffer.write\nline = b'x' * 63 + b'\\n'\n"
                   "while True:\n    time.sleep_ms(10)\n    w(line)\n"),
    "loop 10 ms": BASE + ("w = len\nline = b'x' * 63 + b'\\n'\n"
                          "while True:\n    time.sleep_ms(10)\n    w(line)\n"),
}


def busy(target, main, ms=2000):
    folder = tempfile.mkdtemp(prefix="c-work-")
    try:
        product_firmware(folder, main)
        st = boot_firmware(target, folder, ms).stats
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return st["cpu_load"] if target == "rp2040" else st["cpu_ns"] / st["t_ns"]


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
    print_table("CPU busy (share of the run), and C work over its loop",
                list(next(iter(figs.values()))), targets, lambda t, n: "%.4f" % figs[t][n])


if __name__ == "__main__":
    main()
