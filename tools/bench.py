"""Measured figures for the closing notes, all on the virtual Pico and from its traces.

    python tools/bench.py core       issue 2: latency, one-shot, servo, memory, speed
    python tools/bench.py motion     issue 3: move time / optimal, interval error,
                                     pulse widths per driver, stacking run
    python tools/bench.py cpu        issue 3: firmware CPU per 1000 steps vs a naive
                                     Timer-callback stepper (host us, MicroPython)
    python tools/bench.py all

Virtual-time figures are exact and repeatable; host-time figures (speed, CPU) depend on
the machine and are printed with what they were measured on.
"""

import math
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "host_tools"))
sys.path.insert(0, os.path.join(ROOT, "firmware"))

from focusrig import analysis, scenario as scn, trace as trace_mod  # noqa: E402
from focusrig.virtual_pico import runner  # noqa: E402


def run(raw, **kw):
    s = scn.validate(raw)
    res = runner.run(s, **kw)
    return res, trace_mod.from_run(res)


def press(inp, at, hold, bounce=0):
    return {"input": inp, "at_ms": at, "hold_ms": hold, "bounce_ms": bounce}


# ---- issue 2 ----------------------------------------------------------------------------
def core():
    print("== issue 2: core figures (virtual time) ==")
    lat = []
    for seed in range(20):
        res, tr = run({"duration_ms": 300, "seed": seed, "subject_mm": [[0, 2000]],
                       "presses": [press("shutter_full", 100 + seed * 0.37, 50)]})
        lat.append((tr.rising("cam_shutter")[0] - (100 + seed * 0.37) * 1e6) / 1000)
    print(f"full press -> cam_shutter: min {min(lat) * 1000:.0f} ns, max {max(lat) * 1000:.0f} ns, "
          f"mean {sum(lat) / len(lat) * 1000:.0f} ns over 20 presses (PIO shutter; the IRQ "
          f"handler stamps the press 20-25 us + its bytecodes later)")
    res, tr = run({"duration_ms": 800, "config": {"lens_cal": [[1000, 1000], [2000, 500]]},
                   "subject_mm": [[0, 1000]], "presses": [press("af_on", 100, 50)]})
    ach = res.ev("af_achieved")[0]
    t_last = tr.rising("step")[-1]
    print(f"one-shot 1000-step move (20000 steps/s, 100000 steps/s^2): focus achieved "
          f"{ach['ms']:.1f} ms after AF-ON (time-optimal 200 ms; includes 1 ms driver wake), "
          f"last step at {(t_last - 100e6) / 1e6:.2f} ms; lens {tr.value_at('lens_pos', 700e6)} "
          f"vs target 1000")
    raw = {"duration_ms": 1600, "config": {"af_mode": "servo"},
           "subject_mm": [[0, 4000], [200, 4000], [1200, 1000], [1600, 1000]],
           "presses": [press("af_on", 100, 1400)]}
    res, tr = run(raw)
    cal = res.scenario["config_full"]["lens_cal"]
    for a, b, what in ((300, 1200, "approach after 100 ms of tracking"), (200, 1200, "whole approach")):
        mx, rms = analysis.tracking_error(tr, cal, res.scenario["subject_mm"], a * 1e6, b * 1e6)
        print(f"servo 4 m -> 1 m in 1 s, {what} ({a}-{b} ms): max error {mx:.1f} steps, "
              f"RMS {rms:.2f} steps, direction reversals {analysis.direction_reversals(tr, 250e6, 1200e6)}")
    boot = res.ev("boot")[0]
    fw = boot["mem_alloc"]      # the board's gc (board/_vp_gc.py) counts the firmware's heap only
    print(f"firmware heap after boot: {fw} bytes ({fw / 1024:.1f} KiB) on the virtual Pico "
          f"(v1.28.0, 32-bit objects; gc.mem_alloc() in the boot event, minus the virtual board's "
          f"own {res.stats['sim_mem_alloc']} bytes and the block that sizes the heap as a Pico's); "
          f"free {boot['mem_free']} bytes")
    res, tr = run(_load_raw("sports"), extra_setup={"alloc_probe": [600, 1100]})
    p = res.stats["alloc_probe"]
    print(f"allocation in steady servo + 10 fps burst (600-1100 ms): firmware "
          f"{p['firmware_bytes_per_s'] / 1024:.0f} KiB/s ({p['firmware_bytes']} bytes in {p['seconds']:.1f} s); "
          f"in hard IRQs: 0 (heap locked, {res.stats['irqs']} IRQs ran, "
          f"{res.stats['irq_alloc_errors']} allocation errors)")
    tot_v = tot_w = 0.0
    for name in ("portrait", "sports", "halfpress", "bouncy"):
        s = scn.load(os.path.join(ROOT, "host_tools/focusrig/scenarios", name + ".json"))
        best = min(runner.run(s).wall_s for _ in range(3))
        tot_v += s["duration_ms"] / 1000
        tot_w += best
        print(f"  {name}: {s['duration_ms'] / 1000:.1f} virtual s in {best:.3f} wall s "
              f"= {s['duration_ms'] / 1000 / best:.1f}x")
    print(f"virtual Pico speed on the demo: {tot_v / tot_w:.1f} virtual s per wall s "
          f"(best of 3, process start included, {os.cpu_count()} cores)")


