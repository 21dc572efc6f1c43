"""Depth-of-field focus: group focus (everyone from the nearest to the farthest subject
sharp) and the hyperfocal distance. Owns the distances gathered for a group, the group
window, the choice of focus distance and f-number (math in dof.py), the `dof_focus`
event and the status LED's answer. focus.py decides *when* (its AF_TABLE: the GATHER
state, the double tap); this module decides *where*, and says so.

Group (af_mode "group"): while AF-ON is held every usable LiDAR distance measured after
the press is kept (sweep across the group); a new press within group_window_ms of the
last release adds to the same group (tap the nearest, then the farthest). On each
release the group is solved: focus at s = 2nF/(n+F) for the nearest n and farthest F,
and f-number N from the full formulas (dof.group). Beyond max_fnumber the lens goes
where the most of the distances gathered are sharp at max_fnumber (dof.best_cover).

LED (the Pico's on-board LED; on/off durations in ms, starting on):
  sharp        one blink          everyone sharp at `aperture` (or within max_fnumber)
  stop_down    three blinks       stop down to the f-number in the event
  beyond_lens  nine fast blinks   needs more than max_fnumber: the most are covered
  hyperfocal   one long blink     at the hyperfocal distance
The buffer of distances is preallocated (array 'H'); nothing here runs in an IRQ.
"""

from micropython import const
import array
import time

import dof

MAX_READINGS = const(128)       # a longer sweep keeps every 2nd, 4th, ... reading
TAP_US = const(300000)          # a press this short is a tap (double tap: hyperfocal)
LED_PATTERNS = {
    "sharp": (300,),
    "stop_down": (120, 120, 120, 120, 120),
    "beyond_lens": (60, 60, 60, 60, 60, 60, 60, 60, 60),
    "hyperfocal": (800,),
}


