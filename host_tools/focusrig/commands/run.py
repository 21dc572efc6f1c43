"""Run a timing scenario and write its trace.

Emulated (default): the unmodified firmware runs on the virtual Pico on virtual time.
With --target rp2040: the official MicroPython v1.28.0 UF2 on an emulated RP2040
(rp2040js, see docs/targets.md), same trace, VCD and log.
Hardware-in-the-loop: with --port and --jig, the test-jig Pico plays the presses onto a
real rig and captures its outputs.

examples:
  focusrig run portrait --vcd portrait.vcd --log portrait.jsonl   # a built-in scenario
  focusrig run host_tools/focusrig/scenarios/portrait.json --summary    # the same, by path
  focusrig run my.json --vcd out.vcd --summary
  focusrig run portrait --target rp2040 --vcd rp.vcd --log rp.jsonl
  focusrig run my.json --target rp2040 --jig --vcd jig.vcd   # jig on a 2nd emulated RP2040
  focusrig run my.json --port /dev/ttyACM0 --jig /dev/ttyACM1 --vcd hil.vcd
"""

import json
import sys

from .. import analysis
from .. import report as report_mod
from .. import scenario as scn
from .. import trace as trace_mod
from ..cli import UserError, check_output, os_error


def add_arguments(p):
    p.add_argument("scenario", help="scenario JSON file (see docs/scenarios.md), or the name "
                   "of a built-in one: " + ", ".join(scn.builtin_names()))
    p.add_argument("--vcd", metavar="OUT.vcd", help="write the timing trace here")
    p.add_argument("--log", metavar="OUT.jsonl", help="write the firmware's event lines here")
    p.add_argument("--summary", action="store_true", help="print latency / focus / error figures")
    p.add_argument("--port", help="hardware-in-the-loop: the rig's serial port")
    p.add_argument("--jig", nargs="?", const="emulated", metavar="PORT",
                   help="hardware-in-the-loop: the test jig's serial port; with --target "
                        "rp2040 and no PORT: the jig firmware on a second emulated RP2040, "
                        "wired pin to pin (the trace comes from its capture)")
    p.add_argument("--target", choices=("vpico", "rp2040"), default="vpico",
                   help="emulated target: the virtual Pico (default) or the official "
                        "MicroPython UF2 on an emulated RP2040 (docs/targets.md)")


def run(args):
    s = scn.load(args.scenario)
    for opt, path in (("--vcd", args.vcd), ("--log", args.log)):
        if path:
            check_output(path, opt)          # before the run: a bad path wastes nothing
    if args.target == "rp2040" and args.jig == "emulated" and not args.port:
        from ..rp2040 import Rp2040Error
        from ..rp2040 import jig_run
        try:
            res, tr, _ = jig_run.run(s)
        except Rp2040Error as e:
            raise UserError(str(e)) from None
    elif args.port or args.jig:
        if not (args.port and args.jig) or args.jig == "emulated":
            raise UserError("hardware-in-the-loop needs both --port (the rig) and --jig (the test jig)")
        from ..hil import run_hil
        res, tr = run_hil(s, args.port, args.jig)
    elif args.target == "rp2040":
        from ..rp2040 import Rp2040Error
        from ..rp2040 import runner as rp_runner
        try:
            res = rp_runner.run(s, progress=_progress_printer(s["duration_ms"]))
        except Rp2040Error as e:
            raise UserError(str(e)) from None
        finally:
            if sys.stderr.isatty():
                sys.stderr.write("\r" + " " * 60 + "\r")
        tr = trace_mod.from_run(res)
    else:
        from ..virtual_pico import runner
        res = runner.run(s, progress=_progress_printer(s["duration_ms"]))
        if sys.stderr.isatty():
            sys.stderr.write("\r" + " " * 60 + "\r")
        tr = trace_mod.from_run(res)
    try:
        if args.vcd:
            trace_mod.write_vcd(tr, args.vcd)
            report_mod.embed_run(args.vcd, s, res.events, target=_target_name(args))
        if args.log:
            with open(args.log, "w") as f:
                for e in res.events:
                    f.write(json.dumps(e, sort_keys=True) + "\n")
    except OSError as e:
        raise UserError("cannot write " + os_error(e)) from None
    sm = analysis.summary(res, tr)
    if args.summary or not (args.vcd or args.log):
        print_summary(s, res, sm)
    return 0


def _target_name(args):
    if args.port:
        return "hil"
    return args.target + (" + emulated jig" if args.jig == "emulated" else "")


def _progress_printer(duration_ms):
    """On a terminal, a line that counts virtual time for runs that take a while."""
    if not sys.stderr.isatty():
        return None
    import time
    t0 = time.monotonic()
    last = [0.0]

    def show(t_ms):
        now = time.monotonic()
        if now - t0 > 1.0 and now - last[0] > 0.2:
            last[0] = now
            sys.stderr.write(f"\r  running: {t_ms / 1000:.1f} of {duration_ms / 1000:g} s virtual ")
            sys.stderr.flush()
    return show


def print_summary(s, res, sm, out=sys.stdout):
    name = s.get("name") or "scenario"
    vs = s["duration_ms"] / 1000.0
    print(f"{name}: {vs:g} s virtual in {res.wall_s:.2f} s wall ({vs / max(res.wall_s, 1e-9):.1f}x)", file=out)
    lat = sm["latency_us"]
    print(f"  frames: {sm['frames']}", file=out)
    if lat:
        print("  press-to-exposure: " + ", ".join(fmt_latency(x) for x in lat), file=out)
    if sm["focus_ms"]:
        print("  focus acquisition: " + ", ".join(f"{x:.1f} ms" for x in sm["focus_ms"]), file=out)
    if sm["errors"]:
        print("  lens error at exposure: " + ", ".join(f"{x:+.1f}" for x in sm["errors"]) + " steps", file=out)
        known = [x for x in sm["in_focus"] if x is not None]
        print(f"  in focus: {sum(1 for x in known if x)} of {len(sm['in_focus'])} frames "
              f"(lens within focus_tolerance {sm['tolerance']} steps of the subject's "
              "calibrated position)", file=out)
    for e in sm["af_errors"]:
        print(f"  AF error at {e['t'] / 1000:.1f} ms: {e.get('why')}", file=out)
    for e in sm["refused"]:
        print(f"  shot refused at {e['t'] / 1000:.1f} ms: {e.get('why')}", file=out)


def fmt_latency(us):
    """A latency in the unit that shows it: ns below 1 us."""
    return f"{us * 1000:.0f} ns" if abs(us) < 1 else f"{us:.1f} us"
