// Power-cut support for focusrig's rp2040 target (tests/test_powercut.py, tools/soak.py):
// after every flash erase or program step the bootrom routines perform (the flash hooks,
// corrections/flash-rom-hooks.mjs), write the filesystem region as it is at that moment
// to DIR/NNNN.img. Cutting the power right after step N leaves exactly that image on the
// chip (NOR flash keeps what was programmed; the next step never started), so booting
// each snapshot is a power cut after each step. DIR/index.json lists the steps:
// [{"n": N, "op": "erase"|"program", "addr": A, "bytes": B, "t_ns": T}, ...].

import fs from 'node:fs';
import path from 'node:path';

const index = [];           // one run: numbered across watchdog resets (new boards)

export function installFlashSnapshots(board, dir, size, sessionNs) {
  fs.mkdirSync(dir, { recursive: true });
  const hooks = board.flashHooks;
  const check = hooks.check;
  const core = board.mcu.core;
  hooks.check = () => {
    const pc = core.PC;
    const r = core.registers;
    const addr = r[0] >>> 0;
    const bytes = (pc === hooks.erase ? r[1] : r[2]) >>> 0;
    const ns = check();
    if (ns) {
      const n = index.length + 1;
      index.push({ n, op: pc === hooks.erase ? 'erase' : 'program', addr, bytes, t_ns: sessionNs() });
      fs.writeFileSync(path.join(dir, String(n).padStart(4, '0') + '.img'), board.flashRegion(size));
      fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify(index));
    }
    return ns;
  };
}
