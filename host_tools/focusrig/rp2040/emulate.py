"""The rp2040 target behind a pseudo-terminal: what `focusrig emulate --target rp2040` runs.

The official MicroPython UF2 runs on the emulated RP2040 (js/serve.mjs, paced to the wall
clock); its USB CDC is the device: what the board sends goes to the pty the user opens
(mpremote, `focusrig deploy|monitor|config|status`, pyserial), what the user sends goes
to the board. Nothing is translated: the banner, the REPL, raw REPL and raw-paste, Ctrl-C
(MicroPython's USB CDC interrupt character), soft reset (Ctrl-D) and machine.reset() (the
watchdog: a hard reset, the board powers on again with its flash) are the real port's.

This module owns the pty, the Node process, the relay between them, the flash image file
(read at power-on, written back by the board), and the buttons and subject distance
(press / set_input / set_subject / play / control_line: the virtual Pico's control
language, sent to the board as contact edges on the emulated clock).
"""

import json
import os
import pty
import random
import select
import subprocess
import tempfile
import tty

from .. import pinmap as pinmap_mod
from .. import scenario as scn
from ..rig_control import RigControl
from . import BOOTROM_NAME, JS_DIR, UF2_NAME, board_file, check_ready
from . import flashfs

SERVE = os.path.join(JS_DIR, "serve.mjs")
BACKLOG = 16384          # bytes kept for the user side beyond the pty's buffer


def default_flash_image():
    """The persistent flash image: $FOCUSRIG_RP2040_FLASH, else ~/.cache/focusrig/rp2040-flash.img."""
    env = os.environ.get("FOCUSRIG_RP2040_FLASH")
    if env:
        return env
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "focusrig", "rp2040-flash.img")


