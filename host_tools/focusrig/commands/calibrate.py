"""Lens calibration wizard: measure the focus position for a few distances and write the
table (config key lens_cal) to the board.

For each distance: put a target there, jog the lens until the image is sharp and press
Enter. The wizard records the LiDAR distance (a fresh, steady reading; a point with no
LiDAR return is refused) and the lens position. Then the table is sorted by distance,
checked (one point per distance; the position must change strictly monotonically with the
distance), fitted with steps = a + b / distance (the fit residual shows a mis-focused
point) and written with `config set lens_cal [[mm, steps], ...]`.

keys (in a terminal):
  Left / Right   or , .    fine jog near / far (--fine, default: the board's jog_fine)
  Shift+Left/Right or < >  coarse jog near / far (--coarse, default: jog_coarse)
  Enter                    the image is sharp: record this point
  u                        undo the last point       q   quit, nothing written
When stdin is not a terminal, each line is one key: left, right, LEFT, RIGHT, jog N
(N steps; + = more steps, DIR high), enter, undo, quit (for scripts and tests).

Near and far: which way is nearer is a fact of your rig (how the motor is mounted, which
way the lens turns), stored in lens_cal: the position rises or falls with the distance.
Near/far keys jog the way the board's current lens_cal says (like `jog near|far` on the
board), and once two points are recorded the way the points show. The table written
then makes `jog near|far`, the jog buttons and stacking agree with this rig.

On the virtual Pico, --subject-control FILE (the --control file of `focusrig emulate`)
lets the wizard place the simulated target at each of --distances itself.

examples:
  focusrig calibrate                                   # 5 points, the Pico found by USB id
  focusrig calibrate --points 7 --coarse 100
  focusrig calibrate --distances 500,1000,3000 --dry-run
  focusrig emulate --firmware --control /tmp/rig.ctl   # prints e.g. /dev/pts/7
  focusrig calibrate --port /dev/pts/7 --subject-control /tmp/rig.ctl \\
      --distances 400,700,1200,2500,6000
  printf 'jog 2500\\nenter\\n...' | focusrig calibrate --port /dev/pts/7 ...   # scripted
"""

import os
import sys

from .. import calibrate as cal
from .. import transport
from ..cli import UserError


def add_arguments(p):
    p.add_argument("--port", "-p", help="serial port or pyserial URL (default: the Pico found by USB id)")
    p.add_argument("--points", type=int, metavar="N",
                   help=f"number of distances ({cal.MIN_POINTS}..{cal.MAX_POINTS}, default 5)")
    p.add_argument("--distances", metavar="MM,MM,...",
                   help="the distances to calibrate, in mm (default 400,700,1200,2500,6000, or "
                        "--points distances from 400 to 6000)")
    p.add_argument("--fine", type=int, metavar="STEPS", help="fine jog (default: the board's jog_fine)")
    p.add_argument("--coarse", type=int, metavar="STEPS",
                   help="coarse jog (default: the board's jog_coarse)")
    p.add_argument("--dry-run", action="store_true", help="check and show the table, do not write it")
    p.add_argument("--subject-control", metavar="FILE",
                   help="virtual Pico only: the emulator's --control file; the wizard sets the "
                        "simulated target distance for each point")
    p.add_argument("--timeout", type=float, default=3.0,
                   help="seconds to wait for each reply from the board (default 3)")


def plan(args):
    """The distances for the points (checks the options)."""
    if args.distances:
        ds = cal.parse_distances(args.distances)
        if args.points is not None and args.points != len(ds):
            raise UserError(f"--points {args.points} but --distances lists {len(ds)}: give one of them")
    else:
        n = 5 if args.points is None else args.points
        if not cal.MIN_POINTS <= n <= cal.MAX_POINTS:
            raise UserError(f"--points must be {cal.MIN_POINTS} to {cal.MAX_POINTS}, got {n}")
        ds = cal.default_distances(n)
    if not cal.MIN_POINTS <= len(ds) <= cal.MAX_POINTS:
        raise UserError(f"--distances: give {cal.MIN_POINTS} to {cal.MAX_POINTS} distances, got {len(ds)}")
    if len(set(ds)) != len(ds):
        raise UserError("--distances: each distance once")
    for name in ("fine", "coarse"):
        v = getattr(args, name)
        if v is not None and v < 1:
            raise UserError(f"--{name} must be at least 1 step, got {v}")
    if args.subject_control and not os.path.isfile(args.subject_control):
        raise UserError(f"--subject-control {args.subject_control}: no such file: give the --control "
                        "file of the running `focusrig emulate`")
    return ds


def _config_int(board, key, timeout):
    r = board.command(f"config get {key}", timeout=timeout)
    if "error" in r or not isinstance(r.get("value"), int):
        raise UserError(f"cannot read {key} from the board ({r.get('error', r.get('value'))}): "
                        f"give --{key.split('_')[1]} STEPS or update the firmware with `focusrig deploy`")
    return r["value"]


def run(args):
    distances = plan(args)
    out = sys.stdout
    with transport.Board(args.port) as b:
        ver = transport.check_reply(b.command("version", timeout=args.timeout), "version")
        fine = args.fine or _config_int(b, "jog_fine", args.timeout)
        coarse = args.coarse or _config_int(b, "jog_coarse", args.timeout)
        old = b.command("config get lens_cal", timeout=args.timeout).get("value")
        print(f"calibrate: {b.port}, firmware {ver.get('version', '?')}; {len(distances)} points at "
              f"{', '.join(str(d) for d in distances)} mm; jog fine {fine}, coarse {coarse} steps",
              flush=True)
        if old:
            print("current lens_cal: " + " ".join(f"{cal._mm(p[0])}:{p[1]}" for p in old), flush=True)
        stdin_tty = sys.stdin.isatty()
        keys = (cal.TtyKeys(sys.stdin.fileno(), fine, coarse) if stdin_tty
                else cal.LineKeys(sys.stdin, fine, coarse))
        wiz = cal.Wizard(b, keys, out, distances, fine, coarse,
                         subject_control=args.subject_control, timeout=args.timeout)
        try:
            points = wiz.run()
        except KeyboardInterrupt:
            raise cal.CalibrationError(f"interrupted after {len(wiz.points)} of {len(distances)} "
                                       "points: nothing written") from None
        finally:
            keys.close()
            wiz._clear_live()
        print(cal.format_table(points, "measured (sorted by distance)"), flush=True)
        table = cal.check_table(points)
        note = cal.fit_warning(table)
        if note:
            print(note, flush=True)
        if args.dry_run:
            print("dry run: not written; the command would be: " + cal.config_line(table), flush=True)
            return 0
        from .config import save_state
        got, reply = wiz.write(table)
        print(f"wrote lens_cal to the board ({save_state(reply)}):",
              flush=True)
        print(cal.format_table(got, "lens_cal on the board"), flush=True)
    return 0
