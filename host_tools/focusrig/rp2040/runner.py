"""Run one scenario on the rp2040 target: the official MicroPython UF2 in rp2040js (our
Node harness, js/harness.mjs) with focusrig's firmware on the board's littlefs.

The host side owns: the flash image (the firmware as `deploy --mpy` puts it, plus the
scenario's config.json, via virtual_pico.runner.prepare_flash and flashfs), the board
setup (contact edges with seeded chatter from scenario.edges, subject and LiDAR, timed
serial commands, pins to record), reading the harness's lines (firmware output, progress),
and the result: the same shape as virtual_pico.runner.Result, so trace.from_run, the
analysis and the tests never care which target ran.

Time origin: the emulated board resets and boots MicroPython (about 430 ms); scenario
time 0 is the moment the firmware configures its status LED pin as an output, the last of
its "outputs inactive first" pins, right before it starts its uptime clock. Button levels
at t <= 0 are applied from reset (a button held at power-up).
"""

import json
import os
import shutil
import struct
import subprocess
import tempfile
import time

from .. import pinmap as pinmap_mod
from .. import scenario as scn
from ..virtual_pico import runner as vp
from . import BOOTROM_NAME, HARNESS, UF2_NAME, Rp2040Error, board_file, check_ready
from . import flashfs, lens

TRACE_REC = struct.Struct("<qHi")
CORRECTIONS = ("uart_tx", "uart_rx", "pio", "flash", "pulls", "usb", "fifo_join")


def run(s, workdir=None, timeout=600, progress=None, flash_image=None, keep_flash=None,
        corrections=None, boot_timeout_ms=3000, mpy=True, serial_abs=None, extra_setup=None):
    """Run a validated scenario dict `s`; returns a virtual_pico.runner.Result.

    flash_image: boot from this littlefs image instead of a fresh one (e.g. kept from an
    earlier run: a reset with the flash as it was). keep_flash: write the flash
    filesystem as it is at the end to this path. corrections: {name: False} turns one of
    CORRECTIONS off (for the tests that show each is needed). extra_setup: more harness
    setup keys (e.g. "flash_snapshots": a folder for the flash after every erase/program
    step, js/flash-snapshots.mjs). A watchdog reset reboots the board within the run:
    Result.resets lists when (ns from the origin) and why (1 timeout, 2 forced)."""
    node = check_ready()
    own = workdir is None
    workdir = workdir or tempfile.mkdtemp(prefix="rp2040-")
    try:
        return _run(node, s, workdir, timeout, progress, flash_image, keep_flash,
                    corrections or {}, boot_timeout_ms, mpy, serial_abs or [], extra_setup)
    finally:
        if own:
            shutil.rmtree(workdir, ignore_errors=True)


def _image(s, workdir, flash_image, mpy):
    path = os.path.join(workdir, "flash.img")
    if flash_image:
        shutil.copy(flash_image, path)
        return path
    folder = os.path.join(workdir, "flash")
    vp.prepare_flash(folder, s["config"], mpy=mpy)
    return flashfs.build(folder, path)


