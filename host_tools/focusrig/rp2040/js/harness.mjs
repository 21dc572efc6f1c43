// focusrig's rp2040 target: the official MicroPython UF2 on rp2040js (pinned, npm) with
// our five corrections (corrections/*.mjs), driven by one scenario. Usage:
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
import { RP2040, USBCDC } from 'rp2040js';
import { fixUartTxIrq } from './corrections/uart-tx-irq.mjs';
import { installClockedPio } from './corrections/pio-clocked.mjs';
import { installFlashHooks } from './corrections/flash-rom-hooks.mjs';
import { installPadPulls } from './corrections/pad-pulls.mjs';
import { installCdcHold } from './corrections/usb-cdc-hold.mjs';
import { Scheduler, TFLuna } from './devices.mjs';
import { loadUf2 } from './uf2.mjs';

const setup = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const fix = Object.assign({ uart_tx: true, pio: true, flash: true, pulls: true, usb: true },
  setup.corrections || {});
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const mcu = new RP2040();
const clock = mcu.clock; // rp2040js's SimulationClock (ns), 125 MHz
let warnings = 0;
mcu.logger = {
  debug() {}, info() {},
  warn(c, m) { if (warnings++ < 20 && setup.verbose) process.stderr.write(`[${c}] ${m}\n`); },
  error(c, m) { process.stderr.write(`rp2040js error [${c}] ${m}\n`); },
};
mcu.loadBootrom(new Uint32Array(fs.readFileSync(setup.bootrom).buffer.slice(0)));
loadUf2(mcu, fs.readFileSync(setup.uf2));
// start at boot2 (the first 256 bytes of flash), as the bootrom's flash boot does after
// its checks; the bootrom stays mapped for its function table (flash, float routines)
mcu.core.PC = 0x10000000;
if (setup.flash_image) {
  mcu.flash.set(fs.readFileSync(setup.flash_image), setup.flash_offset);
}

if (fix.uart_tx) fixUartTxIrq(mcu, clock);
const pio = installClockedPio(mcu, fix.pio);
const flashHooks = installFlashHooks(mcu, { enabled: fix.flash, ...(setup.flash_timing || {}) });
const pads = installPadPulls(mcu, fix.pulls);
const cdc = new USBCDC(mcu.usbCtrl);
const host = installCdcHold(cdc, fix.usb);
const sched = new Scheduler(clock);

// ---- trace: every listed pin's level, stamped with emulated ns ------------------------
const rec = [];           // [abs_ns, sig, value]
let stampNs = -1;         // set while PIO cycles are stepped: the cycle's own time
const now = () => (stampNs >= 0 ? stampNs : clock.nanos);
const lastLevel = {};
function level(pin) { return pin.outputEnable ? pin.outputValue : pin.rawInputValue; }
function record(gpio) {
  const v = level(mcu.gpio[gpio]) ? 1 : 0;
  if (lastLevel[gpio] === v) return;
  lastLevel[gpio] = v;
  rec.push([now(), gpio, v]);
}
for (const g of setup.trace_pins) {
  mcu.gpio[g].addListener(() => record(g));
}

// ---- origin, inputs, devices -----------------------------------------------------------
let origin = -1;
let endNs = Infinity;
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
function start(t0) {
  origin = t0;
  instructionsAtOrigin = instructions;
  unhookOrigin();
  out({ k: 'origin', t_ns: t0 });
  endNs = t0 + setup.end_ms * 1e6;
  sched.at(endNs, () => {});
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
const bootLimit = (setup.boot_timeout_ms ?? 3000) * 1e6;
sched.at(bootLimit, () => {});

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
let nsPerCycle = 1e9 / mcu.clkSys;
mcu.addClockListener((f) => { nsPerCycle = 1e9 / f; });
const core = mcu.core;
function advance(ns) {
  // pass time with the CPU not executing (WFI, or stalled in a flash operation)
  let left = ns;
  while (left > 0) {
    if (!pio.busy()) { clock.tick(left); return; }
    const chunk = Math.min(left, 256 * nsPerCycle);
    const t0 = clock.nanos;
    clock.tick(chunk);
    const n = Math.max(1, Math.round(chunk / nsPerCycle));
    pio.tick(n, (c) => { stampNs = t0 + (c + 1) * nsPerCycle; });
    stampNs = -1;
    left -= chunk;
  }
}
const wall0 = Date.now();
let lastProgress = wall0;
let instructions = 0;
let iter = 0;
for (;;) {
  const t = clock.nanos;
  if (t >= endNs) break;
  if (origin < 0 && t >= bootLimit) break;
  if (core.waiting) {
    const dt = clock.nanosToNextAlarm;
    advance(dt > 0 ? dt : nsPerCycle);
  } else {
    const stall = flashHooks.check();
    if (stall) { advance(stall); continue; }
    const cycles = core.executeInstruction();
    instructions++;
    clock.tick(cycles * nsPerCycle);
    if (pio.busy()) {
      pio.tick(cycles, (c) => { stampNs = t + (c + 1) * nsPerCycle; });
      stampNs = -1;
    }
  }
  if ((++iter & 0xffff) === 0) {
    const w = Date.now();
    if (w - lastProgress > 500) {
      lastProgress = w;
      out({ k: 'progress', t_ns: rel(clock.nanos), booted: origin >= 0 });
    }
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
if (setup.flash_out) {
  fs.writeFileSync(setup.flash_out, mcu.flash.subarray(setup.flash_offset,
    setup.flash_offset + setup.flash_size));
}
if (lineBuf) out({ k: 'line', t: rel(clock.nanos), s: lineBuf });
out({
 k: 'end', booted: origin >= 0, origin_ns: origin, t_ns: rel(clock.nanos),
  emulated_ns: clock.nanos, wall_s: (Date.now() - wall0) / 1000, instructions,
  instructions_run: instructions - instructionsAtOrigin,
  lidar_frames: luna ? luna.frames : 0, flash: flashHooks.stats, warnings,
});
// rp2040js's own timers (e.g. the uncorrected PIO's setTimeout chain) would keep Node alive
process.exit(0);