def _load_raw(name):
    import json
    with open(os.path.join(ROOT, "host_tools/focusrig/scenarios", name + ".json")) as f:
        return json.load(f)


# ---- issue 3 ----------------------------------------------------------------------------
def ideal_step_times(d, v, a):
    """Step k (1..d) of a rest-to-rest trapezoid happens when the position crosses
    k - 0.5: returns those times (s)."""
    da = v * v / (2 * a)
    out = []
    for k in range(1, d + 1):
        x = k - 0.5
        if d <= v * v / a:
            half = d / 2
            t = math.sqrt(2 * x / a) if x <= half else 2 * math.sqrt(d / a) - math.sqrt(2 * (d - x) / a)
        else:
            ta = v / a
            if x <= da:
                t = math.sqrt(2 * x / a)
            elif x <= d - da:
                t = ta + (x - da) / v
            else:
                T = d / v + v / a
                t = T - math.sqrt(2 * (d - x) / a)
        out.append(t)
    return out


def motion():
    from planner import optimal_time
    print("== issue 3: motion figures (measured from the VCD step train) ==")
    settings = ((20000, 100000), (100000, 400000))
    cyc_ns = 8.0
    for v, a in settings:
        print(f"max_speed {v} steps/s, accel {a} steps/s^2 (driver a4988):")
        for d in (200, 1000, 5000, 20000, 100000):
            t_opt = optimal_time(d, v, a)
            dur = 300 + 1000 * (t_opt + 0.1)
            res, tr = run({"duration_ms": dur, "config": {"max_speed": v, "accel": a},
                           "serial": [{"at_ms": 10, "cmd": "move 1"}, {"at_ms": 100, "cmd": "move %d" % (d + 1)}]})
            steps = [t for t in tr.rising("step") if t > 100e6]
            assert len(steps) == d, (len(steps), d)
            t_cmd = 100e6
            # arrival: the last step plus the half step the profile still travels to rest
            measured = (steps[-1] - t_cmd) / 1e9 + math.sqrt(1.0 / a)
            ideal = ideal_step_times(d, v, a)
            err = 0.0
            for k in range(1, d):
                iv = (steps[k] - steps[k - 1]) / 1e9
                ii = ideal[k] - ideal[k - 1]
                err = max(err, abs(iv - ii))
            tmax = max(abs((steps[k] - t_cmd) / 1e9 - ideal[k]) for k in range(d))
            rate = 1e9 / min(b - a_ for a_, b in zip(steps, steps[1:]))
            print(f"  {d:>6} steps: {measured * 1000:9.2f} ms / optimal {t_opt * 1000:9.2f} ms = "
                  f"{measured / t_opt:.4f}; steps {len(steps)} = position change "
                  f"{res.stats['lens_pos'] - 1}; max rate {rate:.0f}/s; "
                  f"largest interval error {err * 1e9 / cyc_ns:.0f} PIO cycles "
                  f"({err * 1e6:.2f} us), largest step-time error {tmax * 1e6:.2f} us")
    print("shortest STEP pulse / DIR setup seen in the VCD, per driver preset (reversing moves):")
    for drv in ("a4988", "drv8825", "tmc2209"):
        res, tr = run({"duration_ms": 900, "config": {"driver": drv, "max_speed": 50000, "accel": 500000},
                       "serial": [{"at_ms": 10, "cmd": "move 3000"}, {"at_ms": 40, "cmd": "move -500"}]})
        hi = min(f - r for r, f in zip(tr.rising("step"), tr.falling("step")))
        dirs = [t for t, _ in tr.changes("dir")[1:]]
        setups = []
        st = tr.rising("step")
        for t in dirs:
            nxt = [s for s in st if s > t]
            if nxt:
                setups.append(nxt[0] - t)
        print(f"  {drv:8s}: STEP high {hi} ns, DIR setup {min(setups)} ns, driver timing faults "
              f"{res.stats['driver_faults']}")
    print("focus stack run:")
    res, tr = run({"duration_ms": 3000,
                   "config": {"stack_near": 400, "stack_far": 600, "stack_step": 50, "settle_ms": 200,
                              "stack_shots": 1, "shutter_pulse_ms": 50},
                   "serial": [{"at_ms": 10, "cmd": "stack start"}]})
    steps = tr.rising("step")
    for i, s in enumerate(tr.rising("cam_shutter")):
        last = max(t for t in steps if t < s)
        print(f"  exposure {i + 1}: at {s / 1e6:8.2f} ms, lens {tr.value_at('lens_pos', s)}, "
              f"last step {last / 1e6:8.2f} ms, settled {(s - last) / 1e6:.2f} ms before the exposure")
    print(f"  returned to {res.stats['lens_pos']} (start 0); stack_done events {len(res.ev('stack_done'))}")


