"""Lens calibration wizard: distance (mm, from the LiDAR) -> focus position (steps).

For each distance the user jogs the lens to sharp focus and presses Enter; the wizard
records the LiDAR distance (a fresh, steady reading) and the lens position from `status`.
The table is then checked (one point per distance, position strictly monotonic in the
distance), fitted with steps = a + b / distance (focus travel is close to linear in
1/distance, which is how the firmware interpolates it) and written with
`config set lens_cal [[mm, steps], ...]`.

Keys come from a terminal in cbreak mode (arrows, `,` `.` `<` `>`, Enter, u, q) or, when
stdin is not a terminal, as one key name per line (`right`, `RIGHT`, `enter`, `undo`,
`quit`, `jog 17`): scripts and tests drive the wizard that way.

Pure logic (key parsing, checks, fit, formatting) is separate from the board I/O so it can
be tested without a board.
"""

import json
import os
import select
import shutil
import time

from . import transport
from .cli import UserError

DEFAULT_DISTANCES = (400, 700, 1200, 2500, 6000)
MIN_POINTS = 2
MAX_POINTS = 10            # `config set lens_cal ...` must fit the firmware's 200-char line
MAX_LINE = 200
POLL_S = 0.1               # status poll interval while waiting for a reading
STEADY_SAMPLES = 3         # fresh readings that must agree before a point is recorded
READ_TIMEOUT_S = 3.0       # give up waiting for a steady reading after this long
MOVE_TIMEOUT_S = 20.0      # a jog that has not finished after this long is reported


class CalibrationError(UserError):
    """Expected failure of the wizard (one line)."""


# ---- keys -----------------------------------------------------------------------------------

KEY_HELP = ("keys: Left/Right or , . fine jog near/far, Shift+Left/Right or < > coarse, "
            "Enter = sharp (record), u = undo last point, q = quit without writing")
LINE_KEYS_HELP = ("one key per line: left, right (fine near/far), LEFT, RIGHT (coarse), "
                  "jog N (N steps: + = more steps, DIR high), enter, undo, quit")
# Near and far: which way is nearer is a fact of each rig (motor mounting, lens), stored in
# lens_cal's slope. The keys jog towards near / far like the firmware's `jog near|far`:
# the direction of the board's lens_cal at the start, then the one the recorded points show.


def parse_key_line(line, fine, coarse):
    """One line of scripted input -> action tuple, None for a blank/comment line.

    Actions: ("near", steps), ("far", steps) (the wizard turns them into a signed jog for
    this rig), ("jog", steps) (+ = more steps), ("enter",), ("undo",), ("quit",).
    Raises ValueError."""
    s = line.strip()
    if not s or s.startswith("#"):
        return None
    named = {
        "left": ("near", fine), "near": ("near", fine), ",": ("near", fine),
        "right": ("far", fine), "far": ("far", fine), ".": ("far", fine),
        "LEFT": ("near", coarse), "NEAR": ("near", coarse), "<": ("near", coarse),
        "RIGHT": ("far", coarse), "FAR": ("far", coarse), ">": ("far", coarse),
    }
    if s in named:
        return named[s]
    low = s.lower()
    if low in ("shift+left", "shift-left"):
        return ("near", coarse)
    if low in ("shift+right", "shift-right"):
        return ("far", coarse)
    if low in ("enter", "sharp", "return"):
        return ("enter",)
    if low in ("u", "undo"):
        return ("undo",)
    if low in ("q", "quit"):
        return ("quit",)
    parts = s.split()
    if parts[0].lower() == "jog" and len(parts) == 2:
        try:
            return ("jog", int(parts[1]))
        except ValueError:
            pass
    raise ValueError(f"unknown key {s!r}: {LINE_KEYS_HELP}")


