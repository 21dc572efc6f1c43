"""Put MicroPython v1.28.0 and the firmware onto a Pico, from blank: one command.

Hold the Pico's BOOTSEL button while plugging it in: it shows up as a USB drive called
RPI-RP2. This command then
  1. takes the MicroPython v1.28.0 UF2 for the Raspberry Pi Pico: --uf2 FILE, else the
     copy cached in ~/.cache/focusrig (or $FOCUSRIG_MICROPYTHON_DIR), else downloaded once
     from micropython.org; always checked against its SHA-256;
  2. finds the RPI-RP2 drive (or --drive DIR) and copies the UF2 onto it, with progress;
     the Pico reboots into MicroPython by itself;
  3. waits for the Pico's serial port (USB 2E8A:0005, or --port P) and checks that it runs
     MicroPython v1.28.0;
  4. deploys the firmware (as `focusrig deploy --mpy`) and waits until it answers
     `version`.

A Pico that already runs MicroPython does not need BOOTSEL: `mpremote bootloader` puts it
there (then run this command). To only update the firmware, use `focusrig deploy`.

examples:
  focusrig flash                              # BOOTSEL drive and port found by themselves
  focusrig flash --uf2 ~/Downloads/RPI_PICO-v1.28.0.uf2
  focusrig flash --drive /media/$USER/RPI-RP2 --port /dev/ttyACM0
  focusrig flash --copy-only                  # MicroPython only, no port needed
  focusrig emulate --target rp2040 --bootsel /tmp/RPI-RP2 --flash /tmp/blank.img &
  focusrig flash --drive /tmp/RPI-RP2 --port /dev/pts/N   # a blank emulated Pico
"""

import argparse
import contextlib
import glob
import hashlib
import io
import os
import re
import sys
import time

from .. import FIRMWARE_DIR
from .. import transport
from ..cli import UserError
from ..rp2040 import file_sha256

MICROPYTHON_VERSION = (1, 28, 0)
UF2_NAME = "RPI_PICO-v1.28.0.uf2"
UF2_SHA256 = "5da6ca3de906adff6b9126bd854883c7222faeb7ff2c935ddab73330dab9f323"
DOWNLOAD_PAGE = "https://micropython.org/download/RPI_PICO/"
DRIVE_NAME = "RPI-RP2"

_CHECK = """
import sys, time
try:
    import os
    _m = os.uname().machine
except Exception:
    _m = getattr(sys.implementation, '_machine', sys.platform)
print(repr((tuple(sys.implementation.version[:3]), _m, sys.platform, time.ticks_ms())))
"""


def add_arguments(p):
    p.add_argument("--uf2", metavar="FILE",
                   help="the MicroPython UF2 to copy (default: MicroPython v1.28.0 for the "
                        "Pico, cached or downloaded once from micropython.org)")
    p.add_argument("--drive", metavar="DIR",
                   help="where the RPI-RP2 drive is mounted (default: found among the "
                        "mounted drives)")
    p.add_argument("--port", "-p",
                   help="the serial port the Pico comes up as (default: found by USB id "
                        "2E8A:0005)")
    p.add_argument("--wait", type=float, default=30.0, metavar="S",
                   help="seconds to wait for the RPI-RP2 drive to appear (default 30)")
    p.add_argument("--timeout", type=float, default=60.0, metavar="S",
                   help="seconds to wait for MicroPython, then for the firmware, to answer "
                        "(default 60)")
    p.add_argument("--copy-only", action="store_true",
                   help="copy MicroPython onto the drive and stop (no port, no firmware)")
    p.add_argument("--no-deploy", action="store_true",
                   help="flash and check MicroPython, do not deploy the firmware")
    p.add_argument("--source", action="store_true",
                   help="deploy the firmware as .py sources (default: precompiled .mpy)")
    p.add_argument("--no-verify", action="store_true",
                   help="flash a --uf2 whose SHA-256 is not the pinned v1.28.0's, and accept "
                        "another MicroPython version on the board")


def _say(msg):
    print(f"flash: {msg}", flush=True)


# ---- the UF2 ------------------------------------------------------------------------------

def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "focusrig")



