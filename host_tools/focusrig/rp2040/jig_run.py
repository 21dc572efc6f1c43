"""The test jig without hardware: a scenario run on two emulated RP2040s, both on the
official MicroPython UF2, wired pin to pin (hardware/jig_wiring.json): the DUT runs
focusrig's firmware, the jig runs firmware/jig/ and plays the presses, emulates the
TF-Luna and captures the DUT's outputs with its PIO (js/jig.mjs).

This module owns the two flash images, the run, and turning the jig's capture into the
trace a real HIL run gives (focusrig.hil's decoder, the same code as on the rig); it also
returns the emulator's own record of the DUT's output pins on the capture's time axis, so
the two can be compared (they should agree within the capture's resolution).
"""

import json
import os
import shutil
import struct
import subprocess
import tempfile
import time

from .. import hil
from .. import pinmap as pinmap_mod
from .. import scenario as scn
from .. import trace as trace_mod
from ..jigpins import JIG_DIR
from ..jigpins import load as load_wiring
from ..virtual_pico import runner as vp
from . import BOOTROM_NAME, JS_DIR, UF2_NAME, Rp2040Error, board_file, check_ready, flashfs

JIG_HARNESS = os.path.join(JS_DIR, "jig.mjs")
REC = struct.Struct("<qHi")
BOOT_MS = 3000             # both firmwares up and the capture started by then


def run(s, freq=hil.HW_FREQ, timeout=1800, progress=None, quantum_ns=1000, workdir=None):
    """Run validated scenario `s` through the emulated jig. Returns (res, tr, own):
    res a hil.HilResult (the DUT's events, the jig's `done` line plus emulator figures in
    stats), tr the trace from the jig's capture, own {signal: [(t_ns, level)]} the
    emulator's record of the same DUT pins, t from the capture start. workdir: keep the
    images, the setup and the harness's files there (default: a temporary folder)."""
    node = check_ready()
    pins = pinmap_mod.signals(pinmap_mod.load())
    wiring = load_wiring()
    work = workdir or tempfile.mkdtemp(prefix="rp2040-jig-")
    os.makedirs(work, exist_ok=True)
    try:
        images = {}
        for who, fw, cfg in (("dut", None, s["config"]), ("jig", JIG_DIR, None)):
            folder = os.path.join(work, who)
            if fw:
                vp.prepare_flash(folder, cfg, firmware_dir=fw)
            else:
                vp.prepare_flash(folder, cfg)
            images[who] = flashfs.build(folder, os.path.join(work, who + ".img"))
        names = list(wiring["capture"])
        setup = {
            "bootrom": board_file(BOOTROM_NAME), "uf2": board_file(UF2_NAME),
            "flash_offset": flashfs.FS_OFFSET,
            "dut": {"flash_image": images["dut"], "trace_pins": [pins[n][0] for n in names]},
            "jig": {"flash_image": images["jig"]},
            "wiring": {
                "drive": [[w["jig_gpio"], w["dut_gpio"]] for w in wiring["drive"].values()],
                "capture": [[w["dut_gpio"], w["jig_gpio"]] for w in wiring["capture"].values()],
                "uart": {"jig": wiring["uart"]["id"], "dut": pinmap_mod.load()["uart"]["lidar"]["id"]},
            },
            "jig_lines": ["hello"] + hil.jig_lines(s, pins, freq),
            "serial": [[int(round(c["at_ms"] * 1e6)), c["cmd"]] for c in s["serial"]],
            "limit_ms": BOOT_MS + s["duration_ms"] + 500,
            "quantum_ns": quantum_ns,
            "trace": os.path.join(work, "dut-pins.bin"),
        }
        path = os.path.join(work, "setup.json")
        with open(path, "w") as f:
            json.dump(setup, f)
        msgs, end, wall = _harness(node, path, work, timeout, progress)
        if end is None or not end["done"]:
            said = " | ".join(m["s"] for m in msgs if m["k"] == "jig")[-200:] or "nothing"
            raise Rp2040Error(f"the emulated jig did not finish the run (jig said: {said}): "
                              "check firmware/jig/ runs (docs/hil.md)")
        with open(setup["trace"], "rb") as f:
            data = f.read()
        rec = [REC.unpack_from(data, i) for i in range(0, len(data) - len(data) % REC.size, REC.size)]
    finally:
        if workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    res = _result(s, pins, msgs, end, wall)
    samples = hil.decode_capture(res.jig_lines, freq, **hil._hello_consts(res.jig_lines))
    captured = hil.capture_changes(samples, names, pins)
    _, logical = scn.edges(s, pins)
    res.logical = logical
    tr = hil.build_trace(s, logical, captured)
    return res, tr, _own(rec, names, pins, end["capture_start_ns"])


