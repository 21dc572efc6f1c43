"""`focusrig report`: from our VCD, a JSONL log, a sigrok-style VCD with a channel map;
expected failures; sigrok-cli reads our VCDs; headless Chromium renders the page."""

import json
import os
import shutil
import subprocess

import pytest

from focusrig import cli, report

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCEN = {
    "name": "report-check", "duration_ms": 700, "seed": 5, "config": {"af_mode": "servo"},
    "subject_mm": [[0, 3000], [400, 1200], [700, 1200]],
    "presses": [{"input": "af_on", "at_ms": 50, "hold_ms": 600, "bounce_ms": 3},
                {"input": "shutter_full", "at_ms": 300, "hold_ms": 120, "bounce_ms": 2},
                {"input": "shutter_full", "at_ms": 520, "hold_ms": 80, "bounce_ms": 2}],
}


@pytest.fixture(scope="module")
def run_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    s = d / "s.json"
    s.write_text(json.dumps(SCEN))
    rc = cli.main(["run", str(s), "--vcd", str(d / "r.vcd"), "--log", str(d / "r.jsonl")])
    assert rc == 0
    return d


def _report(args, capsys):
    rc = cli.main(["report"] + [str(a) for a in args])
    return rc, capsys.readouterr()


def test_report_from_our_vcd(run_files, capsys):
    d = run_files
    rc, _ = _report([d / "r.vcd", "-o", d / "a.html", "--scenario", d / "s.json",
                     "--log", d / "r.jsonl"], capsys)
    assert rc == 0
    html = (d / "a.html").read_text()
    assert "<svg" in html and report.LENS_COLOR in html
    assert html.count("<tr>") >= 3           # header + two exposures
    assert "http" not in html.replace("http://www.w3.org/2000/svg", "")   # self-contained
    assert "<script" not in html


def test_report_from_jsonl(run_files, capsys):
    d = run_files
    rc, _ = _report([d / "r.jsonl", "-o", d / "b.html"], capsys)
    assert rc == 0
    data = report.build(str(d / "r.jsonl"))
    # the log stamps exposures when the firmware handled the press, not when the shutter
    # line moved: no latency is made up from it, and the page says why
    assert len(data.exposures) == 2 and all(e["latency_us"] is None for e in data.exposures)
    assert any("latency is not in the log" in n for n in data.notes)
    assert data.lens and data.focus


SIGROK_VCD = """$date Sat Jan 1 2026 $end
$version libsigrok 0.5.2 $end
$timescale 1 us $end
$scope module libsigrok $end
$var wire 1 ! D0 $end
$var wire 1 " D1 $end
$var wire 1 # D2 $end
$upscope $end
$enddefinitions $end
#0 1! 0" 0#
#100000 0! 1"
#100025 1#
#200000 1! 0"
#200100 0#
#300000
"""


def test_report_from_sigrok_vcd_with_mapping(tmp_path, capsys):
    vcd = tmp_path / "la.vcd"
    vcd.write_text(SIGROK_VCD)
    # D0 = shutter_full (active low: 1 = released), D1 = cam_focus, D2 = cam_shutter
    rc, _ = _report([vcd, "--map", "D0=shutter_full,D1=cam_focus,D2=cam_shutter",
                     "-o", tmp_path / "la.html"], capsys)
    assert rc == 0
    data = report.build(str(vcd), mapping=report.parse_mapping(
        "D0=shutter_full,D1=cam_focus,D2=cam_shutter"))
    assert len(data.exposures) == 1
    assert data.exposures[0]["latency_us"] == pytest.approx(25.0)
    m = tmp_path / "map.json"
    m.write_text(json.dumps({"D0": "shutter_full", "D2": "cam_shutter"}))
    rc, _ = _report([vcd, "--map", m, "-o", tmp_path / "la2.html"], capsys)
    assert rc == 0


