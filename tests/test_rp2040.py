"""The rp2040 target: the official MicroPython v1.28.0 UF2 on an emulated RP2040
(rp2040js 1.4.1 with our corrections), focusrig's firmware on its littlefs.

Two groups: each rp2040js correction is needed (a run with it turned off fails the way
docs/targets.md says), and a smoke set with the virtual Pico's assertions (one-shot
portrait, servo burst, bouncy full press, `config set` surviving a reset). Where the real
port's CPU time makes a virtual-Pico bound unreachable, the bound used here is named and
explained in docs/targets.md ("Known differences"). The whole file skips, with the one
line saying what is missing, without node, `make rp2040-deps`, littlefs-python or the
UF2 and bootrom.
"""

import os
import tempfile

import pytest

from focusrig import scenario as scn
from focusrig import trace as trace_mod
from vpico import cal_steps, steps_between

try:
    from focusrig.rp2040 import Rp2040Error, check_ready, flashfs
    from focusrig.rp2040 import runner as rp
    check_ready()
    _MISSING = None
except Exception as e:  # noqa: BLE001 - any missing piece skips the file, with its line
    _MISSING = str(e).splitlines()[0] if str(e) else type(e).__name__

pytestmark = pytest.mark.skipif(_MISSING is not None, reason=f"rp2040 target: {_MISSING}")

CAL = [[1000, 1000], [2000, 500]]
CPU_BOUND_MOVES = ("on the real port the planner's words reach the PIO slower than it steps "
                   "(CPU time of Python on a 125 MHz M0+; the PIO FIFO runs dry), so moves "
                   "take 2-3x the optimum: see docs/targets.md, Known differences")
# Press -> exposure on the real port: the hard IRQ handler's Python runs on a 125 MHz
# Cortex-M0+ (measured 190-400 us; the virtual Pico models only the IRQ entry, 20-25 us)
SHUTTER_LATENCY_NS = 500e3
PRESS_STAMP_US = (-5, 300)      # the press's ticks_us stamp vs the contact edge


def press(inp, at, hold, bounce=0):
    return {"input": inp, "at_ms": at, "hold_ms": hold, "bounce_ms": bounce}


def cmd(at, text):
    return {"at_ms": at, "cmd": text}


def run(raw, **kw):
    res = rp.run(scn.validate(raw), timeout=300, **kw)
    return res, trace_mod.from_run(res)


# ---- the five corrections: each one is needed -----------------------------------------

BASE = {"duration_ms": 300, "subject_mm": [[0, 1500]],
        "serial": [cmd(20, "config set max_speed 5000"), cmd(120, "move 100")]}


def _saved_config(**kw):
    """Run BASE; returns (result, trace, config.json as the flash holds it afterwards)."""
    import json
    with tempfile.TemporaryDirectory(prefix="rp2040-test-") as work:
        kept = os.path.join(work, "flash.img")
        res, tr = run(BASE, keep_flash=kept, **kw)
        data = flashfs.read_file(kept, "config.json")
    return res, tr, json.loads(data) if data else None


@pytest.fixture(scope="module")
def baseline():
    """All corrections on: the firmware boots, config set is saved, a move steps."""
    return _saved_config()


def test_boots_official_uf2_with_firmware_on_littlefs(baseline):
    res, tr, _ = baseline
    boot = res.ev("boot")
    assert len(boot) == 1 and boot[0]["held"] == []
    # the real v1.28.0 port's heap with the firmware from .mpy (real-port-facts.md)
    assert 60000 < boot[0]["mem_alloc"] < 90000 and boot[0]["mem_free"] > 150000
    assert res.stats["lidar_frames"] >= 25
    for sig in ("cam_focus", "cam_shutter"):
        assert tr.changes(sig) == [(0, 0)], sig


def test_correction_uart_tx_irq_needed():
    res, _ = run({"duration_ms": 300}, corrections={"uart_tx": False})
    assert not res.ev("boot"), "booted although the UART TX IRQ never clears"


def test_correction_flash_program_erase_needed(baseline):
    rep = baseline[0].replies("config")
    assert rep and rep[0]["ok"] and rep[0]["saved"], rep
    assert baseline[2] == {"max_speed": 5000}
    # without it littlefs believes the write (the blocks of a fresh image are blank) but
    # nothing reaches the flash; on a used image the same write fails with errno 28
    _, _, saved = _saved_config(corrections={"flash": False})
    assert saved is None


def test_correction_clocked_pio_needed(baseline):
    res, tr, _ = baseline
    assert res.stats["steps"] > 0 and res.stats["driver_faults"] == 0
    # the A4988 preset's 1 us STEP high time, to the clk_sys cycle
    assert 1000 <= res.stats["shortest_high_ns"] <= 1016
    res2, _ = run(BASE, corrections={"pio": False})
    assert res2.stats["steps"] == 0


def test_correction_pad_pullups_needed():
    with pytest.raises(Rp2040Error, match="safe boot"):
        run({"duration_ms": 100}, corrections={"pulls": False}, boot_timeout_ms=1500)


