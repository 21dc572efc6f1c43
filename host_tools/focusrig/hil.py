"""Hardware-in-the-loop runs: the test-jig Pico (firmware/jig/) plays a scenario's presses,
seeded contact chatter included, onto the rig's button inputs and timestamps the rig's
outputs with PIO; the host turns the capture into the same Trace / VCD / report as an
emulated run. Protocol and wiring: docs/hil.md, hardware/jig_wiring.json.

Pieces usable without hardware (the tests run them against the jig firmware on the
virtual Pico): `jig_lines()` (the command lines for a scenario), `decode_capture()` (W
lines -> timed samples), `capture_changes()` (samples -> logical signal changes),
`lens_from_steps()` and `run_jig_virtual()`.
"""

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time

from . import pinmap as pinmap_mod
from . import scenario as scn
from . import trace as trace_mod
from .cli import UserError

HW_FREQ = 125000000        # PIO clock on the real jig: one 7-cycle loop = 56 ns
VIRTUAL_FREQ = 12500000   # on the virtual Pico: 80 ns cycles, worst case 11 cycles = 880 ns


class HilResult:
    """What a hardware-in-the-loop run produced (the fields analysis/report use)."""

    def __init__(self):
        self.events = []        # the rig's JSON event lines
        self.raw_lines = []
        self.stats = {}         # the jig's "done" line
        self.scenario = None
        self.pins = None
        self.logical = {}
        self.trace = []
        self.wall_s = 0.0
        self.jig_lines = []     # every line the jig sent


def jig_lines(s, pins=None, freq=HW_FREQ):
    """The jig command lines for scenario `s`: clear, edges (from scenario.edges(), so the
    chatter is the emulation's, seed for seed), subject points, start."""
    pins = pins or pinmap_mod.signals(pinmap_mod.load())
    _, logical = scn.edges(s, pins)
    lines = ["clear"]
    for name, ev in logical.items():
        for t_ns, lv in ev:
            lines.append(f"e {int(round(t_ns / 1000))} {name} {lv}")
    for t_ms, mm in s["subject_mm"]:
        lines.append(f"s {t_ms:g} {mm:g}")
    lines.append(f"start {int(s['duration_ms'] + 0.999)} {freq}")
    return lines


def decode_capture(lines, freq, loop_cycles=7, change_cycles=4, sample_offset=2,
                   counter_bits=27):
    """[(t_ns, sample)] from the jig's W lines ("W TICKS_US HEX ..."), t from the
    capture start. Unwraps the 27-bit loop counter with each batch's coarse time."""
    wrap = 1 << counter_bits
    mask = wrap - 1
    ns_per_cycle = 1e9 / freq
    loop_ns = loop_cycles * ns_per_cycle
    out = []
    n_prev = -1
    k = 0
    for line in lines:
        parts = line.split()
        if not parts or parts[0] != "W":
            continue
        coarse_ns = int(parts[1]) * 1000
        for hx in parts[2:]:
            w = int(hx, 16)
            sample = w >> counter_bits
            n_mod = (-(w & mask)) & mask
            if n_prev < 0:
                n = n_mod
            else:
                n = n_prev + ((n_mod - n_prev) & mask)
            # a quiet stretch longer than a counter period: the coarse time says how many
            while (n + wrap) * loop_ns <= coarse_ns:
                n += wrap
            cyc = n * loop_cycles + k * change_cycles + sample_offset
            out.append((int(round(cyc * ns_per_cycle)), sample))
            n_prev = n
            k += 1
    return out


def capture_changes(samples, names, pins=None):
    """{name: [(t_ns, logical level)]} from electrical samples (bit i = names[i])."""
    pins = pins or pinmap_mod.signals(pinmap_mod.load())
    out = {}
    for i, name in enumerate(names):
        active = pins[name][1]
        ch = [(0, 0)]
        for t, smp in samples:
            lv = 1 if ((smp >> i) & 1) == active else 0
            trace_mod._append(ch, t, lv)
        out[name] = ch
    return out


def lens_from_steps(step, dirn, start_pos=0):
    """Lens position from STEP rising edges and the DIR level (high = increasing)."""
    pos = start_pos
    out = [(0, pos)]
    di = 0
    d = dirn[0][1] if dirn else 1
    prev = 0
    for t, v in step:
        while di < len(dirn) and dirn[di][0] <= t:
            d = dirn[di][1]
            di += 1
        if v and not prev:
            pos += 1 if d else -1
            out.append((t, pos))
        prev = v
    return out


