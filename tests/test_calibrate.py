"""`focusrig calibrate`: the lens calibration wizard against the virtual Pico.

The test plays the photographer: the simulated lens has a known sharp-focus position
sharp(d) = 250 + 900000 / d (not the firmware's default table, 100 + 1.2e6 / d), the wizard
sets the virtual target distance through the emulator's control file and prints the lens
position, and the test jogs (coarse and fine keys) to the sharp position and presses Enter.
Then the table on the board must match the true lens, and a one-shot AF at a new distance
must land on the true lens's sharp position.
"""

import json
import os
import pty
import select
import queue
import re
import subprocess
import sys
import threading
import time

import pytest

from focusrig import calibrate as cal
from focusrig.cli import UserError
from vpico import Emulator

serial = pytest.importorskip("serial")

BIN = os.path.dirname(sys.executable)
FOCUSRIG = os.path.join(BIN, "focusrig")
HAVE_MPY = os.path.exists(os.path.join(BIN, "micropython"))
needs_mpy = pytest.mark.skipif(not HAVE_MPY, reason="MicroPython unix port not installed")


def sharp(d):
    """The simulated lens: where a subject at d mm is in sharp focus (steps)."""
    return 250 + 900000 / d


def default_cal(d):
    return 100 + 1.2e6 / d


# ---- helpers ------------------------------------------------------------------------------------

def Emu(d, subject=2000):
    return Emulator(d / "flash", "--firmware", "--quiet", "--subject", str(subject), wait=True)


def focusrig(*args, timeout=20, **kw):
    return subprocess.run([FOCUSRIG, *args], capture_output=True, text=True, timeout=timeout, **kw)


