"""Homing to the lens end-stop switch, and the same switch as a limit.

Homing: seek towards the switch at home_speed, back off home_backoff until it opens,
re-approach at home_slow_speed, set zero where it closes; home_timeout_ms and
home_max_steps end it with home_error. Outside homing a closing switch halts the PIO at
once and locks motion out until `clear`. Runs as a job of features.Features.
"""

import time

from pins import IN_HOME as HOME_IN

JOB = 3                 # this job's id in features.Features


class Homing:
    def __init__(self, features):
        self.f = features
        self.phase = 0
        self.t0 = 0

    def home(self):
        f = self.f
        if f.busy():
            raise ValueError("busy: " + f.job_name())
        m = f.motion
        m.fault = None
        f.job = JOB
        self.t0 = time.ticks_us()
        f.out.event("home_start")
        if f.app.inputs.pressed(HOME_IN):
            self._phase(2)                        # already on the switch: back off
        else:
            self._phase(1)

    def _phase(self, ph):
        m, c = self.f.motion, self.f.cfg
        self.phase = ph
        here = m.pos_now()
        if ph == 1:                                    # seek towards the switch
            m.limit_speed(c["home_speed"])
            m.move_to(here - c["home_max_steps"], "home_seek")
        elif ph == 2:                                  # back off until it opens
            m.limit_speed(c["home_speed"])
            m.move_to(here + c["home_backoff"], "home_backoff")
        elif ph == 3:                                  # slow re-approach
            m.limit_speed(c["home_slow_speed"])
            m.move_to(here - 2 * c["home_backoff"], "home_approach")

    def halts(self):
        """Does the switch closing now stop the motor (as switch() will)? Asked by the
        hard IRQ (no heap)."""
        return self.f.job != JOB or self.phase == 1 or self.phase == 3

    def switch(self, t):
        """The home switch closed: part of homing, or a limit hit."""
        f = self.f
        m = f.motion
        if f.job == JOB and self.phase in (1, 3):
            m.halt()
            if self.phase == 1:
                self._phase(2)
            else:
                self.phase = 4                     # found: zero is set once at rest
            return
        if f.job == JOB:
            return
        # a limit hit outside homing: stop now, refuse motion until cleared
        was = m.busy()
        m.halt()
        m.fault = "limit"
        f.abort("limit switch")
        f.out.event("limit_hit", pos=m.pos_now(), moving=was)

    def service(self, now):
        f = self.f
        m, c = f.motion, f.cfg
        if time.ticks_diff(now, self.t0) > c["home_timeout_ms"] * 1000:
            self._fail("timeout: the home switch was not found within %d ms" % c["home_timeout_ms"])
            return -1
        if m.busy():
            return 2
        if self.phase == 1:
            self._fail("the home switch was not found within %d steps" % c["home_max_steps"])
        elif self.phase == 2:
            if f.app.inputs.pressed(HOME_IN):
                self._fail("the home switch did not open when backing off")
            else:
                self._phase(3)
        elif self.phase == 3:
            self._fail("the home switch was not found on the slow approach")
        elif self.phase == 4:
            m.limit_speed(0)
            m.set_position(0)
            f.end_job()
            self.phase = 0
            f.out.event("home_done", pos=0, ms=time.ticks_diff(now, self.t0) / 1000)
        return 2 if f.busy() else -1

    def _fail(self, why):
        f = self.f
        f.motion.limit_speed(0)
        f.motion.stop()
        f.end_job()
        self.phase = 0
        f.out.event("home_error", why=why)
