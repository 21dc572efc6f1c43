"""Real-time figures (issue 10) on both targets side by side: the virtual Pico and the
rp2040 target (the official MicroPython v1.28.0 UF2 on an emulated RP2040).

    python tools/bench_realtime.py                  both targets
    python tools/bench_realtime.py --target virtual one of them
    python tools/bench_realtime.py --only memory    one section (motion, servo, shutter, memory)

All figures are emulated or virtual time, never host time, so they repeat exactly on a
noisy host; the last column is rp2040 / virtual (the CPU model's calibration, issue 10 #5).

- motion: moves at max_speed 100,000 steps/s and accel 2,000,000 steps/s^2 (TMC2209
  timing): the step train's first-to-last span against the time-optimal profile's, FIFO
  underruns (from motion_stop), command -> first STEP; a servo run on a fast subject and
  an S-curve move;
- shutter: full press -> camera shutter line (PIO path, glitch_us 0);
- host link: the worst delay from an event's time stamp to its line reaching the host,
  over the runs with moves;
- CPU: busy fraction during the 20,000-step move (the move run against the same run
  without the move, plus the idle load) and idle (two runs without moves, 900 and 500 ms,
  differenced: the boot drops out);
- memory: heap after boot, allocation in steady servo + a 10 fps burst (status's
  mem_before_gc over 500 ms, less the status probe's own allocation: two windows), and
  the GC pause (status's gc_us).
"""

import argparse
import math
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "host_tools"))

from focusrig import scenario as scn, trace as trace_mod  # noqa: E402

FAST = {"max_speed": 100000, "accel": 2000000, "driver": "tmc2209"}
MOVES = [(300, 200), (400, 1000), (500, 20000)]      # (command at ms, distance)


def runner_for(target):
    if target == "rp2040":
        from focusrig.rp2040 import runner
    else:
        from focusrig.virtual_pico import runner
    return runner


CPU_SCALE = None       # --cpu-scale: the virtual Pico's CPU model scaled (calibration runs)


def run(target, raw):
    if CPU_SCALE is not None and target == "virtual":
        res = runner_for(target).run(scn.validate(raw), extra_setup={"cpu_scale": CPU_SCALE})
    else:
        res = runner_for(target).run(scn.validate(raw))
    return res, trace_mod.from_run(res)


def cmd(at, c):
    return {"at_ms": at, "cmd": c}


def opt_span(d, v, a):
    """First to last crossing of the time-optimal rest-to-rest profile (s)."""
    t = 2 * math.sqrt(d / a) if d <= v * v / a else d / v + v / a
    return t - 2 * math.sqrt(1.0 / a)          # crossings 0.5 after the start, before the end


def link_delay(res, t0_ms=0):
    """Worst event stamp -> host arrival (ms) for events stamped after t0_ms."""
    worst = 0.0
    for e, at in zip(res.events, res.arrivals):
        if at is None or "t" not in e or e["t"] < t0_ms * 1000:
            continue
        worst = max(worst, at / 1e6 - e["t"] / 1000)
    return worst


def busy(res, target):
    if target == "rp2040":
        return res.stats["cpu_load"]
    return res.stats["cpu_ns"] / res.stats["t_ns"]


def busy_ns(res, target):
    """CPU time the run's firmware used (ns of emulated or virtual time)."""
    return busy(res, target) * res.stats["t_ns"]


