"""The virtual Pico has a Pico's names, addresses and heap (docs/virtual_pico.md, "Names
and addresses as a Pico has them"): the qstrs the firmware adds, in a Pico's order; what
single operations allocate; map lookups costing their probes. The comparisons with the
rp2040 target (the official UF2) skip, with the line saying what is missing, without it.
"""

import ast
import os
import subprocess
import sys
import tempfile

import pytest

from vpico import REPO, rp2040_missing

sys.path.insert(0, os.path.join(REPO, "tools"))

import bench_alloc  # noqa: E402
import bench_cpu_ops  # noqa: E402

_RP2040 = rp2040_missing()
needs_rp2040 = pytest.mark.skipif(_RP2040 is not None, reason=f"rp2040 target: {_RP2040}")


def _printed(target, main, tag, product=False, duration_ms=1500):
    folder = tempfile.mkdtemp(prefix="fidelity-")
    if product:
        bench_cpu_ops.product_firmware(folder, main)
    else:
        with open(os.path.join(folder, "main.py"), "w") as f:
            f.write(main)
    res = bench_cpu_ops.boot_firmware(target, folder, duration_ms)
    return [ln for ln in res.raw_lines if ln.startswith(tag)]


@needs_rp2040
def test_rom_qstrs_file_is_the_official_uf2s():
    r = subprocess.run([sys.executable, os.path.join(REPO, "tools", "pico_qstrs.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


QSTRS_MAIN = '''from machine import Pin
led = Pin(25, Pin.OUT, value=0)
import micropython
import app
a = app.App()
try:
    import _vphook
    q = _vphook.fw_qstrs(True)
    for i in range(0, len(q), 20):      # short lines (a 10 KB one outran the USB TX timeout)
        print("FWQ", q[i:i + 20])
except ImportError:
    micropython.qstr_info(1)
'''


def _pico_order(lines):
    """micropython.qstr_info(1)'s names in the order they were made: it lists the RAM
    pools newest first, each from its oldest entry, and the pools hold 20, 40, 80 ..."""
    names = [ln[2:-1] for ln in lines if ln.startswith("Q(")]
    sizes, left = [], len(names)
    size = 20
    while left > 0:
        sizes.append(min(size, left))
        left -= size
        size *= 2
    pools, at = [], 0
    for n in reversed(sizes):
        pools.append(names[at:at + n])
        at += n
    return [q for pool in reversed(pools) for q in pool]


@needs_rp2040
@pytest.mark.xfail(strict=False, reason=(
    "intermittent (about 1 run in 3 under pytest, not seen outside it): one name, "
    "IN_SHUTTER_FULL, prints from the virtual Pico with a byte doubled (IN_SHUTTERR_FULL, "
    "IN_SHUTTER__FULL, ''IN_SHUTTER_FULL); the other 915 and their order match. Not found "
    "yet: docs/virtual_pico.md, remaining differences"))
def test_the_firmware_adds_a_picos_qstrs_in_a_picos_order():
    virtual = [n for ln in _printed("virtual", QSTRS_MAIN, "FWQ", product=True)
               for n in ast.literal_eval(ln[4:])]
    folder = tempfile.mkdtemp(prefix="fidelity-")
    bench_cpu_ops.product_firmware(folder, QSTRS_MAIN)
    res = bench_cpu_ops.boot_firmware("rp2040", folder, 1500)
    pico = _pico_order(res.raw_lines)
    assert len(pico) > 800, res.raw_lines[-5:]
    # the firmware's .mpy files are named by where the flash is mounted ("/flash/x.mpy" on
    # the virtual Pico's host, "x.mpy" on a Pico): the same qstr, another text
    same = [v == p or (p.endswith(".mpy") and v.endswith("/" + p)) for v, p in zip(virtual, pico)]
    assert len(virtual) == len(pico) and all(same), [
        (i, v, p) for i, (v, p, s) in enumerate(zip(virtual, pico, same)) if not s][:5]


@needs_rp2040
def test_single_operations_allocate_as_on_a_pico():
    def figures(target):
        folder = tempfile.mkdtemp(prefix="fidelity-")
        with open(os.path.join(folder, "main.py"), "w") as f:
            f.write(bench_alloc.firmware())
        return bench_cpu_ops.run_firmware(target, folder, "ALLOC", 3000)

    virtual, pico = figures("virtual"), figures("rp2040")
    names = [o[0] for o in bench_alloc.OPS]
    assert any(v > 0 for v in pico)     # (the benchmark measures something)
    assert [(n, v) for n, v, p in zip(names, virtual, pico) if abs(v - p) > 0.5] == [], \
        list(zip(names, virtual, pico))


PROBES_MAIN = '''import time
from machine import Pin
led = Pin(25, Pin.OUT, value=0)


class Small:
    def __init__(self):
        self.a0 = 0

    def m(self):
        pass


class Big:
    def __init__(self):
%s

    def m(self):
        pass


def per_call(o, n=200):
    t0 = time.ticks_us()
    for _ in range(n):
        o.m()
    return time.ticks_diff(time.ticks_us(), t0) / n


print("PROBES", [per_call(Small()), per_call(Big()), id(object()) < 2**30])
''' % "\n".join("        self.a%d = 0" % i for i in range(59))


def test_a_method_call_on_a_full_attribute_table_pays_its_probes():
    # an instance of 59 attributes has a table of 59 slots (py/map.c grows a map only when
    # it is full), and o.m() misses it first, probing all 59: 59 x 44 cycles more than on
    # one of 1 (the rp2040 target: 11.4 against 32.7 us a call)
    small, big, small_id = ast.literal_eval(_printed("virtual", PROBES_MAIN, "PROBES")[0][7:])
    extra = (big - small) * 125
    assert 59 * 44 * 0.9 <= extra <= 59 * 44 * 1.1 + 150, (small, big)
    # and id() of an object is a small int: the heap is where a Pico's SRAM is
    assert small_id
