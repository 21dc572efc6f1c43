"""Photographer features on top of motion: manual focus nudge (jog), focus marks with an
eased pull, and the job slot that focus stacking (stacking.py) and homing / the limit
switch (homing.py) run in. Each is a small job run from the service loop; at most one job runs at a time
and any button press aborts a stack or a pull, leaving the lens where it is.

Buttons (optional, see hardware/pinmap.json):
  jog_near / jog_far   tap: one fine step (jog_fine, sent 40 ms after the press, so
                       that both buttons together are a chord, not a jog); hold:
                       coarse steps (jog_coarse) every jog_repeat_ms
  both jog buttons     tap: pull to the other mark (A <-> B, the follow-focus A-B move);
                       hold for long_press_ms: store the current position as the next
                       mark (A, then B, ...)
  home switch          outside homing it is a limit: the motor stops at once, motion is
                       refused until `clear`
"""

import time

from waits import earliest
import pins
from homing import Homing, JOB as HOME

# job ids
IDLE = 0
PULL = 1
STACK = 2               # stacking.JOB (stacking.py is imported at the first stack: heap)
JOB_NAMES = ("idle", "pull", "stack", "home")     # indexed by job id

JOG_NEAR = pins.IN_JOG_NEAR
JOG_FAR = pins.IN_JOG_FAR
CHORD_US = 40000        # the second jog button within this long makes a two-button chord
HOME_IN = pins.IN_HOME
MARKS = ("A", "B", "C", "D")


