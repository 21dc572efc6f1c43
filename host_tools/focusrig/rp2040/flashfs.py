"""The board's filesystem: a littlefs2 image laid out as MicroPython v1.28.0's rp2 port
(board RPI_PICO) lays it out, built from a folder with littlefs-python (a fresh image, or
files added to an existing one), and read back.

ports/rp2/boards/RPI_PICO/mpconfigboard.h: MICROPY_HW_FLASH_STORAGE_BYTES = 1408 KiB;
ports/rp2/rp2_flash.c: the storage sits at the top of the 2 MiB flash
(PICO_FLASH_SIZE_BYTES - storage bytes = 0xA0000), 4 KiB erase blocks;
ports/rp2/modules/_boot.py: VfsLfs2(bdev, progsize=256) (readsize and lookahead keep
extmod/vfs_lfsx.c's default of 32); lib/littlefs is v2.11, on-disk version 2.1.
"""

import os

FLASH_SIZE = 2 * 1024 * 1024
FS_SIZE = 1408 * 1024
FS_OFFSET = FLASH_SIZE - FS_SIZE            # 0xA0000
BLOCK = 4096
GEOMETRY = dict(block_size=BLOCK, block_count=FS_SIZE // BLOCK, read_size=32, prog_size=256,
                lookahead_size=32, disk_version=0x00020001)


def build(folder, path):
    """Write the littlefs image of `folder`'s files (flat, as deploy puts them) to `path`."""
    from littlefs import LittleFS
    fs = LittleFS(**GEOMETRY)
    for name in sorted(os.listdir(folder)):
        src = os.path.join(folder, name)
        if not os.path.isfile(src):
            continue
        with open(src, "rb") as f, fs.open(name, "wb") as g:
            g.write(f.read())
    with open(path, "wb") as f:
        f.write(fs.context.buffer)
    return path


def add_files(image_path, folder):
    """Write `folder`'s files into the image at `image_path` (formatted first when it does
    not exist yet or holds no filesystem), keeping the files already there, except the
    other form of each module written (X.py for X.mpy and back, as `deploy` removes it:
    MicroPython imports X.py before X.mpy)."""
    from littlefs import LittleFS, LittleFSError
    fs = None
    if os.path.exists(image_path):
        fs = LittleFS(mount=False, **GEOMETRY)
        with open(image_path, "rb") as f:
            data = f.read()
        if len(data) == FS_SIZE:
            fs.context.buffer = bytearray(data)
            try:
                fs.mount()
            except LittleFSError:
                fs = None
        else:
            fs = None
    if fs is None:
        fs = LittleFS(**GEOMETRY)
    present = set(fs.listdir("/"))
    for name in sorted(os.listdir(folder)):
        src = os.path.join(folder, name)
        if not os.path.isfile(src):
            continue
        with open(src, "rb") as f, fs.open(name, "wb") as g:
            g.write(f.read())
        stem, ext = os.path.splitext(name)
        other = stem + {".py": ".mpy", ".mpy": ".py"}.get(ext, ext)
        if other != name and other in present and other not in ("main.py", "boot.py"):
            fs.remove(other)
    with open(image_path + ".tmp", "wb") as f:
        f.write(fs.context.buffer)
    os.replace(image_path + ".tmp", image_path)
    return image_path


def read_file(image_path, name):
    """A file's bytes from an image (None if absent)."""
    from littlefs import LittleFS
    with open(image_path, "rb") as f:
        data = f.read()
    fs = LittleFS(mount=False, **GEOMETRY)
    fs.context.buffer = bytearray(data)
    fs.mount()
    try:
        with fs.open(name, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None
