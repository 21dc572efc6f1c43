"""The user's control language for an emulated rig (`focusrig emulate --control FILE`),
shared by both targets: lines appended to FILE press buttons and move the subject.

    press NAME [HOLD_MS [BOUNCE_MS [AT_MS]]]   down NAME   up NAME
    subject MM                                  play SCENARIO.json

An emulator mixes this in and provides press(), set_input(), set_subject(), play(),
log(), and the attributes user_ctl (the file or None), _user_ctl_pos, _user_ctl_buf.
"""

import os

from . import scenario as scn

USAGE = ("press NAME [HOLD_MS [BOUNCE_MS [AT_MS]]], down NAME, up NAME, subject MM or "
         "play SCENARIO.json")


class RigControl:
    def control_line(self, line):
        """Carry out one line of the control language (ValueError when it is not one)."""
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            return
        cmd, args = parts[0], parts[1:]
        if cmd == "press" and 1 <= len(args) <= 4:
            nums = [float(x) for x in args[1:]] + [200.0, 0.0, 0.0][len(args) - 1:]
            self.press(args[0], *nums)
        elif cmd in ("down", "up") and len(args) == 1:
            self.set_input(args[0], cmd == "down")
        elif cmd == "subject" and len(args) == 1:
            self.set_subject(float(args[0]))
        elif cmd == "play" and len(args) == 1:
            self.play(scn.load(args[0]))
        else:
            raise ValueError(f"bad control line {line.strip()!r}: use {USAGE}")

    def _poll_user_ctl(self):
        """Carry out the lines appended to the control file since the last look."""
        if not self.user_ctl:
            return
        try:
            size = os.path.getsize(self.user_ctl)
        except OSError:
            return
        if size < self._user_ctl_pos:
            self._user_ctl_pos = 0          # truncated: start over
        if size == self._user_ctl_pos:
            return
        with open(self.user_ctl, "rb") as f:
            f.seek(self._user_ctl_pos)
            data = f.read(size - self._user_ctl_pos)
        self._user_ctl_pos += len(data)
        self._user_ctl_buf += data
        while b"\n" in self._user_ctl_buf:
            line, self._user_ctl_buf = self._user_ctl_buf.split(b"\n", 1)
            try:
                self.control_line(line.decode("utf-8", "replace"))
            except (ValueError, OSError, scn.ScenarioError) as e:
                self.log(f"control: {e}")
