// focusrig's rp2040 target, one scenario: the official MicroPython UF2 on rp2040js (pinned,
// npm) with our corrections (board.mjs, corrections/*.mjs), as fast as it runs. Usage:
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
//
// A watchdog reset (a timeout, or machine.reset(): rp2040js's watchdog trigger) powers a
// new board on with the flash as it is and REASON set (TIMER 1 / FORCE 2, so
// machine.reset_cause() reads WDT_RESET), as the chip's watchdog reset does; the run goes
// on on one session clock: {"k":"reset"} says when, stimuli after it reach the new board,
// the trace continues (pads in their reset state until the firmware sets them up again).
// setup.pullups: GPIOs with an external pull-up (the driver ENABLE's R1). setup.
// flash_snapshots: a folder for the flash after every erase/program step (power cuts,
// flash-snapshots.mjs). setup.serial_hex: [[t_ns, hex, gap_ns]] raw bytes, typed one
// byte per gap_ns when gap_ns > 0.

import fs from 'node:fs';
import { Board } from './board.mjs';
import { TFLuna } from './devices.mjs';
import { installFlashSnapshots } from './flash-snapshots.mjs';

const setup = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

let epoch = 0;            // session ns at the current board's power-on
const sessionNs = () => epoch + board.now();
let board = new Board({
  ...setup,
  flash: setup.flash_image ? fs.readFileSync(setup.flash_image) : null,
});
let { mcu, clock, pads, cdc, sched } = board;
const timeline = [];      // [session_ns, fn]: stimuli, handed to each new board
function at(t, fn) {
  timeline.push([t, fn]);
  sched.at(t - epoch, fn);
}

// ---- trace: every listed pin's level, stamped with emulated ns ------------------------
const rec = [];           // [abs_ns, sig, value]
const lastLevel = {};
function level(pin) { return pin.outputEnable ? pin.outputValue : pin.rawInputValue; }
function record(gpio) {
  const v = level(mcu.gpio[gpio]) ? 1 : 0;
  if (lastLevel[gpio] === v) return;
  lastLevel[gpio] = v;
  rec.push([sessionNs(), gpio, v]);
}
function wire() {
  for (const g of setup.pullups || []) pads.drive(g, 1);     // weaker than an output
  for (const g of setup.trace_pins) mcu.gpio[g].addListener(() => record(g));
  board.watchdog.onWatchdogTrigger = () => {
    resetPending = board.watchdog.reason || 1;
    board.stopAt = 0;
    // the chip is gone: rp2040js's periodic alarm would otherwise fire again at once
    // for ever inside this clock tick (the counter stays at 0)
    board.watchdog.alarm.enable = false;
    board.watchdog.timer.enable = false;
  };
  if (setup.flash_snapshots) {
    installFlashSnapshots(board, setup.flash_snapshots, setup.flash_size, sessionNs);
  }
}
let resetPending = 0;
wire();

// ---- origin, inputs, devices -----------------------------------------------------------
let origin = -1;
const originPin = setup.origin_gpio ?? 25;
let unhookOrigin = mcu.gpio[originPin].addListener(() => {
  if (origin < 0 && mcu.gpio[originPin].outputEnable) start(clock.nanos);
});
const contacts = {};      // gpio -> level a closed contact drives (absent: open)
function drive(gpio, lv, active) {
  // a contact drives its active level when closed; open, the pin is undriven
  if (lv === active) { contacts[gpio] = lv; pads.drive(gpio, lv); } else { delete contacts[gpio]; pads.release(gpio); }
  record(gpio);
}
const active = setup.input_active || {};
for (const [t, gpio, lv] of setup.edges) if (t <= 0) drive(gpio, lv, active[gpio] ?? 0);
for (const g of setup.trace_pins) record(g);

let luna = null;
let instructionsAtOrigin = 0;
let sleptAtOrigin = 0;
function start(t0) {
  t0 += epoch;
  origin = t0;
  instructionsAtOrigin = board.instructions;
  sleptAtOrigin = board.sleptNs;
  unhookOrigin();
  out({ k: 'origin', t_ns: t0 });
  board.stopAt = t0 + setup.end_ms * 1e6 - epoch;
  at(t0 + setup.end_ms * 1e6, () => {});
  for (const [t, gpio, lv] of setup.edges) {
    if (t > 0) at(t0 + t, () => drive(gpio, lv, active[gpio] ?? 0));
  }
  for (const [t, line] of setup.serial) {
    at(t0 + t, () => board.host.send(Buffer.from(line + '\n')));
  }
  for (const [t, hex, gap] of setup.serial_hex || []) {
    const data = Buffer.from(hex, 'hex');
    if (!(gap > 0)) at(t0 + t, () => board.host.send(data));
    else for (let i = 0; i < data.length; i++) at(t0 + t + i * gap, () => board.host.send(data.subarray(i, i + 1)));
  }
  startLuna();
}
let lunaFrames = 0;
function startLuna() {
  const uart = mcu.uart[setup.lidar_uart ?? 0];
  luna = new TFLuna(sched, uart, origin - epoch, { subject: setup.subject, ...(setup.lidar || {}) },
    (setup.seed ?? 1) + resets.length);
  uart.onByte = (b) => luna.receive(b);
}