class Features:
    def __init__(self, app):
        self.app = app
        self.out = app.out
        self.motion = app.motion
        self.job = IDLE
        self.phase = 0
        self.t0 = 0                  # ticks_us when the job (phase) started
        self.jog_dir = 0
        self.jog_pending = False     # a jog press waiting out the chord window
        self.jog_next = 0            # ticks_us of the next repeat
        self.jog_t0 = 0
        self.both_t0 = -1            # both jog buttons down since (ticks_us), -1 = no
        self.both_long = False
        self.next_mark = 0
        self.pull_from = 0
        self.pull_to = 0
        self.pull_ms = 0
        self._stack = None          # stacking.Stack, made at the first `stack start`
        self.homing = Homing(self)
        self.configure(app.cfg)

    def configure(self, cfg):
        self.cfg = cfg

    # ---- state shared with commands ----------------------------------------------------
    def motion_locked(self):
        if self.motion.fault:
            return "limit switch hit: send `clear` first"
        if self.job == HOME:
            return "homing in progress"
        if self.job == STACK:
            return "focus stack in progress"
        return None

    def end_job(self):
        """A job is over (done, failed or aborted): the camera is the photographer's again."""
        self.job = IDLE
        self.app.focus.blocked = False
        self.app.focus.update_armed()

    def abort(self, why):
        if self.job == IDLE:
            return
        job = self.job
        self.end_job()
        self.motion.limit_speed(0)
        if self.motion.busy():
            self.motion.stop()
        self.out.event(JOB_NAMES[job] + "_aborted", why=why, pos=self.motion.pos_now())

    # ---- buttons -------------------------------------------------------------------------
    def on_input(self, t, idx, st):
        if idx == HOME_IN:
            if st == 1:
                self.homing.switch(t)
            return
        if st == 1 and self.job in (PULL, STACK):
            self.abort("button " + self.app.inputs.names[idx])
            return
        if idx not in (JOG_NEAR, JOG_FAR):
            return
        inp = self.app.inputs
        both = inp.pressed(JOG_NEAR) and inp.pressed(JOG_FAR)
        if both:
            self.jog_dir = 0
            self.jog_pending = False
            if self.both_t0 < 0:
                self.both_t0 = t
                self.both_long = False
            return
        if self.both_t0 >= 0 and st == 0:
            if not self.both_long:
                self._pull_other_mark()
            self.both_t0 = -1
            self.jog_dir = 0
            return
        if st == 1 and self.both_t0 < 0:
            # the fine step goes out once the chord window has passed (service)
            self.jog_dir = self.near_sign() * (1 if idx == JOG_NEAR else -1)
            self.jog_t0 = t
            self.jog_pending = True
            self.jog_next = time.ticks_add(t, 2 * self.cfg["jog_repeat_ms"] * 1000)
        elif st == 0:
            if self.jog_pending:
                self._jog(self.cfg["jog_fine"] * self.jog_dir, "fine")    # a quick tap
                self.jog_pending = False
            self.jog_dir = 0

    def jog_refusal(self):
        """Why a jog cannot run now, or None."""
        locked = self.motion_locked()
        if locked:
            return locked
        if self.app.focus.af_running():
            return "AF is running (release AF-ON or send 'af stop' first)"
        return None

    def _jog(self, delta, size):
        """A jog from the buttons: a refusal is a jog_refused event."""
        why = self.jog_refusal()
        if why:
            self.out.event("jog_refused", why=why)
            return
        self._move_by(delta, size)

    def _move_by(self, delta, size):
        m = self.motion
        base = m.target() if m.busy() else m.pos_now()
        tgt = m.move_to(base + delta, "jog")
        self.out.event("jog", size=size, delta=delta, target=tgt)

    def near_sign(self):
        """+1 when nearer focus means more steps (from the lens calibration), else -1."""
        cal = self.cfg["lens_cal"]
        near = min(cal, key=lambda p: p[0])
        far = max(cal, key=lambda p: p[0])
        return 1 if near[1] >= far[1] else -1

    # ---- marks -------------------------------------------------------------------------
    def store_mark(self, name):
        """Store the lens position as mark `name` (in the config, saved to flash).
        Returns the save fields of Commands.apply_quiet."""
        pos = self.motion.pos_now()
        marks = dict(self.cfg["marks"])
        marks[name] = pos
        saved = self.app.commands_apply({"marks": marks})
        self.out.event("mark_set", mark=name, pos=pos)
        return saved

    def _pull_other_mark(self):
        marks = self.cfg["marks"]
        if "A" not in marks or "B" not in marks:
            self.out.event("pull_refused", why="store marks A and B first (hold both jog buttons)")
            return
        here = self.motion.pos_now()
        name = "B" if abs(here - marks["A"]) <= abs(here - marks["B"]) else "A"
        self.pull(name, self.cfg["pull_ms"])

    def pull(self, name, ms):
        """Eased move to a mark over `ms` (smoothstep position profile, followed by the
        tracking controller; 0 = as fast as the motor allows)."""
        marks = self.cfg["marks"]
        if name not in marks:
            raise ValueError("mark %s is not set" % name)
        if self.motion_locked():
            raise ValueError(self.motion_locked())
        self.pull_from = self.motion.pos_now()
        self.pull_to = marks[name]
        self.out.event("pull_start", mark=name, target=self.pull_to, ms=ms)
        if ms <= 0:
            self.motion.move_to(self.pull_to, "pull")
        self.pull_ms = ms
        self.job = PULL
        self.t0 = time.ticks_us()

    def _pull_service(self, now):
        el = time.ticks_diff(now, self.t0) / 1000
        m = self.motion
        if self.pull_ms > 0 and el < self.pull_ms:
            u = el / self.pull_ms
            d = self.pull_to - self.pull_from
            x = self.pull_from + d * u * u * (3 - 2 * u)            # smoothstep
            v = d * 6 * u * (1 - u) / (self.pull_ms / 1000)
            m.track(x, v, now)
            return 2
        if self.phase == 0:
            self.phase = 1
            m.move_to(self.pull_to, "pull")                          # land exactly
            return 2
        if not m.busy():
            self.end_job()
            self.phase = 0
            self.out.event("pull_done", pos=m.pos_now(), ms=el)
            return -1
        return 2

    # ---- service loop ----------------------------------------------------------------------
    def service(self, now):
        w = -1
        if self.both_t0 >= 0 and not self.both_long:
            held = time.ticks_diff(now, self.both_t0)
            need = self.cfg["long_press_ms"] * 1000
            if held >= need:
                self.both_long = True
                name = MARKS[self.next_mark % 2]
                self.next_mark += 1
                why = self.store_mark(name).get("why")
                if why:                 # from the buttons: no reply to carry it
                    self.out.event("config_error", why=why)
            else:
                w = (need - held + 999) // 1000
        if self.jog_pending:
            left = CHORD_US - time.ticks_diff(now, self.jog_t0)
            if left <= 0:
                self.jog_pending = False
                self._jog(self.cfg["jog_fine"] * self.jog_dir, "fine")
            else:
                w = earliest(w, (left + 999) // 1000)
        if self.jog_dir and not self.jog_pending and self.job == IDLE:
            left = time.ticks_diff(self.jog_next, now)
            if left <= 0:
                self._jog(self.cfg["jog_coarse"] * self.jog_dir, "coarse")
                self.jog_next = time.ticks_add(now, self.cfg["jog_repeat_ms"] * 1000)
                left = self.cfg["jog_repeat_ms"] * 1000
            w = earliest(w, (left + 999) // 1000)
        if self.job == PULL:
            w = earliest(w, self._pull_service(now))
        elif self.job == STACK and self._stack is not None:
            w = earliest(w, self._stack.service(now))
        elif self.job == HOME:
            w = earliest(w, self.homing.service(now))
        return w

    def on_moved(self, t, why):
        pass

    def busy(self):
        return self.job != IDLE

    # ---- serial commands ----------------------------------------------------------------------
    def cmd_jog(self, args):
        if not args:
            raise ValueError("jog: use 'jog N' (steps) or 'jog near|far [fine|coarse]'")
        a0 = args[0]
        if a0 in ("near", "far"):
            size = args[1] if len(args) > 1 else "fine"
            if size not in ("fine", "coarse"):
                raise ValueError("jog: size is fine or coarse")
            n = self.cfg["jog_" + size] * self.near_sign() * (1 if a0 == "near" else -1)
        else:
            try:
                n = int(a0)
            except ValueError:
                raise ValueError("jog: expected a whole number of steps or near|far")
            size = "steps"
        why = self.jog_refusal()
        if why:
            raise ValueError("jog: refused, " + why)      # the one answer: no event as well
        self._move_by(n, size)
        self.out.reply("jog", delta=n, target=self.motion.target())

    def job_name(self):
        return JOB_NAMES[self.job]

    def cmd_home(self, args):
        self.homing.home()
        self.out.reply("home", started=True)

    def cmd_clear(self, args):
        was = self.motion.fault
        self.motion.fault = None
        self.out.reply("clear", cleared=was)

    def cmd_mark(self, args):
        if len(args) < 2 or args[0] not in ("set", "goto") or args[1].upper() not in MARKS:
            raise ValueError("mark: use 'mark set A|B|C|D' or 'mark goto A|B|C|D [pull_ms]'")
        name = args[1].upper()
        if args[0] == "set":
            saved = self.store_mark(name)
            self.out.reply("mark", mark=name, pos=self.motion.pos_now(), **saved)
            return
        ms = self.cfg["pull_ms"]
        if len(args) > 2:
            try:
                ms = int(args[2])
            except ValueError:
                raise ValueError("mark goto: pull_ms must be a whole number")
            if not 0 <= ms <= 600000:
                raise ValueError("mark goto: pull_ms must be between 0 and 600000")
        self.pull(name, ms)
        self.out.reply("mark", mark=name, target=self.pull_to, ms=ms)

    def cmd_stack(self, args):
        sub = args[0] if args else ""
        if sub == "start":
            if self._stack is None:
                from stacking import Stack      # only for stacking: ~2 KB of heap
                self._stack = Stack(self)
            self._stack.start()
            self.out.reply("stack", positions=len(self._stack.pos))
        elif sub == "abort":
            self.abort("stack abort command")
            self.out.reply("stack", aborted=True)
        else:
            raise ValueError("stack: use 'stack start' or 'stack abort' (settings: config stack_*)")

