"""A blank Pico held in BOOTSEL, emulated: the RP2040 boot ROM's USB drive `RPI-RP2` as a
folder, and the board that boots the UF2 copied onto it.

What `focusrig emulate --target rp2040 --bootsel DIR` runs, so that `focusrig flash` can be
tested end to end without a board:

- DIR is the drive: INFO_UF2.TXT and INDEX.HTM as the boot ROM shows them; a UF2 copied
  into it (any name, as on the real drive) is read block by block; once every block of an
  RP2040-family UF2 is there the "drive" goes away (the folder is removed, as the drive
  unmounts) and the board boots that UF2 on the emulated RP2040 (`focusrig.rp2040`), with
  its flash filesystem image (--flash FILE; missing = erased, MicroPython formats it).
- the device path is printed first, as for every `focusrig emulate`; the port stays
  silent until the board has booted (a real Pico's port appears only then), then it is
  the board's USB CDC, relayed byte for byte.
- only the MicroPython v1.28.0 UF2 (SHA-256 pinned in focusrig.rp2040) boots on this
  emulator; another UF2 is refused with a line in the log, the drive comes back.
"""

import os
import pty
import select
import shutil
import struct
import tempfile
import time
import tty

UF2_MAGIC0 = 0x0A324655
UF2_MAGIC1 = 0x9E5D5157
UF2_MAGIC_END = 0x0AB16F30
UF2_FLAG_FAMILY = 0x00002000
RP2040_FAMILY = 0xE48BFF56
INFO_UF2 = ("UF2 Bootloader v3.0\r\nModel: Raspberry Pi RP2\r\nBoard-ID: RPI-RP2\r\n")
INDEX_HTM = ('<html><head><meta http-equiv="refresh" content="0;URL=\'https://'
             'raspberrypi.com/device/RP2?version=E0C9125B0D9B\'"/></head>'
             '<body>Redirecting to <a href=\'https://raspberrypi.com/device/RP2\'>'
             'raspberrypi.com</a></body></html>\r\n')
BACKLOG = 16384


class Uf2Error(ValueError):
    """Not a (complete) UF2 for the RP2040; str() is one line."""


def uf2_blocks(data):
    """(blocks present, blocks expected, family) of UF2 bytes; raises Uf2Error when a
    512-byte block is not a UF2 block."""
    present = set()
    total = None
    family = None
    for off in range(0, len(data) - len(data) % 512, 512):
        m0, m1, flags, _addr, size, no, num, fam = struct.unpack_from("<8I", data, off)
        (end,) = struct.unpack_from("<I", data, off + 508)
        if m0 != UF2_MAGIC0 or m1 != UF2_MAGIC1 or end != UF2_MAGIC_END or size > 476:
            raise Uf2Error(f"not a UF2 file (block at byte {off} has no UF2 magic)")
        if flags & UF2_FLAG_FAMILY:
            family = fam
        total = num
        present.add(no)
    return present, total, family


def check_uf2(data, name="the file"):
    """Raise Uf2Error unless `data` is a complete UF2 for the RP2040."""
    if len(data) < 512:
        raise Uf2Error(f"{name} is not a UF2 file (too short)")
    present, total, family = uf2_blocks(data)
    if family is not None and family != RP2040_FAMILY:
        raise Uf2Error(f"{name} is a UF2 for another chip (family 0x{family:08x}, not the "
                       "RP2040's 0xe48bff56)")
    if total is None or len(present) != total:
        raise Uf2Error(f"{name} is incomplete ({len(present)} of {total} UF2 blocks)")


