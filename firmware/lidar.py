"""Benewake TF-Luna / TFmini distance sensor on a UART: frame parsing with checksum and
signal-strength checks, and the latest reading for the focus logic.

Frame (9 bytes): 0x59 0x59 Dist_L Dist_H Amp_L Amp_H Temp_L Temp_H Checksum, checksum =
low 8 bits of the sum of the first eight bytes. A reading is usable when the distance is
not 0 and lidar_min_amp <= amplitude < 65535 (65535 = over-exposed).

Units: the sensor starts in 9-byte/cm; at start-up we ask for 9-byte/mm (command
5A 05 05 06 cs, ID_OUTPUT_FORMAT) and switch to millimetres only when the sensor's
reply (5A 05 05 06 ..) confirms it, so a sensor that ignores the command still reads
right. Command replies (frames starting 0x5A, length in byte 1) are skipped in the stream.
"""

from micropython import const
import time

_HDR = const(0x59)
_CMD = const(0x5A)
FRAME = const(9)
_FMT_MM = const(0x06)
_MM_REQUEST = b"\x5a\x05\x05\x06\x6a"     # ID_OUTPUT_FORMAT = 9-byte/mm


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
        self.unit_mm = False        # True once the sensor confirmed 9-byte/mm output
        self._asked = 1
        self._cmd_left = 0          # bytes of a command reply still to skip
        self._cmd = bytearray(8)
        self._cmd_n = 0

    def request_mm(self):
        """Ask the sensor for millimetre output (not saved in the sensor: sent at every
        start-up)."""
        self.uart.write(_MM_REQUEST)

    def poll(self):
        """Parse whatever the UART holds. Returns the number of new usable readings."""
        uart = self.uart
        got = 0
        if not self.unit_mm and self._asked < 3 and self.frames >= 100 * self._asked:
            self._asked += 1            # no confirmation yet: ask again (about once a second)
            self.request_mm()
        while uart.any():
            k = uart.readinto(self._chunk)
            if not k:
                break
            for j in range(k):
                got += self._feed(self._chunk[j])
        return got

    def _feed(self, b):
        if self._cmd_left:
            return self._feed_reply(b)
        buf = self._buf
        n = self._n
        if n == 0 and b == _CMD:
            self._cmd[0] = b
            self._cmd_n = 1
            self._cmd_left = -1         # length byte next
            return 0
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
        if not self.unit_mm:
            dist *= 10
        amp = buf[4] | (buf[5] << 8)
        if dist == 0 or amp < self.min_amp or amp == 0xFFFF:
            self.weak += 1
            self.last_valid = False
            return 0
        self.mm = dist
        self.t_us = time.ticks_us()
        self.seq += 1
        self.last_valid = True
        return 1

    def _feed_reply(self, b):
        """A command reply: 5A LEN ID payload.. checksum."""
        if self._cmd_left < 0:
            if not 4 <= b <= 8:
                self._cmd_left = 0          # not a reply we know: resynchronise
                return 0
            self._cmd_left = b - 2
            self._cmd[1] = b
            self._cmd_n = 2
            return 0
        if self._cmd_n < 8:
            self._cmd[self._cmd_n] = b
        self._cmd_n += 1
        self._cmd_left -= 1
        if self._cmd_left == 0:
            c = self._cmd
            if c[1] == 5 and c[2] == 0x05:           # ID_OUTPUT_FORMAT reply
                self.unit_mm = c[3] == _FMT_MM
        return 0

    def fresh(self, now, max_age_us):
        """The last usable distance if it is recent and the newest frame was usable."""
        if self.seq and self.last_valid and time.ticks_diff(now, self.t_us) <= max_age_us:
            return self.mm
        return 0