_TTY_SEQS = [
    (b"\x1b[1;2D", "coarse_near"), (b"\x1b[1;2C", "coarse_far"),   # Shift+Left/Right (xterm)
    (b"\x1b[2D", "coarse_near"), (b"\x1b[2C", "coarse_far"),       # some terminals
    (b"\x1b[d", "coarse_near"), (b"\x1b[c", "coarse_far"),         # rxvt
    (b"\x1b[D", "near"), (b"\x1b[C", "far"), (b"\x1bOD", "near"), (b"\x1bOC", "far"),
]
_TTY_CHARS = {b",": "near", b".": "far", b"<": "coarse_near", b">": "coarse_far",
              b"\r": "enter", b"\n": "enter", b"u": "undo", b"U": "undo",
              b"q": "quit", b"Q": "quit", b"\x03": "quit", b"\x04": "quit"}


def decode_tty(data, fine, coarse):
    """Bytes typed in a cbreak terminal -> list of actions (unknown bytes are ignored)."""
    jogs = {"near": ("near", fine), "far": ("far", fine), "coarse_near": ("near", coarse),
            "coarse_far": ("far", coarse)}
    out = []
    i = 0
    while i < len(data):
        for seq, name in _TTY_SEQS:
            if data.startswith(seq, i):
                out.append(jogs[name])
                i += len(seq)
                break
        else:
            if data[i:i + 1] == b"\x1b":          # another escape sequence: skip it
                j = i + 1
                if j < len(data) and data[j:j + 1] in (b"[", b"O"):
                    j += 1
                    while j < len(data) and not (0x40 <= data[j] <= 0x7E):
                        j += 1
                    j += 1
                i = j
                continue
            name = _TTY_CHARS.get(data[i:i + 1])
            if name in jogs:
                out.append(jogs[name])
            elif name:
                out.append((name,))
            i += 1
    return out


class LineKeys:
    """Scripted keys: one per line from a text stream (not a terminal)."""
    live = False

    def __init__(self, stream, fine, coarse):
        self.stream, self.fine, self.coarse = stream, fine, coarse
        self.lineno = 0

    def next(self, timeout=None):
        while True:
            line = self.stream.readline()
            if not line:
                return ("eof",)
            self.lineno += 1
            try:
                a = parse_key_line(line, self.fine, self.coarse)
            except ValueError as e:
                raise CalibrationError(f"stdin line {self.lineno}: {e}") from None
            if a is not None:
                return a

    def close(self):
        pass


class TtyKeys:
    """Keys typed in a terminal (cbreak mode: no echo, one key at a time, Ctrl-C works)."""
    live = True

    def __init__(self, fd, fine, coarse):
        import termios
        import tty
        self.fd, self.fine, self.coarse = fd, fine, coarse
        self._old = termios.tcgetattr(fd)
        tty.setcbreak(fd)
        self._queue = []

    def next(self, timeout=None):
        if self._queue:
            return self._queue.pop(0)
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return None
        data = os.read(self.fd, 64)
        if not data:
            return ("eof",)
        if b"\x1b" in data[-6:]:          # an escape sequence may arrive in pieces
            r, _, _ = select.select([self.fd], [], [], 0.03)
            if r:
                data += os.read(self.fd, 64)
        self._queue = decode_tty(data, self.fine, self.coarse)
        return self._queue.pop(0) if self._queue else None

    def close(self):
        import termios
        termios.tcsetattr(self.fd, termios.TCSADRAIN, self._old)


# ---- the table --------------------------------------------------------------------------------

def default_distances(n):
    """n distances from 400 to 6000 mm, evenly spaced in 1/distance-ish (geometric), 10 mm
    resolution like the LiDAR's."""
    if n == len(DEFAULT_DISTANCES):
        return list(DEFAULT_DISTANCES)
    lo, hi = DEFAULT_DISTANCES[0], DEFAULT_DISTANCES[-1]
    return [int(round(lo * (hi / lo) ** (i / (n - 1)) / 10.0)) * 10 for i in range(n)]


