"""Benewake TF-Luna / TFmini distance sensor on a UART: frame parsing with checksum and
signal-strength checks, and the latest reading for the focus logic.

Frame (9 bytes): 0x59 0x59 Dist_L Dist_H Amp_L Amp_H Temp_L Temp_H Checksum, checksum =
low 8 bits of the sum of the first eight bytes; distance in cm. A reading is usable when
the distance is not 0 and lidar_min_amp <= amplitude < 65535 (65535 = over-exposed).
"""

from micropython import const
import time

_HDR = const(0x59)
FRAME = const(9)


class Lidar:
    def __init__(self, uart, min_amp=100):
        self.uart = uart
        self.min_amp = min_amp
        self._buf = bytearray(FRAME)
        self._chunk = bytearray(64)
        self._n = 0
        self.mm = 0                 # last usable distance (mm), 0 = none
        self.t_us = 0               # when it arrived (ticks_us)
        self.seq = 0                # usable readings so far
        self.frames = 0
        self.bad_checksum = 0
        self.weak = 0               # frames with no return / low or saturated signal
        self.last_valid = False

    def poll(self):
        """Parse whatever the UART holds. Returns the number of new usable readings."""
        uart = self.uart
        got = 0
        while uart.any():
            k = uart.readinto(self._chunk)
            if not k:
                break
            for j in range(k):
                got += self._feed(self._chunk[j])
        return got

    def _feed(self, b):
        buf = self._buf
        n = self._n
        if n < 2 and b != _HDR:
            self._n = 0
            return 0
        buf[n] = b
        n += 1
        if n < FRAME:
            self._n = n
            return 0
        self._n = 0
        self.frames += 1
        s = 0
        for j in range(8):
            s += buf[j]
        if (s & 0xFF) != buf[8]:
            self.bad_checksum += 1
            # resynchronise: a header may start inside this frame
            for j in range(1, FRAME - 1):
                if buf[j] == _HDR and buf[j + 1] == _HDR:
                    m = FRAME - j
                    for q in range(m):
                        buf[q] = buf[j + q]
                    self._n = m
                    break
            return 0
        dist = buf[2] | (buf[3] << 8)
        amp = buf[4] | (buf[5] << 8)
        if dist == 0 or amp < self.min_amp or amp == 0xFFFF:
            self.weak += 1
            self.last_valid = False
            return 0
        self.mm = dist * 10
        self.t_us = time.ticks_us()
        self.seq += 1
        self.last_valid = True
        return 1

    def fresh(self, now, max_age_us):
        """The last usable distance if it is recent and the newest frame was usable."""
        if self.seq and self.last_valid and time.ticks_diff(now, self.t_us) <= max_age_us:
            return self.mm
        return 0