def motion(target, out):
    pos = 0
    serial = []
    for at, d in MOVES:
        pos += d
        serial.append(cmd(at, "move %d" % pos))
    raw = {"duration_ms": 900, "config": dict(FAST), "subject_mm": [[0, 2000]], "serial": serial}
    res, tr = run(target, raw)
    ups = tr.rising("step")
    starts, stops = res.ev("motion_start"), res.ev("motion_stop")
    for (at, d), st, sp in zip(MOVES, starts, stops):
        steps = [t for t in ups if at * 1e6 <= t <= sp["t"] * 1000 + 1]
        span = (steps[-1] - steps[0]) / 1e9
        out["move %d steps: span / optimal" % d] = span / opt_span(d, FAST["max_speed"], FAST["accel"])
        out["move %d steps: FIFO underruns" % d] = sp["underruns"]
        out["move %d steps: command -> first step (ms)" % d] = (steps[0] - at * 1e6) / 1e6
        out["move %d steps: lens at target" % d] = int(tr.value_at("lens_pos", sp["t"] * 1000 + 1)) == st["target"]
    out["host link: worst event delay during moves (ms)"] = link_delay(res, 250)
    # the 20,000-step move's own CPU: this run against the same run without it; the busy
    # fraction during it is that over its length plus the loop's idle load. Idle: two runs
    # with no moves, 900 and 500 ms, differenced, so the boot's CPU drops out. (Until
    # December 2026 "idle" was the run with the two short moves, boot included: 0.43 on
    # the rp2040 target.)
    two, _ = run(target, dict(raw, serial=serial[:2]))
    t_move = (stops[2]["t"] - starts[2]["t"]) / 1e6
    extra = busy_ns(res, target) - busy_ns(two, target)
    idle_l, _ = run(target, dict(raw, serial=[]))
    idle_s, _ = run(target, dict(raw, serial=[], duration_ms=500))
    idle = (busy_ns(idle_l, target) - busy_ns(idle_s, target)) / (
        idle_l.stats["t_ns"] - idle_s.stats["t_ns"])
    out["CPU busy during the 20000-step move"] = idle + extra / (t_move * 1e9)
    out["CPU busy, idle with LiDAR at 100 Hz"] = idle


def servo(target, out):
    raw = {"duration_ms": 1400, "config": dict(FAST, af_mode="servo"),
           "subject_mm": [[0, 4000], [300, 4000], [700, 600], [1000, 3000], [1400, 3000]],
           "presses": [{"input": "af_on", "at_ms": 200, "hold_ms": 1100}]}
    res, tr = run(target, raw)
    out["servo on a fast subject: FIFO underruns"] = sum(e["underruns"] for e in res.ev("motion_stop"))
    # from the AF-ON press on (its events are stamped 200.0 ms on one target and 200.1 on
    # the other: a window from 200 left them out on one only, 5.1 against 10.2 ms)
    out["servo: host link worst delay (ms)"] = link_delay(res, 199)
    raw = {"duration_ms": 700, "config": dict(FAST, jerk=2e9), "subject_mm": [[0, 2000]],
           "serial": [cmd(300, "move 5000")]}
    res, tr = run(target, raw)
    sp = res.ev("motion_stop")
    out["S-curve 5000-step move: FIFO underruns"] = sp[0]["underruns"] if sp else "no stop"
    steps = tr.rising("step")
    if sp and len(steps) == 5000:
        sys.path.insert(0, os.path.join(ROOT, "firmware"))
        from scurve import SCurve
        prof = SCurve(5000, FAST["max_speed"], FAST["accel"], 2e9)
        ideal = prof.time_at(4999.5) - prof.time_at(0.5)
        out["S-curve 5000-step move: span / profile's"] = (steps[-1] - steps[0]) / 1e9 / ideal
        out["S-curve 5000-step move: command -> first step (ms)"] = (steps[0] - 300e6) / 1e6


def shutter(target, out):
    presses = [300 + i * 200.37 for i in range(3)]
    raw = {"duration_ms": 1000, "config": {"glitch_us": 0}, "subject_mm": [[0, 2000]],
           "presses": [{"input": "shutter_full", "at_ms": at, "hold_ms": 60} for at in presses]}
    res, tr = run(target, raw)
    lat = [(t - at * 1e6) / 1000 for t, at in zip(tr.rising("cam_shutter"), presses)]
    out["full press -> shutter line, worst of 3 (us)"] = max(lat) if len(lat) == 3 else "missed"