class Emulator(RigControl):
    """One emulated Pico (the official UF2) behind a pseudo-terminal.

    em = Emulator(image); path = em.start(); while ...: em.step(); em.close()"""

    def __init__(self, image=None, log=None, control=None, subject_mm=2000, scenario=None):
        self.flash = os.path.abspath(image or default_flash_image())
        self.log = log or (lambda msg: None)
        pm = pinmap_mod.load()
        self.pm = pm
        self.sigs = pinmap_mod.signals(pm)
        self.subject_mm = float(subject_mm)
        self.scenario = scenario
        self.user_ctl = control
        self._user_ctl_pos = 0
        self._user_ctl_buf = b""
        self.held_inputs = set()
        self._rng = random.Random(1)
        self.proc = None
        self.umfd = self.usfd = -1
        self.path = None
        self._out_q = bytearray()
        self._from_node = b""
        self.work = tempfile.mkdtemp(prefix="focusrig-rp2040-")
        self.boots = 0

    # ---- life cycle ---------------------------------------------------------------------
    def start(self):
        node = check_ready()
        os.makedirs(os.path.dirname(self.flash) or ".", exist_ok=True)
        setup = {
            "bootrom": board_file(BOOTROM_NAME), "uf2": board_file(UF2_NAME),
            "flash": self.flash, "flash_offset": flashfs.FS_OFFSET, "flash_size": flashfs.FS_SIZE,
            "input_active": {str(self.sigs[n][0]): self.sigs[n][1] for n in self.pm["inputs"]},
            "origin_gpio": self.sigs["led"][0], "lidar_uart": self.pm["uart"]["lidar"]["id"],
            "subject_mm": self.subject_mm, "seed": 1,
        }
        if self.scenario is not None:
            edges, _ = scn.edges(self.scenario, self.sigs)
            setup["scenario"] = {"edges": edges, "subject": self.scenario["subject_mm"]}
        path = os.path.join(self.work, "serve.json")
        with open(path, "w") as f:
            json.dump(setup, f)
        self.umfd, self.usfd = pty.openpty()
        tty.setraw(self.usfd)
        self.path = os.ttyname(self.usfd)
        os.set_blocking(self.umfd, False)
        if self.user_ctl:
            try:
                self._user_ctl_pos = os.path.getsize(self.user_ctl)
            except OSError:
                open(self.user_ctl, "ab").close()
        self._stderr = open(os.path.join(self.work, "serve.err"), "wb")
        self.proc = subprocess.Popen([node, SERVE, path], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._stderr,
                                     cwd=self.work, start_new_session=True)
        os.set_blocking(self.proc.stdout.fileno(), False)
        return self.path

    def close(self):
        p, self.proc = self.proc, None
        if p is not None and p.poll() is None:
            try:
                p.stdin.write(b'{"k":"quit"}\n')
                p.stdin.flush()
                p.wait(10)               # the board writes its flash image, then ends
            except (OSError, subprocess.TimeoutExpired):
                p.kill()
                p.wait()
        for fd in (self.umfd, self.usfd):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.umfd = self.usfd = -1
        if getattr(self, "_stderr", None):
            self._stderr.close()
        for n in os.listdir(self.work):
            os.unlink(os.path.join(self.work, n))
        os.rmdir(self.work)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def error(self):
        """The Node side's last stderr lines (after it ended), one line."""
        if self.proc is None or self.proc.poll() is None:
            return ""
        with open(os.path.join(self.work, "serve.err"), "rb") as f:
            tail = f.read().decode("utf-8", "replace").strip().splitlines()[-3:]
        return " | ".join(tail) or f"exit {self.proc.returncode}"

    # ---- the relay ------------------------------------------------------------------------
    def _send(self, msg):
        if self.alive():
            try:
                self.proc.stdin.write((json.dumps(msg) + "\n").encode())
                self.proc.stdin.flush()
            except OSError:
                pass

    def _from_board(self, line):
        msg = json.loads(line)
        k = msg["k"]
        if k == "usb":
            self._out_q += bytes.fromhex(msg["hex"])
            self._flush_user()
        elif k == "boot":
            self.boots = msg["n"]
            self.log("power on" if msg["n"] == 1 else "hard reset (watchdog): power on again")
        elif k == "origin":
            self.log(f"firmware started ({msg['t_ms'] / 1000:.2f} s)")
        elif k == "saved":
            self.log(f"flash image written: {self.flash}")
        elif k == "pace":
            self.log(f"emulated {msg['emulated_s']:.1f} s in {msg['wall_s']:.1f} s wall "
                     f"(emulator busy {100 * msg['busy']:.0f}%)")

    def _flush_user(self):
        while self._out_q:
            try:
                n = os.write(self.umfd, self._out_q)
            except BlockingIOError:
                # nobody reads the device: drop the oldest beyond a bounded backlog, as a
                # host that does not read loses a USB serial's output
                if len(self._out_q) > BACKLOG:
                    del self._out_q[: len(self._out_q) - BACKLOG]
                return
            except OSError:
                return
            del self._out_q[:n]

    def step(self, timeout=0.05, extra_fds=()):
        """One round of the relay; returns the extra fds that are readable. Raises
        EOFError (with the Node side's last words) when the emulated board has ended."""
        out = self.proc.stdout.fileno()
        rfds = [self.umfd, out] + list(extra_fds)
        wfds = [self.umfd] if self._out_q else []
        try:
            r, w, _ = select.select(rfds, wfds, [], timeout)
        except InterruptedError:
            return []
        if self.umfd in w:
            self._flush_user()
        if out in r:
            try:
                data = os.read(out, 1 << 16)
            except BlockingIOError:
                data = None
            if data == b"":
                self.proc.wait()
                raise EOFError(self.error())
            if data:
                self._from_node += data
                *lines, self._from_node = self._from_node.split(b"\n")
                for line in lines:
                    if line.strip():
                        self._from_board(line)
        if self.umfd in r:
            try:
                data = os.read(self.umfd, 4096)
            except (BlockingIOError, OSError):
                data = b""
            if data:
                self._send({"k": "usb", "hex": data.hex()})
        self._poll_user_ctl()
        return [fd for fd in extra_fds if fd in r]

    # ---- buttons and the subject ---------------------------------------------------------
    def _check_input(self, name):
        if name not in self.sigs or name not in self.pm["inputs"]:
            raise ValueError(f"unknown input {name!r} (one of: {', '.join(scn.INPUTS)})")

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
            seed = s.get("seed", self._rng.randrange(1 << 30))
            edges, _ = scn.edges({"presses": presses, "seed": seed}, self.sigs)
            self._send({"k": "edges", "edges": [[int(t), g, lv] for t, g, lv in edges]})
        if "subject_mm" in s:
            self._send({"k": "subject", "points": s["subject_mm"]})

    def set_input(self, name, pressed):
        """Hold an input down (True) or let it go (False)."""
        self._check_input(name)
        gpio, active = self.sigs[name]
        (self.held_inputs.add if pressed else self.held_inputs.discard)(name)
        self._send({"k": "edges", "edges": [[0, gpio, active if pressed else 1 - active]]})

    def set_subject(self, mm):
        self.subject_mm = float(mm)
        self._send({"k": "subject", "points": [[0, self.subject_mm]]})


def prepare_image(image, firmware=False, mpy=True):
    """With firmware=True, put the firmware into the image (created when missing) as
    `deploy --mpy` does (mpy=False: the .py sources); keeps the image's other files."""
    if not firmware:
        return image
    from ..virtual_pico import runner as vp
    with tempfile.TemporaryDirectory(prefix="focusrig-fw-") as tmp:
        vp.prepare_flash(tmp, None, mpy=mpy)
        flashfs.add_files(image, tmp)
    return image