def _check_uf2_file(path, verify):
    from ..bootsel import Uf2Error, check_uf2
    try:
        with open(path, "rb") as f:
            data = f.read()
    except IsADirectoryError:
        raise UserError(f"--uf2 {path} is a folder: give the .uf2 file") from None
    except OSError as e:
        raise UserError(f"cannot read {path}: {_words(e)}: give the .uf2 file with --uf2") from None
    try:
        check_uf2(data, path)
    except Uf2Error as e:
        raise UserError(f"{e}: download MicroPython for the Raspberry Pi Pico (RPI_PICO) "
                        f"v1.28.0 from {DOWNLOAD_PAGE}") from None
    if verify and hashlib.sha256(data).hexdigest() != UF2_SHA256:
        raise UserError(f"{path} is not MicroPython v1.28.0 for the Pico (SHA-256 differs from "
                        f"the pinned {UF2_SHA256[:12]}...): use that file, or pass --no-verify "
                        "to flash this one anyway")
    return path


def find_uf2(given=None, verify=True):
    """Path of the UF2 to copy: given, cached, the offline copy, or downloaded once."""
    if given:
        return _check_uf2_file(given, verify)
    from .. import rp2040
    for d in (cache_dir(), rp2040.firmware_dir()):
        path = os.path.join(d, UF2_NAME)
        if os.path.isfile(path) and file_sha256(path) == UF2_SHA256:
            return path
    return download_uf2()


def _download_url():
    url = os.environ.get("FOCUSRIG_UF2_URL")
    if url:
        return url
    import urllib.parse
    import urllib.request
    with urllib.request.urlopen(DOWNLOAD_PAGE, timeout=20) as r:
        page = r.read().decode("utf-8", "replace")
    m = re.search(r'href="([^"]*RPI_PICO-\d{8}-v1\.28\.0\.uf2)"', page)
    if not m:
        raise OSError("no v1.28.0 UF2 link on the download page")
    return urllib.parse.urljoin(DOWNLOAD_PAGE, m.group(1))


def download_uf2():
    import urllib.error
    import urllib.request
    dest = os.path.join(cache_dir(), UF2_NAME)
    hint = (f"download MicroPython v1.28.0 for RPI_PICO from {DOWNLOAD_PAGE} and pass "
            "--uf2 FILE")
    try:
        url = _download_url()
        _say(f"downloading {url}")
        os.makedirs(cache_dir(), exist_ok=True)
        tmp = dest + ".part"
        with urllib.request.urlopen(url, timeout=30) as r, open(tmp, "wb") as f:
            total = int(r.headers.get("Content-Length") or 0)
            done = 0
            for chunk in iter(lambda: r.read(1 << 16), b""):
                f.write(chunk)
                done += len(chunk)
                _progress("  downloading", done, total)
        _progress_end()
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or e
        raise UserError(f"cannot download the MicroPython UF2 ({_words(reason)}): {hint}") from None
    if file_sha256(tmp) != UF2_SHA256:
        os.unlink(tmp)
        raise UserError(f"the downloaded UF2's SHA-256 is not the pinned v1.28.0's (nothing "
                        f"kept): {hint}")
    os.replace(tmp, dest)
    _say(f"saved {dest} (SHA-256 checked); later runs use this copy")
    return dest


# ---- the drive ------------------------------------------------------------------------------

def _drive_candidates():
    """Folders where an RPI-RP2 drive may be mounted on this computer."""
    out = []
    if sys.platform == "darwin":
        out += glob.glob("/Volumes/" + DRIVE_NAME + "*")
    elif os.name == "nt":
        import string
        out += [f"{c}:\\" for c in string.ascii_uppercase
                if os.path.exists(f"{c}:\\INFO_UF2.TXT")]
    else:
        try:
            with open("/proc/mounts") as f:
                for line in f:
                    mnt = line.split()[1].replace("\\040", " ")
                    if os.path.basename(mnt).startswith(DRIVE_NAME):
                        out.append(mnt)
        except OSError:
            pass
        user = os.environ.get("USER", "")
        for pat in (f"/media/{user}/{DRIVE_NAME}*", f"/run/media/{user}/{DRIVE_NAME}*",
                    f"/media/{DRIVE_NAME}*", f"/mnt/{DRIVE_NAME}*"):
            out += glob.glob(pat)
    seen = []
    for d in out:
        if d not in seen and os.path.isfile(os.path.join(d, "INFO_UF2.TXT")):
            seen.append(d)
    return seen


