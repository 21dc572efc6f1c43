"""Start a virtual Pico behind a pseudo-terminal and run until interrupted (Ctrl-C).

The first line printed is the device path: use it like /dev/ttyACM0 with mpremote,
`focusrig deploy/monitor/status/config --port`, pyserial or a terminal program. It behaves
like the Pico's USB serial: MicroPython banner and REPL, Ctrl-C stops main.py, raw REPL and
raw-paste, Ctrl-D soft-resets (boot.py and main.py run again from the flash folder).

The flash folder is persistent: --flash DIR, else $FOCUSRIG_FLASH, else
~/.cache/focusrig/flash. Files mpremote copies land there. It starts empty (a blank Pico):
deploy the firmware first, or pass --firmware to copy firmware/ in at start.

Buttons: when run in a terminal, keys press the virtual buttons (shown at start):
  a AF-ON   h half press   f full press (with half)   n jog near   m jog far
  A H F N M hold / let go   b bounce on/off   + / - subject distance   q quit
From scripts: --control FILE, then append lines to FILE:
  press NAME [HOLD_MS [BOUNCE_MS [AT_MS]]]   down NAME   up NAME   subject MM
  play SCENARIO.json       (times from now; AT_MS delays a press from now)
NAME is af_on, shutter_half, shutter_full, jog_near or jog_far. --scenario S.json plays a
scenario's presses and subject distances after every boot that runs main.py.

With --target rp2040 the device is the official MicroPython v1.28.0 UF2 on an emulated
RP2040 (rp2040js, see docs/targets.md): its real USB CDC, REPL and soft reset, at
0.1-0.7x real time. --flash then names the board's littlefs image file (default
$FOCUSRIG_RP2040_FLASH or ~/.cache/focusrig/rp2040-flash.img), created when missing
(MicroPython formats a blank flash); --firmware puts the firmware in as `deploy --mpy`.

Keys are read only while the emulator is the terminal's foreground job: started with `&`
it keeps running (a background job that read the terminal would be stopped by the shell);
bring it to the foreground with `fg` to use the keys.

A blank Pico: --target rp2040 --bootsel DIR starts the board held in BOOTSEL. DIR is its
RPI-RP2 drive; copy a UF2 there (`focusrig flash --drive DIR --port PATH`) and it boots it.

examples:
  focusrig emulate                        # prints e.g. /dev/pts/7, keys press buttons
  focusrig emulate --firmware --control /tmp/rig.ctl &     # in the background: no keys
  mpremote connect /dev/pts/7 cp -r firmware/ : + reset
  focusrig emulate --flash /tmp/flash --firmware --control /tmp/buttons.ctl
  echo "press af_on 300 2" >> /tmp/buttons.ctl
  focusrig emulate --scenario host_tools/focusrig/scenarios/portrait.json --no-keys
  focusrig emulate --target rp2040 --flash /tmp/pico.img --firmware
  focusrig emulate --target rp2040 --bootsel /tmp/RPI-RP2 --flash /tmp/blank.img
"""

import os
import shutil
import signal
import sys
import termios
import time
import tty

from .. import FIRMWARE_DIR
from ..cli import UserError, load_scenario

KEYS = {
    "a": "af_on", "h": "shutter_half", "f": "shutter_full", "n": "jog_near", "m": "jog_far",
}


def add_arguments(p):
    p.add_argument("--target", choices=("vpico", "rp2040"), default="vpico",
                   help="the virtual Pico (default) or the official MicroPython UF2 on an "
                        "emulated RP2040 (docs/targets.md)")
    p.add_argument("--flash", metavar="DIR",
                   help="flash folder (default: $FOCUSRIG_FLASH or ~/.cache/focusrig/flash); "
                        "--target rp2040: the littlefs image file")
    p.add_argument("--firmware", action="store_true",
                   help="copy firmware/*.py into the flash folder before power-on")
    p.add_argument("--control", metavar="FILE",
                   help="control file: lines appended to it press buttons / set the subject")
    p.add_argument("--scenario", metavar="S.json",
                   help="play this scenario's presses and subject after every boot")
    p.add_argument("--subject", type=float, default=2000.0, metavar="MM",
                   help="subject distance seen by the virtual LiDAR (default 2000 mm)")
    p.add_argument("--no-keys", action="store_true",
                   help="do not read the keyboard (default when stdin is not a terminal)")
    p.add_argument("--quiet", action="store_true", help="print only the device path")
    p.add_argument("--bootsel", metavar="DIR",
                   help="--target rp2040: start a blank Pico held in BOOTSEL; DIR is its "
                        "RPI-RP2 drive, it boots the UF2 copied there (focusrig flash)")


