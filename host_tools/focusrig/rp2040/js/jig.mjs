// The hardware-in-the-loop rig without hardware: two emulated Picos (board.mjs), both on
// the official MicroPython UF2, powered on together and run in lockstep on one time base:
// the DUT with focusrig's firmware, the jig with firmware/jig/, wired pin to pin as
// hardware/jig_wiring.json says. Usage:
//
//     node jig.mjs SETUP.json
//
// SETUP.json (written by focusrig.rp2040.jig_run): bootrom, uf2, flash_offset,
// corrections, dut {flash_image, trace_pins}, jig {flash_image}, wiring {drive:
// [[jig_gpio, dut_gpio]], capture: [[dut_gpio, jig_gpio]], uart: {jig, dut}}, jig_lines
// (the host's lines to the jig, `start ...` last), serial ([[ns from the capture start,
// line]] to the DUT), limit_ms, quantum_ns, trace (path: the DUT's pins as the emulator
// records them, <qHi records, ns from power-on).
//
// Wires: a jig drive pin pulling low (open drain) closes the DUT input's contact; a DUT
// output's level reaches the jig's capture pin at the exact emulated time (the DUT runs
// each quantum first, the jig follows, so the jig is never ahead of what it samples);
// UART bytes take 10 bit times at 115200 baud, one after another, both ways.
//
// stdout, JSON lines: {"k":"dut"|"jig","t":ns,"s":line} (USB CDC lines),
// {"k":"capture_start","t_ns"} (the jig's PIO capture state machine enabled),
// {"k":"progress"}, {"k":"end", ...}.

import fs from 'node:fs';
import { Board } from './board.mjs';

const setup = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const make = (b) => new Board({ ...setup, flash: fs.readFileSync(b.flash_image) });
const dut = make(setup.dut);
const jig = make(setup.jig);
const BYTE_NS = Math.round(10e9 / 115200);

// ---- the emulator's own record of the DUT's pins ------------------------------------------
const rec = [];
const last = {};
const level = (pin) => (pin.outputEnable ? pin.outputValue : pin.rawInputValue) ? 1 : 0;
function record(g) {
  const v = level(dut.mcu.gpio[g]);
  if (last[g] === v) return;
  last[g] = v;
  rec.push([dut.now(), g, v]);
}
for (const g of setup.dut.trace_pins) {
  dut.mcu.gpio[g].addListener(() => record(g));
  record(g);
}

// ---- wires ------------------------------------------------------------------------------
for (const [jg, dg] of setup.wiring.drive) {
  const pin = jig.mcu.gpio[jg];
  let low = false;
  pin.addListener(() => {
    const now = pin.outputEnable && !pin.outputValue;
    if (now === low) return;
    low = now;
    dut.sched.at(jig.now(), () => {
      if (now) dut.pads.drive(dg, false); else dut.pads.release(dg);
      record(dg);
    });
  });
}
for (const [dg, jg] of setup.wiring.capture) {
  const pin = dut.mcu.gpio[dg];
  let lv = -1;
  const send = () => {
    const v = level(pin);
    if (v === lv) return;
    lv = v;
    jig.sched.at(dut.now(), () => jig.pads.drive(jg, !!v));
  };
  pin.addListener(send);
  send();
}
function uartWire(from, fromId, to, toId) {
  const rx = to.mcu.uart[toId];
  let free = 0; // when the line is idle again (receiver's clock = sender's: one time base)
  from.mcu.uart[fromId].onByte = (b) => {
    const t = Math.max(from.now(), free) + BYTE_NS;
    free = t;
    to.sched.at(t, () => { if (rx.enabled && rx.rxEnabled) rx.feedByte(b); });
  };
}
uartWire(jig, setup.wiring.uart.jig, dut, setup.wiring.uart.dut);
uartWire(dut, setup.wiring.uart.dut, jig, setup.wiring.uart.jig);

// ---- the capture start: the jig enables its capture state machine (PIO0 SM0) ------------
let captureStart = -1;
const pio0 = jig.mcu.pio[0];
const pioWrite = pio0.writeUint32.bind(pio0);
pio0.writeUint32 = function (offset, value) {
  pioWrite(offset, value);
  if (offset === 0 && captureStart < 0 && this.machines[0].enabled) {
    captureStart = jig.now();
    out({ k: 'capture_start', t_ns: captureStart });
    for (const [t, line] of setup.serial) {
      dut.sched.at(captureStart + t, () => dut.host.send(Buffer.from(line + '\n')));
    }
  }
};

// ---- the host: USB lines both ways --------------------------------------------------------
let dutUp = false;
let jigUp = false;
let sent = false;
let done = false;
function lines(board, who, onLine) {
  let buf = '';
  board.cdc.onSerialData = (data) => {
    buf += Buffer.from(data).toString('latin1');
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const s = buf.slice(0, i).replace(/\r$/, '');
      buf = buf.slice(i + 1);
      out({ k: who, t: Math.round(board.clock.nanos), s });
      onLine(s);
    }
  };
}
function maybeSend() {
  // both firmwares are up: the host sends the jig its lines, `start` last
  if (sent || !dutUp || !jigUp) return;
  sent = true;
  jig.host.send(Buffer.from(setup.jig_lines.join('\n') + '\n'));
}
lines(dut, 'dut', (s) => {
  if (!dutUp && s.includes('"boot"')) { dutUp = true; maybeSend(); }
});
lines(jig, 'jig', (s) => {
  if (!jigUp && s.includes('"boot"')) { jigUp = true; maybeSend(); }
  if (s.startsWith('{') && s.includes('"done"')) done = true;
});

// ---- lockstep ------------------------------------------------------------------------------
const Q = setup.quantum_ns ?? 1000;
const limit = (setup.limit_ms ?? 10000) * 1e6;
const wall0 = Date.now();
let lastProgress = wall0;
let T = 0;
let n = 0;
while (!done && T < limit) {
  T += Q;
  dut.run(Infinity, T);
  jig.run(Infinity, T);
  if ((++n & 0x3ff) === 0) {
    const w = Date.now();
    if (w - lastProgress > 500) {
      lastProgress = w;
      out({ k: 'progress', t_ns: T, capture_ns: captureStart < 0 ? -1 : T - captureStart });
    }
  }
}

const buf = Buffer.alloc(rec.length * 14);
rec.forEach(([t, s, v], i) => {
  buf.writeBigInt64LE(BigInt(Math.max(0, Math.round(t))), i * 14);
  buf.writeUInt16LE(s, i * 14 + 8);
  buf.writeInt32LE(v, i * 14 + 10);
});
fs.writeFileSync(setup.trace, buf);
out({
  k: 'end', done, t_ns: T, capture_start_ns: captureStart, wall_s: (Date.now() - wall0) / 1000,
  instructions: { dut: dut.instructions, jig: jig.instructions },
  cpu_slept_ns: { dut: dut.sleptNs, jig: jig.sleptNs },
});
process.exit(0);
