"""Bad input: one line that says what to do, exit code 2, nothing changed.

Binary and non-UTF-8 scenario files, a UTF-8 BOM (accepted), output paths that cannot be
written (in words, before the run), and `config reset` naming only what it changed."""

import os
import subprocess
import sys

import pytest

from vpico import run

BIN = os.path.dirname(sys.executable)
FOCUSRIG = os.path.join(BIN, "focusrig")
needs_mpy = pytest.mark.skipif(not os.path.exists(os.path.join(BIN, "micropython")),
                               reason="MicroPython unix port not installed")
GOOD = b'{"duration_ms": 300, "presses": [{"input": "af_on", "at_ms": 50, "hold_ms": 50}]}'


def focusrig(*args):
    return subprocess.run([FOCUSRIG, *args], capture_output=True, text=True, timeout=60)


def one_line(r, cmd):
    assert r.returncode == 2, (r.returncode, r.stderr[:300])
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"focusrig {cmd}: "), r.stderr[:300]
    assert len(lines[0]) < 400 and "Traceback" not in r.stderr and "Errno" not in r.stderr
    return lines[0]


@pytest.mark.parametrize("content", [
    bytes(range(256)) * 23,                        # a binary file (5.9 kB)
    "{\"name\": \"caf\u00e9\"}".encode("latin-1"),    # not UTF-8
    b"\x00\x00\x00{}",                             # NUL bytes
])
def test_binary_or_non_utf8_scenario_is_one_line_exit_2(tmp_path, content):
    p = tmp_path / "s.json"
    p.write_bytes(content)
    for cmd in (("run", str(p)), ("report", str(tmp_path / "x.vcd"), "--scenario", str(p))):
        if cmd[0] == "report":
            (tmp_path / "x.vcd").write_text("$timescale 1 ns $end\n$enddefinitions $end\n")
        line = one_line(focusrig(*cmd), cmd[0])
        assert "s.json" in line and ("text file" in line or "JSON" in line), line


@needs_mpy
def test_utf8_bom_is_accepted(tmp_path):
    p = tmp_path / "bom.json"
    p.write_bytes(b"\xef\xbb\xbf" + GOOD)
    r = focusrig("run", str(p), "--summary")
    assert r.returncode == 0, r.stderr


def test_missing_scenario_names_the_built_in_ones(tmp_path):
    line = one_line(focusrig("run", str(tmp_path / "nope.json")), "run")
    assert "portrait" in line


@needs_mpy
def test_output_path_errors_in_words_before_the_run(tmp_path):
    p = tmp_path / "s.json"
    p.write_bytes(GOOD)
    line = one_line(focusrig("run", str(p), "--vcd", str(tmp_path / "no" / "such" / "x.vcd")), "run")
    assert "does not exist" in line and "create it" in line
    line = one_line(focusrig("run", str(p), "--log", str(tmp_path)), "run")
    assert "is a folder" in line
    r = focusrig("run", str(p), "--vcd", str(tmp_path / "x.vcd"))
    assert r.returncode == 0, r.stderr
    line = one_line(focusrig("report", str(tmp_path / "x.vcd"), "-o",
                             str(tmp_path / "gone" / "r.html")), "report")
    assert "does not exist" in line
    assert not os.path.exists(tmp_path / "gone")


@needs_mpy
def test_config_reset_lists_only_the_keys_that_changed():
    cmd = lambda at, c: {"at_ms": at, "cmd": c}  # noqa: E731
    res, _ = run({"duration_ms": 400, "serial": [
        cmd(20, "config set max_speed 4321"), cmd(60, "config set burst_fps 7"),
        cmd(120, "config reset"), cmd(200, "config reset")]})
    resets = [r for r in res.replies("config") if "changed" in r][2:]
    assert resets[0]["changed"] == ["burst_fps", "max_speed"], resets
    assert resets[1]["changed"] == [], resets