def lens_cal(port):
    r = focusrig("config", "get", "lens_cal", "--port", port, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["value"]


class Wizard:
    """`focusrig calibrate` with keys as stdin lines; expect() waits for an output line."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([FOCUSRIG, "calibrate", *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     bufsize=1)
        self.lines = []
        self._q = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self._q.put(line.rstrip("\n"))
        self._q.put(None)

    def expect(self, pattern, timeout=8.0):
        end = time.monotonic() + timeout
        while True:
            try:
                line = self._q.get(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"{pattern!r} not seen; output so far:\n" + "\n".join(self.lines))
            if line is None:
                raise AssertionError(f"{pattern!r} not seen before the end; output:\n" + "\n".join(self.lines)
                                     + "\nstderr: " + self.proc.stderr.read())
            self.lines.append(line)
            m = re.search(pattern, line)
            if m:
                return m

    def key(self, *lines):
        for line in lines:
            self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def pos(self):
        return int(self.expect(r"^\s+pos (-?\d+)\s+lidar").group(1))

    def finish(self, timeout=15):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        while True:
            try:
                line = self._q.get(timeout=2)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
        return self.proc.returncode, "\n".join(self.lines), self.proc.stderr.read()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def focus_on(w, target):
    """The photographer: jog to `target` from the position the wizard shows, with a coarse
    and a few fine keys at the end (like looking at the image), then Enter."""
    pos = w.pos()
    w.key(f"jog {target - pos + 53}")
    assert w.pos() == target + 53
    # this lens (like the default table): nearer = more steps, so far = fewer steps
    w.key("RIGHT")                             # coarse far: -50 (jog_coarse)
    assert w.pos() == target + 3
    w.key("right", "right", "right")           # fine far: -1 each (jog_fine)
    for _ in range(3):
        last = w.pos()
    assert last == target
    w.key("enter")


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    e = Emu(tmp_path_factory.mktemp("calib"))
    yield e
    e.stop()


# ---- against the virtual Pico ---------------------------------------------------------------------

DISTANCES = [400, 700, 1200, 2500, 6000]


@needs_mpy
def test_calibrate_finds_true_lens_and_af_uses_it(emu):
    old = lens_cal(emu.path)
    w = Wizard("--port", emu.path, "--subject-control", emu.ctl,
               "--distances", ",".join(map(str, DISTANCES)))
    try:
        for i, d in enumerate(DISTANCES):
            w.expect(rf"^point {i + 1}/5: virtual target set to {d} mm")
            focus_on(w, round(sharp(d)))
            w.expect(rf"recorded point {i + 1}: {d} mm -> {round(sharp(d))} steps")
            if i == 2:                         # undo the third point once and redo it
                w.key("undo")
                w.expect(r"undone point 3: 1200 mm")
                w.expect(r"^point 3/5: virtual target set to 1200 mm")
                focus_on(w, round(sharp(d)))
                w.expect(r"recorded point 3: 1200 mm")
        rc, out, err = w.finish()
    finally:
        w.kill()
    assert rc == 0, out + err
    assert "wrote lens_cal to the board (saved to flash)" in out
    assert "RMS residual" in out
    table = lens_cal(emu.path)
    assert table != old
    assert [p[0] for p in table] == DISTANCES
    for d, steps in table:
        assert abs(steps - sharp(d)) <= 1, (d, steps, sharp(d))

    # the firmware now focuses a subject at a new distance on the true lens
    from focusrig import transport
    emu.control("subject 900\n")
    with transport.Board(emu.path) as b:
        end = time.monotonic() + 3
        while b.command("status")["mm"] != 900:
            assert time.monotonic() < end, "the LiDAR did not see 900 mm"
            time.sleep(0.05)
        b.events = []
        assert b.command("af start").get("ok")
        lock = b.wait_for(lambda m: m.get("ev") in ("af_lock", "af_error"), 5)
        assert lock and lock["ev"] == "af_lock", (lock, b.events)
        st = b.command("status")
        b.command("af stop")
    want = sharp(900)                          # 1250; the old table said 1433
    assert abs(st["pos"] - want) <= 2, (st["pos"], want)
    assert abs(default_cal(900) - want) > 100


@needs_mpy
def test_non_monotonic_table_writes_nothing(emu):
    before = lens_cal(emu.path)
    w = Wizard("--port", emu.path, "--subject-control", emu.ctl, "--distances", "400,1200,2500")
    try:
        for target in (2500, 1000, 1500):      # 1200 mm mis-focused: far too near the 2500 mm one
            w.expect(r"^point \d/3")
            pos = w.pos()
            w.key(f"jog {target - pos}", "enter")
            w.expect(r"recorded point")
        w.expect(r"warning: not monotonic")
        rc, out, err = w.finish()
    finally:
        w.kill()
    assert rc == 2, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "not monotonic" in lines[0] and "1200 mm (1000) -> 2500 mm (1500)" in lines[0], lines[0]
    assert "nothing written" in lines[0]
    assert lens_cal(emu.path) == before


@needs_mpy
def test_tty_keys_and_dry_run(emu):
    """Arrow keys in a terminal: Shift+Right coarse far, Left fine near, Enter records."""
    before = lens_cal(emu.path)
    master, slave = pty.openpty()
    proc = subprocess.Popen([FOCUSRIG, "calibrate", "--port", emu.path, "--subject-control", emu.ctl,
                             "--distances", "400,700", "--dry-run", "--coarse", "40"],
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    buf = b""

    def until(marker, timeout=8):
        nonlocal buf
        end = time.monotonic() + timeout
        while marker not in buf:
            assert time.monotonic() < end, f"{marker!r} not seen in {buf[-600:]!r}"
            try:
                if select.select([master], [], [], 0.1)[0]:
                    buf += os.read(master, 4096)
            except OSError:
                break
        return buf

    try:
        until(b"point 1/2")
        os.write(master, b"\x1b[1;2C\x1b[1;2C")          # Shift+Right twice: far, -80
        os.write(master, b"\r")
        until(b"recorded point 1")
        until(b"point 2/2")
        os.write(master, b"\x1b[D,,")                     # Left and ',' : fine near x3 (+1 each)
        os.write(master, b"\r")
        until(b"dry run")
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    text = buf.decode(errors="replace")
    assert proc.returncode == 0, text
    p1 = int(re.search(r"recorded point 1: 400 mm -> (-?\d+) steps", text).group(1))
    p2 = int(re.search(r"recorded point 2: 700 mm -> (-?\d+) steps", text).group(1))
    assert p2 == p1 + 3, text                            # nearer = more steps (the board's table)
    assert f"config set lens_cal [[400,{p1}],[700,{p2}]]" in text
    assert lens_cal(emu.path) == before


@needs_mpy
def test_no_lidar_return_stays_on_point(tmp_path):
    e = Emu(tmp_path, subject=0)                 # the LiDAR has never seen anything
    w = Wizard("--port", e.path, "--distances", "400,700", "--dry-run")
    try:
        w.expect(r"^point 1/2: put a target at about 400 mm")
        w.pos()
        w.key("enter")
        w.expect(r"no LiDAR return: aim the LiDAR at the target")
        e.control("subject 400\n")
        time.sleep(0.2)
        w.key("jog 300", "enter")
        w.expect(r"recorded point 1: 400 mm -> 300 steps")
        w.expect(r"^point 2/2")
        e.control("subject 400\n")               # same distance again: refused
        w.key("right", "enter")                  # far: -1 (nearer = more steps here)
        w.expect(r"point 1 is already at 400 mm")
        e.control("subject 700\n")
        time.sleep(0.2)
        w.key("jog -99", "enter")
        w.expect(r"recorded point 2: 700 mm -> 200 steps")
        rc, out, err = w.finish()
    finally:
        w.kill()
        e.stop()
    assert rc == 0, out + err
    assert "config set lens_cal [[400,300],[700,200]]" in out


@needs_mpy
def test_quit_and_end_of_input_write_nothing(emu):
    r = focusrig("calibrate", "--port", emu.path, "--subject-control", emu.ctl,
                 "--distances", "400,700", input="jog 5\nenter\nquit\n")
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "quit after 1 of 2 points: nothing written" in r.stderr
    r = focusrig("calibrate", "--port", emu.path, "--distances", "400,700", input="")
    assert r.returncode == 2 and "input ended after 0 of 2 points" in r.stderr, r.stderr
    r = focusrig("calibrate", "--port", emu.path, "--distances", "400,700", input="sideways\n")
    assert r.returncode == 2 and "stdin line 1: unknown key 'sideways'" in r.stderr, r.stderr


# ---- failures without a board ---------------------------------------------------------------------

def test_no_board_and_silent_board_end_with_one_line(tmp_path):
    r = focusrig("calibrate", "--port", str(tmp_path / "ttyACM9"), input="")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith("focusrig calibrate: no such port")
    master, slave = pty.openpty()              # a port where nothing answers
    try:
        r = focusrig("calibrate", "--port", os.ttyname(slave), "--timeout", "0.3", input="")
    finally:
        os.close(master)
        os.close(slave)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "no reply to 'version'" in r.stderr
    env = dict(os.environ, FOCUSRIG_PORT="")
    r = focusrig("calibrate", "--points", "1", input="", env=env)
    assert r.returncode == 2 and "--points must be 2 to 10" in r.stderr, r.stderr
    r = focusrig("calibrate", "--distances", "400,abc", input="", env=env)
    assert r.returncode == 2 and "--distances" in r.stderr, r.stderr
    r = focusrig("calibrate", "--help")
    assert r.returncode == 0 and "examples:" in r.stdout and "--subject-control" in r.stdout


# ---- pure logic ------------------------------------------------------------------------------------

def test_key_lines_and_terminal_keys():
    assert cal.parse_key_line("right", 2, 40) == ("far", 2)
    assert cal.parse_key_line("LEFT", 2, 40) == ("near", 40)
    assert cal.parse_key_line(" jog -17 ", 2, 40) == ("jog", -17)
    assert cal.parse_key_line("Enter", 2, 40) == ("enter",)
    assert cal.parse_key_line("undo", 2, 40) == ("undo",)
    assert cal.parse_key_line("q", 2, 40) == ("quit",)
    assert cal.parse_key_line("# comment", 2, 40) is None
    with pytest.raises(ValueError):
        cal.parse_key_line("jog far", 2, 40)
    keys = cal.decode_tty(b"\x1b[C\x1b[D\x1b[1;2C\x1b[1;2D,.<>\ruq\x1b[A", 1, 50)
    assert keys == [("far", 1), ("near", 1), ("far", 50), ("near", 50), ("near", 1), ("far", 1),
                    ("near", 50), ("far", 50), ("enter",), ("undo",), ("quit",)]


def test_check_table_names_the_offending_points():
    assert cal.check_table([[700, 1536], [400, 2500], [2500, 610]]) == \
        [[400, 2500], [700, 1536], [2500, 610]]
    with pytest.raises(UserError, match=r"700 mm \(1536\) -> 1200 mm \(1600\)"):
        cal.check_table([[400, 2500], [700, 1536], [1200, 1600], [2500, 610]])
    with pytest.raises(UserError, match="two points at 700 mm"):
        cal.check_table([[400, 2500], [700, 1536], [700, 1500]])
    with pytest.raises(UserError, match="same position 1536 at 700 mm and 1200 mm"):
        cal.check_table([[400, 2500], [700, 1536], [1200, 1536]])
    with pytest.raises(UserError, match="at least 2 points"):
        cal.check_table([[400, 2500]])


def test_fit_recovers_a_lens_and_flags_an_outlier():
    pts = [[d, round(sharp(d))] for d in DISTANCES]
    a, b, res, rms = cal.fit(pts)
    assert abs(a - 250) < 1 and abs(b - 900000) < 500 and rms < 0.5
    assert cal.fit_warning(pts) is None
    pts[2][1] += 120
    assert "1200 mm is +" in cal.fit_warning(pts)
    assert "RMS residual" in cal.format_table(pts)
    assert cal.config_line([[400, 2500], [700, 1536]]) == "config set lens_cal [[400,2500],[700,1536]]"
    assert cal.default_distances(5) == DISTANCES
    assert cal.default_distances(3) == [400, 1550, 6000]
