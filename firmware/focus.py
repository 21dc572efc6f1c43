"""The focus / shutter state machine: the one place that decides what buttons do.

AF states (the transition table `AF_TABLE` below is the behaviour, read it first):

    IDLE      lens holds; no AF has run (or the last one was ended)
    ACQUIRE   one-shot AF started, waiting for a usable distance measured after the start
              (the next LiDAR frame: at most 10 ms at the TF-Luna's 100 Hz)
    FOCUSING  one-shot AF: lens moving to the calibrated position
    LOCKED    one-shot AF: focus achieved; the lens stays put until the next AF start
    TRACKING  servo AF: following the subject while AF is held
    STOPPING  servo AF released: braking within `accel`, then IDLE
    GATHER    group AF (af_mode "group"): AF-ON held, every distance measured is kept
              (sweep across the group; a press within group_window_ms of the last
              release adds to it: tap the nearest, then the farthest). On release the
              lens goes where the depth of field spans the group (groupfocus.py), then
              FOCUSING and LOCKED as in one-shot

One-shot AF runs to its end once started, so a tap of AF-ON is enough: it reports focus
achieved (and locks) or an AF error after focus_timeout_ms; releasing the button early
changes nothing. Servo AF runs while the button is held.

A quick double tap of AF-ON (the second press within hyperfocal_tap_ms of the first,
which was a tap) focuses at the hyperfocal distance for `aperture` instead, in any
af_mode (as the `hyperfocal` command does): FOCUSING, then LOCKED.

Who starts AF: AF-ON always; with focus_mode "shutter" the half press (S1) too. With
focus_mode "bbf" the half press only holds the camera's focus line (wake / meter).

Shutter (S2): priority "release" fires at once; "focus" fires once focus is achieved
while AF is running (times out with an error after focus_timeout_ms). Drive "single":
one frame per press; "continuous": frames at burst_fps while held.
"""

from micropython import const
import time

from groupfocus import GroupFocus

IDLE = const(0)
ACQUIRE = const(1)
FOCUSING = const(2)
LOCKED = const(3)
TRACKING = const(4)
STOPPING = const(5)
GATHER = const(6)
STATE_NAMES = ("idle", "acquire", "focusing", "locked", "tracking", "stopping", "gather")

# AF events
E_START = const(0)      # AF-ON press (or S1 in shutter mode)
E_END = const(1)        # the button that started AF released
E_READING = const(2)    # a usable distance reading arrived
E_MOVED = const(3)      # the lens came to rest
E_TIMEOUT = const(4)    # focus_timeout_ms since AF start without focus
E_HALTED = const(5)     # the move was halted (limit switch), not finished

# (state, event) -> handler name. Missing pairs are ignored on purpose.
AF_TABLE = {
    (IDLE, E_START): "start",
    (LOCKED, E_START): "start",
    (STOPPING, E_START): "start",
    (FOCUSING, E_START): "start",
    (ACQUIRE, E_READING): "focus_on_reading",
    (ACQUIRE, E_TIMEOUT): "fail",
    (LOCKED, E_END): "unlock",
    (FOCUSING, E_MOVED): "achieved",
    (FOCUSING, E_TIMEOUT): "fail",
    (FOCUSING, E_HALTED): "halted",
    (TRACKING, E_READING): "follow",
    (TRACKING, E_END): "release_servo",
    (TRACKING, E_TIMEOUT): "lost",
    (TRACKING, E_HALTED): "halted",
    (STOPPING, E_MOVED): "to_idle",
    (STOPPING, E_HALTED): "to_idle",
    (GATHER, E_READING): "gather",
    (GATHER, E_END): "group_focus",
}

FRESH_US = const(30000)        # servo: a reading this recent starts tracking at once
ACQUIRE_POLL_MS = const(1)     # one-shot: look for the next LiDAR frame this often
ALPHA_DIV = const(2)           # servo filter gains: position 1/2, velocity 0.3 (300/1000)
BETA_PER_MILLE = const(300)
V16_MAX = const(320000)        # 20 m/s in 1/16 mm/s: faster estimates are noise
STALE_MS = const(500)          # an estimate older than this starts again
SERVO_LEAD_US = const(7000)    # reading age: 5 ms LiDAR averaging + 0.8 ms frame + ~1 ms polling


