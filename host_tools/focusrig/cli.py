"""The `focusrig` command: a table of subcommands, one module each in commands/.

Expected failures (no board, port busy, bad file ...) end with one line that says what to
do next and exit code 2; no tracebacks. FOCUSRIG_DEBUG=1 shows them anyway.
"""

import argparse
import importlib
import os
import sys

from . import __version__

# name -> (module in focusrig.commands, one-line help)
COMMANDS = {
    "run": ("run", "run a timing scenario on the virtual Pico (or a real rig) and write VCD / log"),
    "demo": ("demo", "run the built-in back-button-focus story on the virtual Pico"),
    "emulate": ("emulate", "start a virtual Pico behind a pseudo-terminal"),
    "deploy": ("deploy", "copy firmware/ to a Pico (real or virtual) and check it answers"),
    "monitor": ("monitor", "live decoded event stream from the board"),
    "config": ("config", "get / set / reset the board's configuration"),
    "status": ("status", "show the board's status"),
    "calibrate": ("calibrate", "lens calibration wizard: distance -> focus position table"),
    "report": ("report", "HTML report from a VCD or JSONL log"),
}


class UserError(Exception):
    """An expected failure: the message is the one line the user sees."""


def build_parser():
    ap = argparse.ArgumentParser(
        prog="focusrig",
        description="Back-button focus rig: firmware deploy, monitoring, calibration, "
                    "timing scenarios and the virtual Pico.",
        epilog="Run `focusrig COMMAND --help` for examples.")
    ap.add_argument("--version", action="version", version="focusrig " + __version__)
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    for name, (mod, helptext) in COMMANDS.items():
        try:
            m = importlib.import_module("focusrig.commands." + mod)
        except ModuleNotFoundError as e:
            if e.name != "focusrig.commands." + mod:
                raise
            continue            # not part of this build
        p = sub.add_parser(name, help=helptext, description=m.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        m.add_arguments(p)
        p.set_defaults(_run=m.run)
    return ap


def main(argv=None):
    ap = build_parser()
    args = ap.parse_args(argv)
    if not getattr(args, "_run", None):
        ap.print_help()
        return 2
    try:
        return args._run(args) or 0
    except UserError as e:
        print(f"focusrig {args.command}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001
        if os.environ.get("FOCUSRIG_DEBUG"):
            raise
        from .scenario import ScenarioError
        from .virtual_pico.runner import VirtualPicoError
        if isinstance(e, (ScenarioError, VirtualPicoError, OSError)):
            print(f"focusrig {args.command}: {e}", file=sys.stderr)
            return 2
        print(f"focusrig {args.command}: internal error: {e!r} (set FOCUSRIG_DEBUG=1 for details)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
