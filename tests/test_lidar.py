"""The TF-Luna frame parser (firmware/lidar.py) on CPython with a fake UART, and the
unit handshake on the virtual Pico."""

import importlib.util
import os
import sys
import types

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_lidar(now_us):
    mp = types.ModuleType("micropython")
    mp.const = lambda x: x
    tm = types.ModuleType("time")
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
    def __init__(self):
        self.rx = bytearray()
        self.tx = bytearray()

    def any(self):
        return len(self.rx)

    def readinto(self, buf):
        n = min(len(buf), len(self.rx))
        buf[:n] = self.rx[:n]
        del self.rx[:n]
        return n

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


def test_a_sensor_that_ignores_the_mm_command_still_reads_right():
    from vpico import run, cal_steps
    res, tr = run({"duration_ms": 600, "subject_mm": [[0, 1234]], "lidar": {"cm_only": True},
                   "presses": [{"input": "af_on", "at_ms": 300, "hold_ms": 50}]})
    assert res.ev("af_target")[0]["mm"] == 1230          # centimetre resolution
    res, tr = run({"duration_ms": 600, "subject_mm": [[0, 1234]],
                   "presses": [{"input": "af_on", "at_ms": 300, "hold_ms": 50}]})
    assert res.ev("af_target")[0]["mm"] == 1234
    assert abs(res.stats["lens_pos"] - cal_steps(1234)) <= 0.5
