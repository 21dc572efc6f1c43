// focusrig's rp2040 target as a device: the official MicroPython UF2 on rp2040js (board.mjs)
// paced to the wall clock, its USB CDC relayed to focusrig.rp2040.emulate, which puts it
// behind a pseudo-terminal. Usage:
//
//     node serve.mjs SETUP.json
//
// SETUP.json: bootrom, uf2, flash (the littlefs image file: read at power-on when it
// exists, else the flash is erased and MicroPython formats it; written back after the
// board writes flash, at a hard reset and at the end), flash_offset, flash_size,
// input_active {gpio: level}, origin_gpio, lidar_uart, subject_mm, seed, scenario
// ({edges, subject}: replayed from each firmware start), held ([[0, gpio, level]]).
//
// stdin, one JSON object per line:
//   {"k":"usb","hex":H}                bytes from the host (mpremote, a terminal ...)
//   {"k":"edges","edges":[[dt_ns,gpio,level],...]}   contact edges, dt from now
//   {"k":"subject","points":[[dt_ms,mm],...]}        the LiDAR's subject, from now
//   {"k":"quit"}                       write the flash and end (also on stdin's end)
// stdout, one JSON object per line:
//   {"k":"usb","hex":H}  bytes the board sends   {"k":"boot","n":N}  power-on / hard reset
//   {"k":"origin","t_ms":T}  the firmware started  {"k":"saved"}  flash image written
//   {"k":"pace","emulated_s":E,"wall_s":W,"busy":B}  every 5 s of wall time (B: the
//   share of wall time spent emulating; the rest the board waited for the wall clock)
//
// Pacing: emulated time never runs ahead of the wall clock; when the CPU is busy it falls
// behind (the emulator runs at 0.1-0.7x real time here) and catches up by at most
// MAX_LAG_MS while the CPU sleeps, so timers keep their wall-clock meaning when idle.

import fs from 'node:fs';
import { Board } from './board.mjs';
import { TFLuna } from './devices.mjs';

const MAX_LAG_MS = 200;
const SLICE_MS = 20;
const SAVE_AFTER_MS = 500;

const setup = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const active = setup.input_active || {};
const ext = new Map();        // gpio -> level a closed contact drives (absent: open)
const pending = [];           // [session_ns, gpio, level] not yet handed to a board
let subject = [[0, setup.subject_mm ?? 2000]]; // [[session_ms, mm], ...]
let epoch = 0;                // session ns at the current board's power-on
let boots = 0;
let board = null;
let luna = null;
let resetPending = false;
let lastFlashOps = 0;
let dirtySince = -1;

function sessionNs() { return epoch + board.clock.nanos; }

function applyDrive(gpio) {
  const lv = ext.get(gpio);
  if (lv === undefined) board.pads.release(gpio); else board.pads.drive(gpio, lv);
}

function contact(gpio, lv) {
  // a contact drives its active level when closed; open, the pin is left to its pull
  if (lv === (active[gpio] ?? 0)) ext.set(gpio, lv); else ext.delete(gpio);
  applyDrive(gpio);
}

function schedule(tSession, gpio, lv) {
  board.sched.at(tSession - epoch, () => contact(gpio, lv));
}

function powerOn(flash) {
  boots++;
  board = new Board({ ...setup, flash });
  for (const gpio of ext.keys()) applyDrive(gpio);
  for (const [t, gpio, lv] of pending) schedule(t, gpio, lv);
  board.cdc.onSerialData = (buf) => out({ k: 'usb', hex: Buffer.from(buf).toString('hex') });
  board.watchdog.onWatchdogTrigger = () => {
    resetPending = true;
    board.stopAt = 0;
  };
  const uart = board.mcu.uart[setup.lidar_uart ?? 0];
  luna = new TFLuna(board.sched, uart, 0, { subject: [[0, 0]], ...(setup.lidar || {}) },
    (setup.seed ?? 1) + boots);
  setSubject(subject);
  uart.onByte = (b) => luna.receive(b);
  const led = board.mcu.gpio[setup.origin_gpio ?? 25];
  let started = false;
  led.addListener(() => {
    if (started || !led.outputEnable) return;
    started = true;
    const t0 = sessionNs();
    out({ k: 'origin', t_ms: t0 / 1e6 });
    if (setup.scenario) play(t0, setup.scenario);
  });
  lastFlashOps = 0;
  out({ k: 'boot', n: boots });
}