def check_drive(d):
    """Raise UserError unless `d` is an RP2040's BOOTSEL drive; returns its INFO_UF2.TXT."""
    if not os.path.isdir(d):
        raise UserError(f"--drive {d}: no such folder: hold BOOTSEL while plugging the Pico in "
                        f"and give the folder the {DRIVE_NAME} drive is mounted at")
    info = os.path.join(d, "INFO_UF2.TXT")
    try:
        with open(info, errors="replace") as f:
            text = f.read()
    except OSError:
        raise UserError(f"{d} is not a Pico in BOOTSEL (no INFO_UF2.TXT): hold BOOTSEL while "
                        f"plugging it in; the drive is called {DRIVE_NAME}") from None
    m = re.search(r"Board-ID:\s*(\S+)", text)
    board = m.group(1) if m else "?"
    if board != DRIVE_NAME:
        raise UserError(f"{d} is a UF2 drive of another board ({board}, not {DRIVE_NAME}): this "
                        "firmware and UF2 are for the Raspberry Pi Pico (RP2040)")
    return text


def find_drive(given, wait_s):
    if given:
        check_drive(given)
        return given
    end = time.monotonic() + wait_s
    told = False
    while True:
        found = _drive_candidates()
        if len(found) == 1:
            check_drive(found[0])
            return found[0]
        if len(found) > 1:
            raise UserError(f"several {DRIVE_NAME} drives ({', '.join(found)}): unplug all but "
                            "one Pico, or choose with --drive")
        if time.monotonic() >= end:
            raise UserError(f"no {DRIVE_NAME} drive found: hold BOOTSEL while plugging the Pico "
                            "in (a Pico running MicroPython: `mpremote bootloader`), or give "
                            "--drive DIR where it is mounted")
        if not told:
            _say(f"waiting up to {wait_s:g} s for the {DRIVE_NAME} drive: hold BOOTSEL while "
                 "plugging the Pico in")
            told = True
        time.sleep(0.25)


def copy_uf2(src, drive):
    """Copy with progress. The Pico reboots as the last block lands: errors after every
    byte was written (the drive vanished) are the normal end on some systems."""
    dst = os.path.join(drive, os.path.basename(src))
    total = os.path.getsize(src)
    done = 0
    t0 = time.monotonic()
    f = None
    try:
        f = open(dst, "wb")
        with open(src, "rb") as s:
            for chunk in iter(lambda: s.read(1 << 15), b""):
                f.write(chunk)
                done += len(chunk)
                _progress(f"  copying {os.path.basename(src)}", done, total)
        f.flush()
        os.fsync(f.fileno())
        f.close()
    except OSError as e:
        _progress_end()
        if done < total:
            raise UserError(f"copying onto {drive} failed after {done // 1024} of "
                            f"{total // 1024} kB ({_words(e)}): unplug the Pico, hold BOOTSEL, "
                            "plug it in and run focusrig flash again") from None
    finally:
        if f is not None and not f.closed:
            try:
                f.close()
            except OSError:
                pass
    _progress_end()
    dt = time.monotonic() - t0
    _say(f"copied {os.path.basename(src)} ({total / 1024:.0f} kB) to {drive} in {dt:.1f} s; "
         "the Pico reboots into MicroPython")


# ---- the port ------------------------------------------------------------------------------