def build_trace(s, logical_inputs, captured):
    """A Trace like trace.from_run(): contact edges from the schedule, outputs from the
    capture, lens_pos counted from STEP/DIR, subject_mm from the scenario."""
    tr = trace_mod.Trace()
    sig = {n: [(0, 0)] for n in trace_mod.WIRES}
    for n, ev in logical_inputs.items():
        ch = [(0, 0)]
        for t, v in ev:
            trace_mod._append(ch, t, v)
        sig[n] = ch
    for n, ch in captured.items():
        sig[n] = ch
    sig["lens_pos"] = lens_from_steps(sig["step"], sig["dir"], s.get("lens", {}).get("start_pos", 0))
    sig["subject_mm"] = trace_mod.subject_changes(s["subject_mm"], s["duration_ms"])
    tr.signals = sig
    tr.end_ns = int(s["duration_ms"] * 1e6)
    return tr


def _hello_consts(lines):
    for line in lines:
        if line.startswith("{"):
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e.get("re") == "hello":
                return {k: e[k] for k in ("loop_cycles", "change_cycles", "sample_offset",
                                          "counter_bits") if k in e}
    return {}


# ---------------------------------------------------------------------------------------
# the jig firmware on the virtual Pico
# ---------------------------------------------------------------------------------------

def run_jig_virtual(lines, capture_edges, end_ms, start_at_ms=20, workdir=None, timeout=600):
    """Run firmware/jig/ on a virtual Pico: `lines` are sent at 1 ms, except the last
    (`start ...`) at start_at_ms, so the capture starts at that exact virtual time;
    `capture_edges` [[t_ns, jig_gpio, level]] drive its capture inputs.
    Returns (stdout lines, pin trace [(t_ns, gpio, level)], stats)."""
    from .jigpins import JIG_DIR
    from .virtual_pico import runner
    own = workdir is None
    workdir = workdir or tempfile.mkdtemp(prefix="vjig-")
    try:
        flash = os.path.join(workdir, "flash")
        runner.prepare_flash(flash, None, firmware_dir=JIG_DIR)
        trace_path = os.path.join(workdir, "trace.bin")
        stats_path = os.path.join(workdir, "stats.json")
        setup = {
            "mode": "fast", "end_ms": end_ms, "seed": 0,
            # the board model wants a stepper; the jig has none: park it on unused pins
            "pins": {"step": [26, 1], "dir": [27, 1], "motor_en": [28, 0]},
            "inputs": [], "edges": sorted(capture_edges), "subject": [[0, 0]],
            "lidar": {}, "lidar_uart": 1, "lens": {},
            "serial": [[1000000, (ln + "\n").encode().hex(), 0] for ln in lines[:-1]]
            + [[int(start_at_ms * 1e6), (lines[-1] + "\n").encode().hex(), 0]],
            "trace": trace_path, "stats": stats_path, "flash": flash,
        }
        setup_path = runner.write_setup(setup, workdir)
        env = dict(os.environ)
        env["MICROPYPATH"] = ".frozen:" + flash
        cmd = runner.micropython_cmd() + ["-X", "heapsize=" + runner.HEAP,
                                          os.path.join(runner.BOARD_DIR, "_vp_boot.py"), setup_path]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, cwd=flash, env=env)
        err = []

        def pump():
            for raw in proc.stderr:
                line = raw.decode("utf-8", "replace")
                if line.startswith("\x1eSEND "):
                    i = int(line.split()[1])
                    try:
                        proc.stdin.write((lines[i] + "\n").encode())
                        proc.stdin.flush()
                    except OSError:
                        pass
                    continue
                err.append(line)

        th = threading.Thread(target=pump, daemon=True)
        th.start()
        out = [raw.decode("utf-8", "replace").rstrip("\r\n") for raw in proc.stdout]
        proc.wait(timeout=timeout)
        th.join(timeout=5)
        stats = {}
        if os.path.exists(stats_path):
            with open(stats_path) as f:
                stats = json.load(f)
        if proc.returncode != 0 or not stats:
            raise runner.VirtualPicoError("virtual jig failed (exit %s):\n%s" % (
                proc.returncode, "".join(err[-12:]) or "\n".join(out[-12:])))
        pin_trace = []
        if os.path.exists(trace_path):
            with open(trace_path, "rb") as f:
                data = f.read()
            pin_trace = [runner.TRACE_REC.unpack_from(data, i)
                         for i in range(0, len(data) - len(data) % 14, 14)]
        return out, pin_trace, stats
    finally:
        if own:
            shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# real hardware
# ---------------------------------------------------------------------------------------

