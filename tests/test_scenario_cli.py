"""`focusrig run` on scenario files: bad scenarios exit 2 with one line naming the
problem; good ones write a VCD with the contract signal names and a JSONL log."""

import json
import os

import pytest

from vpico import focusrig_cli

BAD = [
    ("not json {", "not valid JSON"),
    (json.dumps({"presses": [{"input": "nose", "at_ms": 1}]}), "unknown input"),
    (json.dumps({"presses": [{"input": "af_on", "at_ms": -5}]}), "negative"),
    (json.dumps({"config": {"max_speed": "fast"}}), "max_speed"),
    (json.dumps({"config": {"lens_cal": [[1000, 100]]}}), "lens_cal"),
    (json.dumps({"config": {"focus_mode": "auto"}}), "focus_mode"),
    (json.dumps({"subject_mm": [[0, 1000], [-1, 2000]]}), "subject_mm"),
    (json.dumps({"duration_ms": -1}), "duration_ms"),
    (json.dumps({"presses": [{"input": "af_on", "at_ms": 10, "hold_ms": 100},
                             {"input": "af_on", "at_ms": 50, "hold_ms": 100}]}), "overlap"),
    (json.dumps({"bogus": 1}), "unknown scenario key"),
    (json.dumps([1, 2]), "JSON object"),
]


@pytest.mark.parametrize("text,word", BAD)
def test_bad_scenario_exits_2_with_one_line(tmp_path, text, word):
    p = tmp_path / "s.json"
    p.write_text(text)
    r = focusrig_cli("run", str(p), "--vcd", str(tmp_path / "o.vcd"))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and word in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "o.vcd").exists()


def test_missing_file_exits_2(tmp_path):
    r = focusrig_cli("run", str(tmp_path / "nope.json"))
    assert r.returncode == 2 and "no scenario file" in r.stderr and "portrait" in r.stderr


def test_run_writes_vcd_with_contract_signals_and_log(tmp_path):
    p = tmp_path / "s.json"
    p.write_text(json.dumps({"duration_ms": 500, "subject_mm": [[0, 2000]],
                             "presses": [{"input": "af_on", "at_ms": 50, "hold_ms": 100, "bounce_ms": 2},
                                         {"input": "shutter_full", "at_ms": 300, "hold_ms": 50}]}))
    r = focusrig_cli("run", str(p), "--vcd", str(tmp_path / "o.vcd"), "--log", str(tmp_path / "o.jsonl"))
    assert r.returncode == 0, r.stderr
    vcd = (tmp_path / "o.vcd").read_text()
    assert "$timescale 1 ns $end" in vcd
    for name in ("af_on", "shutter_half", "shutter_full", "cam_focus", "cam_shutter", "step", "dir",
                 "motor_en", "lens_pos", "subject_mm"):
        assert f" {name} $end" in vcd, name
    log = [json.loads(x) for x in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert any(e.get("ev") == "exposure" for e in log)


def test_max_speed_beyond_the_driver_pulses_is_refused(tmp_path):
    p = tmp_path / "s.json"
    p.write_text(json.dumps({"config": {"driver": "drv8825", "max_speed": 200000}}))
    r = focusrig_cli("run", str(p))
    assert r.returncode == 2 and "drv8825" in r.stderr and "max_speed" in r.stderr
    p.write_text(json.dumps({"config": {"driver": "tmc2209", "max_speed": 200000}, "duration_ms": 10}))
    assert focusrig_cli("run", str(p)).returncode == 0
