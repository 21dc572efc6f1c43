"""The virtual Pico behind a pseudo-terminal: what `focusrig emulate` runs.

Two pseudo-terminals:

  user side   the device path printed for the user (mpremote, pyserial, `focusrig monitor`
              open it like /dev/ttyACM0). Kept in raw mode; this process holds its own
              slave fd so a client closing it never ends the relay.
  board side  the MicroPython unix port's controlling terminal, running
              `micropython -i board/_vp_boot.py setup.json` in paced (wall-clock) mode.
              Canonical input without echo (the firmware reads whole lines, as on the
              Pico's USB serial), ISIG on so Ctrl-C raises KeyboardInterrupt, no output
              post-processing (the relay makes line ends "\\r\\n" like the board).

The relay copies bytes both ways and turns what the unix port does into what a Pico does:
- the process exiting (Ctrl-D at a REPL, machine.soft_reset(), sys.exit) is a soft reset:
  print "MPY: soft reboot", start a new interpreter, run boot.py + main.py when the reset
  came from the friendly REPL, only boot.py and straight back into the raw REPL when it
  came from the raw REPL (mpremote relies on that); machine.reset() is a hard reset;
- input that arrives after a Ctrl-C while code runs is held until the REPL reads again
  (Ctrl-C there is a signal on the unix port: it would interrupt what the REPL runs next);
- a bare "\\n" in the output becomes "\\r\\n".

Buttons and the subject distance reach the board through a control file the kernel polls
(see _vp_boot.Control); `Emulator.press()` and friends write it.
"""

import fcntl
import heapq
import json
import os
import pty
import random
import select
import signal
import subprocess
import tempfile
import termios
import time
import tty

from .. import pinmap as pinmap_mod
from .. import scenario as scn
from ..rig_control import RigControl
from .runner import BOARD_DIR, DRIVER_MODELS, HEAP as runner_HEAP, VirtualPicoError, micropython_cmd, write_setup

EXIT_HARD_RESET = 99          # _vp_boot: machine.reset()
SOFT_REBOOT = b"MPY: soft reboot\r\n"
RAW_BANNER = b"raw REPL; CTRL-B to exit"
FRIENDLY_BANNER = b'Type "help()" for more information.'
INPUTS = scn.INPUTS
HEAP = runner_HEAP


def default_flash_dir():
    """The persistent flash folder: $FOCUSRIG_FLASH, else ~/.cache/focusrig/flash."""
    env = os.environ.get("FOCUSRIG_FLASH")
    if env:
        return env
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "focusrig", "flash")


def _board_termios(fd):
    """Canonical, no echo, signals on, CR -> NL on input, no output processing."""
    a = termios.tcgetattr(fd)
    a[0] = termios.ICRNL                                   # iflag (no IXON: ^S/^Q are data)
    a[1] = 0                                               # oflag
    a[2] = (a[2] & ~(termios.CSIZE | termios.PARENB)) | termios.CS8 | termios.CREAD
    a[3] = termios.ICANON | termios.ISIG                   # lflag: no ECHO, no IEXTEN
    cc = a[6]
    for name in ("VQUIT", "VSUSP", "VERASE", "VKILL", "VWERASE", "VREPRINT", "VLNEXT",
                 "VDISCARD", "VSTART", "VSTOP", "VEOL", "VEOL2"):
        i = getattr(termios, name, None)
        if i is not None:
            cc[i] = b"\x00"
    cc[termios.VINTR] = b"\x03"
    cc[termios.VEOF] = b"\x04"
    termios.tcsetattr(fd, termios.TCSANOW, a)