def memory(target, out):
    raw = sports_after_boot()
    # allocation = the growth of mem_alloc between two status replies, which includes the
    # first reply's own line and the second command's parsing: two windows (10 ms and
    # 500 ms) with the same probe cost, and the rate from their difference
    raw["serial"] = [cmd(550, "status"), cmd(560, "status"), cmd(1060, "status"), cmd(1600, "status")]
    res, tr = run(target, raw)
    boot = res.ev("boot")[0]
    fw = boot["mem_alloc"]      # on the virtual Pico: the firmware's own heap (board/_vp_gc.py)
    out["heap after boot (bytes)"] = fw
    st = res.replies("status")
    if len(st) >= 3:
        d1 = st[1]["mem_before_gc"] - st[0]["mem_alloc"]
        d2 = st[2]["mem_before_gc"] - st[1]["mem_alloc"]
        dt = (st[2]["t"] - st[1]["t"] - (st[1]["t"] - st[0]["t"])) / 1e6
        out["allocation, servo + 10 fps burst (KB/s)"] = (d2 - d1) / dt / 1000
        out["allocation: one status probe (bytes)"] = d1
        out["GC pause, worst of status (us)"] = max(s["gc_us"] for s in st)


def sports_after_boot():
    """sports.json (servo + a 10 fps burst) with AF-ON pressed after boot on both targets
    (its 100 ms is before the rp2040 target's boot at ~155 ms, where it is a button held
    at boot and never starts the servo)."""
    import json
    with open(os.path.join(ROOT, "host_tools", "focusrig", "scenarios", "sports.json")) as f:
        raw = json.load(f)
    raw = {k: v for k, v in raw.items() if k not in ("name", "description")}
    raw["presses"] = [dict(p, at_ms=250, hold_ms=p["hold_ms"] - 150) if p["input"] == "af_on"
                      else p for p in raw["presses"]]
    return raw


SECTIONS = (motion, servo, shutter, memory)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target", choices=("virtual", "rp2040", "both"), default="both")
    ap.add_argument("--only", choices=[f.__name__ for f in SECTIONS], action="append",
                    help="run these sections only (repeatable)")
    ap.add_argument("--cpu-scale", type=float, help="the virtual Pico's CPU model times this "
                    "(calibration runs: docs/virtual_pico.md)")
    args = ap.parse_args()
    global CPU_SCALE
    CPU_SCALE = args.cpu_scale
    sections = [f for f in SECTIONS if not args.only or f.__name__ in args.only]
    targets = ["virtual", "rp2040"] if args.target == "both" else [args.target]
    figs = {}
    for target in targets:
        out = {}
        t0 = time.time()
        for section in sections:
            print(f"[{target}] {section.__name__} ...", file=sys.stderr, flush=True)
            try:
                section(target, out)
            except Exception as e:  # noqa: BLE001 - a target that cannot run is reported, not fatal
                out[section.__name__ + ": failed"] = str(e).splitlines()[0][:80]
        figs[target] = out
        print(f"[{target}] {time.time() - t0:.0f} s wall", file=sys.stderr)
    keys = []
    for out in figs.values():
        keys += [k for k in out if k not in keys]
    w = max(len(k) for k in keys)
    print("== issue 10: real-time figures (virtual / emulated time) ==")
    print(f"{'':{w}}  " + "  ".join(f"{t:>10}" for t in targets) + ("  rp2040/virtual" if len(targets) == 2 else ""))
    for k in keys:
        vals = [figs[t].get(k, "-") for t in targets]
        cells = [f"{v:>10.3f}" if isinstance(v, float) else f"{str(v):>10}" for v in vals]
        ratio = ""
        if len(vals) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals) and vals[0]:
            ratio = f"  {vals[1] / vals[0]:.2f}"
        print(f"{k:{w}}  " + "  ".join(cells) + ratio)


if __name__ == "__main__":
    main()