def parse_distances(text):
    try:
        ds = [float(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError:
        raise CalibrationError(f"--distances {text!r}: give millimetres separated by commas, "
                               "e.g. --distances 400,700,1200,2500,6000") from None
    if any(d <= 0 for d in ds):
        raise CalibrationError("--distances: every distance must be above 0 mm")
    return [int(d) if d == int(d) else d for d in ds]


def check_table(points):
    """points [[mm, steps], ...] (any order) -> sorted table; raises CalibrationError with
    the offending points when distances repeat or the position is not strictly monotonic
    (the same direction for all points) in the distance."""
    if len(points) < MIN_POINTS:
        raise CalibrationError(f"need at least {MIN_POINTS} points, got {len(points)}")
    pts = sorted(([p[0], p[1]] for p in points), key=lambda p: p[0])
    for a, b in zip(pts, pts[1:]):
        if a[0] == b[0]:
            raise CalibrationError(f"two points at {_mm(a[0])} mm ({a[1]} and {b[1]} steps): "
                                   "calibrate each distance once (u undoes the last point)")
    for a, b in zip(pts, pts[1:]):
        if a[1] == b[1]:
            raise CalibrationError(f"not monotonic: the same position {a[1]} at {_mm(a[0])} mm and "
                                   f"{_mm(b[0])} mm: re-focus one of them and run calibrate again")
    diffs = [b[1] - a[1] for a, b in zip(pts, pts[1:])]
    ups = sum(1 for d in diffs if d > 0)
    downs = len(diffs) - ups
    if ups and downs:
        # the majority direction is taken as right, the pairs against it are named
        sign = 1 if ups > downs else -1 if downs > ups else (1 if pts[-1][1] > pts[0][1] else -1)
        word = "rise" if sign > 0 else "fall"
        bad = [(a, b) for a, b, d in zip(pts, pts[1:], diffs) if (d > 0) != (sign > 0)]
        what = "; ".join(f"{_mm(a[0])} mm ({a[1]}) -> {_mm(b[0])} mm ({b[1]})" for a, b in bad)
        raise CalibrationError(f"not monotonic: the position should {word} with distance but "
                               f"goes the other way between {what}: re-focus those points and run "
                               "calibrate again (nothing written)")
    return pts


def monotonic_problem(points):
    """None, or the message check_table would give (for an early warning)."""
    if len(points) < 2:
        return None
    try:
        check_table(points)
    except CalibrationError as e:
        return str(e).replace(" and run calibrate again (nothing written)", "") \
                     .replace(" and run calibrate again", "")
    return None


def fit(points):
    """Least-squares steps = a + b / mm. Returns (a, b, residuals [steps, per point], rms)."""
    xs = [1.0 / p[0] for p in points]
    ys = [float(p[1]) for p in points]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
    a = my - b * mx
    res = [y - (a + b * x) for x, y in zip(xs, ys)]
    rms = (sum(r * r for r in res) / n) ** 0.5
    return a, b, res, rms


def format_table(points, title="lens_cal"):
    pts = sorted(points, key=lambda p: p[0])
    lines = [f"{title}:", "   distance    position   fit residual"]
    if len(pts) >= 2:
        a, b, res, rms = fit(pts)
    else:
        res, rms = [0.0] * len(pts), None
    for p, r in zip(pts, res):
        rs = f"{round(r, 1) + 0.0:+9.1f}" if len(pts) > 2 else "        -"
        lines.append(f"  {_mm(p[0]):>6} mm  {p[1]:>8} st   {rs}")
    if len(pts) > 2:
        span = max(p[1] for p in pts) - min(p[1] for p in pts)
        worst = max(range(len(pts)), key=lambda i: abs(res[i]))
        lines.append(f"fit: steps = {a:.1f} + {b:.0f} / distance_mm; RMS residual {rms:.1f} steps, "
                     f"worst {res[worst]:+.1f} at {_mm(pts[worst][0])} mm "
                     f"({100.0 * abs(res[worst]) / span if span else 0:.1f}% of the {span}-step travel)")
    elif len(pts) == 2:
        lines.append("fit: two points define the line exactly (no residual to judge)")
    return "\n".join(lines)


def fit_warning(points):
    """A hint when one point lies far off the 1/distance line (likely mis-focused)."""
    if len(points) < 4:
        return None
    pts = sorted(points, key=lambda p: p[0])
    _, _, res, _ = fit(pts)
    span = max(p[1] for p in pts) - min(p[1] for p in pts)
    worst = max(range(len(pts)), key=lambda i: abs(res[i]))
    if abs(res[worst]) > max(5.0, 0.03 * span):
        return (f"note: the point at {_mm(pts[worst][0])} mm is {res[worst]:+.0f} steps off the "
                "1/distance fit: check its focus (the table is written as measured)")
    return None


def config_line(points):
    """The `config set lens_cal ...` command for a checked table."""
    val = json.dumps([[_num(p[0]), int(p[1])] for p in points], separators=(",", ":"))
    line = "config set lens_cal " + val
    if len(line) > MAX_LINE:
        raise CalibrationError(f"the table is too long for one command ({len(line)} > {MAX_LINE} "
                               "characters): use fewer points")
    return line


def _num(x):
    return int(x) if float(x) == int(x) else x


def _mm(x):
    return f"{_num(x)}"


# ---- the wizard -----------------------------------------------------------------------------------

class Wizard:
    """Runs the calibration against a transport.Board.

    keys: LineKeys / TtyKeys; out: a text stream for prompts and results; distances: the
    distance for each point (suggested to the user, or set on the virtual Pico when
    subject_control names the emulator's control file)."""

    def __init__(self, board, keys, out, distances, fine, coarse, subject_control=None,
                 timeout=3.0):
        self.b = board
        self.keys = keys
        self.out = out
        self.distances = list(distances)
        self.fine, self.coarse = fine, coarse
        self.subject_control = subject_control
        self.timeout = timeout
        self.points = []            # [[mm, steps], ...] in recording order
        self._live_len = 0
        self._live_text = ""
        self._board_sign = None     # +1: more steps = nearer, per the board's lens_cal
        self._told_sign = None

    # ---- output
    def say(self, text=""):
        self._clear_live()
        print(text, file=self.out, flush=True)

    def _clear_live(self):
        if self._live_len:
            self.out.write("\r\x1b[K")
            self._live_len = 0

    def _live(self, st, i):
        """The one status line in a terminal, redrawn in place (only when it changes)."""
        n = len(self.distances)
        text = (f"point {i + 1}/{n} ({_mm(self.distances[i])} mm)  lidar {self._mm_text(st)}  "
                f"lens {st.get('pos')}{' moving' if st.get('moving') else ''}  "
                "[Enter sharp, u undo, q quit]")
        width = shutil.get_terminal_size((80, 24)).columns - 1
        text = text[:max(20, width)]
        if text == self._live_text and self._live_len:
            return
        self.out.write("\r\x1b[K" + text)
        self.out.flush()
        self._live_len = len(text)
        self._live_text = text

    @staticmethod
    def _mm_text(st):
        mm = st.get("mm") or 0
        if not mm or st.get("lidar_valid") is False:
            return "no return"
        return f"{mm} mm"

    # ---- board
    def status(self):
        return transport.check_reply(self.b.command("status", timeout=self.timeout), "status")

    def wait_stopped(self):
        end = time.monotonic() + MOVE_TIMEOUT_S
        while True:
            st = self.status()
            if not st.get("moving"):
                return st
            if time.monotonic() > end:
                raise CalibrationError(f"the lens is still moving {MOVE_TIMEOUT_S:g} s after a jog "
                                       f"(pos {st.get('pos')}, target {st.get('target')}): check the "
                                       "motor and `focusrig status`, then run calibrate again")
            time.sleep(0.03)

    def board_near_sign(self):
        """+1 when the board's lens_cal puts nearer focus at more steps, else -1."""
        if self._board_sign is None:
            self._board_sign = 1
            try:
                reply = self.b.command("config get lens_cal", timeout=self.timeout)
                self._board_sign = table_near_sign(reply.get("value") or []) or 1
            except transport.TransportError:
                pass
        return self._board_sign

    def near_sign(self):
        """Which way is nearer: from the recorded points once they show it, else from the
        board's lens_cal (the firmware's `jog near` uses the same rule)."""
        board = self.board_near_sign()
        sign = table_near_sign(self.points) or board
        if sign != board and self._told_sign != sign:
            self._told_sign = sign
            self.say(f"  the points show that nearer focus is {'more' if sign > 0 else 'fewer'} "
                     f"steps on this rig (the board's lens_cal said {'more' if board > 0 else 'fewer'}): "
                     "near/far keys follow the points now; the table you write makes it so "
                     "for `jog near|far` too")
        return sign

    def jog(self, n):
        if n == 0:
            return
        self.b.events = []
        reply = self.b.command(f"jog {int(n)}", timeout=self.timeout)
        if "error" in reply:
            self.say(f"  jog refused: {reply['error']}")
            return
        for ev in self.b.events:
            if ev.get("ev") in ("jog_refused", "motion_refused"):
                self.say(f"  jog refused: {ev.get('why')}")
        self.b.events = []

    def set_subject(self, mm):
        """Virtual Pico: put the simulated target at `mm` and wait until the LiDAR sees it."""
        with open(self.subject_control, "a") as f:
            f.write(f"subject {_mm(mm)}\n")
        end = time.monotonic() + 3.0
        st = {}
        while time.monotonic() < end:
            st = self.status()
            got = st.get("mm") or 0
            if got and abs(got - mm) <= 10:
                return st
            time.sleep(POLL_S)
        raise CalibrationError(f"the virtual LiDAR does not see the subject at {_mm(mm)} mm (it reads "
                               f"{st.get('mm')} mm): is {self.subject_control} the --control file of "
                               f"the `focusrig emulate` on {self.b.port}?")

    def steady_reading(self):
        """(mm, pos) from fresh, steady LiDAR readings with the lens at rest; raises
        _NotNow with the reason for the user when there is none."""
        end = time.monotonic() + READ_TIMEOUT_S
        st = self.wait_stopped()
        last_frames = st.get("lidar_frames")
        stale_since = time.monotonic()
        samples = []
        while True:
            if st.get("lidar_valid") is False or not (st.get("mm") or 0) or \
                    (st.get("lidar_age_ms") or 0) > 500:
                raise _NotNow("no LiDAR return: aim the LiDAR at the target (close enough, not "
                              "against the light) and press Enter again")
            if st.get("moving"):
                samples = []
            else:
                frames = st.get("lidar_frames")
                fresh = frames is None or last_frames is None or frames > last_frames
                if fresh:
                    samples.append((st["mm"], st["pos"]))
                    last_frames = frames
                    stale_since = time.monotonic()
                elif time.monotonic() - stale_since > 1.0:
                    raise _NotNow("the LiDAR sends no new readings: check its wiring and power, "
                                  "then press Enter again")
                last = samples[-STEADY_SAMPLES:]
                if len(last) == STEADY_SAMPLES:
                    mms = [m for m, _ in last]
                    tol = max(10, 0.01 * max(mms))
                    if max(mms) - min(mms) <= tol and len({p for _, p in last}) == 1:
                        return sorted(mms)[len(mms) // 2], last[-1][1]
            if time.monotonic() > end:
                mms = [m for m, _ in samples[-10:]] or [st.get("mm")]
                raise _NotNow(f"the LiDAR reading is not steady ({min(mms)}..{max(mms)} mm): "
                              "hold the target and the rig still and press Enter again")
            time.sleep(POLL_S)
            st = self.status()

    def record(self, i):
        """Enter: record the point, or say why not. Returns True when recorded."""
        try:
            mm, pos = self.steady_reading()
        except _NotNow as e:
            self.say(f"  {e}")
            return False
        for p in self.points:
            if abs(p[0] - mm) < 10:
                self.say(f"  the LiDAR reads {_mm(mm)} mm, but point {self.points.index(p) + 1} is "
                         f"already at {_mm(p[0])} mm: move the target to a new distance "
                         "(or u to undo that point)")
                return False
        self.points.append([mm, pos])
        self.say(f"  recorded point {len(self.points)}: {_mm(mm)} mm -> {pos} steps")
        problem = monotonic_problem(self.points)
        if problem:
            self.say(f"  warning: {problem} (u undoes this point)")
        return True

    def run(self):
        n = len(self.distances)
        self.say(KEY_HELP if self.keys.live else LINE_KEYS_HELP)
        announced = -1
        while len(self.points) < n:
            i = len(self.points)
            if announced != i:
                d = self.distances[i]
                if self.subject_control:
                    self.set_subject(d)
                    self.say(f"point {i + 1}/{n}: virtual target set to {_mm(d)} mm; "
                             "jog to sharp focus, then Enter")
                else:
                    self.say(f"point {i + 1}/{n}: put a target at about {_mm(d)} mm; "
                             "jog to sharp focus, then Enter")
                announced = i
                if not self.keys.live:
                    self._show(self.status())
            if self.keys.live:
                self._live(self.status(), i)
                action = self.keys.next(0.2)
                if action is None:
                    continue
            else:
                action = self.keys.next()
            kind = action[0]
            if kind in ("near", "far"):
                action = ("jog", action[1] * self.near_sign() * (1 if kind == "near" else -1))
                kind = "jog"
            if kind == "jog":
                self.jog(action[1])
                if not self.keys.live:
                    self._show(self.wait_stopped())
            elif kind == "enter":
                self.record(i)
            elif kind == "undo":
                if self.points:
                    p = self.points.pop()
                    self.say(f"  undone point {len(self.points) + 1}: {_mm(p[0])} mm -> {p[1]} steps")
                    announced = -1
                else:
                    self.say("  nothing to undo")
            elif kind == "quit":
                raise CalibrationError(f"quit after {len(self.points)} of {n} points: nothing written")
            elif kind == "eof":
                raise CalibrationError(f"input ended after {len(self.points)} of {n} points: "
                                       "nothing written (end the script with enough `enter` lines)")
        self._clear_live()
        return list(self.points)

    def _show(self, st):
        self.say(f"  pos {st.get('pos')}  lidar {self._mm_text(st)}")

    # ---- write
    def write(self, table):
        """Send the table; returns (the table the board holds, its config reply)."""
        line = config_line(table)
        reply = self.b.command(line, timeout=self.timeout)
        if "error" in reply:
            raise CalibrationError(f"the board refused the table: {reply['error']} (nothing changed)")
        if "lens_cal" not in reply.get("changed", []):
            raise CalibrationError(f"unexpected reply to config set: {json.dumps(reply)[:80]}: "
                                   "check with `focusrig config get lens_cal`")
        back = transport.check_reply(self.b.command("config get lens_cal", timeout=self.timeout),
                                     "config get lens_cal")
        got = back.get("value")
        if [[float(a), int(b)] for a, b in got or []] != [[float(a), int(b)] for a, b in table]:
            raise CalibrationError(f"the board holds {json.dumps(got)} instead of the table sent: "
                                   "run calibrate again")
        return got, reply


def table_near_sign(points):
    """+1 when the nearest point of [[mm, steps], ...] has more steps than the farthest,
    -1 when fewer, 0 when the points do not tell (fewer than two distances or equal steps)."""
    pts = [p for p in points if p and p[0]]
    if len(pts) < 2:
        return 0
    near = min(pts, key=lambda p: p[0])
    far = max(pts, key=lambda p: p[0])
    if near[0] == far[0] or near[1] == far[1]:
        return 0
    return 1 if near[1] > far[1] else -1


class _NotNow(Exception):
    """No point can be recorded right now; str() says why."""