def _set_ctty():
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Emulator(RigControl):
    """One virtual Pico behind a pseudo-terminal.

    em = Emulator(flash_dir); path = em.start(); em.serve(stop_event_fn); em.close()
    """

    def __init__(self, flash_dir=None, heap=HEAP, log=None, control=None, subject_mm=2000,
                 scenario=None):
        self.flash = os.path.abspath(flash_dir or default_flash_dir())
        self.heap = heap
        self.log = log or (lambda msg: None)
        self.sigs, self.pm = _pins()
        self.subject_mm = subject_mm
        self.scenario = scenario
        self.work = tempfile.mkdtemp(prefix="focusrig-emulate-")
        self.kctl = os.path.join(self.work, "board.ctl")   # kernel's control file
        open(self.kctl, "wb").close()
        self.user_ctl = control                            # user's control file (optional)
        self._user_ctl_pos = 0
        self._user_ctl_buf = b""
        self.proc = None
        self.mfd = -1                  # board side master
        self.umfd = self.usfd = -1     # user side master / slave
        self.path = None
        self.mode = "friendly"         # REPL the interpreter was last in: friendly | raw
        self.state = "down"            # down | booting_raw | up
        self._held = bytearray()       # user input waiting for the REPL
        self._hold_until = 0.0
        self._hold = False
        self._tail = b""
        self._last_cr = False
        self._boot_buf = b""
        self._out_q = bytearray()      # output not yet written to the user side
        self._t0 = time.monotonic()
        self.boots = 0
        self.held_inputs = set()
        self._rng = random.Random(1)
        self._edge_q = []              # (wall_ns, gpio, level) not yet sent to the kernel

    # ---- life cycle ---------------------------------------------------------------------
    def start(self):
        os.makedirs(self.flash, exist_ok=True)
        self.umfd, self.usfd = pty.openpty()
        tty.setraw(self.usfd)
        self.path = os.ttyname(self.usfd)
        os.set_blocking(self.umfd, False)
        if self.user_ctl:
            try:
                self._user_ctl_pos = os.path.getsize(self.user_ctl)
            except OSError:
                open(self.user_ctl, "ab").close()
                self._user_ctl_pos = 0
        self._spawn(run=("boot.py", "main.py"))
        return self.path

    def close(self):
        self._kill()
        for fd in (self.umfd, self.usfd):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.umfd = self.usfd = -1
        try:
            for n in os.listdir(self.work):
                os.unlink(os.path.join(self.work, n))
            os.rmdir(self.work)
        except OSError:
            pass

    def _kill(self):
        p = self.proc
        self.proc = None
        if p is not None and p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            p.wait()
        if self.mfd >= 0:
            try:
                os.close(self.mfd)
            except OSError:
                pass
            self.mfd = -1

    def _setup(self, run):
        setup = {
            "mode": "paced",
            "flash": self.flash,
            "run": list(run),
            "control": self.kctl,
            "seed": self.boots,
            "ticks_start_us": int((time.monotonic() - self._t0) * 1e6) & ((1 << 30) - 1),
            "pins": {k: [v[0], v[1]] for k, v in self.sigs.items()},
            "inputs": list(self.pm["inputs"]),
            "edges": [],
            "subject": [[0, self.subject_mm]],
            "lidar": {},
            "lidar_uart": self.pm["uart"]["lidar"]["id"],
            "lens": dict(DRIVER_MODELS["a4988"]),
            "serial": [],
            "ready": self._ready_path,
        }
        if self.scenario is not None and "main.py" in run:
            edges, _ = scn.edges(self.scenario, self.sigs)
            setup["edges"] = edges
            setup["subject"] = self.scenario["subject_mm"]
        # buttons held through a reset stay held
        for name in self.held_inputs:
            gpio, active = self.sigs[name]
            setup["edges"].append([0, gpio, active])
        setup["edges"].sort()
        return setup

    def _spawn(self, run):
        self.boots += 1
        self._ready_path = os.path.join(self.work, "ready")
        try:
            os.unlink(self._ready_path)
        except OSError:
            pass
        setup_path = write_setup(self._setup(run), self.work)
        mfd, sfd = pty.openpty()
        _board_termios(sfd)
        env = dict(os.environ)
        env["MICROPYPATH"] = ".frozen:" + self.flash
        cmd = micropython_cmd() + ["-X", "heapsize=" + self.heap, "-i",
                                   os.path.join(BOARD_DIR, "_vp_boot.py"), setup_path]
        try:
            self.proc = subprocess.Popen(cmd, stdin=sfd, stdout=sfd, stderr=sfd, cwd=self.flash,
                                         env=env, start_new_session=True, preexec_fn=_set_ctty,
                                         close_fds=True)
        finally:
            os.close(sfd)
        self.mfd = mfd
        os.set_blocking(self.mfd, False)
        self._tail = b""
        self._boot_buf = b""
        self.state = "up" if "main.py" in run else "booting_raw"
        self._phase = "script"          # script: boot.py/main.py run; repl: the REPL was reached
        self._hold = True               # until the interpreter runs _vp_boot's files
        self._hold_reason = "boot"
        self._hold_until = time.monotonic() + 10.0
        self.log(f"boot {self.boots}: running {', '.join(run)}")

    # ---- reading a line from the user side ------------------------------------------------
    def _in_repl_readline(self):
        """True while the interpreter's REPL waits for input (terminal in raw mode)."""
        if self.mfd < 0:
            return False
        try:
            return not (termios.tcgetattr(self.mfd)[3] & termios.ICANON)
        except termios.error:
            return False

    def _from_user(self, data):
        """Bytes typed / sent by the user side."""
        if self._hold or self.mfd < 0:
            if (self._hold_reason == "repl" and b"\x03" in data and self.mfd >= 0
                    and not self._in_repl_readline()):
                self._write_board(b"\x03")        # interrupt REPL code right away
                data = data.replace(b"\x03", b"", 1)
            self._held += data
            return
        readline = self._in_repl_readline()
        if self._phase == "script" and readline:
            self._phase = "repl"
        if self._phase == "repl" and not readline:
            # REPL code is running with the terminal cooked (ISIG on: a Ctrl-C would be a
            # signal, and flush the line); hold the input until the REPL
            # reads again (briefly: a long-running program may want the input itself)
            i = data.find(b"\x03")
            if i >= 0:
                self._write_board(b"\x03")
                data = data[:i] + data[i + 1:]
            self._hold = True
            self._hold_reason = "repl"
            self._hold_until = time.monotonic() + 0.5
            self._held += data
            return
        i = data.find(b"\x03")
        if i >= 0 and not readline:
            # Ctrl-C interrupts main.py; what follows waits for the REPL
            self._write_board(data[: i + 1])
            self._hold = True
            self._hold_reason = "ctrl-c"
            self._hold_until = time.monotonic() + 3.0
            self._held += data[i + 1:]
            return
        self._write_board(data)

    def _write_board(self, data):
        while data and self.mfd >= 0:
            try:
                n = os.write(self.mfd, data)
            except BlockingIOError:
                select.select([], [self.mfd], [], 0.05)
                continue
            except OSError:
                return
            data = data[n:]

    def _release_held(self):
        self._hold = False
        data = bytes(self._held)
        self._held.clear()
        if data:
            self._from_user(data)

    # ---- output from the board -----------------------------------------------------------
    def _from_board(self, data):
        tail = self._tail + data
        if RAW_BANNER in tail:
            self.mode = "raw"
        if FRIENDLY_BANNER in tail:
            if tail.rfind(FRIENDLY_BANNER) > tail.rfind(RAW_BANNER):
                self.mode = "friendly"
        self._tail = tail[-64:]
        if self.state == "booting_raw":
            # boot.py output passes; the unix REPL's banner does not: once its prompt
            # shows, switch it to the raw REPL, whose banner is what a Pico prints here
            self._boot_buf += data
            k = self._boot_buf.find(b"MicroPython ")
            if k < 0:
                keep = len(self._boot_buf) - 12
                if keep > 0:
                    self._to_user(self._boot_buf[:keep])
                    self._boot_buf = self._boot_buf[keep:]
                return
            if k > 0:
                self._to_user(self._boot_buf[:k])
                self._boot_buf = self._boot_buf[k:]
            self._check_boot_raw()
            return
        self._to_user(data)

    def _check_boot_raw(self):
        if b">>> " in self._boot_buf and self._in_repl_readline():
            self._boot_buf = b""
            self.state = "up"
            self._tail = b""
            self._write_board(b"\x01")

    def _to_user(self, data):
        if not data:
            return
        out = bytearray()
        start = 0
        while True:
            j = data.find(b"\n", start)
            if j < 0:
                out += data[start:]
                break
            prev_cr = data[j - 1] == 13 if j > 0 else self._last_cr
            out += data[start:j]
            out += b"\n" if prev_cr else b"\r\n"
            start = j + 1
        self._last_cr = data[-1:] == b"\r"
        self._out_q += out
        self._flush_user()

    BACKLOG = 16384                 # bytes kept for the user side beyond the pty's buffer

    def _flush_user(self):
        while self._out_q:
            try:
                n = os.write(self.umfd, self._out_q)
            except BlockingIOError:
                # nobody reads the device: a Pico's USB serial drops what the host does not
                # take; keep a bounded backlog so a slow reader loses nothing short-term
                if len(self._out_q) > self.BACKLOG:
                    del self._out_q[: len(self._out_q) - self.BACKLOG]
                return
            except OSError:
                return
            del self._out_q[:n]

    def _board_exited(self):
        rc = self.proc.wait() if self.proc else 0
        # drain what is left
        while self.mfd >= 0:
            try:
                d = os.read(self.mfd, 65536)
            except OSError:
                break
            if not d:
                break
            self._from_board(d)
        self._kill()
        if rc == EXIT_HARD_RESET:
            self.log("hard reset")
            self.mode = "friendly"
            self._spawn(run=("boot.py", "main.py"))
            return
        self.log(f"soft reset from the {self.mode} REPL (exit {rc})")
        if rc not in (0, 1):
            self._to_user(b"\r\n")
        self._to_user(SOFT_REBOOT)
        if self.mode == "raw":
            self._spawn(run=("boot.py",))
        else:
            self._spawn(run=("boot.py", "main.py"))

    # ---- buttons and the subject ---------------------------------------------------------
    FEED_AHEAD_NS = 200_000_000     # send edges this far ahead of their time
    FEED_MAX = 64                   # edges per kernel line (the board's heap is small)

    def _kernel_cmd(self, line):
        with open(self.kctl, "ab") as f:
            f.write(line.encode() + b"\n")

    def _queue_edges(self, edges, base_ns=None):
        """edges: [[t_ns from base, gpio, level], ...]; base: wall clock now."""
        base = time.time_ns() if base_ns is None else base_ns
        for t, gpio, level in edges:
            heapq.heappush(self._edge_q, (base + int(t), int(gpio), int(level)))
        self._feed_edges()

    def _feed_edges(self):
        """Hand the kernel the edges due soon, in small lines, so its heap stays small."""
        if not self._edge_q:
            return
        horizon = time.time_ns() + self.FEED_AHEAD_NS
        lines = []
        batch = []
        while self._edge_q and self._edge_q[0][0] <= horizon:
            batch.append(list(heapq.heappop(self._edge_q)))
            if len(batch) >= self.FEED_MAX:
                lines.append("edges " + json.dumps(batch))
                batch = []
        if batch:
            lines.append("edges " + json.dumps(batch))
        if lines:
            with open(self.kctl, "ab") as f:
                f.write(("\n".join(lines) + "\n").encode())

    def _check_input(self, name):
        if name not in self.sigs or name not in self.pm["inputs"]:
            raise ValueError(f"unknown input {name!r} (one of: {', '.join(INPUTS)})")

    def press(self, name, hold_ms=200, bounce_ms=0.0, at_ms=0.0):
        """Press `name` for hold_ms (a full press also holds the half press), with optional
        contact bounce, starting at_ms from now."""
        self.play({"presses": [{"input": name, "at_ms": at_ms, "hold_ms": hold_ms,
                                "bounce_ms": bounce_ms}]})

    def play(self, s):
        """Play a scenario's presses (and subject path, when given) from now on."""
        presses = s.get("presses", [])
        for p in presses:
            self._check_input(p["input"])
            p.setdefault("bounce_ms", 0.0)
        if presses:
            edges, _ = scn.edges({"presses": presses, "seed": s.get("seed", self._rng.randrange(1 << 30))},
                                 self.sigs)
            self._queue_edges(edges)
        if "subject_mm" in s:
            now = time.time_ns()
            self._kernel_cmd("subject " + json.dumps([[now + int(t * 1e6), mm] for t, mm in s["subject_mm"]]))

    def set_input(self, name, pressed):
        """Hold an input down (True) or let it go (False)."""
        self._check_input(name)
        gpio, active = self.sigs[name]
        lv = active if pressed else 1 - active
        if pressed:
            self.held_inputs.add(name)
        else:
            self.held_inputs.discard(name)
        self._queue_edges([[0, gpio, lv]])

    def set_subject(self, mm):
        self.subject_mm = float(mm)
        self._kernel_cmd("subject " + json.dumps([[time.time_ns(), float(mm)]]))

    # ---- the relay loop ------------------------------------------------------------------
    def step(self, timeout=0.05, extra_fds=()):
        """One round of the relay; returns the extra fds that are readable."""
        if self._hold and self._hold_reason in ("repl", "ctrl-c"):
            timeout = min(timeout, 0.001)     # poll the REPL's terminal mode closely
        fds = [self.umfd] + list(extra_fds)
        if self.mfd >= 0:
            fds.append(self.mfd)
        wfds = [self.umfd] if self._out_q else []
        try:
            r, w, _ = select.select(fds, wfds, [], timeout)
        except InterruptedError:
            return []
        if self.umfd in w:
            self._flush_user()
        if self.mfd >= 0 and self.mfd in r:
            try:
                d = os.read(self.mfd, 65536)
            except BlockingIOError:
                d = None
            except OSError:
                d = b""
            if d:
                self._from_board(d)
            elif d is not None:
                self._board_exited()
        if self.proc is not None and self.proc.poll() is not None and self.mfd >= 0:
            # exited but the pty did not report it yet: drain and restart
            self._board_exited()
        if self.umfd in r:
            try:
                d = os.read(self.umfd, 65536)
            except (BlockingIOError, OSError):
                d = b""
            if d:
                self._from_user(d)
        if self.state == "booting_raw":
            self._check_boot_raw()
        if self._hold and self.state == "up":
            if time.monotonic() > self._hold_until:
                self._release_held()
            elif self._hold_reason == "boot":
                if os.path.exists(self._ready_path):
                    self._release_held()
            elif self._in_repl_readline():
                self._phase = "repl"
                self._release_held()
        self._poll_user_ctl()
        self._feed_edges()
        return [fd for fd in extra_fds if fd in r]


def _pins():
    pm = pinmap_mod.load()
    return pinmap_mod.signals(pm), pm


def check_micropython():
    try:
        micropython_cmd()
    except VirtualPicoError as e:
        raise VirtualPicoError(str(e)) from None
