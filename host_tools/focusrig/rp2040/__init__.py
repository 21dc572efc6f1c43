"""The `rp2040` target: the official MicroPython v1.28.0 UF2 for the Raspberry Pi Pico,
run by the RP2040 emulator rp2040js (npm, pinned in js/package-lock.json) with our
corrections, with focusrig's firmware on the board's littlefs. See docs/targets.md.

This module owns where the pieces are and the one-line checks that they are there:
the Node harness (js/), the UF2 and the B1 bootrom (SHA-256 checked), Node itself.
"""

import hashlib
import os
import shutil
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
JS_DIR = os.path.join(HERE, "js")
HARNESS = os.path.join(JS_DIR, "harness.mjs")
SHARED = os.path.normpath(os.path.join(HERE, "..", "..", "..", "..", "shared", "micropython"))
UF2_NAME = "RPI_PICO-v1.28.0.uf2"
BOOTROM_NAME = "rp2040-bootrom-b1.bin"
SHA256 = {
    UF2_NAME: "5da6ca3de906adff6b9126bd854883c7222faeb7ff2c935ddab73330dab9f323",
    BOOTROM_NAME: "90b31e108faedfa6bbcfcc33ba05dac61e645108cfbbdc385f8dafc71fde44ae",
}
RP2040JS_VERSION = "1.4.1"
_checked = {}


class Rp2040Error(RuntimeError):
    """A problem running the rp2040 target; str() is one line saying what to do."""


def firmware_dir():
    """Where the UF2 and the bootrom are: $FOCUSRIG_MICROPYTHON_DIR, else ../shared/micropython."""
    return os.environ.get("FOCUSRIG_MICROPYTHON_DIR", SHARED)


def node():
    exe = shutil.which("node")
    if not exe:
        raise Rp2040Error("node not found: apt-get install nodejs (Node >= 18)")
    return exe


def file_sha256(path):
    """SHA-256 of a file (hex), cached by path, size and mtime."""
    st = os.stat(path)
    key = (path, st.st_size, st.st_mtime_ns)
    if key not in _checked:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _checked[key] = h.hexdigest()
    return _checked[key]


def board_file(name):
    """Path of the UF2 or the bootrom, checked against its published SHA-256."""
    path = os.path.join(firmware_dir(), name)
    if not os.path.exists(path):
        raise Rp2040Error(f"{name} not found in {firmware_dir()}: get it from its official "
                          "source (see docs/targets.md) or set FOCUSRIG_MICROPYTHON_DIR")
    if file_sha256(path) != SHA256[name]:
        raise Rp2040Error(f"{path} is not the expected file (SHA-256 differs): fetch it again")
    return path


def check_ready():
    """Raise Rp2040Error (one line) unless node, rp2040js and the board files are there."""
    exe = node()
    pkg = os.path.join(JS_DIR, "node_modules", "rp2040js", "package.json")
    if not os.path.exists(pkg):
        raise Rp2040Error("rp2040js is not installed: run `make rp2040-deps`")
    import json
    with open(pkg) as f:
        ver = json.load(f).get("version")
    if ver != RP2040JS_VERSION:
        raise Rp2040Error(f"rp2040js {ver} installed, {RP2040JS_VERSION} pinned: run `make rp2040-deps`")
    r = subprocess.run([exe, "--version"], capture_output=True, text=True)
    major = int(r.stdout.strip().lstrip("v").split(".")[0] or 0)
    if major < 18:
        raise Rp2040Error(f"node {r.stdout.strip()} is too old: Node >= 18 is needed")
    board_file(UF2_NAME)
    board_file(BOOTROM_NAME)
    try:
        import littlefs  # noqa: F401
    except ImportError:
        raise Rp2040Error("littlefs-python is not installed: pip install -r requirements.txt") from None
    return exe
