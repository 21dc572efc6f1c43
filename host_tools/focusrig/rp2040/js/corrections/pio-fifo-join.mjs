// Correction 6: PIO FIFO join (SHIFTCTRL FJOIN_TX / FJOIN_RX).
//
// Corrects rp2040js 1.4.1 `StateMachine` (src/peripherals/pio.ts, dist
// peripherals/pio.js): every state machine has a 4-word TX and a 4-word RX FIFO
// (`new FIFO(4)`), and SMx_SHIFTCTRL is stored but its FJOIN_TX (bit 30) and FJOIN_RX
// (bit 31) are never looked at. On the chip (RP2040 datasheet, 3.2.4 "Joining FIFOs"),
// FJOIN_TX makes one 8-word TX FIFO (RX unavailable), FJOIN_RX one 8-word RX FIFO; the
// FIFOs are flushed when a join bit changes. focusrig's step program joins TX
// (rp2.PIO.JOIN_TX, firmware/stepgen.py counts on 8 words); the jig's capture joins RX.
// Without the join the firmware's 5th put() blocks until the PIO has pulled a word.
//
// What we do: on a write to SMx_SHIFTCTRL that changes a join bit, give the machine new
// FIFOs of the joined depths (8 and 0, or 4 and 4): flushed, as the chip does.

import { FIFO } from 'rp2040js';

const FJOIN_TX = 1 << 30;
const FJOIN_RX = 1 << 31;
const SHIFTCTRL_OFFSET = 0x0d0 - 0x0c8; // SM0_SHIFTCTRL - SM0_CLKDIV (the SM's own offsets)

export function installFifoJoin(rp2040, enabled = true) {
  if (!enabled) return;
  for (const pio of rp2040.pio) {
    for (const sm of pio.machines) {
      const write = sm.writeUint32.bind(sm);
      sm.writeUint32 = function (offset, value) {
        const before = this.shiftCtrl & (FJOIN_TX | FJOIN_RX);
        write(offset, value);
        if (offset !== SHIFTCTRL_OFFSET) return;
        const joined = this.shiftCtrl & (FJOIN_TX | FJOIN_RX);
        if (joined === before) return;
        const tx = joined & FJOIN_TX ? 8 : joined & FJOIN_RX ? 0 : 4;
        const rx = joined & FJOIN_RX ? 8 : joined & FJOIN_TX ? 0 : 4;
        this.txFIFO = new FIFO(tx);
        this.rxFIFO = new FIFO(rx);
      };
    }
  }
}