def test_correction_usb_out_poll_held_needed():
    # idle firmware: without it every zero-length OUT packet (one per 10 us) is a USB
    # interrupt and a TinyUSB re-arm: the CPU barely sleeps
    idle = {"duration_ms": 600, "subject_mm": [[0, 1500]]}
    on, _ = run(idle)
    off, _ = run(idle, corrections={"usb": False})
    busy_on = on.stats["instructions_run"] / on.stats["t_ns"]
    busy_off = off.stats["instructions_run"] / off.stats["t_ns"]
    assert off.ev("boot") and busy_off > 1.5 * busy_on, (busy_on, busy_off)   # 0.040 vs 0.077 measured


# ---- smoke set: the virtual Pico's assertions on the real port ------------------------

@pytest.mark.xfail(reason="the 1000-step AF move takes ~554 ms here (virtual-Pico bound 199-206 "
                   "ms): " + CPU_BOUND_MOVES, strict=False)
def test_smoke_one_shot_portrait():
    res, tr = run({"duration_ms": 1500, "config": {"lens_cal": CAL},
                   "subject_mm": [[0, 1000], [600, 1000], [601, 2000]],
                   "presses": [press("af_on", 100, 100), press("shutter_full", 900, 50)]})
    ach = res.ev("af_achieved")
    assert len(ach) == 1 and len(res.ev("af_lock")) == 1
    assert abs(tr.value_at("lens_pos", int(ach[0]["t"] * 1000)) - 1000) <= 1
    assert 199 <= ach[0]["ms"] <= 206, ach[0]["ms"]
    assert steps_between(tr, int(ach[0]["t"] * 1000) + 1, 1500e6) == 0
    assert tr.value_at("lens_pos", tr.rising("cam_shutter")[0]) == 1000


@pytest.mark.xfail(reason="burst frames measured 99-158 ms apart (bound 124-126) while servo "
                   "AF runs: frames are timed by the main loop, which shares the CPU with "
                   "the planner; " + CPU_BOUND_MOVES, strict=False)
def test_smoke_servo_burst():
    res, tr = run({"duration_ms": 1500, "config": {"af_mode": "servo", "drive": "continuous",
                                                  "burst_fps": 8, "shutter_pulse_ms": 50},
                   "subject_mm": [[0, 1500]],
                   "presses": [press("af_on", 100, 1300), press("shutter_full", 150, 1000)]})
    assert res.ev("af_start") and res.ev("af_start")[0]["mode"] == "servo"
    shots = tr.rising("cam_shutter")
    assert len(shots) == 8          # 0, 125, ... 875 ms after the press
    gaps = [(b - a) / 1e6 for a, b in zip(shots, shots[1:])]
    assert all(124 <= g <= 126 for g in gaps), gaps
    pulses = [(f - r) / 1e6 for r, f in zip(shots, tr.falling("cam_shutter"))]
    assert all(50 <= p <= 51.5 for p in pulses), pulses
    assert abs(tr.value_at("lens_pos", 1400e6) - cal_steps(1500)) <= 2


def test_smoke_bouncy_full_press():
    res, tr = run({"duration_ms": 1400, "config": {"debounce_ms": 10},
                   "subject_mm": [[0, 1500]], "seed": 11,
                   "presses": [press("af_on", 100, 200, 10), press("shutter_full", 500, 150, 10),
                               press("shutter_full", 900, 150, 10)]})
    presses = [e["input"] for e in res.ev("press")]
    releases = [e["input"] for e in res.ev("release")]
    assert presses.count("af_on") == 1 and presses.count("shutter_full") == 2
    assert releases.count("af_on") == 1 and releases.count("shutter_full") == 2
    assert len(tr.rising("cam_shutter")) == 2
    assert len(res.ev("af_start")) == 1
    full = [e["t"] for e in res.ev("press") if e["input"] == "shutter_full"]
    lo, hi = PRESS_STAMP_US
    for t_us, at_ms in zip(full, (500, 900)):
        assert lo <= t_us - at_ms * 1000 <= hi, t_us
    for t_ns, at_ms in zip(tr.rising("cam_shutter"), (500, 900)):
        assert 0 < t_ns - at_ms * 1e6 <= SHUTTER_LATENCY_NS


def test_smoke_config_set_survives_reset():
    work = tempfile.mkdtemp(prefix="rp2040-test-")
    kept = os.path.join(work, "flash.img")
    # 600 ms, not 200: each save erases flash sectors (45 ms each, CPU stalled, as on a
    # board) and the firmware reads its first command ~90 ms after its clock starts
    res, _ = run({"duration_ms": 600, "serial": [cmd(10, "config set max_speed 5000"),
                                                 cmd(20, 'config set af_mode "servo"')]},
                 keep_flash=kept)
    rep = res.replies("config")
    assert len(rep) == 2 and all(r["ok"] and r["saved"] for r in rep), rep
    import json
    assert json.loads(flashfs.read_file(kept, "config.json")) == {"max_speed": 5000,
                                                                 "af_mode": "servo"}
    # reset: the same flash, booted again
    res2, _ = run({"duration_ms": 300, "serial": [cmd(10, "config get max_speed")]},
                  flash_image=kept)
    assert res2.replies("config")[0]["value"] == 5000
    assert "loaded" in res2.ev("boot")[0]["config"]
