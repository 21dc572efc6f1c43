"""Camera trigger lines (through PC817 optocouplers): focus (half-press) and shutter
(release), with the shutter pulse length, and the interrupt-time fast path.

`armed` is decided by the focus/shutter state machine whenever its state changes; when
it is set, a full press fires in the shutter button's hard IRQ handler itself (no trip
through the main loop), which is what keeps press-to-exposure under 0.1 ms. The main
loop later sees `fired_in_irq`, reports the exposure and ends the pulse.
"""

import time


class Trigger:
    def __init__(self, focus_pin, shutter_pin, focus_active, shutter_active):
        self._focus = focus_pin
        self._shutter = shutter_pin
        self._fon = focus_active
        self._son = shutter_active
        focus_pin.value(1 - focus_active)       # inactive first
        shutter_pin.value(1 - shutter_active)
        self.pulse_us = 100000
        self.armed = False
        self.firing = False          # shutter line asserted
        self.fired_at = 0            # ticks_us of the current exposure
        self.fired_in_irq = False    # set by the IRQ fast path, cleared by the main loop
        self.focus_wanted = False    # half-press held (or AF-ON in shutter-wake use)
        self.frames = 0

    # ---- IRQ fast path (no allocation) --------------------------------------------------
    def fire_irq(self, t):
        if self.armed and not self.firing:
            self._focus.value(self._fon)
            self._shutter.value(self._son)
            self.firing = True
            self.fired_at = t
            self.fired_in_irq = True
            self.armed = False
            self.frames += 1
            return True
        return False

    # ---- main loop ----------------------------------------------------------------------
    def fire(self):
        """Start an exposure now (main loop). Returns False when one is in progress."""
        if self.firing:
            return False
        self._focus.value(self._fon)
        self._shutter.value(self._son)
        self.firing = True
        self.fired_at = time.ticks_us()
        self.frames += 1
        return True

    def focus(self, on):
        self.focus_wanted = on
        if not self.firing:
            self._focus.value(self._fon if on else 1 - self._fon)

    def service(self, now):
        """End the shutter pulse when due. Returns ms until then (-1 when idle)."""
        if not self.firing:
            return -1
        left = self.pulse_us - time.ticks_diff(now, self.fired_at)
        if left > 0:
            return (left + 999) // 1000
        self._shutter.value(1 - self._son)
        if not self.focus_wanted:
            self._focus.value(1 - self._fon)
        self.firing = False
        return -1

    def release_all(self):
        self._shutter.value(1 - self._son)
        self._focus.value(1 - self._fon)
        self.firing = False
        self.armed = False
