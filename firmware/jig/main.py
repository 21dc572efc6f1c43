"""Test-jig firmware entry point: serve the host's line protocol (see jig.py)."""

import jig

jig.serve()