@pytest.mark.parametrize("content,extra", [
    ("hello, not a trace\n", []),
    ("", []),
    (SIGROK_VCD, []),                              # sigrok names without a mapping
    (SIGROK_VCD, ["--map", "D0=nonsense"]),
])
def test_report_bad_input_exits_2_with_one_line(tmp_path, capsys, content, extra):
    f = tmp_path / "bad.vcd"
    f.write_text(content)
    rc, cap = _report([f, "-o", tmp_path / "x.html"] + extra, capsys)
    assert rc == 2
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("focusrig report: ")
    assert "Traceback" not in cap.err


def test_report_missing_file_exits_2(tmp_path, capsys):
    rc, cap = _report([tmp_path / "nope.vcd"], capsys)
    assert rc == 2 and len(cap.err.strip().splitlines()) == 1


def test_report_help_has_examples(capsys):
    with pytest.raises(SystemExit):
        cli.main(["report", "--help"])
    assert "examples:" in capsys.readouterr().out


def _sigrok():
    exe = shutil.which("sigrok-cli")
    if not exe:
        pytest.skip("sigrok-cli is not installed (Debian: apt-get install sigrok-cli, or "
                    "`make system-deps`)")
    return exe


def test_sigrok_cli_reads_our_vcd_channels(run_files):
    exe = _sigrok()
    r = subprocess.run([exe, "-I", "vcd", "-i", str(run_files / "r.vcd"), "--show"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    for name in ("af_on", "shutter_half", "shutter_full", "cam_focus", "cam_shutter",
                 "step", "dir", "motor_en"):
        assert f"- {name}: logic" in r.stdout, r.stdout


def test_sigrok_cli_reads_our_vcd_samples(run_files, tmp_path):
    """Not just the header: sigrok reads every sample (lens_pos / subject_mm are real
    variables, which libsigrok 0.5.2 skips instead of stopping at)."""
    from focusrig import trace as trace_mod
    exe = _sigrok()
    out = tmp_path / "back.vcd"
    r = subprocess.run([exe, "-I", "vcd:downsample=1000", "-i", str(run_files / "r.vcd"), "-O", "vcd",
                        "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    ours = trace_mod.read_vcd(str(run_files / "r.vcd"))
    back = trace_mod.read_vcd(str(out))
    for name in ("cam_shutter", "shutter_full", "motor_en"):
        assert len(back.rising(name)) == len(ours.rising(name)) > 0, name
        for a, b in zip(back.rising(name), ours.rising(name)):
            assert abs(a - b) <= 1000            # 1 us samples after downsampling


def test_report_renders_in_headless_chromium(run_files, tmp_path, capsys):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium, or "
                    "`make system-deps`)")
    PIL = pytest.importorskip("PIL.Image", reason="Pillow is needed to check the screenshot")
    d = run_files
    page = tmp_path / "r.html"
    rc, _ = _report([d / "r.vcd", "-o", page, "--scenario", d / "s.json", "--log", d / "r.jsonl"], capsys)
    assert rc == 0
    png = tmp_path / "shot.png"
    r = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                        "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}",
                        "--window-size=1400,1000", f"file://{page}"],
                       capture_output=True, text=True, timeout=120)
    assert png.exists(), r.stderr[-500:]
    img = PIL.open(png).convert("RGB")
    w, h = img.size
    # the lens-position line: pixels of its colour inside the plot area (upper part)
    px = img.load()
    hits = 0
    for y in range(80, min(h, 700), 2):
        for x in range(100, min(w, 1300), 2):
            r_, g_, b_ = px[x, y]
            if (abs(r_ - report.LENS_RGB[0]) < 12 and abs(g_ - report.LENS_RGB[1]) < 12
                    and abs(b_ - report.LENS_RGB[2]) < 12):
                hits += 1
    assert hits > 100, f"lens line not visible in the screenshot ({hits} pixels)"
    os.makedirs(os.path.join(REPO, "build"), exist_ok=True)
    shutil.copy(png, os.path.join(REPO, "build", "report-screenshot.png"))
