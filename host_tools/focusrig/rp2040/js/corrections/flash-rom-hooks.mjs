// Correction 3: flash erase and program through the bootrom's flash routines.
//
// Corrects rp2040js 1.4.1 `RPSSI` (src/peripherals/ssi.ts, dist peripherals/ssi.js): the
// SSI model answers the read-status command and XIP reads only; page program (0x02) and
// sector/block erase (0x20/0xd8) sent by the bootrom's `flash_range_erase` /
// `flash_range_program` through the SSI FIFO do nothing, so the flash image never
// changes. MicroPython's littlefs then fails every write (`OSError: 28`, no space: the
// blocks it just "erased" still hold old data).
//
// What we do: look the two routines up in the bootrom's function table (codes 'RE' and
// 'RP', the same lookup pico-sdk does) and, when the CPU is about to execute either,
// perform it on the flash array (erase: 0xff over [addr, addr+count); program:
// AND-in the bytes, as NOR flash does) and return to the caller (PC <- LR). The time a
// real W25Q16JV takes (45 ms per 4 KiB sector erase, 0.4 ms per 256-byte page, typical)
// is given back to the harness to pass with the CPU stalled, as on a board, where the
// SDK runs these with interrupts disabled.

function romTableLookup(rp2040, code) {
  let p = rp2040.readUint16(0x14);
  for (;;) {
    const c = rp2040.readUint16(p);
    if (!c) return -1;
    if (c === code) return rp2040.readUint16(p + 2) & ~1;
    p += 4;
  }
}

const code = (a, b) => a.charCodeAt(0) | (b.charCodeAt(0) << 8);

export function installFlashHooks(rp2040, opts = {}) {
  const enabled = opts.enabled !== false;
  const eraseNsPerSector = opts.eraseNsPerSector ?? 45e6;
  const programNsPerPage = opts.programNsPerPage ?? 0.4e6;
  const erase = romTableLookup(rp2040, code('R', 'E'));
  const program = romTableLookup(rp2040, code('R', 'P'));
  const stats = { erased: 0, programmed: 0 };
  if (!enabled || erase < 0 || program < 0) {
    return { check: () => 0, erase, program, stats };
  }
  const core = rp2040.core;
  const flash = rp2040.flash;
  // returns emulated ns the operation takes (0 when the PC is not at a hook)
  function check() {
    const pc = core.PC;
    if (pc !== erase && pc !== program) return 0;
    const r = core.registers;
    let ns;
    if (pc === erase) {
      const addr = r[0] >>> 0;
      const count = r[1] >>> 0;
      flash.fill(0xff, addr, Math.min(flash.length, addr + count));
      stats.erased += count;
      ns = Math.ceil(count / 4096) * eraseNsPerSector;
    } else {
      const addr = r[0] >>> 0;
      const data = r[1] >>> 0;
      const count = r[2] >>> 0;
      for (let i = 0; i < count; i++) flash[addr + i] &= rp2040.readUint8(data + i);
      stats.programmed += count;
      ns = Math.ceil(count / 256) * programNsPerPage;
    }
    core.BXWritePC(core.LR);
    return Math.max(ns, 8);
  }
  return { check, erase, program, stats };
}