def foreground():
    """True when stdin is a terminal and this process is its foreground job (reading it,
    or changing its modes, from the background would stop us: SIGTTIN / SIGTTOU)."""
    try:
        return os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp()
    except OSError:
        return False


def _restore_tty(old):
    """Put the terminal's modes back, even when we ended up in the background."""
    prev = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        termios.tcsetattr(0, termios.TCSADRAIN, old)
    except termios.error:
        pass
    finally:
        signal.signal(signal.SIGTTOU, prev)


def run(args):
    if args.bootsel:
        from .. import bootsel
        return bootsel.run(args)
    if args.target == "rp2040":
        if not foreground():
            args.no_keys = True          # started with `&`: never touch the terminal
        from ..rp2040 import emulate_cmd
        return emulate_cmd.run(args)
    from ..virtual_pico import emulate as emu
    from ..virtual_pico.runner import VirtualPicoError
    try:
        emu.check_micropython()
    except VirtualPicoError as e:
        raise UserError(str(e)) from None
    s = load_scenario(args.scenario) if args.scenario else None
    flash = args.flash or emu.default_flash_dir()
    if os.path.exists(flash) and not os.path.isdir(flash):
        raise UserError(f"--flash {flash} is not a folder: give a folder path")
    try:
        os.makedirs(flash, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create the flash folder {flash} ({e.strerror}): pass --flash DIR") from None
    if args.firmware:
        for name in sorted(os.listdir(FIRMWARE_DIR)):
            if name.endswith(".py"):
                shutil.copy2(os.path.join(FIRMWARE_DIR, name), os.path.join(flash, name))

    quiet = args.quiet
    held = []           # messages from before the device path went out

    def log(msg):
        if quiet:
            return
        if held is not None and not getattr(log, "ready", False):
            held.append(msg)
            return
        sys.stderr.write(f"[emulate] {msg}\r\n")
        sys.stderr.flush()

    em = emu.Emulator(flash, log=log, control=args.control, subject_mm=args.subject, scenario=s)
    want_keys = not args.no_keys and sys.stdin.isatty()
    keys = False
    old_tty = None
    stop = []

    def on_term(signum, frame):
        stop.append(signum)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    if want_keys:
        signal.signal(signal.SIGTTIN, signal.SIG_IGN)   # a read from the background: EIO
    try:
        path = em.start()
        print(path, flush=True)          # the contract: the device path is the first line
        log.ready = True
        for msg in held:
            log(msg)
        log(f"flash folder: {em.flash}")
        if args.control:
            log(f"control file: {os.path.abspath(args.control)}")
        if want_keys and not foreground():
            log("running in the background: keys off (`fg` to use them)")
        bounce = 0.0
        next_check = 0.0
        while not stop:
            if want_keys and time.monotonic() >= next_check:
                # keys only while we are the terminal's foreground job (`&`, Ctrl-Z, fg)
                next_check = time.monotonic() + 0.25
                fg = foreground()
                if fg and old_tty is None:
                    old_tty = termios.tcgetattr(0)
                    tty.setcbreak(0)
                    log("keys: a AF-ON, h half, f full, n/m jog near/far (capital: hold/let go), "
                        "b bounce, +/- subject, q quit")
                keys = fg
            ready = em.step(0.05, (0,) if keys else ())
            if not ready:
                continue
            try:
                ch = os.read(0, 64).decode("utf-8", "replace")
            except OSError:          # EIO: sent to the background between the checks
                keys = False
                continue
            if not ch:
                want_keys = keys = False
                continue
            for c in ch:
                bounce = handle_key(em, c, bounce, log, stop)
    except KeyboardInterrupt:
        pass
    finally:
        if old_tty is not None:
            _restore_tty(old_tty)
        em.close()
    return 0


def handle_key(em, c, bounce, log, stop):
    """One key typed at the emulator's terminal (either target); returns the contact
    bounce now in force."""
    if c in ("q", "\x04"):
        stop.append(0)
    elif c in KEYS:
        em.press(KEYS[c], 250 if c != "f" else 150, bounce)
        log(f"press {KEYS[c]}" + (f" (bounce {bounce:g} ms)" if bounce else ""))
    elif c.lower() in KEYS:
        name = KEYS[c.lower()]
        down = name not in em.held_inputs
        em.set_input(name, down)
        if name == "shutter_full":
            em.set_input("shutter_half", down)
        log(f"{name} {'held' if down else 'let go'}")
    elif c == "b":
        bounce = 0.0 if bounce else 3.0
        log(f"contact bounce {bounce:g} ms")
    elif c in "+-":
        mm = max(100.0, em.subject_mm * (1.25 if c == "+" else 0.8))
        em.set_subject(round(mm))
        log(f"subject {round(mm)} mm")
    return bounce
