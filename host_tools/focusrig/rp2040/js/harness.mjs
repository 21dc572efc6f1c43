// focusrig's rp2040 target, one scenario: the official MicroPython UF2 on rp2040js (pinned,
// npm) with our five corrections (board.mjs, corrections/*.mjs), as fast as it runs. Usage:
//
//     node harness.mjs SETUP.json
//
// SETUP.json (written by focusrig.rp2040.runner): bootrom, uf2, flash image + offset,
// corrections on/off, end time, button edges, subject/LiDAR, serial commands, pins to
// trace, output paths. stdout: one JSON object per line: {"k":"origin"}, {"k":"line"}
// (a line the firmware printed on USB CDC, with the emulated ns it arrived),
// {"k":"progress"}, {"k":"end"}. The pin trace goes to a binary file of <qHi records.
// Times are ns from the scenario origin: the moment the firmware configures the status
// LED pin as an output, the last of its "outputs inactive first" pins, just before
// it starts its uptime clock.

import fs from 'node:fs';
import { Board } from './board.mjs';
import { TFLuna } from './devices.mjs';

const setup = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const board = new Board({
  ...setup,
  flash: setup.flash_image ? fs.readFileSync(setup.flash_image) : null,
});
const { mcu, clock, pads, host, cdc, sched } = board;

// ---- trace: every listed pin's level, stamped with emulated ns ------------------------
const rec = [];           // [abs_ns, sig, value]
const lastLevel = {};
function level(pin) { return pin.outputEnable ? pin.outputValue : pin.rawInputValue; }
function record(gpio) {
  const v = level(mcu.gpio[gpio]) ? 1 : 0;
  if (lastLevel[gpio] === v) return;
  lastLevel[gpio] = v;
  rec.push([board.now(), gpio, v]);
}
for (const g of setup.trace_pins) {
  mcu.gpio[g].addListener(() => record(g));
}

// ---- origin, inputs, devices -----------------------------------------------------------
let origin = -1;
const originPin = setup.origin_gpio ?? 25;
const unhookOrigin = mcu.gpio[originPin].addListener(() => {
  if (origin < 0 && mcu.gpio[originPin].outputEnable) start(clock.nanos);
});
function drive(gpio, lv, active) {
  // a contact drives its active level when closed; open, the pin is undriven
  if (lv === active) pads.drive(gpio, lv); else pads.release(gpio);
  record(gpio);
}
const active = setup.input_active || {};
for (const [t, gpio, lv] of setup.edges) if (t <= 0) drive(gpio, lv, active[gpio] ?? 0);
for (const g of setup.trace_pins) record(g);

let luna = null;
let instructionsAtOrigin = 0;
let sleptAtOrigin = 0;
function start(t0) {
  origin = t0;
  instructionsAtOrigin = board.instructions;
  sleptAtOrigin = board.sleptNs;
  unhookOrigin();
  out({ k: 'origin', t_ns: t0 });
  board.stopAt = t0 + setup.end_ms * 1e6;
  sched.at(board.stopAt, () => {});
  for (const [t, gpio, lv] of setup.edges) {
    if (t > 0) sched.at(t0 + t, () => drive(gpio, lv, active[gpio] ?? 0));
  }
  for (const [t, line] of setup.serial) {
    sched.at(t0 + t, () => host.send(Buffer.from(line + '\n')));
  }
  const uart = mcu.uart[setup.lidar_uart ?? 0];
  luna = new TFLuna(sched, uart, t0, { subject: setup.subject, ...(setup.lidar || {}) },
    setup.seed ?? 1);
  uart.onByte = (b) => luna.receive(b);
}
// bytes typed from reset on (REPL sessions, tests), not tied to the scenario origin
for (const [t, text] of setup.serial_abs || []) sched.at(t, () => host.send(Buffer.from(text)));
cdc.onDeviceConnected = () => out({ k: 'usb', t_ns: clock.nanos });
// before the firmware's clock starts, the run ends at the boot limit
board.stopAt = (setup.boot_timeout_ms ?? 3000) * 1e6;
sched.at(board.stopAt, () => {});

// ---- USB CDC: the firmware's output, split into lines ----------------------------------
let lineBuf = '';
const rel = (t) => (origin >= 0 ? t - origin : t - 0);
cdc.onSerialData = (buf) => {
  lineBuf += Buffer.from(buf).toString('latin1');
  let i;
  while ((i = lineBuf.indexOf('\n')) >= 0) {
    out({ k: 'line', t: Math.round(rel(clock.nanos)), s: lineBuf.slice(0, i).replace(/\r$/, '') });
    lineBuf = lineBuf.slice(i + 1);
  }
};

// ---- the run loop: CPU, then PIO per clk_sys cycle, alarms on the emulated clock --------
const wall0 = Date.now();
let lastProgress = wall0;
while (board.run(0x10000) === 0x10000) {
  const w = Date.now();
  if (w - lastProgress > 500) {
    lastProgress = w;
    out({ k: 'progress', t_ns: rel(clock.nanos), booted: origin >= 0 });
  }
}

// ---- results -----------------------------------------------------------------------------
const o = origin >= 0 ? origin : 0;
const buf = Buffer.alloc(rec.length * 14);
rec.forEach(([t, s, v], i) => {
  buf.writeBigInt64LE(BigInt(Math.max(0, Math.round(t - o))), i * 14);
  buf.writeUInt16LE(s, i * 14 + 8);
  buf.writeInt32LE(v, i * 14 + 10);
});
fs.writeFileSync(setup.trace, buf);
if (setup.flash_out) fs.writeFileSync(setup.flash_out, board.flashRegion(setup.flash_size));
if (lineBuf) out({ k: 'line', t: rel(clock.nanos), s: lineBuf });
out({
  k: 'end', booted: origin >= 0, origin_ns: origin, t_ns: rel(clock.nanos),
  emulated_ns: clock.nanos, wall_s: (Date.now() - wall0) / 1000, instructions: board.instructions,
  instructions_run: board.instructions - instructionsAtOrigin,
  cpu_slept_ns: board.sleptNs - sleptAtOrigin,
  lidar_frames: luna ? luna.frames : 0, flash: board.flashHooks.stats, warnings: board.warnings,
});
// rp2040js's own timers (e.g. the uncorrected PIO's setTimeout chain) would keep Node alive
process.exit(0);