def wait_micropython(port, before, timeout):
    """(port, (version, machine, platform, ticks_ms)) once MicroPython answers in its raw
    REPL on `port` (or, without one, on a Pico port found by USB id)."""
    try:
        from mpremote.transport_serial import SerialTransport
    except ImportError:
        raise UserError("mpremote is not installed: run `make test` or pip install mpremote") from None
    end = time.monotonic() + timeout
    last = "no serial port yet"
    shown = 0
    while time.monotonic() < end:
        cand = port
        if not cand:
            try:
                picos = [p.device for p in transport.find_picos()]
            except transport.TransportError as e:
                raise UserError(str(e)) from None
            new = [p for p in picos if p not in before] or picos
            cand = new[0] if len(new) == 1 else None
            if len(new) > 1:
                last = f"several Picos ({', '.join(new)}): give --port"
        if cand and "://" not in cand and not os.path.exists(cand):
            cand = None
        if cand:
            try:
                t = SerialTransport(cand, baudrate=transport.BAUD, timeout=1)
            except Exception as e:  # noqa: BLE001 - the port is still coming up
                last = f"{cand}: {_one_line(e)}"
                if "ermission" in str(e):
                    raise UserError(f"permission denied on {cand}: add yourself to the dialout "
                                    "group (sudo usermod -aG dialout $USER) and log in again") from None
            else:
                try:
                    try:
                        with contextlib.redirect_stdout(io.StringIO()):   # mpremote prints
                            t.enter_raw_repl(soft_reset=False, timeout_overall=3)
                    except Exception as e:  # noqa: BLE001 - not answering yet
                        last = f"{cand}: {_one_line(e) or 'no raw REPL yet'}"
                    else:
                        try:
                            out = t.exec(_CHECK)
                            info = eval(out.decode().strip(), {"__builtins__": {}})  # noqa: S307 - repr of a tuple
                            t.exit_raw_repl()
                        except Exception as e:  # noqa: BLE001
                            raise UserError(f"{cand} answers, but not like MicroPython on a Pico "
                                            f"({_one_line(e, 80)}): check --port") from None
                        return cand, info
                finally:
                    try:
                        t.close()
                    except Exception:  # noqa: BLE001
                        pass
        el = time.monotonic() - (end - timeout)
        if el - shown >= 5:
            shown = el
            _say(f"  still waiting for MicroPython ({el:.0f} s; {last})")
        time.sleep(0.3)
    raise UserError(f"MicroPython did not answer within {timeout:g} s after the copy ({last}): "
                    "unplug and replug the Pico (without BOOTSEL); on a port named differently "
                    "give --port (docs/host_tool.md, Troubleshooting)")


# ---- the command ---------------------------------------------------------------------------

def run(args):
    t0 = time.monotonic()
    uf2 = find_uf2(args.uf2, verify=not args.no_verify)
    official = file_sha256(uf2) == UF2_SHA256
    _say(f"MicroPython: {uf2}" + (" (v1.28.0, SHA-256 checked)" if official else ""))
    drive = find_drive(args.drive, args.wait)
    _say(f"{DRIVE_NAME} drive: {drive}")
    before = []
    if not args.port and not args.copy_only:
        try:
            before = [p.device for p in transport.find_picos()]
        except transport.TransportError:
            before = []
    copy_uf2(uf2, drive)
    if args.copy_only:
        return 0
    _say("waiting for the Pico's serial port and MicroPython's REPL ...")
    port, info = wait_micropython(args.port, before, args.timeout)
    ver, machine, platform, ticks = info
    vs = "v" + ".".join(str(x) for x in ver)
    where = (f"{machine}, board up {ticks / 1000:.1f} s" if platform == "rp2"
             else f"the virtual Pico ({platform})")
    _say(f"{port}: MicroPython {vs} ({where}), {time.monotonic() - t0:.1f} s after start")
    if tuple(ver) != MICROPYTHON_VERSION and not args.no_verify:
        raise UserError(f"the board runs MicroPython {vs}, not v1.28.0: flash again (the copy "
                        "may not have finished), or pass --no-verify")
    if args.no_deploy:
        return 0
    from . import deploy
    dargs = argparse.Namespace(port=port, mpy=not args.source, force=False,
                               firmware=FIRMWARE_DIR, timeout=args.timeout, no_reset=False)
    deploy.run(dargs)
    _say(f"done: MicroPython {vs} and the firmware answer on {port}, "
         f"{time.monotonic() - t0:.1f} s after start; next: `focusrig status --port {port}`")
    return 0


# ---- helpers ---------------------------------------------------------------------------------

_last_pct = [-1]


def _progress(label, done, total):
    if not sys.stdout.isatty():
        return
    pct = 100 * done // total if total else 0
    if pct != _last_pct[0]:
        _last_pct[0] = pct
        sys.stdout.write(f"\r{label} {done / 1024:7.0f} kB" + (f" {pct:3d}%" if total else ""))
        sys.stdout.flush()


def _progress_end():
    if _last_pct[0] >= 0 and sys.stdout.isatty():
        sys.stdout.write("\r" + " " * 60 + "\r")
        sys.stdout.flush()
    _last_pct[0] = -1


def _words(e):
    """An OSError as words (no [Errno N])."""
    if isinstance(e, OSError) and e.strerror:
        return e.strerror.lower()
    return _one_line(e)


def _one_line(e, n=100):
    s = " ".join(str(e).split())
    return s if len(s) <= n else s[: n - 3] + "..."