def _run(node, s, workdir, timeout, progress, flash_image, keep_flash, corrections,
         boot_timeout_ms, mpy, serial_abs, extra_setup=None):
    for k in corrections:
        if k not in CORRECTIONS:
            raise Rp2040Error(f"unknown correction {k!r} (known: {', '.join(CORRECTIONS)})")
    pm = pinmap_mod.load()
    sigs = pinmap_mod.signals(pm)
    edges, logical = scn.edges(s, sigs)
    trace_path = os.path.join(workdir, "trace.bin")
    flash_out = os.path.join(workdir, "flash-out.img")
    driver = s["config_full"]["driver"]
    model = dict(vp.DRIVER_MODELS[driver])
    model.update({k: v for k, v in s.get("lens", {}).items() if k.endswith("_ns")})
    setup = {
        "bootrom": board_file(BOOTROM_NAME),
        "uf2": board_file(UF2_NAME),
        "flash_image": _image(s, workdir, flash_image, mpy),
        "flash_offset": flashfs.FS_OFFSET,
        "flash_size": flashfs.FS_SIZE,
        "flash_out": flash_out,
        "corrections": corrections,
        "end_ms": s["duration_ms"],
        "boot_timeout_ms": boot_timeout_ms,
        "origin_gpio": sigs["led"][0],
        "edges": edges,
        "input_active": {str(sigs[n][0]): sigs[n][1] for n in pm["inputs"]},
        "serial": [[int(round(c["at_ms"] * 1e6)), c["cmd"]] for c in s["serial"]
                   if "cmd" in c and not c.get("typing_ms")],
        "serial_hex": [[int(round(c["at_ms"] * 1e6)), scn.serial_bytes(c).hex(),
                        int(round(c.get("typing_ms", 0) * 1e6))] for c in s["serial"]
                       if "hex" in c or c.get("typing_ms")],
        "pullups": [sigs[n][0] for n in vp.EXTERNAL_PULLUPS if n in sigs],
        "serial_abs": serial_abs,
        "subject": s["subject_mm"],
        "lidar": s.get("lidar", {}),
        "lidar_uart": pm["uart"]["lidar"]["id"],
        "seed": s["seed"],
        "trace_pins": sorted({g for g, _ in sigs.values()}),
        "trace": trace_path,
    }
    setup.update(extra_setup or {})
    setup_path = os.path.join(workdir, "setup.json")
    with open(setup_path, "w") as f:
        json.dump(setup, f)
    res = vp.Result()
    res.scenario = s
    res.pins = sigs
    res.logical = logical
    t0 = time.perf_counter()
    proc = subprocess.Popen([node, HARNESS, setup_path], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=workdir)
    end = None
    usb = []
    res.resets = []
    try:
        deadline = time.monotonic() + timeout
        for raw in proc.stdout:
            msg = json.loads(raw)
            k = msg["k"]
            if k == "line":
                usb.append((msg["t"], msg["s"]))
                if _line(res, msg["s"]):
                    res.arrivals.append(msg["t"])
            elif k == "reset":
                res.resets.append((msg["t_ns"], msg["reason"]))
            elif k == "progress" and progress is not None and msg.get("booted"):
                progress(msg["t_ns"] / 1e6)
            elif k == "end":
                end = msg
                break
            if time.monotonic() > deadline:
                proc.kill()
                raise Rp2040Error(f"the emulated RP2040 did not finish within {timeout} s")
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    res.stderr = proc.stderr.read().decode("utf-8", "replace")
    res.wall_s = time.perf_counter() - t0
    if proc.returncode != 0 or end is None:
        tail = res.stderr.strip().splitlines()[-6:] or ["no output"]
        raise Rp2040Error("the rp2040 harness failed (exit %s): %s" % (proc.returncode, " | ".join(tail)))
    if not end["booted"]:
        said = " / ".join(line for _, line in usb[-4:]) or "nothing on USB"
        raise Rp2040Error(f"the firmware did not start within {boot_timeout_ms} ms of reset "
                          f"(said: {said[:200]})")
    with open(trace_path, "rb") as f:
        data = f.read()
    pins = [TRACE_REC.unpack_from(data, i) for i in range(0, len(data) - len(data) % 14, 14)]
    end_ns = int(s["duration_ms"] * 1e6)
    recs, lstats = lens.integrate(pins, sigs["step"][0], sigs["dir"][0], sigs["motor_en"][0],
                                  sigs["motor_en"][1], model, s.get("lens", {}).get("start_pos", 0),
                                  end_ns)
    res.trace = sorted(pins + recs, key=lambda r: r[0])
    res.usb_lines = usb
    # a hard IRQ handler that allocates raises MemoryError (py/runtime.c) and the port
    # prints it after "Uncaught exception in IRQ callback handler" (shared/runtime/mpirq.c)
    alloc = sum(1 for line in res.raw_lines if "heap is locked" in line)
    res.stats = dict(lstats, t_ns=end["t_ns"], irq_alloc_errors=alloc, lidar_frames=end["lidar_frames"],
                     boot_origin_ns=end["origin_ns"], emulated_ns=end["emulated_ns"],
                     instructions=end["instructions"], instructions_run=end["instructions_run"],
                     cpu_load=1 - end["cpu_slept_ns"] / max(end["t_ns"], 1), harness_wall_s=end["wall_s"],
                     flash_erased=end["flash"]["erased"], flash_programmed=end["flash"]["programmed"],
                     target="rp2040")
    if keep_flash:
        shutil.copy(flash_out, keep_flash)
    return res


def _line(res, line):
    """Keep one firmware line; True when it was an event (JSON)."""
    if line.startswith("{"):
        try:
            res.events.append(json.loads(line))
            res.event_text.append(line)
            return True
        except ValueError:
            pass
    res.raw_lines.append(line)
    return False
