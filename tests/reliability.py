"""Test helper: tools/soak.py (issue 11's long forms) importable from the tests, which run
its short forms in CI."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))

import soak  # noqa: E402,F401


def rp2040_missing():
    """None when the rp2040 target can run, else the one line saying what is missing."""
    try:
        from focusrig.rp2040 import check_ready
        check_ready()
        return None
    except Exception as e:  # noqa: BLE001 - any missing piece skips, with its line
        return str(e).splitlines()[0] if str(e) else type(e).__name__
