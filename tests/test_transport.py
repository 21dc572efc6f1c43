"""focusrig.transport and the board commands' failure modes: one line, exit code 2."""

import os
import pty
import subprocess
import sys
import threading
import tty

import pytest

pytest.importorskip("serial")

from focusrig import transport  # noqa: E402

BIN = os.path.dirname(sys.executable)
FOCUSRIG = os.path.join(BIN, "focusrig")


def focusrig(*args, env=None, timeout=30):
    e = dict(os.environ)
    e.pop("FOCUSRIG_PORT", None)
    e.update(env or {})
    return subprocess.run([FOCUSRIG, *args], capture_output=True, text=True, timeout=timeout, env=e)


def one_line_exit_2(r):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_parse_line():
    assert transport.parse_line('{"t": 1, "ev": "press", "input": "af_on"}')["ev"] == "press"
    assert transport.parse_line('{"re": "status", "ok": true}\r')["re"] == "status"
    assert transport.parse_line(">>> ") is None
    assert transport.parse_line('{"broken"') is None
    assert transport.parse_line("[1, 2]") is None


def test_loop_url_no_reply_reports_what_came_back():
    # loop:// echoes: the command itself comes back, which is not a reply
    with transport.Board("loop://") as b:
        with pytest.raises(transport.NoReply) as ei:
            b.command("status", timeout=0.3)
    assert "received: status" in str(ei.value)


class FakeBoard:
    """A pty that answers like the firmware (or like a REPL, or not at all)."""

    def __init__(self, mode):
        self.m, self.s = pty.openpty()
        tty.setraw(self.s)
        self.path = os.ttyname(self.s)
        self.mode = mode
        self.stop = False
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        import select
        while not self.stop:
            r, _, _ = select.select([self.m], [], [], 0.05)
            if not r:
                continue
            try:
                data = os.read(self.m, 1024)
            except OSError:
                return
            if self.mode == "repl":
                os.write(self.m, data.replace(b"\n", b"\r\n") + b">>> ")
            elif self.mode == "firmware" and b"status" in data:
                os.write(self.m, b'{"t": 5, "ev": "boot"}\r\n{"t": 6, "re": "status", "ok": true, "state": "idle"}\r\n')

    def close(self):
        self.stop = True
        self.t.join(1)
        os.close(self.m)
        os.close(self.s)


def test_command_reply_and_events():
    fb = FakeBoard("firmware")
    try:
        with transport.Board(fb.path) as b:
            r = b.command("status", timeout=2)
            assert r["state"] == "idle"
            assert b.events and b.events[0]["ev"] == "boot"
    finally:
        fb.close()


def test_board_at_repl_says_so():
    fb = FakeBoard("repl")
    try:
        r = focusrig("status", "--port", fb.path, "--timeout", "0.5")
    finally:
        fb.close()
    one_line_exit_2(r)
    assert "REPL" in r.stderr and "focusrig deploy" in r.stderr


def test_silent_device():
    fb = FakeBoard("silent")
    try:
        r = focusrig("status", "--port", fb.path, "--timeout", "0.5")
    finally:
        fb.close()
    one_line_exit_2(r)
    assert "nothing received" in r.stderr


def test_wrong_device_deploy():
    fb = FakeBoard("silent")
    try:
        r = focusrig("deploy", "--port", fb.path, timeout=30)
    finally:
        fb.close()
    one_line_exit_2(r)
    assert "MicroPython" in r.stderr


@pytest.mark.parametrize("cmd", [["status"], ["config", "get"], ["monitor"], ["deploy"]])
def test_no_such_port(cmd):
    r = focusrig(*cmd, "--port", "/dev/does-not-exist")
    one_line_exit_2(r)
    assert "no such port" in r.stderr


def test_no_board_found():
    from serial.tools import list_ports
    if any(p.vid == transport.PICO_VID and p.pid == transport.PICO_PID for p in list_ports.comports()):
        pytest.skip("a real Pico is plugged in")
    r = focusrig("status")
    one_line_exit_2(r)
    assert "no Pico found" in r.stderr


def test_bad_url():
    r = focusrig("status", "--port", "socket://127.0.0.1:1")
    one_line_exit_2(r)


def test_help_has_examples():
    for cmd in ("emulate", "deploy", "monitor", "config", "status"):
        r = focusrig(cmd, "--help")
        assert r.returncode == 0
        assert "examples:" in r.stdout, cmd
