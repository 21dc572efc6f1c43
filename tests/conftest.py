"""Test targets: the same scenario tests run emulated (default) or on the real rig.

    pytest                                       # --target emu: the virtual Pico
    pytest --target rp2040                       # the official UF2 on an emulated RP2040
    pytest --target hil --port /dev/ttyACM0 --jig /dev/ttyACM1

Fixtures:
  target        "emu", "rp2040" or "hil"
  run_scenario  run_scenario(raw_scenario_dict) -> (result, trace); emulated (the virtual
                Pico, or the official MicroPython UF2 on rp2040js: docs/targets.md), or
                through the test jig on the real rig. Every run writes one serial log
                per test to build/test-logs/<test>.log (the jig's and the rig's lines in
                HIL, the firmware's event lines in emulation).
Tests marked @pytest.mark.hil skip (with the reason) unless --target hil with both ports.
"""

import json
import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOG_DIR = os.path.join(REPO, "build", "test-logs")


try:
    from hypothesis import settings as _hyp_settings
    # CI: the same examples on every run (a fresh random draw cannot turn CI red);
    # locally each run explores new ones
    _hyp_settings.register_profile("ci", derandomize=True, deadline=None)
    if os.environ.get("CI"):
        _hyp_settings.load_profile("ci")
except ImportError:
    pass


def pytest_addoption(parser):
    g = parser.getgroup("focusrig")
    g.addoption("--target", choices=("emu", "rp2040", "hil"), default="emu",
                help="run scenario tests on the virtual Pico (emu, default), the official "
                     "MicroPython UF2 on an emulated RP2040 (rp2040) or the real rig (hil)")
    g.addoption("--port", default=None, help="hil: the rig's serial port")
    g.addoption("--jig", default=None, help="hil: the test jig's serial port")


def pytest_configure(config):
    config.addinivalue_line("markers", "hil: needs the real rig and the test jig (--target hil)")


def _hil_ready(config):
    return (config.getoption("--target") == "hil" and config.getoption("--port")
            and config.getoption("--jig"))


def pytest_collection_modifyitems(config, items):
    if _hil_ready(config):
        return
    if config.getoption("--target") == "hil":
        why = "HIL needs both --port (the rig) and --jig (the test jig)"
    else:
        why = "hardware-in-the-loop test: run with --target hil --port PORT --jig PORT"
    skip = pytest.mark.skip(reason=why)
    for item in items:
        if "hil" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def target(request):
    t = request.config.getoption("--target")
    if t == "hil" and not _hil_ready(request.config):
        pytest.skip("HIL needs both --port (the rig) and --jig (the test jig)")
    if t == "rp2040":
        from focusrig.rp2040 import Rp2040Error, check_ready
        try:
            check_ready()
        except Rp2040Error as e:
            pytest.skip(f"rp2040 target: {e}")
    return t


def _log_path(nodeid):
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.split("::", 1)[-1])
    os.makedirs(LOG_DIR, exist_ok=True)
    return os.path.join(LOG_DIR, name + ".log")


@pytest.fixture
def run_scenario(request, target):
    """run_scenario(raw_dict) -> (result, trace) on the selected target."""
    from focusrig import scenario as scn
    from focusrig import trace as trace_mod
    path = _log_path(request.node.nodeid)
    logf = open(path, "w")

    def run(raw):
        s = scn.validate(raw)
        logf.write(f"# scenario {json.dumps(raw, sort_keys=True)}\n")
        if target == "hil":
            from focusrig import hil
            lines = []
            try:
                res, tr = hil.run_hil(s, request.config.getoption("--port"),
                                      request.config.getoption("--jig"), serial_log=lines)
            finally:
                logf.write("\n".join(lines) + "\n")
                logf.flush()
            return res, tr
        if target == "rp2040":
            from focusrig.rp2040 import runner
            res = runner.run(s, timeout=300)
        else:
            from focusrig.virtual_pico import runner
            res = runner.run(s, timeout=120)
        assert res.stats.get("irq_alloc_errors") == 0, "a hard IRQ handler allocated"
        for e in res.events:
            logf.write(json.dumps(e, sort_keys=True) + "\n")
        for line in res.raw_lines:
            logf.write(line + "\n")
        logf.flush()
        return res, trace_mod.from_run(res)

    yield run
    logf.close()
