"""`focusrig emulate`: the virtual Pico behind a pseudo-terminal, driven by real tools.

Real mpremote deploys firmware/ onto the emulated device and resets it, the firmware then
answers `status` on the same port; the REPL, Ctrl-C and soft reset behave like a Pico;
`focusrig deploy` / `monitor` / `config` / `status` work against it.
"""

import json
import os
import subprocess
import sys
import time

import pytest

from vpico import Emulator

serial = pytest.importorskip("serial")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
FOCUSRIG = os.path.join(BIN, "focusrig")
MPREMOTE = os.path.join(BIN, "mpremote")

pytestmark = pytest.mark.skipif(not os.path.exists(os.path.join(BIN, "micropython")),
                                reason="MicroPython unix port not installed")


def Emu(flash, *extra):
    return Emulator(flash, *extra)


def focusrig(*args, timeout=30):
    return subprocess.run([FOCUSRIG, *args], capture_output=True, text=True, timeout=timeout)


def read_until(s, marker, timeout=10.0):
    buf = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        buf += s.read(4096)
        if marker in buf:
            return buf
    raise AssertionError(f"{marker!r} not seen in {buf[-400:]!r}")


@pytest.fixture
def blank(tmp_path):
    e = Emu(str(tmp_path / "flash"))
    yield e
    e.stop()


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    """A virtual Pico with the firmware in its flash."""
    d = tmp_path_factory.mktemp("emu")
    e = Emu(str(d / "flash"), "--firmware")
    yield e
    e.stop()


def test_mpremote_deploys_and_firmware_answers_status(blank):
    r = subprocess.run([MPREMOTE, "connect", blank.path, "cp", "-r", "firmware/", ":", "+", "reset"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    flash = os.path.join(os.path.dirname(blank.ctl), "flash")
    assert os.path.exists(os.path.join(flash, "main.py"))
    with serial.Serial(blank.path, 115200, timeout=0.1) as s:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            s.write(b"status\n")
            try:
                buf = read_until(s, b'"re": "status"', 1.0)
                # the line arrives in 32-byte chunks: read on to its newline
                while b"\n" not in buf[buf.index(b'"re": "status"'):]:
                    buf += read_until(s, b"\n", 1.0)
                break
            except AssertionError:
                continue
        else:
            raise AssertionError("the firmware did not answer status")
    line = [x for x in buf.split(b"\n") if b'"re": "status"' in x][0]
    st = json.loads(line)
    assert st["ok"] and st["state"] == "idle"


def test_repl_ctrl_c_raw_repl_and_soft_reset(emu):
    with serial.Serial(emu.path, 115200, timeout=0.1) as s:
        s.write(b"\x03")
        read_until(s, b">>> ")
        s.write(b"1+2\r")
        read_until(s, b"3\r\n>>> ")
        s.write(b"\x01")
        read_until(s, b"raw REPL; CTRL-B to exit\r\n>")
        s.write(b"\x04")                       # raw-REPL soft reset: boot.py only, raw again
        buf = read_until(s, b"soft reboot\r\n\r\nraw REPL; CTRL-B to exit\r\n>")
        assert b"MPY: soft reboot" in buf
        s.write(b"print('hi')\x04")
        read_until(s, b"OKhi\r\n\x04\x04>")
        s.write(b"\x02")
        read_until(s, b">>> ")
        s.write(b"\x04")                       # soft reset: main.py runs again
        buf = read_until(s, b'"ev": "boot"')
        assert b"MPY: soft reboot\r\n" in buf
        s.write(b"ping\n")
        read_until(s, b'"re": "ping"')


def test_deploy_reports_time_and_skips_unchanged(emu):
    r = focusrig("deploy", "--port", emu.path)
    assert r.returncode == 0, r.stderr
    assert "answered" in r.stdout
    assert "0 files written" in r.stdout and "unchanged" in r.stdout


def test_monitor_shows_scripted_presses(emu):
    mon = subprocess.Popen([FOCUSRIG, "monitor", "--port", emu.path, "--json", "--duration", "2.5"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "waiting for events" in mon.stderr.readline()
        emu.control("press af_on 300 2\npress shutter_full 50 0 450\n")
        out, err = mon.communicate(timeout=15)
    finally:
        if mon.poll() is None:
            mon.kill()
    ev = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    names = [(e["ev"], e.get("input")) for e in ev if "ev" in e]
    assert ("press", "af_on") in names and ("release", "af_on") in names, names
    assert ("press", "shutter_full") in names, names
    assert any(n == "exposure" for n, _ in names), names
    assert not any(e.get("lost") for e in ev)


def test_monitor_decodes_with_deltas(emu):
    mon = subprocess.Popen([FOCUSRIG, "monitor", "--port", emu.path, "--duration", "4", "--count", "2"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "waiting for events" in mon.stderr.readline()
        emu.control("press jog_far 100\n")
        out, _ = mon.communicate(timeout=10)
    finally:
        if mon.poll() is None:
            mon.kill()
    lines = [x for x in out.splitlines() if "jog_far" in x]
    assert lines and "press" in lines[0], out
    assert any("+" in x.split()[1] for x in out.splitlines()[1:]), out


def test_config_round_trip_and_bad_value(emu):
    r = focusrig("config", "set", "max_speed", "4321", "--port", emu.path)
    assert r.returncode == 0, r.stderr
    r = focusrig("config", "get", "max_speed", "--port", emu.path)
    assert r.stdout.strip() == "max_speed = 4321"
    r = focusrig("config", "set", "max_speed", "banana", "--port", emu.path)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    r = focusrig("config", "reset", "--port", emu.path)
    assert r.returncode == 0
    r = focusrig("config", "get", "max_speed", "--port", emu.path, "--json")
    assert json.loads(r.stdout)["value"] != 4321


def test_status(emu):
    r = focusrig("status", "--port", emu.path)
    assert r.returncode == 0, r.stderr
    assert "state" in r.stdout and "lidar" in r.stdout


def test_port_busy_is_one_line(emu):
    with serial.Serial(emu.path, 115200, exclusive=True):
        r = focusrig("status", "--port", emu.path)
    assert r.returncode == 2
    assert "busy" in r.stderr and len(r.stderr.strip().splitlines()) == 1
