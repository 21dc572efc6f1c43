"""Measure the two serial figures on the virtual Pico (`focusrig emulate`):

1. deploy: wall time from starting `focusrig deploy --port PTY` to the firmware answering
   `version` (what `deploy` itself reports), for a blank flash, an unchanged re-deploy and
   --mpy;
2. monitor throughput: button presses are played onto the virtual Pico at rising rates
   while `focusrig monitor --json` reads; a rate counts when every press / release event
   arrived and no line was reported lost. Prints the highest such rate in events/s.

usage: .venv/bin/python tools/bench_serial.py [--rates 200,500,1000,2000] [--seconds 2]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
FOCUSRIG = os.path.join(BIN, "focusrig")


def start_emulator(flash, ctl):
    p = subprocess.Popen([FOCUSRIG, "emulate", "--flash", flash, "--no-keys", "--quiet",
                          "--control", ctl], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    path = p.stdout.readline().decode().strip()
    if not path.startswith("/dev/"):
        p.kill()
        raise SystemExit("emulate did not print a device path")
    return p, path


def deploy(port, *extra):
    t0 = time.monotonic()
    r = subprocess.run([FOCUSRIG, "deploy", "--port", port, *extra], capture_output=True, text=True)
    wall = time.monotonic() - t0
    if r.returncode:
        raise SystemExit("deploy failed: " + r.stderr.strip())
    m = re.search(r"answered ([\d.]+) s", r.stdout)
    return wall, float(m.group(1)) if m else None


def throughput(port, ctl, rate, seconds):
    """rate: events/s wanted (one press = press + release event)."""
    presses = int(rate * seconds / 2)
    period = 2000.0 / rate                         # ms between press starts
    hold = period / 2
    mon = subprocess.Popen([FOCUSRIG, "monitor", "--port", port, "--json",
                            "--duration", str(seconds + 2.0)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # wait until the monitor has the port open
    line = mon.stderr.readline()
    if "waiting for events" not in line:
        raise SystemExit("monitor did not start: " + line)
    lines = [f"press shutter_half {hold:.3f} 0 {300 + i * period:.3f}\n" for i in range(presses)]
    with open(ctl, "a") as f:
        f.write("".join(lines))
    out, err = mon.communicate(timeout=seconds + 20)
    ev = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    got = [e for e in ev if e.get("ev") in ("press", "release") and e.get("input") == "shutter_half"]
    lost = sum(int(e.get("lost", 0)) for e in ev)
    span = (got[-1]["t"] - got[0]["t"]) / 1e6 if len(got) > 1 else 0.0
    total = len(ev)
    return {"rate_wanted": rate, "expected": 2 * presses, "received": len(got), "lines": total,
            "lost": lost, "span_s": span,
            "events_per_s": (len(got) - 1) / span if span > 0 else 0.0}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rates", default="200,500,1000,2000,4000")
    ap.add_argument("--seconds", type=float, default=2.0)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="bench-serial-")
    flash = os.path.join(work, "flash")
    ctl = os.path.join(work, "buttons.ctl")
    emu, port = start_emulator(flash, ctl)
    try:
        w1, a1 = deploy(port)
        w2, a2 = deploy(port)
        w3, a3 = deploy(port, "--mpy")
        w4, a4 = deploy(port)                    # back to source
        print(f"deploy to answer (virtual Pico): blank flash {a1:.2f} s (process wall {w1:.2f} s), "
              f"unchanged {a2:.2f} s ({w2:.2f} s), --mpy {a3:.2f} s ({w3:.2f} s), back to .py {a4:.2f} s")
        r = subprocess.run([FOCUSRIG, "config", "set", "debounce_ms", "0", "--port", port],
                           capture_output=True, text=True)
        if r.returncode:
            raise SystemExit("config set failed: " + r.stderr.strip())
        best = None
        for rate in [int(x) for x in a.rates.split(",")]:
            res = throughput(port, ctl, rate, a.seconds)
            ok = res["received"] == res["expected"] and res["lost"] == 0
            print(f"  {rate:5d} events/s wanted: {res['received']}/{res['expected']} received, "
                  f"lost {res['lost']}, measured {res['events_per_s']:.0f} events/s  {'ok' if ok else 'LOSS'}")
            if ok:
                best = res
            time.sleep(0.5)
        if best:
            print(f"monitor sustains {best['events_per_s']:.0f} events/s with no loss "
                  f"({best['received']} events over {best['span_s']:.2f} s)")
        subprocess.run([FOCUSRIG, "config", "reset", "--port", port], capture_output=True)
    finally:
        emu.terminate()
        try:
            emu.wait(5)
        except subprocess.TimeoutExpired:
            emu.kill()


if __name__ == "__main__":
    main()
