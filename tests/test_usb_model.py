"""The virtual Pico's USB serial behaves like rp2's USB CDC (board/_vp_usbcdc.py): small
programs in place of the firmware, each checking one behaviour the real port has."""

import os

from focusrig import scenario as scn
from focusrig.virtual_pico import runner


def run_program(tmp_path, src, raw, **kw):
    fw = tmp_path / "fw"
    fw.mkdir()
    (fw / "main.py").write_text(src)
    work = tmp_path / "work"
    work.mkdir()
    res = runner.run(scn.validate(raw), workdir=str(work), firmware_dir=str(fw), **kw)
    out = work / "flash" / "result.txt"
    return res, (out.read_text() if out.exists() else "")


READLINE = """
import sys, time
t0 = time.ticks_ms()
line = sys.stdin.readline()
t1 = time.ticks_ms()
with open("result.txt", "w") as f:
    f.write("%d %r" % (time.ticks_diff(t1, t0), line))
"""


def test_readline_blocks_until_the_newline_of_a_slowly_typed_line(tmp_path):
    # a person types "ping" at 20 ms per key from 10 ms: the last byte comes at 90 ms
    _, out = run_program(tmp_path, READLINE, {"duration_ms": 300, "serial": [
        {"at_ms": 10, "cmd": "ping", "typing_ms": 20}]})
    ms, line = out.split(" ", 1)
    assert line == repr("ping\n") and 89 <= int(ms) <= 92


TX_STUCK = """
import sys, time, select
out = sys.stdout.buffer
t0 = time.ticks_ms()
n1 = out.write(b"x" * 200)
n2 = out.write(b"y" * 200)
t1 = time.ticks_ms()
p = select.poll()
p.register(out, select.POLLOUT)
with open("result.txt", "w") as f:
    f.write("%d %d %d %d" % (n1, n2, time.ticks_diff(t1, t0), len(p.poll(0))))
"""


def test_tx_fifo_full_write_waits_then_returns_short(tmp_path):
    res, out = run_program(tmp_path, TX_STUCK, {"duration_ms": 1500}, host_not_reading=True)
    n1, n2, ms, writable = map(int, out.split())
    assert (n1, n2) == (200, 56)          # 256-byte FIFO (ports/rp2/tusb_config.h:84)
    # 500 ms after the 56 bytes went in, then py/stream.c asks again for the other 144:
    # another 500 ms with none taken (mp_usbd_cdc.c:97-142): about a second in all
    assert 1000 <= ms <= 1003 and writable == 0


def test_no_host_connected_drops_output_without_waiting(tmp_path):
    res, out = run_program(tmp_path, TX_STUCK, {"duration_ms": 300},
                           extra_setup={"usb": {"host_connected": False}})
    n1, n2, ms, writable = map(int, out.split())
    assert (n1, n2) == (200, 200) and ms == 0 and writable == 1
    assert not any("xxx" in line for line in res.raw_lines)