function setSubject(points) {
  subject = points;
  // the TF-Luna model takes [[ms, mm]] on the board's clock
  luna.points = points.map(([t, mm]) => [t - epoch / 1e6, mm]);
}

function play(t0, sc) {
  for (const [t, gpio, lv] of sc.edges) {
    if (t > 0) addEdge(t0 + t, gpio, lv);
  }
  if (sc.subject) setSubject(sc.subject.map(([t, mm]) => [t0 / 1e6 + t, mm]));
}

function addEdge(t, gpio, lv) {
  pending.push([t, gpio, lv]);
  schedule(t, gpio, lv);
}

function saveFlash() {
  if (!setup.flash) return;
  const tmp = setup.flash + '.tmp';
  fs.writeFileSync(tmp, board.flashRegion(setup.flash_size));
  fs.renameSync(tmp, setup.flash);
  dirtySince = -1;
  out({ k: 'saved' });
}

function hardReset() {
  resetPending = false;
  saveFlash();
  epoch = sessionNs();
  const flash = Uint8Array.from(board.flashRegion(setup.flash_size));
  powerOn(flash);
}

function command(msg) {
  const now = sessionNs();
  if (msg.k === 'usb') board.host.send(Buffer.from(msg.hex, 'hex'));
  else if (msg.k === 'edges') for (const [dt, gpio, lv] of msg.edges) addEdge(now + dt, gpio, lv);
  else if (msg.k === 'subject') setSubject(msg.points.map(([t, mm]) => [now / 1e6 + t, mm]));
  else if (msg.k === 'quit') finish();
}

function finish() {
  saveFlash();
  process.exit(0);
}

// ---- stdin: commands from the Python side ----------------------------------------------
let inBuf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  inBuf += d;
  let i;
  while ((i = inBuf.indexOf('\n')) >= 0) {
    const line = inBuf.slice(0, i);
    inBuf = inBuf.slice(i + 1);
    if (line.trim()) command(JSON.parse(line));
  }
});
process.stdin.on('end', finish);
process.on('SIGTERM', finish);

// ---- the paced run loop ----------------------------------------------------------------
const initial = setup.flash && fs.existsSync(setup.flash) ? fs.readFileSync(setup.flash) : null;
for (const [, gpio, lv] of setup.held || []) {
  if (lv === (active[gpio] ?? 0)) ext.set(gpio, lv);
}
if (setup.scenario) {
  for (const [t, gpio, lv] of setup.scenario.edges) {
    if (t <= 0 && lv === (active[gpio] ?? 0)) ext.set(gpio, lv);
  }
}
powerOn(initial);
const wallStart = performance.now();
let wall0 = wallStart;
let lastPace = wallStart;
let busyMs = 0;               // wall time spent emulating (the rest: waiting for the clock)

function slice() {
  const sliceEnd = performance.now() + SLICE_MS;
  for (;;) {
    const w = performance.now();
    let wallNs = (w - wall0) * 1e6;
    const lag = wallNs - sessionNs();
    if (lag > MAX_LAG_MS * 1e6) {
      wall0 += (lag - MAX_LAG_MS * 1e6) / 1e6;
      wallNs = (w - wall0) * 1e6;
    }
    const cap = wallNs - epoch;
    if (board.clock.nanos >= cap) {
      setTimeout(slice, Math.max(1, Math.min(SLICE_MS, (board.clock.nanos - cap) / 1e6)));
      return housekeeping(w);
    }
    const r0 = performance.now();
    board.run(20000, cap);
    busyMs += performance.now() - r0;
    if (resetPending) hardReset();
    if (performance.now() > sliceEnd) {
      setImmediate(slice);
      return housekeeping(performance.now());
    }
  }
}

function housekeeping(w) {
  // forget edges that are in the past; write the flash a while after the board wrote it
  const now = sessionNs();
  pending.sort((a, b) => a[0] - b[0]);
  while (pending.length && pending[0][0] <= now) pending.shift();
  const ops = board.flashHooks.stats.erased + board.flashHooks.stats.programmed;
  if (ops !== lastFlashOps) {
    lastFlashOps = ops;
    dirtySince = w;
  }
  if (dirtySince >= 0 && w - dirtySince > SAVE_AFTER_MS) saveFlash();
  if (w - lastPace > 5000) {
    lastPace = w;
    out({ k: 'pace', emulated_s: now / 1e9, wall_s: (w - wallStart) / 1000,
      busy: busyMs / (w - wallStart) });
  }
}

setImmediate(slice);
