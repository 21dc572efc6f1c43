"""The TF-Luna frame parser (firmware/lidar.py) on CPython with a fake UART, and the
unit handshake on the virtual Pico."""

import importlib.util
import os
import sys
import types

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


PERIOD = 1 << 30           # ticks_us wraps here on the RP2040


def _ticks_diff(a, b):
    """MicroPython's ticks_diff for a 2**30 period."""
    return ((a - b + PERIOD // 2) & (PERIOD - 1)) - PERIOD // 2


def load_lidar(now_us, wrap=False):
    """firmware/lidar.py on CPython with a fake clock now_us[0]; wrap=True: ticks_us
    returns it modulo 2**30 and ticks_diff works as on the board."""
    mp = types.ModuleType("micropython")
    mp.const = lambda x: x
    tm = types.ModuleType("time")
    if wrap:
        tm.ticks_us = lambda: now_us[0] % PERIOD
        tm.ticks_diff = _ticks_diff
    else:
        tm.ticks_us = lambda: now_us[0]
        tm.ticks_diff = lambda a, b: a - b
    saved = {k: sys.modules.get(k) for k in ("micropython", "time")}
    sys.modules["micropython"] = mp
    sys.modules["time"] = tm
    try:
        spec = importlib.util.spec_from_file_location("fw_lidar", os.path.join(ROOT, "firmware", "lidar.py"))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    return mod


class FakeUart:
    """rp2's machine.UART as the reader sees it: readinto(buf[, nbytes]) asking for more
    bytes than are there waits the inter-character timeout (ports/rp2/machine_uart.c,
    at least 1 ms) before returning what it has: counted in .waits."""

    def __init__(self):
        self.rx = bytearray()
        self.tx = bytearray()
        self.waits = 0
        self.reads = 0

    def any(self):
        return len(self.rx)

    def readinto(self, buf, nbytes=-1):
        want = len(buf) if nbytes < 0 else min(nbytes, len(buf))
        n = min(want, len(self.rx))
        if want > n:
            self.waits += 1
        self.reads += 1
        buf[:n] = self.rx[:n]
        del self.rx[:n]
        return n or None

    def write(self, b):
        self.tx += b


def frame(dist, amp=1000, bad=False):
    f = bytes([0x59, 0x59, dist & 0xFF, dist >> 8, amp & 0xFF, amp >> 8, 0x40, 0x09])
    cs = (sum(f) + (1 if bad else 0)) & 0xFF
    return f + bytes([cs])


def test_frames_checksum_signal_and_units():
    now = [1000]
    L = load_lidar(now)
    u = FakeUart()
    lid = L.Lidar(u, min_amp=100)
    lid.request_mm()
    assert bytes(u.tx) == b"\x5a\x05\x05\x06\x6a"
    u.rx += b"\x00\x13" + frame(123)                  # garbage, then a cm frame
    assert lid.poll() == 1 and lid.mm == 1230 and not lid.unit_mm
    u.rx += frame(150, bad=True)                       # checksum error: ignored
    assert lid.poll() == 0 and lid.bad_checksum == 1 and lid.mm == 1230
    u.rx += frame(150, amp=50) + frame(150, amp=0xFFFF) + frame(0)    # weak, saturated, none
    assert lid.poll() == 0 and lid.weak == 3 and not lid.last_valid
    u.rx += b"\x5a\x05\x05\x06\x6a" + frame(1234)     # the sensor confirms mm, then mm frames
    assert lid.poll() == 1 and lid.unit_mm and lid.mm == 1234
    now[0] += 50000
    assert lid.fresh(now[0], 30000) == 0 and lid.fresh(now[0], 60000) == 1234
    # split across reads, byte by byte
    for b in frame(777):
        u.rx.append(b)
        lid.poll()
    assert lid.mm == 777 and lid.frames == 7
    assert u.waits == 0


def test_the_reader_takes_only_what_any_reports():
    """A 64-byte readinto after a 9-byte frame waits the UART's inter-character timeout
    (1-2 ms, 100 times a second on a TF-Luna): the reader asks for any() bytes only."""
    now = [1000]
    L = load_lidar(now)
    u = FakeUart()
    lid = L.Lidar(u)
    u.rx += frame(100)
    assert lid.poll() == 1
    u.rx += frame(101)[:4]                             # half a frame so far
    assert lid.poll() == 0
    assert len(u.rx) == 4, "a partial frame waits in the UART (parsed whole next time)"
    u.rx += frame(101)[4:] + frame(102) * 9            # 90 bytes: more than one 63-byte chunk
    assert lid.poll() == 10 and lid.mm == 1020
    assert u.waits == 0, "readinto asked for more bytes than any() reported"
    assert u.reads == 3                                # 9, then 63 + 27: whole frames


def _quiet_after_one_reading(L, t0):
    """A reading at t0 (ticks), then the sensor goes quiet while the service loop keeps
    polling; yields (seconds, ticks now) once a second for 20 minutes."""
    now = [t0]
    L.time.ticks_us = lambda: now[0] % PERIOD
    u = FakeUart()
    lid = L.Lidar(u)
    u.rx += frame(150)
    assert lid.poll() == 1 and lid.mm == 1500

    def seconds():
        for s in range(1, 1200):
            now[0] = t0 + s * 1000000
            assert lid.poll() == 0
            yield s, now[0] % PERIOD
    return lid, u, now, seconds()


def test_fresh_across_the_ticks_wrap():
    """ticks_us wraps at 2**30 us; a reading 537-1074 s old used to count as fresh."""
    t0 = PERIOD - 2000                                 # 2 ms before the wrap
    L = load_lidar([t0], wrap=True)
    lid, u, now, seconds = _quiet_after_one_reading(L, t0)
    assert lid.fresh((t0 + 5000) % PERIOD, 30000) == 1500     # 5 ms later, across the wrap
    for s, tk in seconds:
        assert lid.fresh(tk, 30000) == 0, "a reading %d s old counted as fresh" % s
    u.rx += frame(160)                                 # a new reading is fresh again
    assert lid.poll() == 1 and lid.fresh(now[0] % PERIOD, 30000) == 1600


def test_reading_age_saturates_instead_of_wrapping():
    t0 = PERIOD - 2000
    L = load_lidar([t0], wrap=True)
    lid, u, now, seconds = _quiet_after_one_reading(L, t0)
    assert lid.age_us((t0 + 5000) % PERIOD) == 5000
    for s, tk in seconds:
        assert lid.age_us(tk) == min(s * 1000000, L.AGE_MAX_US), s
    u.rx += frame(160)
    assert lid.poll() == 1 and lid.age_us(now[0] % PERIOD) == 0


def test_the_reader_does_not_allocate_on_micropython(tmp_path):
    """poll() on the board's interpreter with the heap locked: a frame costs no
    allocation (no slice, no memoryview per read)."""
    import subprocess
    script = tmp_path / "t.py"
    stream = b"\x5a\x05\x05\x06\x6a" + frame(1234) * 12      # mm confirmed, 12 frames
    script.write_text(f"""
import sys, micropython
sys.path.insert(0, {os.path.join(ROOT, "firmware")!r})
import lidar

class U:
    def __init__(self, data):
        self.d = data
        self.i = 0
        self.waits = 0
    def any(self):
        return len(self.d) - self.i
    def readinto(self, buf, n=-1):
        if n < 0 or n > len(buf):
            n = len(buf)
        if n > len(self.d) - self.i:
            self.waits += 1
            n = len(self.d) - self.i
        for j in range(n):
            buf[j] = self.d[self.i + j]
        self.i += n
        return n
    def write(self, b):
        pass

data = bytearray({stream!r})
u = U(data)
lid = lidar.Lidar(u)
micropython.heap_lock()
try:
    got = lid.poll()
finally:
    micropython.heap_unlock()
print(got, lid.mm, lid.unit_mm, u.waits)
""")
    exe = os.path.join(os.path.dirname(sys.executable), "micropython")
    r = subprocess.run([exe, str(script)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.split() == ["12", "1234", "True", "0"]


def test_a_sensor_that_ignores_the_mm_command_still_reads_right():
    from vpico import run, cal_steps
    res, tr = run({"duration_ms": 600, "subject_mm": [[0, 1234]], "lidar": {"cm_only": True},
                   "presses": [{"input": "af_on", "at_ms": 300, "hold_ms": 50}]})
    assert res.ev("af_target")[0]["mm"] == 1230          # centimetre resolution
    res, tr = run({"duration_ms": 600, "subject_mm": [[0, 1234]],
                   "presses": [{"input": "af_on", "at_ms": 300, "hold_ms": 50}]})
    assert res.ev("af_target")[0]["mm"] == 1234
    assert abs(res.stats["lens_pos"] - cal_steps(1234)) <= 0.5
