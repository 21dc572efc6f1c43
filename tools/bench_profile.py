"""Where the firmware's CPU time goes, by method, on each target (issue 10: busy fraction).

    python tools/bench_profile.py                   idle with the LiDAR at 100 Hz, both targets
    python tools/bench_profile.py --case move       the fastest 20,000-step move
    python tools/bench_profile.py --case servo --target rp2040
    python tools/bench_profile.py --case sports     servo + a 10 fps burst (the allocation figure's)

The product's firmware with a main.py of its own: before the app is built it wraps the
methods listed in HOT (class attributes, so the bound methods the app keeps are the
wrapped ones) with a timer, runs the app as main.py would, and prints what each took
over a window of the run: microseconds per second of emulated (or virtual) time, calls
per second and microseconds per call. Times are inclusive (a method's callees and any
interrupt that preempted it are in its time); the wrappers allocate nothing, so the
refill IRQ's can run in a hard IRQ. A wrapper adds a Python call, two ticks_us() and
two counter updates to each call (~25 us on an RP2040), counted in its caller's time:
compare methods with each other, and a parent's figure with its own children's.
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

from bench_cpu_ops import on_targets, product_firmware  # noqa: E402

# (module, class, method, its parameters after self: the wrapper's own)
HOT = [
    ("app", "App", "step", ""),
    ("motion", "Motion", "service", ""),
    ("motion", "Motion", "_fill", "a, b"),
    ("motion", "Motion", "_on_tick", "a"),
    ("motion", "Motion", "_retire", "a"),
    ("motion", "Motion", "pos_now", "a=None"),
    ("planner", "Planner", "next_word", ""),
    ("protocol", "Clock", "update", "a"),
    ("protocol", "Out", "pump", ""),
    ("protocol", "Out", "event", "a, b=None, **k"),
    ("inputs", "Inputs", "dispatch", "a"),
    ("inputs", "Inputs", "settle", "a"),
    ("lidar", "Lidar", "poll", ""),
    ("focus", "FocusMachine", "on_reading", "a"),
    ("focus", "FocusMachine", "service", "a"),
    ("focus", "FocusMachine", "update_armed", ""),
    ("trigger", "Trigger", "service", "a"),
    ("trigger", "Trigger", "rearm", ""),
    ("features", "Features", "service", "a"),
    ("watchdog", "Watchdog", "service", "a"),
]

CASES = {
    # (config, serial commands, window start and length in ms)
    "idle": ({}, [], 400, 1000),
    "move": ({"max_speed": 100000, "accel": 2000000, "driver": "tmc2209"},
             [{"at_ms": 400, "cmd": "move 20000"}], 400, 260),
    "servo": ({"max_speed": 100000, "accel": 2000000, "driver": "tmc2209", "af_mode": "servo"},
              [], 400, 1000),
    # the scenario of bench_realtime's allocation figure: sports.json, servo + a 10 fps burst
    "sports": (None, [], 550, 500),
}

MAIN = '''import asyncio
import time
from array import array
import app
HOT = {hot!r}
T0, T = {t0}, {t}
ACC = array("i", bytes(4 * len(HOT)))
CNT = array("i", bytes(4 * len(HOT)))
tu = time.ticks_us
td = time.ticks_diff


{wrappers}

async def report():
    await asyncio.sleep_ms(max(0, T0 - time.ticks_diff(time.ticks_ms(), ORIGIN)))
    for i in range(len(HOT)):
        ACC[i] = 0
        CNT[i] = 0
    t0 = tu()
    await asyncio.sleep_ms(T)
    span = td(tu(), t0)
    print("PROF", [span] + [(ACC[i], CNT[i]) for i in range(len(HOT))])


async def main():
    asyncio.create_task(report())
    await a.run()

ORIGIN = time.ticks_ms()    # the run's time origin: App() drives its outputs first
a = app.App()
try:
    asyncio.run(main())
except Exception as e:      # noqa: BLE001 - said where the host looks for the figures
    print("PROF", repr(repr(e)))
'''


WRAPPER = """F{i} = {cls}.{meth}


def w{i}(s{comma}{params}):
    t = tu()
    r = F{i}(s{comma}{args})
    ACC[{i}] += td(tu(), t)
    CNT[{i}] += 1
    return r


{cls}.{meth} = w{i}
"""


def wrappers():
    """One plain function per method, its index a constant: a closure with more than five
    cells and arguments allocates its argument array on the heap (py/objclosure.c), which
    a hard IRQ (the refill timer's _fill and _push) cannot."""
    out = []
    for i, (mod, cls, meth, params) in enumerate(HOT):
        args = ", ".join(a.split("=")[0] for a in params.split(", ")) if params else ""
        out.append("from %s import %s\n" % (mod, cls) + WRAPPER.format(
            i=i, cls=cls, meth=meth, comma=", " if params else "", params=params, args=args))
    return "\n\n".join(out)


def sports_scenario():
    """sports.json with AF-ON pressed after the rp2040 target's boot (as bench_realtime)."""
    import json
    with open(os.path.join(ROOT, "host_tools", "focusrig", "scenarios", "sports.json")) as f:
        raw = json.load(f)
    raw = {k: v for k, v in raw.items() if k not in ("name", "description", "duration_ms")}
    raw["presses"] = [dict(p, at_ms=250, hold_ms=p["hold_ms"] - 150) if p["input"] == "af_on"
                      else p for p in raw["presses"]]
    return raw


def main():
    import argparse
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--case", choices=sorted(CASES), default="idle")
    args, rest = ap.parse_known_args()
    sys.argv[1:] = rest
    cfg, serial, t0, t = CASES[args.case]

    def fill(folder):
        product_firmware(folder, MAIN.format(hot=[h[:3] for h in HOT], t0=t0, t=t,
                                             wrappers=wrappers()))

    raw = {"subject_mm": [[0, 2000]], "config": cfg, "serial": serial}
    if args.case == "sports":
        from bench_realtime import sports_after_boot
        raw = {k: v for k, v in sports_after_boot().items() if k != "duration_ms"}
    if args.case == "servo":
        raw["presses"] = [{"input": "af_on", "at_ms": 300, "hold_ms": 1200}]
        raw["subject_mm"] = [[0, 4000], [500, 4000], [900, 600], [1200, 3000], [1500, 3000]]
    targets, figs = on_targets(__doc__, "profile-", fill, "PROF", duration_ms=t0 + t + 300,
                               raw=raw)
    for tg in targets:
        if isinstance(figs[tg], str):
            raise SystemExit(f"{tg}: the profiled firmware stopped: {figs[tg]}")
    names = ["%s.%s" % (h[1], h[2]) for h in HOT]
    w = max(len(n) for n in names)
    print(f"== {args.case}: us of CPU per second (inclusive), calls per second, us per call ==")
    print(f"{'':{w}}  " + "  ".join(f"{tg + ' us/s':>13} {'calls/s':>8} {'us/call':>8}"
                                     for tg in targets)
          + ("  rp2040/virtual" if len(targets) == 2 else ""))
    for i, n in enumerate(names):
        cells, per = [], []
        for tg in targets:
            span = figs[tg][0] / 1e6
            us, cnt = figs[tg][i + 1]
            per.append(us / span)
            cells.append(f"{us / span:>13.0f} {cnt / span:>8.0f} {us / cnt if cnt else 0:>8.1f}")
        ratio = f"  {per[1] / per[0]:.2f}" if len(per) == 2 and per[0] > 0 else ""
        print(f"{n:{w}}  " + "  ".join(cells) + ratio)


if __name__ == "__main__":
    main()
