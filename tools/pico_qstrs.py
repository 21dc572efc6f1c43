"""The official v1.28.0 RP2040 firmware's ROM qstrs, in their numbering, for the virtual Pico.

    python tools/pico_qstrs.py            write host_tools/focusrig/virtual_pico/board/pico_rom_qstrs.json
    python tools/pico_qstrs.py --check    exit 1 if that file is not what the UF2 holds

A qstr's number decides where rp2's map lookup cache keeps it (py/map.c MAP_CACHE_OFFSET:
the qstr object's bits, modulo 128), so two names collide in that cache on a Pico by their
Pico numbers. The virtual Pico's interpreter (the unix port) numbers its qstrs otherwise:
its board gives the hook (vphook.c pico_qstrs) this list, so the cache is indexed as on a
Pico. The names a Pico has in ROM (machine's, rp2's, frozen asyncio's) are also never
counted as qstrs the firmware adds (the board model has them in RAM).

Read from the UF2 (SHA-256 checked): its flash holds py/qstr.c's three ROM pools
(mp_qstr_const_pool_static, mp_qstr_const_pool, the frozen modules' pool), each a
qstr_pool_t {prev, total_prev_len | is_sorted << 31, alloc, len, hashes, lengths,
qstrs[len]} with 1-byte hashes and lengths (ports/rp2/mpconfigport.h). The file keeps
where each pool starts: the CPU model prices a qstr search by the pools it passes. The newest pool
is the one no other pool points back to; a pool is recognised by its first entries'
strings matching their stored lengths and djb2 hashes (py/qstr.c qstr_compute_hash).
"""

import json
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "host_tools"))

OUT = os.path.join(ROOT, "host_tools", "focusrig", "virtual_pico", "board", "pico_rom_qstrs.json")
UF2_MAGIC = (0x0A324655, 0x9E5D5157)


def flash_image(path):
    """(base address, bytes) of the flash a UF2 writes."""
    with open(path, "rb") as f:
        data = f.read()
    blocks = {}
    for off in range(0, len(data) - 511, 512):
        m0, m1, _flags, addr, size = struct.unpack_from("<IIIII", data, off)
        if (m0, m1) == UF2_MAGIC:
            blocks[addr] = data[off + 32:off + 32 + size]
    if not blocks:
        raise SystemExit(f"{path}: not a UF2 file")
    base = min(blocks)
    image = bytearray(max(a + len(b) for a, b in blocks.items()) - base)
    for a, b in blocks.items():
        image[a - base:a - base + len(b)] = b
    return base, bytes(image)


def djb2_byte(s):
    h = 5381
    for c in s:
        h = ((h << 5) + h) ^ c
    return (h & 0xFF) or 1


def rom_qstrs(base, fl):
    """The ROM pools' strings, oldest pool first (a qstr's number: its index in them all)."""
    def u32(a):
        return struct.unpack_from("<I", fl, a - base)[0]

    def in_flash(p):
        return base <= p < base + len(fl)

    def cstr(p):
        o = p - base
        return fl[o:fl.index(b"\0", o)]

    pools = {}
    for a in range(base, base + len(fl) - 32, 4):
        prev, _tpl, _alloc, n, hashes, lengths = struct.unpack_from("<IIIIII", fl, a - base)
        if not (10 < n < 5000 and in_flash(hashes) and in_flash(lengths)) or (prev and not in_flash(prev)):
            continue
        for k in range(min(n, 8)):
            p = u32(a + 24 + 4 * k)
            if not in_flash(p):
                break
            s = cstr(p)
            if len(s) != fl[lengths - base + k] or djb2_byte(s) != fl[hashes - base + k]:
                break
        else:
            pools[a] = prev
    newest = [a for a in pools if a not in pools.values()]
    if len(newest) != 1:
        raise SystemExit(f"the UF2's qstr pools not found ({len(pools)} candidates)")
    out, a = [], newest[0]
    while a:
        prev, _tpl, _alloc, n = struct.unpack_from("<IIII", fl, a - base)
        out.insert(0, [cstr(u32(a + 24 + 4 * k)).decode() for k in range(n)])
        a = prev
    return out


def main():
    from focusrig.rp2040 import UF2_NAME, Rp2040Error, board_file
    try:
        uf2 = board_file(UF2_NAME)
    except Rp2040Error as e:
        raise SystemExit(f"pico_qstrs: {e}") from None
    pools = rom_qstrs(*flash_image(uf2))
    if len(pools) != 3:
        raise SystemExit(f"pico_qstrs: {len(pools)} ROM pools in the UF2, not 3 (static, const, frozen)")
    names = [n for p in pools for n in p]
    # the pools' first numbers: a search passes them newest first, bisecting the sorted
    # two (const, frozen) and reading the static one entry by entry
    starts = [0, len(pools[0]), len(pools[0]) + len(pools[1])]
    text = json.dumps({"pool_starts": starts, "qstrs": names}, indent=0) + "\n"
    if "--check" in sys.argv[1:]:
        with open(OUT) as f:
            if f.read() != text:
                raise SystemExit(f"{os.path.relpath(OUT, ROOT)} is not the UF2's: python tools/pico_qstrs.py")
        print(f"pico_qstrs: {len(names)} ROM qstrs, as the UF2")
        return
    with open(OUT, "w") as f:
        f.write(text)
    print(f"pico_qstrs: {len(names)} ROM qstrs -> {os.path.relpath(OUT, ROOT)}")


if __name__ == "__main__":
    main()
