"""Test helpers: run a scenario dict on the virtual Pico and get (result, trace)."""

import os
import sys

from focusrig import scenario as scn
from focusrig import trace as trace_mod
from focusrig.virtual_pico import runner

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(raw, **kw):
    s = scn.validate(raw)
    kw.setdefault("timeout", 120)
    res = runner.run(s, **kw)
    assert res.stats["irq_alloc_errors"] == 0, "a hard IRQ handler allocated"
    return res, trace_mod.from_run(res)


def firmware_const(module, name):
    """A module-level constant of the firmware (NAME = 5 or NAME = const(5)), read from its
    source: modules that import machine do not load on CPython."""
    import ast
    from focusrig import FIRMWARE_DIR
    with open(os.path.join(FIRMWARE_DIR, module + ".py")) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and getattr(node.targets[0], "id", None) == name):
            v = node.value
            if isinstance(v, ast.Call):
                v = v.args[0]
            return ast.literal_eval(v)
    raise KeyError(f"{module}.{name}: no such constant")


def ms(t_ns):
    return t_ns / 1e6


def steps_between(tr, t0_ns, t1_ns):
    return len([t for t in tr.rising("step") if t0_ns <= t <= t1_ns])


def cal_steps(mm, table=None):
    from focusrig import analysis
    return analysis.lens_cal(table or scn.firmware_config().DEFAULTS["lens_cal"]).steps_for(mm)


def focusrig_cli(*args, **kw):
    import subprocess
    exe = os.path.join(os.path.dirname(sys.executable), "focusrig")
    return subprocess.run([exe, *args], capture_output=True, text=True, **kw)


class Emulator:
    """`focusrig emulate` in the background for a test: .path is its device, .control()
    appends to its control file, .stop() ends it. wait=True waits for the firmware."""

    def __init__(self, flash, *extra, wait=False):
        import subprocess
        exe = os.path.join(os.path.dirname(sys.executable), "focusrig")
        self.ctl = os.path.join(os.path.dirname(str(flash)), "rig.ctl")
        self.proc = subprocess.Popen([exe, "emulate", "--flash", str(flash), "--no-keys",
                                      "--control", self.ctl, *extra],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.path = self.proc.stdout.readline().decode().strip()
        assert self.path.startswith("/dev/"), self.path
        if wait:
            self.wait_firmware()

    def wait_firmware(self, seconds=15):
        import json
        import time
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            r = focusrig_cli("status", "--port", self.path, "--json", "--timeout", "0.5")
            if r.returncode == 0:
                return json.loads(r.stdout)
        raise AssertionError("the virtual Pico's firmware did not answer")

    def control(self, text):
        with open(self.ctl, "a") as f:
            f.write(text)

    def stop(self):
        import subprocess
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def rp2040_missing():
    """None when the rp2040 target can run here, else the one line saying what is missing
    (node, `make rp2040-deps`, littlefs-python, the UF2 or the bootrom)."""
    try:
        from focusrig.rp2040 import check_ready
        check_ready()
        return None
    except Exception as e:  # noqa: BLE001 - any missing piece skips, with its line
        return str(e).splitlines()[0] if str(e) else type(e).__name__