def _harness(node, path, work, timeout, progress):
    t0 = time.perf_counter()
    err_path = os.path.join(work, "harness.err")
    with open(err_path, "wb") as err:      # a file: a full stderr pipe would stall Node
        proc = subprocess.Popen([node, JIG_HARNESS, path], stdout=subprocess.PIPE,
                                stderr=err, cwd=work)
    msgs, end = [], None
    try:
        deadline = time.monotonic() + timeout
        for raw in proc.stdout:
            m = json.loads(raw)
            if m["k"] == "end":
                end = m
                break
            if m["k"] == "progress":
                if progress and m["capture_ns"] >= 0:
                    progress(m["capture_ns"] / 1e6)
            else:
                msgs.append(m)
            if time.monotonic() > deadline:
                raise Rp2040Error(f"the emulated jig run did not finish within {timeout} s")
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0 or end is None:
        with open(err_path, "rb") as f:
            tail = f.read().decode("utf-8", "replace").strip().splitlines()[-4:]
        raise Rp2040Error("the jig harness failed (exit %s): %s"
                          % (proc.returncode, " | ".join(tail) or "no output"))
    return msgs, end, time.perf_counter() - t0


def _result(s, pins, msgs, end, wall):
    res = hil.HilResult()
    res.scenario = s
    res.pins = pins
    res.wall_s = wall
    for m in msgs:
        if m["k"] == "jig":
            res.jig_lines.append(m["s"])
            if m["s"].startswith("{") and '"done"' in m["s"]:
                res.stats = json.loads(m["s"])
        elif m["k"] == "dut":
            try:
                res.events.append(json.loads(m["s"]))
            except ValueError:
                res.raw_lines.append(m["s"])
    start = end["capture_start_ns"]
    res.stats = dict(res.stats, capture_start_ns=start, emulated_ns=end["t_ns"],
                     harness_wall_s=end["wall_s"], instructions=end["instructions"],
                     cpu_load={k: 1 - v / end["t_ns"] for k, v in end["cpu_slept_ns"].items()},
                     target="rp2040-jig")
    return res


def _own(rec, names, pins, start):
    """{signal: [(t_ns from the capture start, logical level)]} from the emulator's record."""
    by_gpio = {pins[n][0]: n for n in names}
    out = {n: [(0, 0)] for n in names}
    for t, g, v in sorted(rec):
        n = by_gpio.get(g)
        if n is None:
            continue
        lv = 1 if v == pins[n][1] else 0
        tt = max(0, int(t - start))
        trace_mod._append(out[n], tt, lv)
    return out


def main(argv=None):
    """python -m focusrig.rp2040.jig_run S.json [--vcd OUT.vcd] [--log OUT.jsonl]: the
    scenario through the emulated jig; prints how the capture compares with the DUT's pins."""
    import argparse
    import sys
    from ..cli import UserError
    p = argparse.ArgumentParser(prog="python -m focusrig.rp2040.jig_run", description=main.__doc__)
    p.add_argument("scenario")
    p.add_argument("--vcd")
    p.add_argument("--log")
    args = p.parse_args(argv)
    try:
        s = scn.load(args.scenario)
        res, tr, own = run(s)
    except (UserError, Rp2040Error, scn.ScenarioError) as e:
        print(f"jig_run: {e}", file=sys.stderr)
        return 2
    if args.vcd:
        trace_mod.write_vcd(tr, args.vcd)
    if args.log:
        with open(args.log, "w") as f:
            for e in res.events:
                f.write(json.dumps(e, sort_keys=True) + "\n")
    st = res.stats
    print(f"{s.get('name') or 'scenario'}: {res.wall_s:.1f} s wall; jig: {st['words']} words, "
          f"fifo_full {st['fifo_full']}, presses up to {st['late_max_us']} us late")
    for name, rec in own.items():
        cap = tr.changes(name)
        worst = max((abs(a[0] - b[0]) for a, b in zip(cap, rec)), default=0)
        print(f"  {name:<12} captured {len(cap) - 1:5d} edges, DUT pins {len(rec) - 1:5d}, "
              f"worst difference {worst} ns")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
