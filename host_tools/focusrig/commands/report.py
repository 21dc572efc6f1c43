"""Write a self-contained HTML report (timeline, latency histograms, table of every
exposure) from a run's VCD or JSONL event log, or from a logic-analyzer capture.

Inputs:
  TRACE.vcd    written by `focusrig run --vcd` (emulated or hardware-in-the-loop)
  LOG.jsonl    written by `focusrig run --log` (events only: the timeline is rebuilt)
  CAPTURE.vcd  a sigrok-cli / PulseView capture of the real rig, with --map naming its
               channels; its levels are electrical (hardware/pinmap.json polarities are
               applied) unless --levels logical

examples:
  focusrig report portrait.vcd -o portrait.html
  focusrig report portrait.vcd --scenario portrait --log portrait.jsonl -o r.html
  focusrig report portrait.jsonl -o from-events.html
  focusrig report la.vcd --map D0=cam_focus,D1=cam_shutter,D2=shutter_full -o la.html
  focusrig report la.vcd --map channels.json --scenario my.json -o la.html
"""

import os

from .. import report as report_mod
from .. import scenario as scn
from ..cli import UserError, check_output, os_error


def add_arguments(p):
    p.add_argument("input", metavar="TRACE.vcd|LOG.jsonl", help="the run's VCD or JSONL event log")
    p.add_argument("-o", "--out", metavar="REPORT.html", default=None,
                   help="where to write the page (default: the input's name with .html)")
    p.add_argument("--map", metavar="D0=cam_shutter,...|MAP.json",
                   help="logic-analyzer channel names -> focusrig signals")
    p.add_argument("--levels", choices=("electrical", "logical"), default="electrical",
                   help="levels of a --map capture (default electrical: buttons and "
                        "motor_en are active low)")
    p.add_argument("--scenario", metavar="S.json",
                   help="the scenario that was run: true press times, subject, lens_cal")
    p.add_argument("--log", metavar="LOG.jsonl", dest="events",
                   help="with a VCD: the run's event log (AF targets, focus times)")


def run(args):
    if not os.path.exists(args.input):
        raise UserError(f"{args.input}: no such file; give the .vcd or .jsonl that "
                        "`focusrig run --vcd/--log` wrote")
    if args.map and args.input.endswith(".jsonl"):
        raise UserError("--map is for logic-analyzer VCD captures, not JSONL logs")
    s = scn.load(args.scenario) if args.scenario else None
    out = args.out or os.path.splitext(args.input)[0] + ".html"
    check_output(out, "-o")
    try:
        mapping = report_mod.parse_mapping(args.map)
        d = report_mod.build(args.input, mapping=mapping, levels=args.levels, scenario=s,
                             events_path=args.events)
    except report_mod.ReportError as e:
        raise UserError(str(e)) from None
    try:
        report_mod.write_report(d, out)
    except OSError as e:
        raise UserError("cannot write " + os_error(e, out)) from None
    print(f"report: {out} ({len(d.exposures)} exposures)")
    return 0
