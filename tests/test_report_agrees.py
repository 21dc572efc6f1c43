"""The report tells the same story as `focusrig run --summary` on the same run.

One `focusrig run --vcd --log --summary` per scenario (one-shot with recomposing, a servo
burst); then reports from the VCD alone (the run is embedded in it), from VCD + log +
scenario, and from the JSONL log (+ scenario). Frames, lens positions, lens errors and
latencies must equal --summary's (the log cannot time the shutter line: no latency there,
and it says so); burst frames after the first of a press carry no latency; the one-shot
error is against the subject AF focused on, not the background seen after recomposing.
"""

import os
import re
import subprocess
import sys

import pytest

from focusrig import report

BIN = os.path.dirname(sys.executable)
FOCUSRIG = os.path.join(BIN, "focusrig")
pytestmark = pytest.mark.skipif(not os.path.exists(os.path.join(BIN, "micropython")),
                                reason="MicroPython unix port not installed")


def summary_numbers(text):
    lat = re.search(r"press-to-exposure: (.*)", text)
    err = re.search(r"lens error at exposure: (.*) steps", text)
    frames = int(re.search(r"frames: (\d+)", text).group(1))
    lats = []
    for x in (lat.group(1).split(", ") if lat else []):
        v, unit = x.split()
        lats.append(float(v) / 1000 if unit == "ns" else float(v))
    errs = [float(x) for x in err.group(1).split(", ")] if err else []
    infocus = re.search(r"in focus: (\d+) of (\d+) frames", text)
    return frames, lats, errs, (int(infocus.group(1)) if infocus else None)


@pytest.fixture(scope="module", params=["portrait", "sports"])
def run(request, tmp_path_factory):
    d = tmp_path_factory.mktemp(request.param)
    r = subprocess.run([FOCUSRIG, "run", request.param, "--vcd", str(d / "r.vcd"), "--log",
                        str(d / "r.jsonl"), "--summary"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return request.param, d, r.stdout


def _check_against_summary(dd, summ, latency=True):
    frames, lats, errs, good = summ
    assert len(dd.exposures) == frames
    assert [round(e["error"], 1) for e in dd.exposures if e["error"] is not None] == errs
    rows = report.frame_rows(dd)
    assert sum(1 for r in rows if r[2]) == good
    got = [e["latency_us"] for e in dd.exposures if e["latency_us"] is not None]
    if latency:
        assert [round(x, 3) for x in got] == [round(x, 3) for x in lats]
    else:
        assert got == []


def test_vcd_alone_and_with_log_agree_with_summary(run):
    name, d, out = run
    summ = summary_numbers(out)
    alone = report.build(str(d / "r.vcd"))
    _check_against_summary(alone, summ)
    assert alone.scenario_name == name and alone.firmware.startswith("0.")
    assert alone.config["af_mode"] and alone.af_marks and alone.focus
    full = report.build(str(d / "r.vcd"), scenario=alone and __import__("focusrig.scenario",
                        fromlist=["load"]).load(name), events_path=str(d / "r.jsonl"))
    _check_against_summary(full, summ)
    assert [e["lens_pos"] for e in full.exposures] == [e["lens_pos"] for e in alone.exposures]


def test_jsonl_report_agrees_and_has_no_made_up_latency(run):
    from focusrig import scenario as scn
    name, d, out = run
    frames, lats, errs, good = summary_numbers(out)
    for s in (None, scn.load(name)):
        dd = report.build(str(d / "r.jsonl"), scenario=s)
        assert len(dd.exposures) == frames
        assert all(e["latency_us"] is None for e in dd.exposures)
        assert any("latency is not in the log" in n for n in dd.notes)
        if name == "portrait":              # the lens is still at the frames: exact
            assert [round(e["error"], 1) for e in dd.exposures] == errs
        # burst frames: only the first frame of a press is tied to the press
        presses = [e["press_ns"] for e in dd.exposures if e["press_ns"] is not None]
        assert len(presses) == len(set(presses))


def test_one_shot_error_is_against_the_focused_subject_not_the_background(run):
    name, d, out = run
    if name != "portrait":
        pytest.skip("one-shot scenario only")
    dd = report.build(str(d / "r.vcd"))
    # after recomposing the LiDAR sees 6 m; the lens stays at the 2 m position: in focus
    assert all(abs(e["error"]) < 1 and e["subject_mm"] == 2000 for e in dd.exposures)
    page = report.render_html(dd)
    assert page.index("The shots") < page.index("Engineer") < page.index("Timeline")
    assert page.count('class="ok">in focus<') == len(dd.exposures)
    assert "AF start" in page and "achieved" in page and "lock" in page
    assert 'class="tolerance-band"' in page
    assert "firmware 0.1.0" in page and "config: focus_mode" in page
    # axis ticks at round numbers
    ticks = [int(x) for x in re.findall(r'text-anchor="end" fill="#1f77b4">(-?\d+)</text>', page)]
    assert len(ticks) >= 3 and all(t % 100 == 0 for t in ticks), ticks