class FocusMachine:
    def __init__(self, cfg, motion, trigger, lidar, cal, out):
        self.motion = motion
        self.trigger = trigger
        self.lidar = lidar
        self.cal = cal
        self.out = out
        self.state = IDLE
        self.af_t0 = 0               # ticks_us at AF start
        self.af_source = ""
        self.deadline_armed = False
        self.target = 0              # one-shot target (steps)
        self.seq0 = 0                # lidar.seq at one-shot AF start (older readings don't count)
        self.in_tol = False
        self.achieved_reported = False
        # servo filter (alpha-beta in step space)
        self.x16 = 0                 # servo estimate: distance (1/16 mm), speed (1/16 mm/s)
        self.v16 = 0
        self.t_est = 0
        self.have_est = False
        self.lost_reported = False
        # shutter
        self.s2_held = False
        self.pending_fire = False
        self.burst_t0 = 0            # ticks_us of the burst's first frame
        self.burst_due = 0           # us after burst_t0 of the next frame
        self.burst_on = False
        self.blocked = False         # stacking or homing owns the camera
        self.group = GroupFocus(cfg, out)
        # AF_TABLE as bound handlers, found once (a LiDAR frame at 100 Hz must not build a
        # name and a bound method each time: they are heap objects)
        self._handlers = {(st << 4) | ev: getattr(self, "_" + name)
                          for (st, ev), name in AF_TABLE.items()}
        self.configure(cfg)

    def configure(self, cfg):
        self.cfg = cfg
        self.trigger.pulse_us = cfg["shutter_pulse_ms"] * 1000
        self.frame_us = int(1000000 / cfg["burst_fps"])
        self.tol = cfg["focus_tolerance"]
        self.group.configure(cfg)
        self.update_armed()

    # ---- the AF machine ------------------------------------------------------------------
    def af(self, ev, t):
        h = self._handlers.get((self.state << 4) | ev)     # an int key: no tuple per event
        if h is not None:
            st = self.state
            tol = self.in_tol
            h(t)
            # what a handler changes that a shot depends on (_may_expose): re-arm only
            # then (no handler, or a servo reading that keeps both: ~0.35 ms less on an
            # RP2040, at the LiDAR's 100 Hz)
            if self.state != st or self.in_tol != tol:
                self.update_armed()

    def _set(self, st, t):
        if st != self.state:
            self.state = st
            self.out.event("af_state", t, state=STATE_NAMES[st])

    def _start(self, t):
        self.af_t0 = t
        self.deadline_armed = True
        self.achieved_reported = False
        self.lost_reported = False
        mode = self.cfg["af_mode"]
        self.out.event("af_start", t, mode=mode, source=self.af_source)
        if mode == "group":
            self.deadline_armed = False     # hold as long as the sweep takes
            self.group.begin(time.ticks_ms())
            self.lidar.poll()
            self.seq0 = self.lidar.seq
            self._set(GATHER, t)
            return
        if mode == "servo":
            self.have_est = False
            self._set(TRACKING, t)
            self.lidar.poll()               # the frames since the loop's last look (AF
            mm = self.lidar.fresh(t, FRESH_US)  # off: up to app.IDLE_POLL_MS ago)
            if mm:
                self._follow(t)
            return
        # one-shot: the distance must be measured after AF starts (a subject that steps
        # in as AF-ON is pressed counts), so wait for the next usable frame. Frames that
        # arrived before now are parsed first and so do not count.
        self.lidar.poll()
        self.seq0 = self.lidar.seq
        self._set(ACQUIRE, t)

    def _focus_on_reading(self, t):
        if self.lidar.seq == self.seq0:
            return                  # no usable reading has arrived since AF started
        self._drive(self.lidar.mm, t)

    def _drive(self, mm, t):
        # af_target (stamped with the reading's time) goes out before the move's
        # motion_start (stamped now): event lines stay in time order
        self.target = self.motion.clamp(int(self.cal.steps_for(mm) + 0.5))
        self.out.event("af_target", t, mm=mm, target=self.target)
        self._set(FOCUSING, t)
        self.target = self.motion.move_to(self.target, "af")
        if not self.motion.busy():
            self._achieved(t)

    def _achieved(self, t):
        self.deadline_armed = False
        self._set(LOCKED, t)
        self.in_tol = True
        self.out.event("af_achieved", t, pos=self.motion.pos_now(t), target=self.target,
                       ms=time.ticks_diff(t, self.af_t0) / 1000)
        self.out.event("af_lock", t, pos=self.motion.pos_now(t))
        if self.pending_fire:
            self.pending_fire = False
            self._fire(t, "focus")

    def _fail(self, t):
        self.deadline_armed = False
        why = "no_target" if self.state in (ACQUIRE, GATHER) else "timeout"
        self.out.event("af_error", t, why=why, after_ms=self.cfg["focus_timeout_ms"])
        if self.state == FOCUSING:
            self.motion.stop()
        self._set(IDLE, t)
        if self.pending_fire:
            self.pending_fire = False
            self.out.event("shot_refused", t, why="focus_not_achieved")

    def _halted(self, t):
        """The lens was stopped short of focus (the limit switch): an error, never a lock.
        AF ends; motion stays refused until `clear`."""
        self.deadline_armed = False
        self.in_tol = False
        self.out.event("af_error", t, why="halted", after_ms=time.ticks_diff(t, self.af_t0) // 1000)
        self._set(IDLE, t)
        if self.pending_fire:
            self.pending_fire = False
            self.out.event("shot_refused", t, why="focus_not_achieved")

    def _unlock(self, t):
        """Half-press AF: letting go of the half press ends the lock (a new half press
        focuses again). With back-button focus the lock outlives AF-ON's release."""
        if self.af_source == "shutter_half":
            self.out.event("af_unlock", t)
            self._set(IDLE, t)

    def _follow(self, t):
        """Servo: a new distance. The alpha-beta filter runs in millimetres (a subject at
        constant speed is linear there; focus position is not: it goes with 1/distance),
        then the prediction goes through the calibration to a position and a speed.
        Integers only (1/16 mm, 1/16 mm/s, ms, 1/16 steps): this runs at the LiDAR's
        100 Hz and a float is a heap object on the RP2040 port."""
        mm = self.lidar.mm
        tr = self.lidar.t_us
        dt = time.ticks_diff(tr, self.t_est) // 1000        # ms since the last estimate
        if not self.have_est or dt > STALE_MS:
            self.x16, self.v16, self.t_est = mm << 4, 0, tr
            self.have_est = True
        else:
            if dt <= 0:
                return
            xp = self.x16 + self.v16 * dt // 1000
            r = (mm << 4) - xp
            self.x16 = xp + r // ALPHA_DIV
            v = self.v16 + r * BETA_PER_MILLE // dt         # r / (dt / 1000) * BETA
            self.v16 = V16_MAX if v > V16_MAX else (-V16_MAX if v < -V16_MAX else v)
            self.t_est = tr
        lead = (SERVO_LEAD_US + time.ticks_diff(t, tr)) // 1000
        if lead > STALE_MS:
            lead = STALE_MS
        d = (self.x16 + self.v16 * lead // 1000) >> 4
        if d < 1:
            d = 1
        cal = self.cal
        goal16 = cal.steps16(d)
        # focus speed: a central difference over +-50 ms (whole mm are fine at that span;
        # 1/distance is curved, a one-sided difference would overshoot an approach)
        dd = self.v16 // 320
        d1 = d - dd
        d2 = d + dd
        vel = (cal.steps16(d2 if d2 > 1 else 1) - cal.steps16(d1 if d1 > 1 else 1)) * 10 >> 4
        self.target = (goal16 + 8) >> 4
        self.motion.track16(goal16, vel, t)
        err16 = (self.motion.pos_now(t) << 4) - goal16
        tol16 = (self.tol << 4) + 8
        self.in_tol = -tol16 <= err16 <= tol16
        self.deadline_armed = False
        self.lost_reported = False
        if self.in_tol and not self.achieved_reported:
            self.achieved_reported = True
            self.out.event("af_achieved", t, pos=self.motion.pos_now(t), target=self.target,
                           ms=time.ticks_diff(t, self.af_t0) / 1000)
        if self.pending_fire and self.in_tol:
            self.pending_fire = False
            self._fire(t, "focus")

    def _lost(self, t):
        self.deadline_armed = False
        if not self.lost_reported:
            self.lost_reported = True
            self.out.event("af_error", t, why="no_target", after_ms=self.cfg["focus_timeout_ms"])
        self.motion.stop()
        self.in_tol = False
        if self.pending_fire:
            self.pending_fire = False
            self.out.event("shot_refused", t, why="focus_not_achieved")

    def _release_servo(self, t):
        self.deadline_armed = False
        self.motion.stop()
        self._set(STOPPING, t)
        if not self.motion.busy():
            self._set(IDLE, t)

    def _to_idle(self, t):
        self._set(IDLE, t)

    # ---- depth of field: group and hyperfocal (groupfocus.py) -----------------------------
    def _gather(self, t):
        if self.lidar.seq != self.seq0:     # measured after the press
            self.group.add(self.lidar.mm)

    def _group_focus(self, t):
        g = self.group
        g.end(time.ticks_ms())
        r = g.solve(self.cal)
        self.af_t0 = t
        self.deadline_armed = True
        if r is None:
            self._fail(t)                   # nothing usable measured: no_target
            return
        g.report(t, r)
        self._drive(r["focus"], t)

    def hyperfocal(self, t, source, fnum=0):
        """Focus at the hyperfocal distance for f-number fnum (default `aperture`).
        Raises ValueError (nothing changed) without an aperture."""
        r = self.group.hyperfocal(self.cal, fnum)
        self.group.clear()
        self.af_source = source
        self.af_t0 = t
        self.deadline_armed = True
        self.achieved_reported = False
        self.out.event("af_start", t, mode="hyperfocal", source=source)
        self.group.report(t, r)
        self._drive(r["focus"], t)
        self.update_armed()
        return r

    # ---- buttons ------------------------------------------------------------------------
    def af_button(self, pressed, t, source):
        if source == "af_on" and self.group.double_tap(pressed, t):
            try:
                self.hyperfocal(t, "double_tap")
            except ValueError:
                self.out.event("af_error", t, why="no_aperture", after_ms=0)
                self.group.blink("beyond_lens")
            return
        if pressed:
            self.af_source = source
            self.af(E_START, t)
        elif source == self.af_source:
            self.af(E_END, t)

    def half_press(self, pressed, t):
        self.trigger.focus(pressed)
        if self.cfg["focus_mode"] == "shutter":
            self.af_button(pressed, t, "shutter_half")

    def full_press(self, pressed, t, fired_in_irq):
        if not pressed:
            self.s2_held = False
            self.burst_on = False
            tr = self.trigger
            tr.cancel_frame()
            if tr.take_frame():                 # fired before the release was seen
                self._fired(tr.fired_at, "burst")
            if self.pending_fire:
                self.pending_fire = False
                self.out.event("shot_refused", t, why="released_before_focus")
            self.update_armed()
            return
        self.s2_held = True
        if self.cfg["focus_mode"] == "shutter" and self.state in (IDLE, STOPPING) \
                and not fired_in_irq:
            # S2 implies S1 on a two-stage button: its contact may just not have been
            # seen yet (both close within microseconds)
            self.half_press(True, t)
        if fired_in_irq:
            self._fired(self.trigger.fired_at, "irq")
        elif self.blocked:
            self.out.event("shot_refused", t, why="busy")
        elif self.can_fire():
            self._fire(t, "press")
        elif self.cfg["priority"] == "focus" and self.af_running():
            self.pending_fire = True
            self.out.event("shot_pending", t, why="waiting_for_focus")
        else:
            self.out.event("shot_refused", t, why="not_focused")
        self.update_armed()

    # ---- shutter --------------------------------------------------------------------------
    def af_running(self):
        return self.state in (ACQUIRE, FOCUSING, TRACKING, GATHER)

    def can_fire(self):
        return not self.trigger.firing and self._may_expose()

    def _may_expose(self):
        """May a frame start once no pulse is on (priority, focus, camera not lent)?"""
        if self.blocked:
            return False
        if self.cfg["priority"] == "release":
            return True
        st = self.state
        if st == LOCKED:
            return True
        if st == TRACKING:
            return self.in_tol
        if st in (ACQUIRE, FOCUSING, GATHER):
            return False
        # AF not running: in bbf mode the shutter is independent of AF; in shutter mode a
        # full press always starts AF first
        return self.cfg["focus_mode"] == "bbf"

    def update_armed(self):
        """Precompute whether a full press (or the burst's frame timer) may fire inside
        its interrupt handler."""
        ok = self._may_expose()
        self.trigger.frame_ok = ok
        self.trigger.arm(ok and not self.s2_held)     # (arm also waits for the pulse's end)

    def _fire(self, t, why):
        if self.trigger.fire():
            self._fired(self.trigger.fired_at, why)

    def _fired(self, t, why):
        self.out.event("exposure", t, frame=self.trigger.frames, pos=self.motion.pos_now(t),
                       state=STATE_NAMES[self.state], cause=why)
        if self.cfg["drive"] == "continuous" and self.s2_held:
            # frames keep to the schedule set by the first one (no drift)
            if not self.burst_on:
                self.burst_on = True
                self.burst_t0 = t
                self.burst_due = 0
            self.burst_due += self.frame_us
            self.trigger.plan_frame(time.ticks_add(self.burst_t0, self.burst_due))  # type: ignore  (ticks are ints)

    def service(self, now):
        """Timers: AF timeout, burst frames. Returns ms until the next one (-1: none)."""
        wait = -1
        if self.deadline_armed:
            left = self.cfg["focus_timeout_ms"] * 1000 - time.ticks_diff(now, self.af_t0)
            if left <= 0:
                self.af(E_TIMEOUT, now)
            else:
                wait = (left + 999) // 1000
        elif self.state == TRACKING and self.have_est:
            if self.lidar.age_us(now) > self.cfg["focus_timeout_ms"] * 1000:
                self.af(E_TIMEOUT, now)
        if self.state == ACQUIRE or self.state == GATHER:
            wait = ACQUIRE_POLL_MS          # pick the frame up as soon as it is in
        led = self.group.service(time.ticks_ms())
        if led >= 0 and (wait < 0 or led < wait):
            wait = led
        tr = self.trigger
        if tr.take_frame():                 # the frame timer made this one
            self._fired(tr.fired_at, "burst")
        if self.burst_on and self.s2_held:
            # the frame timer's backstop: a frame it could not make (a pulse still on, or
            # out of focus at its time) comes from here
            left = self.burst_due - time.ticks_diff(now, self.burst_t0)
            if left <= 0 and not tr.firing:
                if self.can_fire():
                    self._fire(now, "burst")
                else:
                    self.burst_due += 1000      # not in focus yet: look again in 1 ms
                left = self.burst_due - time.ticks_diff(now, self.burst_t0)
            ms = (left + 999) // 1000 if left > 0 else 1
            wait = ms if wait < 0 or ms < wait else wait
        return wait

    def on_reading(self, t):
        self.af(E_READING, t)

    def on_moved(self, t, why="done"):
        """The lens came to rest; why is motion_stop's ("halt": stopped short)."""
        self.af(E_HALTED if why == "halt" else E_MOVED, t)
