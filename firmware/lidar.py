"""Benewake TF-Luna / TFmini distance sensor on a UART: frame parsing with checksum and
signal-strength checks, and the latest reading for the focus logic.

Frame (9 bytes): 0x59 0x59 Dist_L Dist_H Amp_L Amp_H Temp_L Temp_H Checksum, checksum =
low 8 bits of the sum of the first eight bytes. A reading is usable when the distance is
not 0 and lidar_min_amp <= amplitude < 65535 (65535 = over-exposed).

Units: the sensor starts in 9-byte/cm; at start-up we ask for 9-byte/mm (command
5A 05 05 06 cs, ID_OUTPUT_FORMAT) and switch to millimetres only when the sensor's
reply (5A 05 05 06 ..) confirms it, so a sensor that ignores the command still reads
right. Command replies (frames starting 0x5A, length in byte 1) are skipped in the stream.

Reading the UART: only the bytes `any()` reports are read (`readinto(buf, n)`): on rp2 a
read that asks for more waits the inter-character timeout (at least 1 ms) after the last
byte. In step with the frames, only whole frames are read (a partial one waits in the
UART for the next poll), so each is parsed in one piece. No allocation per frame (one
preallocated buffer).

Age: ticks_us wraps every 2**30 us (17.9 min) and ticks_diff is right only within 2**29
us (8.9 min), so a reading's age is tracked: poll() and age_us() mark a reading older
than AGE_MAX_US as old for good (until the next one), and its age reads AGE_MAX_US.
"""

from micropython import const
import time

_HDR = const(0x59)
_CMD = const(0x5A)
FRAME = const(9)
_FMT_MM = const(0x06)
_MM_REQUEST = b"\x5a\x05\x05\x06\x6a"     # ID_OUTPUT_FORMAT = 9-byte/mm
_CHUNK = const(63)                        # 7 frames
AGE_MAX_US = const(0x10000000)            # 268 s: older readings are "at least this old"


class Lidar:
    def __init__(self, uart, min_amp=100):
        self.uart = uart
        self.min_amp = min_amp
        self._buf = bytearray(FRAME)
        self._chunk = bytearray(_CHUNK)
        self._n = 0
        self.mm = 0                 # last usable distance (mm), 0 = none
        self.t_us = 0               # when it arrived (ticks_us)
        self._old = False           # the last usable reading is older than AGE_MAX_US
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
        chunk = self._chunk
        n = uart.any()
        while n:
            if not self._cmd_left:
                # read up to a frame's end (the rest stays in the UART for the next
                # poll): in step with the frames, each is parsed whole by the fast path
                # below, not by a method call per byte (~30 us each on an RP2040)
                need = (FRAME - self._n) % FRAME    # bytes to the end of this frame
                if n >= need + FRAME or 0 < need <= n:
                    a = n if n < _CHUNK else _CHUNK
                    n = a - (a - need) % FRAME
                elif not need:
                    break                           # not a whole frame yet
            k = uart.readinto(chunk, n if n < _CHUNK else _CHUNK)
            if not k:
                break
            j = 0
            while j < k:
                # fast path: a whole frame in the chunk, in step with the stream (one
                # call per frame instead of one per byte: ~5x less CPU on an RP2040)
                if (self._n == 0 and not self._cmd_left and j + FRAME <= k
                        and chunk[j] == _HDR and chunk[j + 1] == _HDR and self._sum(chunk, j)):
                    self.frames += 1
                    got += self._reading(chunk, j)
                    j += FRAME
                    continue
                got += self._feed(chunk[j])
                j += 1
            n = uart.any()
        if not got and self.seq:
            self.age_us(time.ticks_us())        # keeps the age right across the wrap
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
        if not self._sum(buf, 0):
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
        return self._reading(buf, 0)

    @staticmethod
    def _sum(b, o):
        """The frame at b[o:o+9] has a good checksum."""
        return (b[o] + b[o + 1] + b[o + 2] + b[o + 3] + b[o + 4] + b[o + 5] + b[o + 6]
                + b[o + 7]) & 0xFF == b[o + 8]

    def _reading(self, buf, o):
        """Take the distance of the (checked) frame at buf[o:o+9]."""
        dist = buf[o + 2] | (buf[o + 3] << 8)
        if not self.unit_mm:
            dist *= 10
        amp = buf[o + 4] | (buf[o + 5] << 8)
        if dist == 0 or amp < self.min_amp or amp == 0xFFFF:
            self.weak += 1
            self.last_valid = False
            return 0
        self.mm = dist
        self.t_us = time.ticks_us()
        self._old = False
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

    def age_us(self, now):
        """Microseconds since the last usable reading arrived, AGE_MAX_US at most (also
        when there is none). Right as long as poll() or this runs at least every
        2**29 - AGE_MAX_US us (4.5 min); the service loop polls every few ms."""
        if not self.seq or self._old:
            return AGE_MAX_US
        d = time.ticks_diff(now, self.t_us)
        if d > AGE_MAX_US or d < -AGE_MAX_US:
            self._old = True
            return AGE_MAX_US
        return d

    def fresh(self, now, max_age_us):
        """The last usable distance if it is recent and the newest frame was usable."""
        if self.seq and self.last_valid and self.age_us(now) <= max_age_us:
            return self.mm
        return 0