class Drive:
    """The RPI-RP2 drive as a folder."""

    def __init__(self, folder, log):
        self.folder = os.path.abspath(folder)
        self.log = log
        self._refused = {}

    def mount(self):
        os.makedirs(self.folder, exist_ok=True)
        with open(os.path.join(self.folder, "INFO_UF2.TXT"), "w", newline="") as f:
            f.write(INFO_UF2)
        with open(os.path.join(self.folder, "INDEX.HTM"), "w", newline="") as f:
            f.write(INDEX_HTM)

    def eject(self):
        shutil.rmtree(self.folder, ignore_errors=True)

    def poll(self):
        """Bytes of a complete RP2040 UF2 copied onto the drive, or None."""
        try:
            names = os.listdir(self.folder)
        except OSError:
            return None
        for n in sorted(names):
            if n.upper() in ("INFO_UF2.TXT", "INDEX.HTM"):
                continue
            path = os.path.join(self.folder, n)
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            try:
                present, total, family = uf2_blocks(data[: len(data) - len(data) % 512])
            except Uf2Error as e:
                if self._refused.get(n) != len(data):
                    self._refused[n] = len(data)
                    self.log(f"{n}: {e}; the boot ROM ignores it")
                continue
            if family is not None and family != RP2040_FAMILY:
                if self._refused.get(n) != len(data):
                    self._refused[n] = len(data)
                    self.log(f"{n}: UF2 for another chip (family 0x{family:08x}); ignored")
                continue
            if total and len(present) == total:
                return data
        return None


class BlankPico:
    """A Pico in BOOTSEL (drive folder, silent port) that boots the UF2 copied onto it.

    bp = BlankPico(drive, image, log); path = bp.start(); while ...: bp.step(); bp.close()"""

    def __init__(self, drive, image, log=None, **emulator_kw):
        self.log = log or (lambda msg: None)
        self.drive = Drive(drive, self.log)
        self.image = image
        self.kw = emulator_kw
        self.em = None
        self.umfd = self.usfd = -1
        self.bfd = -1                       # our end of the emulated board's own pty
        self.path = None
        self._to_user = bytearray()
        self._to_board = bytearray()
        self._next_poll = 0.0
        self.work = tempfile.mkdtemp(prefix="focusrig-bootsel-")
        self.t_copied = None                # wall clock when the UF2 was complete

    def start(self):
        self.umfd, self.usfd = pty.openpty()
        tty.setraw(self.usfd)
        self.path = os.ttyname(self.usfd)
        os.set_blocking(self.umfd, False)
        self.drive.mount()
        return self.path

    def booted(self):
        return self.em is not None

    def step(self, timeout=0.05):
        if self.em is None:
            r, _, _ = select.select([self.umfd], [], [], timeout)
            if r:
                try:
                    os.read(self.umfd, 4096)     # no serial device in BOOTSEL: dropped
                except OSError:
                    pass
            now = time.monotonic()
            if now >= self._next_poll:
                self._next_poll = now + 0.1
                data = self.drive.poll()
                if data is not None:
                    self._boot(data)
            return
        readable = self.em.step(timeout, (self.umfd, self.bfd))
        if self.umfd in readable:
            self._to_board += self._read(self.umfd)
        if self.bfd in readable:
            self._to_user += self._read(self.bfd)
        self._write(self.bfd, self._to_board)
        self._write(self.umfd, self._to_user)

    @staticmethod
    def _read(fd):
        try:
            return os.read(fd, 1 << 16)
        except (BlockingIOError, OSError):
            return b""

    @staticmethod
    def _write(fd, q):
        while q:
            try:
                n = os.write(fd, q)
            except (BlockingIOError, OSError):
                if len(q) > BACKLOG:           # nobody reads: keep the newest, like USB
                    del q[: len(q) - BACKLOG]
                return
            del q[:n]

    def _boot(self, data):
        from . import rp2040
        from .rp2040 import emulate as emu
        self.t_copied = time.monotonic()
        nblocks = len(data) // 512
        self.log(f"UF2 received ({nblocks} blocks, {len(data) / 1024:.0f} kB): the drive "
                 "goes away, the board boots it")
        self.drive.eject()
        fw = os.path.join(self.work, "fw")
        os.makedirs(fw, exist_ok=True)
        bootrom = rp2040.board_file(rp2040.BOOTROM_NAME)
        with open(os.path.join(fw, rp2040.UF2_NAME), "wb") as f:
            f.write(data)
        dst = os.path.join(fw, rp2040.BOOTROM_NAME)
        if not os.path.exists(dst):
            shutil.copyfile(bootrom, dst)
        os.environ["FOCUSRIG_MICROPYTHON_DIR"] = fw
        try:
            rp2040.board_file(rp2040.UF2_NAME)
        except rp2040.Rp2040Error:
            self.log("this emulator boots only the MicroPython v1.28.0 UF2 for the Pico "
                     "(SHA-256 differs): the board stays in BOOTSEL, the drive is back")
            self.drive.mount()
            return
        self.em = emu.Emulator(self.image, log=self.log, **self.kw)
        path = self.em.start()
        self.bfd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.bfd)

    def close(self):
        if self.em is not None:
            self.em.close()
            self.em = None
        for fd in (self.bfd, self.umfd, self.usfd):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.bfd = self.umfd = self.usfd = -1
        if os.path.isdir(self.drive.folder) and not self.booted():
            self.drive.eject()
        shutil.rmtree(self.work, ignore_errors=True)


