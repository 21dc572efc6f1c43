"""Print a tab-completion script for the focusrig command, generated from its own argument
parser by shtab (so it always knows every command and option of this version).

examples:
  focusrig completion bash > ~/.local/share/bash-completion/completions/focusrig
  focusrig completion zsh > ~/.zfunc/_focusrig     # with fpath+=~/.zfunc in ~/.zshrc
  eval "$(focusrig completion bash)"              # this shell only
"""

import sys

from ..cli import UserError

SHELLS = ("bash", "zsh", "tcsh")


def add_arguments(p):
    p.add_argument("shell", choices=SHELLS, help="the shell to complete for")


def script(shell):
    try:
        import shtab
    except ImportError:
        raise UserError("shtab is not installed: pip install -r requirements.txt "
                        "(or pip install shtab==1.13.0)") from None
    from ..cli import build_parser
    parser = build_parser()
    _mark_paths(parser, shtab)
    return shtab.complete(parser, shell=shell)


FILES = {"scenario", "input", "vcd", "log", "uf2", "out", "events", "control", "map", "port"}
DIRS = {"drive", "bootsel", "firmware"}


def _mark_paths(parser, shtab):
    """Options that name files or folders complete as such."""
    import argparse
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            for sub in a.choices.values():
                _mark_paths(sub, shtab)
        elif a.dest in FILES:
            a.complete = shtab.FILE
        elif a.dest in DIRS:
            a.complete = shtab.DIRECTORY


def run(args):
    sys.stdout.write(script(args.shell))
    if not sys.stdout.isatty():
        sys.stdout.flush()
    return 0
