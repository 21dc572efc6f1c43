"""Fault injection on the virtual Pico's devices (tests/test_faults.py, tools/soak.py).

Board setup key "faults" (runner.run(extra_setup={"faults": {...}})):

    "lidar": [[t0_ms, t1_ms, kind], ...]    the TF-Luna on UART0 from t0 to t1:
        "unplugged"   no bytes at all, and what the firmware sends it goes nowhere (a
                      connector pulled: the UART's RX idles);
        "garbage"     every frame period a burst of up to 32 bytes of line noise: random
                      bytes, frames with a wrong checksum, truncated frames, stray command
                      headers (0x5A). Never a frame a parser could accept (LidarFaults.
                      emit), so any reading the firmware takes from it is a false one.

Seeded by the scenario's seed (K.rand), so a run is repeatable.
"""

from _vp_kernel import K

GARBAGE = "garbage"
UNPLUGGED = "unplugged"


def install(board, faults):
    windows = [(int(a * 1000000), int(b * 1000000), kind) for a, b, kind in faults.get("lidar", ())]
    if windows:
        LidarFaults(board.lidar, windows)


class LidarFaults:
    """Wraps the TF-Luna model (board/_vp_devices.py TFLuna). emit() keeps the garbage
    honest: 0x59 only as a header pair, and the byte 8 after any header pair is never its
    checksum (a valid frame is 9 consecutive bytes from a 59 59 pair, whatever the
    parser's resynchronisation does); a burst ends with 8 bytes without 0x59, so no frame
    spans two bursts or reaches into the model's real frames after the window."""

    def __init__(self, dev, windows):
        self.dev = dev
        self.windows = windows
        self.garbage_bytes = 0
        self.bad_frames = 0
        self._tick = dev._tick          # the model's own frame (bound method)
        self._receive = dev.receive
        dev._tick = self.tick           # the model re-schedules dev._tick: this wrapper
        dev.receive = self.receive

    def kind(self):
        t = K.now
        for a, b, k in self.windows:
            if a <= t < b:
                return k
        return None

    def receive(self, data):
        if self.kind() != UNPLUGGED:
            self._receive(data)

    def _valid(self, b):
        """Would b, as the next byte, end a 9-byte run from a 59 59 pair whose checksum
        it is?"""
        out = self.out
        n = self.n
        if n < 8 or out[n - 8] != 0x59 or out[n - 7] != 0x59:
            return False
        cs = 0
        for j in range(n - 8, n):
            cs += out[j]
        return b == cs & 0xFF

    def emit(self, b, no_header=False):
        while self._valid(b) or (no_header and b == 0x59):
            b = (b + 1) & 0xFF
        self.out[self.n] = b
        self.n += 1

    def tick(self, arg):
        k = self.kind()
        if k is None:
            self._tick(arg)
            return
        dev = self.dev
        K.at(K.now + dev.period_ns, dev._tick)
        if k == UNPLUGGED or dev.uart is None:
            return
        if dev._sent < dev._n_out:
            dev.pump(dev.uart)
        self.out = dev._out
        self.n = 0
        while self.n < 16:
            r = K.rand(4)
            if r == 0:                      # a frame with a wrong checksum
                self.emit(0x59)
                self.emit(0x59)
                for j in range(6):
                    self.emit(K.rand(256))
                self.emit(K.rand(256))      # made wrong by emit()
                self.bad_frames += 1
            elif r == 1:                    # a truncated frame: header, a few bytes
                self.emit(0x59)
                self.emit(0x59)
                for j in range(K.rand(5)):
                    self.emit(K.rand(256))
            else:                           # line noise (a stray 0x5A starts a "reply")
                self.emit(K.rand(256))
        for j in range(8):                  # no header pair left open at the burst's end
            self.emit(K.rand(256), True)
        n = self.n
        self.garbage_bytes += n
        dev._n_out = n
        dev._sent = 0
        dev._t_out = K.now
        K.at(K.now + n * dev._byte_ns, dev._frame_done)
