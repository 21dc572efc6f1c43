"""`focusrig emulate --target rp2040`: the official MicroPython UF2 on an emulated RP2040
behind a pseudo-terminal, until interrupted (commands/emulate.py hands over here).

This module owns the command's flow for this target: checking the pieces, the flash image
(--flash FILE: a littlefs image, the board's 1408 KiB filesystem; --firmware puts the
firmware in as `deploy --mpy` does), printing the device path as the first line, the
keys and signals. The same flags as for the virtual Pico; --flash names a file here.
"""

import os
import signal
import sys
import termios
import tty

from ..cli import UserError, load_scenario
from ..commands.emulate import handle_key      # one key map for both targets
from . import Rp2040Error, flashfs



def run(args):
    from . import check_ready
    from . import emulate as emu
    try:
        check_ready()
    except Rp2040Error as e:
        raise UserError(str(e)) from None
    s = load_scenario(args.scenario) if args.scenario else None
    image = args.flash or emu.default_flash_image()
    if os.path.isdir(image):
        raise UserError(f"--flash {image} is a folder: with --target rp2040 give the littlefs "
                        "image file to keep the board's flash in (created when missing)")
    if os.path.isfile(image) and os.path.getsize(image) != flashfs.FS_SIZE:
        raise UserError(f"--flash {image} is not this board's flash image ({os.path.getsize(image)} "
                        f"bytes, not {flashfs.FS_SIZE}): give another file name (created when missing)")
    try:
        os.makedirs(os.path.dirname(os.path.abspath(image)), exist_ok=True)
        emu.prepare_image(image, firmware=args.firmware)
    except OSError as e:
        raise UserError(f"cannot write the flash image {image} ({e.strerror}): pass --flash FILE") from None

    quiet = args.quiet
    ready = []

    def log(msg):
        if not quiet and ready:
            sys.stderr.write(f"[emulate] {msg}\r\n")
            sys.stderr.flush()

    em = emu.Emulator(image, log=log, control=args.control, subject_mm=args.subject, scenario=s)
    keys = not args.no_keys and sys.stdin.isatty()
    old_tty = None
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    signal.signal(signal.SIGHUP, lambda *a: stop.append(1))
    try:
        try:
            path = em.start()
        except Rp2040Error as e:
            raise UserError(str(e)) from None
        print(path, flush=True)          # the contract: the device path is the first line
        ready.append(1)
        log(f"official MicroPython v1.28.0 UF2 on rp2040js; flash image: {em.flash}")
        if args.control:
            log(f"control file: {os.path.abspath(args.control)}")
        if keys:
            old_tty = termios.tcgetattr(0)
            tty.setcbreak(0)
            log("keys: a AF-ON, h half, f full, n/m jog near/far (capital: hold/let go), "
                "b bounce, +/- subject, q quit")
        bounce = 0.0
        while not stop:
            try:
                readable = em.step(0.05, (0,) if keys else ())
            except EOFError as e:
                raise UserError(f"the emulated RP2040 stopped ({e}): run it again; "
                                "if it keeps stopping, check `make rp2040-deps`") from None
            if not readable:
                continue
            text = os.read(0, 64).decode("utf-8", "replace")
            if not text:
                keys = False
                continue
            for c in text:
                bounce = handle_key(em, c, bounce, log, stop)
    except KeyboardInterrupt:
        pass
    finally:
        if old_tty is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, old_tty)
        em.close()
    return 0
