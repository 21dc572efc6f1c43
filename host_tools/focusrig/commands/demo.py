"""Run the back-button-focus story on the virtual Pico and print what happened.

Four built-in scenarios (host_tools/focusrig/scenarios/): a portrait (AF-ON, lock,
recompose, three frames), sports (servo on an approaching subject with a burst),
conventional half-press AF with focus priority, and a bouncy cheap button. For each: a
table of frames with press-to-exposure latency and lens error, the focus acquisition
time, and a VCD you can open in GTKWave or PulseView.

examples:
  focusrig demo
  focusrig demo --out build/demo --only sports
"""

import json
import os
import sys

from .. import analysis
from .. import scenario as scn
from .. import trace as trace_mod
from ..cli import UserError

SCEN_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scenarios")
STORY = ("portrait", "sports", "halfpress", "bouncy")


def add_arguments(p):
    p.add_argument("--out", default="build/demo", help="folder for the VCDs and logs (default build/demo)")
    p.add_argument("--only", choices=STORY, action="append", help="run just this scenario (repeatable)")


def run(args):
    from ..virtual_pico import runner
    os.makedirs(args.out, exist_ok=True)
    tot_virtual = tot_wall = 0.0
    for name in args.only or STORY:
        s = scn.load(os.path.join(SCEN_DIR, name + ".json"))
        res = runner.run(s)
        tr = trace_mod.from_run(res)
        vcd = os.path.join(args.out, name + ".vcd")
        trace_mod.write_vcd(tr, vcd)
        with open(os.path.join(args.out, name + ".jsonl"), "w") as f:
            for e in res.events:
                f.write(json.dumps(e, sort_keys=True) + "\n")
        sm = analysis.summary(res, tr)
        print_table(name, s, res, sm, vcd)
        tot_virtual += s["duration_ms"] / 1000.0
        tot_wall += res.wall_s
    if tot_wall > 0:
        print(f"virtual Pico speed: {tot_virtual:.1f} virtual s in {tot_wall:.2f} wall s "
              f"= {tot_virtual / tot_wall:.1f}x real time")
    return 0


def print_table(name, s, res, sm, vcd, out=sys.stdout):
    cfg = s["config_full"]
    w = out.write
    w(f"\n== {name}: {s.get('description', '')}\n")
    w(f"   focus_mode={cfg['focus_mode']} af_mode={cfg['af_mode']} priority={cfg['priority']} "
      f"drive={cfg['drive']}\n")
    w("   frame   at (ms)   press->exposure   lens pos   target    lens error\n")
    for e in sm["exposures"]:
        lat = f"{e['latency_us']:.1f} us" if e["latency_us"] is not None else "(burst)"
        if e["latency_us"] is not None and e["latency_us"] >= 1000:
            lat = f"{e['latency_us'] / 1000:.1f} ms"
        elif e["latency_us"] is not None and e["latency_us"] < 1:
            lat = f"{e['latency_us'] * 1000:.0f} ns"          # the PIO shutter
        tgt = f"{e['target']:.1f}" if e["target"] is not None else "-"
        err = f"{e['error']:+.1f} steps" if e["error"] is not None else "-"
        w(f"   {e['frame']:>5}   {e['t_ns'] / 1e6:>7.1f}   {lat:>15}   {e['lens_pos']:>8}   {tgt:>6}   {err:>12}\n")
    if not sm["exposures"]:
        w("   (no exposures)\n")
    ft = ", ".join(f"{x:.1f} ms" for x in sm["focus_ms"]) or "-"
    w(f"   focus acquisition: {ft}   frames: {sm['frames']}\n")
    for e in sm["af_errors"]:
        w(f"   AF error at {e['t'] / 1000:.1f} ms: {e.get('why')}\n")
    for e in sm["refused"]:
        w(f"   shot refused at {e['t'] / 1000:.1f} ms: {e.get('why')}\n")
    vs = s["duration_ms"] / 1000.0
    w(f"   {vs:g} s virtual in {res.wall_s:.2f} s wall ({vs / max(res.wall_s, 1e-9):.1f}x); VCD {vcd}\n")
    if res.stats.get("irq_alloc_errors") or res.stats.get("driver_faults"):
        raise UserError(f"{name}: firmware fault (IRQ allocations {res.stats.get('irq_alloc_errors')}, "
                        f"driver timing faults {res.stats.get('driver_faults')})")