CPU_BENCH = r'''
import sys, gc
sys.path.insert(0, BOARD)
from _vp_kernel import K
import time as vt
import machine, rp2
import stepgen, motion, app
from time import _real_time_ns as wall
cfg = app.config.DEFAULTS.copy()
cfg["max_speed"] = SPEED
cfg["accel"] = 200000
timing, wake = app.driver_timing(cfg, 125000000)
gen = stepgen.StepGen(0, machine.Pin(16, machine.Pin.OUT), machine.Pin(17, machine.Pin.OUT),
                      machine.Pin(18, machine.Pin.OUT), 0, 125000000, timing)
cfg["_wake_us"] = wake
m = motion.Motion(gen, cfg, lambda name, **kw: None)
# firmware: time spent in Motion.service() (planning + word packing), the PIO engine's
# own catching-up inside sm.put() is the board's and is subtracted
put = rp2.StateMachine.put
txf = rp2.StateMachine.tx_fifo
spent_put = [0]
def timed_put(self, v, shift=0):
    t0 = wall(); put(self, v, shift); spent_put[0] += wall() - t0
def timed_txf(self):
    t0 = wall(); r = txf(self); spent_put[0] += wall() - t0
    return r
rp2.StateMachine.put = timed_put
rp2.StateMachine.tx_fifo = timed_txf
N = STEPS
m.move_to(N)
fw = 0
calls = [0]
segs = [0]
ns = m.plan.next_word
def cnt():
    segs[0] += 1
    return ns()
m.plan.next_word = cnt
while True:
    calls[0] += 1
    t0 = wall(); w = m.service(); fw += wall() - t0
    if not m.moving:
        break
    K.sleep_ns(max(w, 1) * 1000000)
fw -= spent_put[0]
steps_fw = m.pos_now()
print("CALLS", calls[0], "SEGS", segs[0])
# naive baseline: a machine.Timer callback at the step rate toggles STEP (what a CPU-timed
# stepper does); time spent in the callbacks only
step = machine.Pin(16, machine.Pin.OUT)
count = [0]
spent = [0]
def cb(t):
    t0 = wall()
    step.value(1)
    step.value(0)
    count[0] += 1
    if count[0] >= N:
        tim.deinit()
    spent[0] += wall() - t0
tim = machine.Timer(freq=SPEED, callback=cb)   # soft, the default (time_ns would allocate in a hard one)
while count[0] < N:
    K.sleep_ns(10000000)
print("RESULT", steps_fw, fw / 1000, count[0], spent[0] / 1000)
'''


def cpu():
    print("== issue 3: CPU time per 1000 steps, firmware vs naive Timer stepper ==")
    board = os.path.join(ROOT, "host_tools/focusrig/virtual_pico/board")
    for speed, steps in ((5000, 20000), (20000, 40000)):
        src = CPU_BENCH.replace("BOARD", repr(board)).replace("SPEED", str(speed)).replace("STEPS", str(steps))
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
            f.write(src)
        env = dict(os.environ, MICROPYPATH=".frozen:" + os.path.join(ROOT, "firmware"))
        r = subprocess.run([os.path.join(os.path.dirname(sys.executable), "micropython"), "-X", "heapsize=8M", f.name],
                           capture_output=True, text=True, env=env, cwd=tempfile.gettempdir())
        os.unlink(f.name)
        calls = [x.split() for x in r.stdout.splitlines() if x.startswith("CALLS")]
        if calls:
            print(f"    ({calls[0][3]} PIO words for {steps} steps, {calls[0][1]} service calls)")
        line = [x for x in r.stdout.splitlines() if x.startswith("RESULT")]
        if not line:
            print("  failed:", r.stdout[-500:], r.stderr[-1500:])
            continue
        _, n_fw, us_fw, n_nv, us_nv = line[0].split()
        fw = float(us_fw) / int(n_fw) * 1000
        nv = float(us_nv) / int(n_nv) * 1000
        print(f"  {speed} steps/s, {steps} steps: firmware {fw:.0f} host us per 1000 steps "
              f"(PIO-timed segments) vs naive {nv:.0f} host us per 1000 steps (one callback per step) "
              f"= {nv / fw:.1f}x less CPU")
    print(f"  (host: MicroPython unix port on {os.cpu_count()} cores; absolute numbers are this machine's, "
          "the ratio is what carries over)")


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    t0 = time.time()
    if what in ("core", "all"):
        core()
    if what in ("motion", "all"):
        motion()
    if what in ("cpu", "all"):
        cpu()
    print(f"(bench took {time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
