"""Watchdog (issue 11, item 4): machine.WDT fed by the service loop; the `test hang` hook
hangs the loop, the watchdog resets the board with the camera lines and the motor driver
inactive, and the boot event after it says `reset_cause: "watchdog"`. On the virtual Pico
(board/_vp_wdt.py models ports/rp2/machine_wdt.c and modmachine.c) and on the rp2040
target (the official UF2: rp2040js's watchdog, a new board with the same flash)."""

import pytest

from reliability import rp2040_missing, soak
from vpico import firmware_const

IDLE_POLL_MS = firmware_const("app", "IDLE_POLL_MS")
from vpico import run


def test_hung_service_loop_resets_the_board_outputs_inactive():
    fig = soak.watchdog("vpico", wd_ms=300)
    assert fig["boot_causes"] == ["power_on", "watchdog"]
    # watchdog_ms after the last feed, which comes before the hang command's reply is
    # stamped: the loop's pass before it, at most app.IDLE_POLL_MS earlier when idle, plus
    # the command's own work (8.6 ms with the CPU model at the rp2040's speed)
    assert 300 - IDLE_POLL_MS - 15 <= fig["reset_after_ms"] <= 302


def test_boot_event_reports_power_on_and_the_watchdog_timeout():
    res, _ = run({"duration_ms": 300, "config": {"watchdog_ms": 8388}})
    boot = res.ev("boot")[0]
    assert boot["reset_cause"] == "power_on" and boot["watchdog_ms"] == 8388
    # an idle firmware keeps feeding: no reset over many timeouts
    res, _ = run({"duration_ms": 3000, "config": {"watchdog_ms": 200},
                  "serial": [{"at_ms": 100, "cmd": "move 3000"}]})
    assert len(res.ev("boot")) == 1 and res.stats["resets"] == []


def test_test_hang_is_refused_without_a_watchdog():
    res, _ = run({"duration_ms": 400, "config": {"watchdog_ms": 0},
                  "serial": [{"at_ms": 100, "cmd": "test hang"}, {"at_ms": 300, "cmd": "ping"}]})
    rep = res.replies("test")[0]
    assert "error" in rep and "watchdog is off" in rep["error"]
    assert res.replies("ping") and res.stats["resets"] == []


WDT_API = """
import machine
print("cause", machine.reset_cause() == machine.PWRON_RESET)
for args in ((1, 1000), (0, 8389)):
    try:
        machine.WDT(args[0], args[1])
        print("no error", args)
    except ValueError as e:
        print("ValueError", e)
w = machine.WDT(timeout=50)
import time
for i in range(10):
    time.sleep_ms(20)
    w.feed()
print("fed")
time.sleep_ms(100)
print("not reached")
"""


def test_wdt_api_mirrors_the_rp2_port(tmp_path):
    """machine_wdt.c: WDT(1) does not exist, 8389 ms exceeds 8388; fed it lives, unfed
    it resets (machine.reset_cause() then WDT_RESET) and main.py runs again."""
    fw = tmp_path / "fw"
    fw.mkdir()
    (fw / "main.py").write_text(WDT_API)
    from focusrig import scenario as scn
    from focusrig.virtual_pico import runner
    res = runner.run(scn.validate({"duration_ms": 900}), firmware_dir=str(fw))
    out = res.raw_lines
    assert out[:4] == ["cause True", "ValueError WDT(1) doesn't exist",
                       "ValueError timeout exceeds 8388", "fed"], out
    assert "not reached" not in out
    assert out[4] == "cause False" and len(res.stats["resets"]) >= 1, out
    assert res.stats["resets"][0][1] == 3


_MISSING = rp2040_missing()


@pytest.mark.skipif(_MISSING is not None, reason=f"rp2040 target: {_MISSING}")
def test_rp2040_hung_loop_watchdog_reset():
    fig = soak.watchdog("rp2040", wd_ms=200)
    assert fig["boot_causes"] == ["power_on", "watchdog"]
    assert 150 <= fig["reset_after_ms"] <= 260     # watchdog_ms after the last feed