// ---- watchdog reset: a new board with the flash as it is ---------------------------------
const resets = [];
const totals = { instructions: 0, slept: 0, erased: 0, programmed: 0 };
function hardReset() {
  const reason = resetPending;
  resetPending = 0;
  const t = sessionNs();
  resets.push(t);
  out({ k: 'reset', t_ns: t - (origin >= 0 ? origin : 0), reason });
  if (lineBuf) { out({ k: 'line', t: Math.round(rel(t)), s: lineBuf }); lineBuf = ''; }
  totals.instructions += board.instructions;
  totals.slept += board.sleptNs;
  totals.erased += board.flashHooks.stats.erased;
  totals.programmed += board.flashHooks.stats.programmed;
  if (luna) lunaFrames += luna.frames;
  const flash = Uint8Array.from(board.flashRegion(setup.flash_size));
  epoch = t;
  board = new Board({ ...setup, flash });
  ({ mcu, clock, pads, cdc, sched } = board);
  board.watchdog.reason = reason;            // REASON survives the reset it caused
  wire();
  for (const [gpio, lv] of Object.entries(contacts)) pads.drive(Number(gpio), lv);
  for (const g of setup.trace_pins) record(g);
  hookUsb();
  for (const [ts, fn] of timeline) if (ts > t) sched.at(ts - epoch, fn);
  if (origin >= 0) {
    board.stopAt = origin + setup.end_ms * 1e6 - epoch;
    startLuna();
  } else {
    board.stopAt = (setup.boot_timeout_ms ?? 3000) * 1e6;
    unhookOrigin = mcu.gpio[originPin].addListener(() => {
      if (origin < 0 && mcu.gpio[originPin].outputEnable) start(clock.nanos);
    });
  }
}
// bytes typed from reset on (REPL sessions, tests), not tied to the scenario origin
for (const [t, text] of setup.serial_abs || []) at(t, () => board.host.send(Buffer.from(text)));
// before the firmware's clock starts, the run ends at the boot limit
board.stopAt = (setup.boot_timeout_ms ?? 3000) * 1e6;
sched.at(board.stopAt, () => {});

// ---- USB CDC: the firmware's output, split into lines ----------------------------------
let lineBuf = '';
const rel = (t) => (origin >= 0 ? t - origin : t - 0);
function hookUsb() {
  cdc.onDeviceConnected = () => out({ k: 'usb', t_ns: sessionNs() });
  cdc.onSerialData = (buf) => {
    lineBuf += Buffer.from(buf).toString('latin1');
    let i;
    while ((i = lineBuf.indexOf('\n')) >= 0) {
      out({ k: 'line', t: Math.round(rel(sessionNs())), s: lineBuf.slice(0, i).replace(/\r$/, '') });
      lineBuf = lineBuf.slice(i + 1);
    }
  };
}
hookUsb();

// ---- the run loop: CPU, then PIO per clk_sys cycle, alarms on the emulated clock --------
const wall0 = Date.now();
let lastProgress = wall0;
for (;;) {
  if (board.run(0x10000) !== 0x10000) {
    if (!resetPending) break;
    hardReset();
  }
  const w = Date.now();
  if (w - lastProgress > 500) {
    lastProgress = w;
    out({ k: 'progress', t_ns: rel(sessionNs()), booted: origin >= 0 });
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
if (lineBuf) out({ k: 'line', t: rel(sessionNs()), s: lineBuf });
const fstats = { erased: totals.erased + board.flashHooks.stats.erased,
  programmed: totals.programmed + board.flashHooks.stats.programmed };
out({
  k: 'end', booted: origin >= 0, origin_ns: origin, t_ns: rel(sessionNs()),
  emulated_ns: sessionNs(), wall_s: (Date.now() - wall0) / 1000,
  instructions: totals.instructions + board.instructions,
  instructions_run: totals.instructions + board.instructions - instructionsAtOrigin,
  cpu_slept_ns: totals.slept + board.sleptNs - sleptAtOrigin,
  lidar_frames: lunaFrames + (luna ? luna.frames : 0), flash: fstats, warnings: board.warnings,
  resets,
});
// rp2040js's own timers (e.g. the uncorrected PIO's setTimeout chain) would keep Node alive
process.exit(0);
