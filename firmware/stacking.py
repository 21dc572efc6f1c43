"""Focus stacking: step the lens from stack_near to stack_far (or stack_count positions
from stack_near towards far focus, the way lens_cal says far is) by stack_step, wait settle_ms after each move, take stack_shots exposures a frame apart
with the motor stopped, report progress, optionally return to the start. Runs as a job of
features.Features, which aborts it on any button press.
"""

import time

JOB = 2                 # this job's id in features.Features (features.STACK)


class Stack:
    def __init__(self, features):
        self.f = features
        self.pos = []
        self.i = 0
        self.shot = 0
        self.start_pos = 0
        self.phase = 0
        self.settle_until = 0

    def start(self):
        f = self.f
        c = f.cfg
        if f.motion_locked():
            raise ValueError(f.motion_locked())
        if f.app.focus.af_running():
            raise ValueError("AF is running")
        near, far, step = c["stack_near"], c["stack_far"], c["stack_step"]
        if c["stack_count"] > 0:
            # stack_count positions from stack_near towards far focus (stack_far unused):
            # which way that is comes from the lens calibration, as for `jog far`
            sgn = -f.near_sign()
            pos = [near + i * step * sgn for i in range(c["stack_count"])]
        else:
            if near == far:
                raise ValueError("set stack_far (or stack_count) first")
            sgn = 1 if far > near else -1
            pos = list(range(near, far + sgn, step * sgn))
            if pos[-1] != far:
                pos.append(far)
        self.pos = pos
        self.i = 0
        self.shot = 0
        self.start_pos = f.motion.pos_now()
        f.job = JOB
        self.phase = 0
        f.app.focus.blocked = True
        f.app.focus.update_armed()
        f.out.event("stack_start", positions=len(pos), near=pos[0], far=pos[-1],
                       step=c["stack_step"], shots=c["stack_shots"], settle_ms=c["settle_ms"])
        f.motion.move_to(pos[0], "stack")

    def service(self, now):
        f = self.f
        m, trig = f.motion, f.app.trigger
        if self.phase == 0:                           # moving to the position
            if m.busy():
                return 2
            self.phase = 1
            self.settle_until = time.ticks_add(now, f.cfg["settle_ms"] * 1000)
            f.out.event("stack_settle", index=self.i, pos=m.pos_now(now))
        if self.phase == 1:                           # settling
            left = time.ticks_diff(self.settle_until, now)
            if left > 0:
                return (left + 999) // 1000
            self.phase = 2
        if self.phase == 2:                           # exposures, motor stopped
            if trig.firing:
                return 2
            if self.shot < f.cfg["stack_shots"]:
                if self.shot:
                    # shots at one position are a frame apart (the camera's burst rate):
                    # back to back they would be one long closure of the shutter line
                    left = int(1000000 / f.cfg["burst_fps"]) - time.ticks_diff(now, trig.fired_at)
                    if left > 0:
                        return (left + 999) // 1000
                if trig.fire():
                    self.shot += 1
                    f.out.event("exposure", trig.fired_at, frame=trig.frames,
                                   pos=m.pos_now(now), state="stack", cause="stack",
                                   index=self.i, shot=self.shot)
                return 2
            f.out.event("stack_progress", index=self.i, of=len(self.pos),
                           pos=m.pos_now(now))
            self.i += 1
            self.shot = 0
            if self.i < len(self.pos):
                self.phase = 0
                m.move_to(self.pos[self.i], "stack")
                return 2
            self.phase = 3
            if f.cfg["stack_return"]:
                m.move_to(self.start_pos, "stack_return")
        if self.phase == 3:
            if m.busy():
                return 2
            self.phase = 0
            f.end_job()
            f.out.event("stack_done", positions=len(self.pos), pos=m.pos_now(now))
        return -1