def _open(port, what):
    try:
        import serial
    except ImportError:
        raise UserError("hardware-in-the-loop needs pyserial: pip install pyserial") from None
    if not os.path.exists(port) and not port.startswith(("COM", "socket:", "rfc2217:")):
        raise UserError(f"{what} port {port} does not exist: plug the board in and check "
                        "`ls /dev/ttyACM*`")
    try:
        return serial.Serial(port, 115200, timeout=0.05, exclusive=True)
    except Exception as e:  # noqa: BLE001 - SerialException, OSError: busy, permissions
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "busy" in msg.lower() or "lock" in msg.lower():
            raise UserError(f"{what} port {port} is busy: close the other program using it "
                            "(monitor, Thonny, mpremote)") from None
        raise UserError(f"cannot open {what} port {port}: {msg}") from None


def _read_until(ser, pred, timeout, log, what):
    """Read lines until pred(line) is true; raise UserError showing what arrived."""
    end = time.monotonic() + timeout
    buf = b""
    got = []
    while time.monotonic() < end:
        chunk = ser.read(4096)
        if chunk:
            buf += chunk
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                line = raw.decode("utf-8", "replace").rstrip("\r")
                got.append(line)
                if log is not None:
                    log.append(line)
                if pred(line):
                    return got
    tail = " | ".join(got[-3:]) or (buf.decode("utf-8", "replace")[-80:] or "nothing")
    raise UserError(f"{what}: no answer within {timeout:g} s (received: {tail}); check the "
                    "jig runs firmware/jig/ (docs/hil.md)")


def run_hil(s, port, jig_port, freq=HW_FREQ, serial_log=None):
    """Run scenario `s` on the real rig (port) through the jig (jig_port).
    Returns (HilResult, trace.Trace). `serial_log`: a list that receives every line."""
    pins = pinmap_mod.signals(pinmap_mod.load())
    res = HilResult()
    res.scenario = s
    res.pins = pins
    log = serial_log if serial_log is not None else []
    jig = _open(jig_port, "jig")
    try:
        dut = _open(port, "rig")
    except UserError:
        jig.close()
        raise
    t_wall = time.perf_counter()
    try:
        jig.reset_input_buffer()
        jig.write(b"\r\nhello\n")
        got = _read_until(jig, lambda ln: '"hello"' in ln, 3.0, log, f"jig on {jig_port}")
        consts = _hello_consts(got)
        # the rig: fresh config with the scenario's overrides
        dut.reset_input_buffer()
        dut.write(b"\r\nconfig reset\n")
        for k, v in s["config"].items():
            dut.write(f"config set {k} {json.dumps(v)}\n".encode())
        time.sleep(0.3)
        dut.reset_input_buffer()
        lines = jig_lines(s, pins, freq)
        for ln in lines[:-1]:
            jig.write((ln + "\n").encode())
        _, logical = scn.edges(s, pins)
        res.logical = logical
        jig.write((lines[-1] + "\n").encode())
        start_wall = time.monotonic()
        serial_cmds = sorted(s["serial"], key=lambda c: c["at_ms"])
        dut_buf = b""
        jig_buf = b""
        wlines = []
        done = None
        deadline = start_wall + s["duration_ms"] / 1000 + 10
        while done is None:
            if time.monotonic() > deadline:
                tail = " | ".join(log[-3:]) or "nothing"
                raise UserError(f"jig on {jig_port} did not finish the run (received: {tail})")
            el_ms = (time.monotonic() - start_wall) * 1000
            while serial_cmds and serial_cmds[0]["at_ms"] <= el_ms:
                dut.write((serial_cmds.pop(0)["cmd"] + "\n").encode())
            jig_buf += jig.read(65536)
            while b"\n" in jig_buf:
                raw, jig_buf = jig_buf.split(b"\n", 1)
                line = raw.decode("utf-8", "replace").rstrip("\r")
                log.append("jig: " + line if not line.startswith("W ") else line)
                res.jig_lines.append(line)
                if line.startswith("W "):
                    wlines.append(line)
                elif line.startswith("{") and '"done"' in line:
                    done = json.loads(line)
            dut_buf += dut.read(65536)
            while b"\n" in dut_buf:
                raw, dut_buf = dut_buf.split(b"\n", 1)
                line = raw.decode("utf-8", "replace").rstrip("\r")
                log.append("rig: " + line)
                try:
                    res.events.append(json.loads(line))
                    res.event_text.append(line)
                except ValueError:
                    res.raw_lines.append(line)
    finally:
        jig.close()
        dut.close()
    res.stats = done
    res.wall_s = time.perf_counter() - t_wall
    if done.get("fifo_full"):
        log.append("warning: the jig's capture FIFO filled up %d times: edges may be missing"
                   % done["fifo_full"])
    samples = decode_capture(wlines, freq, **consts)
    from .jigpins import load as load_wiring
    names = list(load_wiring()["capture"])
    captured = capture_changes(samples, names, pins)
    tr = build_trace(s, logical, captured)
    return res, tr
