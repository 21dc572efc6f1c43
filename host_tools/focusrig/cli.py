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
    "flash": ("flash", "blank Pico in BOOTSEL -> MicroPython v1.28.0 + firmware, checked"),
    "run": ("run", "run a timing scenario on the virtual Pico (or a real rig) and write VCD / log"),
    "demo": ("demo", "run the built-in back-button-focus story on the virtual Pico"),
    "emulate": ("emulate", "start a virtual Pico behind a pseudo-terminal"),
    "deploy": ("deploy", "copy firmware/ to a Pico (real or virtual) and check it answers"),
    "monitor": ("monitor", "live decoded event stream from the board"),
    "config": ("config", "get / set / reset the board's configuration"),
    "status": ("status", "show the board's status"),
    "calibrate": ("calibrate", "lens calibration wizard: distance -> focus position table"),
    "report": ("report", "HTML report from a VCD or JSONL log"),
    "completion": ("completion", "print a shell completion script (bash, zsh, tcsh)"),
}


class UserError(Exception):
    """An expected failure: the message is the one line the user sees."""


def load_scenario(path):
    """A scenario file given on the command line, or a UserError that says how to fix it."""
    from . import scenario as scn
    try:
        return scn.load(path)
    except scn.ScenarioError as e:
        raise UserError(f"{e}: fix the scenario file (see docs/scenarios.md)") from None


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
        print(f"focusrig {args.command}: {one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001
        if os.environ.get("FOCUSRIG_DEBUG"):
            raise
        from .scenario import ScenarioError
        from .virtual_pico.runner import VirtualPicoError
        if isinstance(e, OSError) and not isinstance(e, UserError):
            print(f"focusrig {args.command}: {os_error(e)}", file=sys.stderr)
            return 2
        if isinstance(e, (ScenarioError, VirtualPicoError)):
            print(f"focusrig {args.command}: {one_line(e)}", file=sys.stderr)
            return 2
        print(f"focusrig {args.command}: internal error: {one_line(repr(e), 200)} "
              "(set FOCUSRIG_DEBUG=1 for details)", file=sys.stderr)
        return 1


def one_line(msg, limit=400):
    """A message as one line of at most `limit` characters."""
    s = " ".join(str(msg).split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


def os_error(e, what=None):
    """An OSError in words: 'cannot write out/x.vcd: no such folder out' (no [Errno N])."""
    import errno
    path = what or e.filename or ""
    folder = os.path.dirname(os.path.abspath(path)) if path else ""
    words = {
        errno.ENOENT: (f"the folder {folder} does not exist: create it or choose another path"
                       if folder and not os.path.isdir(folder) else "no such file: check the path"),
        errno.EACCES: "permission denied: choose a path you can write, or fix its permissions",
        errno.EPERM: "permission denied: choose a path you can write, or fix its permissions",
        errno.EISDIR: "that is a folder: give a file name",
        errno.ENOTDIR: "a part of that path is a file, not a folder: check the path",
        errno.ENOSPC: "the disk is full: free some space or choose another disk",
        errno.EROFS: "the file system is read-only: choose another path",
    }
    text = words.get(e.errno) or (e.strerror or str(e)).lower()
    return one_line(f"{path}: {text}" if path else text)


def check_output(path, option):
    """Raise UserError (one line, nothing written) unless `path` can be written: its
    folder exists and is writable, and it is not a folder itself."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UserError(f"{option} {path} is a folder: give a file name inside it")
    if not os.path.isdir(folder):
        what = "is a file, not a folder" if os.path.exists(folder) else "does not exist"
        raise UserError(f"{option} {path}: the folder {folder} {what}: create it or choose "
                        "another path")
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise UserError(f"{option} {path}: permission denied: choose a path you can write")


if __name__ == "__main__":
    sys.exit(main())