class GroupFocus:
    def __init__(self, cfg, out):
        self.out = out
        self.buf = array.array("H", bytes(2 * MAX_READINGS))
        self.k = 0                 # distances kept
        self.n = 0                 # usable readings seen (all of them)
        self.stride = 1
        self.skip = 0
        self.lo = 0                # nearest / farthest seen, exact (not decimated)
        self.hi = 0
        self.t_end = 0             # ticks_ms of the last release
        self.ended = False
        self.tap_t0 = 0            # ticks_us of the last AF-ON press
        self.tap_state = 0         # 0: none, 1: pressed, 2: a tap (short press) ended
        self.led = None
        self.led_on = 1
        self.pattern = ()
        self.led_i = 0
        self.led_t = time.ticks_ms()
        self.configure(cfg)

    def configure(self, cfg):
        self.cfg = cfg
        self.f = float(cfg["focal_mm"])
        self.c = dof.coc_mm(cfg["coc_um"], cfg["sensor"])

    def set_led(self, pin, active):
        self.led = pin
        self.led_on = active

    def double_tap(self, pressed, t):
        """AF-ON press / release (ticks_us t). True when this press completes a double
        tap: a tap, then a press within hyperfocal_tap_ms of the tap's press."""
        if not pressed:
            if self.tap_state == 1:
                self.tap_state = 2 if time.ticks_diff(t, self.tap_t0) <= TAP_US else 0
            return False
        win = self.cfg["hyperfocal_tap_ms"] * 1000
        dbl = self.tap_state == 2 and win > 0 and time.ticks_diff(t, self.tap_t0) <= win
        self.tap_state = 0 if dbl else 1
        self.tap_t0 = t
        return dbl

    # ---- gathering ------------------------------------------------------------------------
    def begin(self, now_ms):
        """A press in group mode: continue the group when it comes within
        group_window_ms of the last release, else start a new one. True: continued."""
        if self.ended and self.k and \
                time.ticks_diff(now_ms, self.t_end) <= self.cfg["group_window_ms"]:
            self.ended = False
            return True
        self.clear()
        return False

    def clear(self):
        self.k = self.n = self.skip = 0
        self.stride = 1
        self.ended = False

    def add(self, mm):
        """A usable distance (mm). Nearer than the focal length cannot be focused: ignored."""
        if mm <= self.f or mm > 65535:
            return
        if self.n == 0 or mm < self.lo:
            self.lo = mm
        if self.n == 0 or mm > self.hi:
            self.hi = mm
        self.n += 1
        self.skip += 1
        if self.skip < self.stride:
            return
        self.skip = 0
        buf = self.buf
        if self.k == MAX_READINGS:              # full: keep every other one, halve the rate
            for i in range(MAX_READINGS // 2):
                buf[i] = buf[2 * i]
            self.k = MAX_READINGS // 2
            self.stride *= 2
        buf[self.k] = mm
        self.k += 1

    def end(self, now_ms):
        self.t_end = now_ms
        self.ended = True

    # ---- solving --------------------------------------------------------------------------
    def solve(self, cal):
        """The group's answer: dof_focus fields, with "focus" the distance to drive to
        (mm). None when no usable distance was gathered."""
        if not self.n:
            return None
        cfg, f, c = self.cfg, self.f, self.c
        n, far = float(self.lo), float(self.hi)
        s, need = dof.group(n, far, f, c)
        ap, mx = cfg["aperture"], cfg["max_fnumber"]
        limited = need > mx
        if limited:
            d = sorted(self.buf[:self.k])
            if d[0] != self.lo:
                d.insert(0, self.lo)
            if d[-1] != self.hi:
                d.append(self.hi)
            s = dof.best_cover(d, f, mx, c)[0]
        use = ap if ap > 0 else (mx if limited else need)
        r = self._fields(cal, "group", n, far, s, need, use)
        r["limited"] = limited
        r["led"] = "beyond_lens" if limited else ("sharp" if r["sharp"] else "stop_down")
        return r

    def hyperfocal(self, cal, fnum=0):
        """Hyperfocal focus for f-number fnum (default: the `aperture` set)."""
        n_stop = fnum if fnum > 0 else self.cfg["aperture"]
        if n_stop <= 0:
            raise ValueError("hyperfocal: no aperture set: 'config set aperture 8' "
                             "(the f-number on the lens) or 'hyperfocal 8'")
        h = dof.hyperfocal(self.f, n_stop, self.c)
        r = self._fields(cal, "hyperfocal", h / 2, dof.INF, h, n_stop, n_stop)
        r["limited"] = False
        r["led"] = "hyperfocal"
        return r

    def _fields(self, cal, kind, n, far, s, need, use):
        f, c = self.f, self.c
        ap, mx = self.cfg["aperture"], self.cfg["max_fnumber"]
        ref = ap if ap > 0 else mx
        cal_near, cal_far = 1 / cal.inv[0], 1 / cal.inv[-1]
        at = s if cal_near <= s <= cal_far else (cal_near if s < cal_near else cal_far)
        if use < 0.5:
            use = 0.5                  # n == F needs no depth: show the zone of f/0.5
        zn = dof.near_limit(at, f, use, c)
        zf = dof.far_limit(at, f, use, c)
        inside = 0
        for i in range(self.k):
            if zn * 0.9995 <= self.buf[i] <= zf * 1.0005:
                inside += 1
        steps_far = cal.steps_for(cal_far if zf == dof.INF else zf)
        return {
            "kind": kind, "near": _mm(n), "far": _mm(far), "focus": _mm(s),
            "fnumber": round(need, 1), "margin": round(dof.stops(max(need, 1.0), ref), 1),
            "aperture": ap if ap > 0 else None, "max_fnumber": mx, "sharp": need <= ref * 1.0001,
            "zone_near": _mm(zn), "zone_far": _mm(zf),
            "covered": round(inside / self.k, 2) if self.k and kind == "group" else 1.0,
            "dof_steps": round(abs(cal.steps_for(zn) - steps_far), 1),
            "clamped": at != s,
        }

    def report(self, t, r):
        """The dof_focus event and the LED's answer."""
        led = r["led"]
        self.out.event("dof_focus", t, **r)
        self.blink(led)

    # ---- the LED ------------------------------------------------------------------------------
    def blink(self, name):
        self.pattern = LED_PATTERNS[name]
        self.led_i = 0
        self.led_t = time.ticks_ms()
        self._led(True)

    def _led(self, on):
        if self.led is not None:
            self.led.value(self.led_on if on else 1 - self.led_on)

    def service(self, now_ms):
        """Advance the LED pattern. Returns ms until its next change (-1: none)."""
        p = self.pattern
        if not p:
            return -1
        left = p[self.led_i] - time.ticks_diff(now_ms, self.led_t)
        if left > 0:
            return left
        self.led_t = time.ticks_add(self.led_t, p[self.led_i])
        self.led_i += 1
        if self.led_i >= len(p):
            self.pattern = ()
            self._led(False)
            return -1
        self._led(self.led_i % 2 == 0)
        return p[self.led_i]


def _mm(v):
    """A distance for the event: whole mm, None for infinity (JSON has no infinity)."""
    return None if v == dof.INF else int(v + 0.5)