def run(args):
    """`focusrig emulate --target rp2040 --bootsel DIR`."""
    import signal
    import sys

    from . import rp2040
    from .cli import UserError, load_scenario
    from .rp2040 import emulate as emu
    from .rp2040 import flashfs

    if args.target != "rp2040":
        raise UserError("--bootsel emulates the RP2040 boot ROM's RPI-RP2 drive and boots the "
                        "UF2 copied onto it: use it with --target rp2040 (the virtual Pico "
                        "runs MicroPython's unix port and takes no UF2)")
    try:
        rp2040.node()
        pkg = os.path.join(rp2040.JS_DIR, "node_modules", "rp2040js", "package.json")
        if not os.path.exists(pkg):
            raise rp2040.Rp2040Error("rp2040js is not installed: run `make rp2040-deps`")
        rp2040.board_file(rp2040.BOOTROM_NAME)
    except rp2040.Rp2040Error as e:
        raise UserError(str(e)) from None
    if args.firmware:
        raise UserError("--bootsel starts a blank Pico: drop --firmware (deploy it after "
                        "flashing, or use `focusrig flash`, which does both)")
    image = args.flash or emu.default_flash_image()
    if os.path.isdir(image):
        raise UserError(f"--flash {image} is a folder: with --target rp2040 give the littlefs "
                        "image file (created when missing)")
    if os.path.isfile(image) and os.path.getsize(image) != flashfs.FS_SIZE:
        raise UserError(f"--flash {image} is not this board's flash image: give another file name")
    drive = args.bootsel
    if os.path.exists(drive) and (not os.path.isdir(drive) or os.listdir(drive)):
        raise UserError(f"--bootsel {drive} exists and is not an empty folder: give a new "
                        "folder path for the emulated RPI-RP2 drive")
    s = load_scenario(args.scenario) if args.scenario else None
    quiet = args.quiet

    def log(msg):
        if not quiet:
            sys.stderr.write(f"[emulate] {msg}\r\n")
            sys.stderr.flush()

    bp = BlankPico(drive, image, log=log, control=args.control, subject_mm=args.subject,
                   scenario=s)
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    signal.signal(signal.SIGHUP, lambda *a: stop.append(1))
    try:
        path = bp.start()
        print(path, flush=True)          # the contract: the device path is the first line
        log(f"blank Pico in BOOTSEL: drive RPI-RP2 at {bp.drive.folder}; the port is silent "
            f"until a UF2 is copied there (`focusrig flash --drive {drive} --port {path}`)")
        while not stop:
            try:
                bp.step(0.05)
            except EOFError as e:
                raise UserError(f"the emulated RP2040 stopped ({e}): run it again") from None
    except KeyboardInterrupt:
        pass
    finally:
        bp.close()
    return 0
