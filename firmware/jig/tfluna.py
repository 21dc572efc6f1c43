"""TF-Luna emulation: 9-byte frames on the jig's UART to the DUT's LiDAR input.

Frame: 0x59 0x59 dist_L dist_H amp_L amp_H temp_L temp_H checksum (low byte of the sum of
the first eight), distance in cm, sent every period. The subject distance follows the
host's points [(t_ms, mm)], piecewise linear; 0 mm = no return (distance 0, amplitude 0).
"""

from machine import UART, Pin

import jig_pins


def subject_mm(points, t_ms):
    if not points:
        return 0
    if t_ms <= points[0][0]:
        return points[0][1]
    for i in range(1, len(points)):
        t1, d1 = points[i]
        if t_ms <= t1:
            t0, d0 = points[i - 1]
            if d0 == 0 or d1 == 0 or t1 == t0:
                return d0 if t_ms < t1 else d1
            return d0 + (d1 - d0) * (t_ms - t0) / (t1 - t0)
    return points[-1][1]


def frame(mm, amp=1200, buf=None):
    f = buf if buf is not None else bytearray(9)
    if mm <= 0:
        dist, amp = 0, 0
    else:
        dist = int(mm / 10 + 0.5)
    f[0] = 0x59
    f[1] = 0x59
    f[2] = dist & 0xFF
    f[3] = (dist >> 8) & 0xFF
    f[4] = amp & 0xFF
    f[5] = (amp >> 8) & 0xFF
    f[6] = 0x00
    f[7] = 0x09            # 24 C (temp / 8 - 256 with temp = 2304)
    s = 0
    for i in range(8):
        s += f[i]
    f[8] = s & 0xFF
    return f


class TFLuna:
    def __init__(self, period_us=10000):
        self.uart = UART(jig_pins.UART_ID, baudrate=jig_pins.UART_BAUD,
                         tx=Pin(jig_pins.UART_TX), rx=Pin(jig_pins.UART_RX))
        self.points = []
        self.period_us = period_us
        self.next_us = 0
        self.buf = bytearray(9)
        self.frames = 0

    def clear(self):
        self.points = []

    def add(self, t_ms, mm):
        self.points.append((t_ms, mm))

    def begin(self):
        self.points.sort()
        self.next_us = 0
        self.frames = 0

    def tick(self, now_us):
        """Send a frame when one is due (only when the host gave subject points)."""
        if not self.points or now_us < self.next_us:
            return
        self.next_us += self.period_us
        # the sensor averages over its period: report the distance half a period ago
        mm = subject_mm(self.points, (now_us - self.period_us // 2) / 1000)
        self.uart.write(frame(mm, buf=self.buf))
        self.frames += 1
