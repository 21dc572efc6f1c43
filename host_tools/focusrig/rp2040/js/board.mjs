// One emulated Raspberry Pi Pico: rp2040js's RP2040 with the bootrom, the official
// MicroPython UF2, a flash filesystem image, our corrections (corrections/*.mjs), a USB
// CDC host, an event scheduler on the emulated clock, and the run loop that executes the
// CPU instruction by instruction and clocks the PIO per clk_sys cycle.
//
// Shared by harness.mjs (a scenario, as fast as possible) and serve.mjs (a board behind
// a pseudo-terminal, paced to the wall clock).

import fs from 'node:fs';
import { RP2040, USBCDC } from 'rp2040js';
import { fixUartTxIrq } from './corrections/uart-tx-irq.mjs';
import { fixUartRxFifo } from './corrections/uart-rx-fifo.mjs';
import { installClockedPio } from './corrections/pio-clocked.mjs';
import { installFlashHooks } from './corrections/flash-rom-hooks.mjs';
import { installPadPulls } from './corrections/pad-pulls.mjs';
import { installCdcHold } from './corrections/usb-cdc-hold.mjs';
import { installFifoJoin } from './corrections/pio-fifo-join.mjs';
import { Scheduler } from './devices.mjs';
import { loadUf2 } from './uf2.mjs';

const WATCHDOG_BASE = 0x40058;

export class Board {
  // opts: bootrom, uf2 (paths), flash (bytes of the filesystem region, or null: erased),
  // flash_offset, corrections {name: bool}, flash_timing, verbose
  constructor(opts) {
    this.fix = Object.assign({ uart_tx: true, uart_rx: true, pio: true, flash: true, pulls: true, usb: true, fifo_join: true },
      opts.corrections || {});
    const mcu = new RP2040();
    this.mcu = mcu;
    this.clock = mcu.clock; // rp2040js's SimulationClock (ns), 125 MHz
    this.warnings = 0;
    mcu.logger = {
      debug() {}, info() {},
      warn: (c, m) => {
        if (this.warnings++ < 20 && opts.verbose) process.stderr.write(`[${c}] ${m}\n`);
      },
      error(c, m) { process.stderr.write(`rp2040js error [${c}] ${m}\n`); },
    };
    mcu.loadBootrom(new Uint32Array(fs.readFileSync(opts.bootrom).buffer.slice(0)));
    loadUf2(mcu, fs.readFileSync(opts.uf2));
    // start at boot2 (the first 256 bytes of flash), as the bootrom's flash boot does
    // after its checks; the bootrom stays mapped for its function table
    mcu.core.PC = 0x10000000;
    this.flashOffset = opts.flash_offset;
    if (opts.flash) mcu.flash.set(opts.flash, opts.flash_offset);

    if (this.fix.uart_tx) fixUartTxIrq(mcu, this.clock);
    if (this.fix.uart_rx) fixUartRxFifo(mcu, this.clock);
    this.pio = installClockedPio(mcu, this.fix.pio);
    installFifoJoin(mcu, this.fix.fifo_join);
    this.flashHooks = installFlashHooks(mcu, { enabled: this.fix.flash, ...(opts.flash_timing || {}) });
    this.pads = installPadPulls(mcu, this.fix.pulls);
    this.cdc = new USBCDC(mcu.usbCtrl);
    this.host = installCdcHold(this.cdc, this.fix.usb);
    this.sched = new Scheduler(this.clock);
    this.watchdog = mcu.peripherals[WATCHDOG_BASE];
    this.stampNs = -1;     // while PIO cycles are stepped: the stepped cycle's own time
    this.pioLagNs = 0;     // the PIO's last cycle ended this long before clock.nanos (< 1 cycle)
    this.instructions = 0;
    this.sleptNs = 0;      // emulated time the CPU spent waiting for an interrupt (WFI/WFE)
    this.stopAt = Infinity;
    this.nsPerCycle = 1e9 / mcu.clkSys;
    mcu.addClockListener((f) => { this.nsPerCycle = 1e9 / f; });
  }

  now() {
    return this.stampNs >= 0 ? this.stampNs : this.clock.nanos;
  }

  flashRegion(size) {
    return this.mcu.flash.subarray(this.flashOffset, this.flashOffset + size);
  }

  advance(ns) {
    // pass time with the CPU not executing (WFI, or stalled in a flash operation); the
    // PIO is clocked in chunks that end at the next alarm, so an input an alarm changes
    // is seen from the PIO cycle at its time on, not earlier
    const { clock, pio } = this;
    const cyc = this.nsPerCycle;
    let left = ns;
    while (left > 0) {
      if (!pio.busy()) {
        this.pioLagNs = (this.pioLagNs + left) % cyc;
        clock.tick(left);
        return;
      }
      let chunk = Math.min(left, 256 * cyc);
      const toAlarm = clock.nextAlarm ? clock.nextAlarm.nanos - clock.nanos : Infinity;
      if (toAlarm > 0 && toAlarm < chunk) chunk = toAlarm;
      // the PIO's cycles that end inside the chunk, on its own grid: a chunk (up to the
      // next alarm) need not be whole cycles, and rounding each one moved the PIO's
      // cycles against the clock: a 125-cycle STEP pulse spanning two chunks measured
      // 996 ns (a driver fault in the rp2040 soak, 1 in 23,693 steps)
      const base = clock.nanos - this.pioLagNs;
      const total = this.pioLagNs + chunk;
      const n = Math.floor(total / cyc + 1e-9);
      this.pioLagNs = total - n * cyc;
      // the PIO first: its cycles up to the chunk's end must not see an input that the
      // alarm at that end changes (that made a PIO edge up to 2 us early)
      if (n > 0) pio.tick(n, (c) => { this.stampNs = base + (c + 1) * cyc; });
      this.stampNs = -1;
      clock.tick(chunk);
      left -= chunk;
    }
  }

  tickInstruction(t, cycles) {
    // the clock and the PIO through one instruction's cycles. An alarm inside them (a
    // pin driven from outside, a UART byte) takes effect from the PIO cycle at its time
    // on: cycle c (its time t + (c+1) ns/cycle) sees the alarms up to its time
    // (whole cycles: the PIO's grid keeps its lag behind the clock, see advance)
    const { clock, pio } = this;
    const ns = this.nsPerCycle;
    const end = t + cycles * ns;
    const base = t - this.pioLagNs;
    if (!pio.busy()) { clock.tick(cycles * ns); return; }
    if (!clock.nextAlarm || clock.nextAlarm.nanos > end) {
      clock.tick(cycles * ns);
      pio.tick(cycles, (c) => { this.stampNs = base + (c + 1) * ns; });
    } else {
      for (let c = 0; c < cycles; c++) {
        const at = base + (c + 1) * ns;
        this.stampNs = -1;
        clock.tick(at - clock.nanos);
        pio.tick(1, () => { this.stampNs = at; });
      }
      clock.tick(end - clock.nanos);
    }
    this.stampNs = -1;
  }

  // Run until the clock reaches this.stopAt (read on every step: callbacks may move it)
  // or `steps` loop steps have run. While the CPU sleeps, time jumps to the next alarm,
  // but never past `capNs` (serve.mjs: the wall clock). Returns the steps run.
  run(steps, capNs = Infinity) {
    const { clock, flashHooks } = this;
    const core = this.mcu.core;
    let i = 0;
    for (; i < steps; i++) {
      const t = clock.nanos;
      if (t >= this.stopAt || t >= capNs) break;
      if (core.waiting) {
        let ns;
        if (clock.nextAlarm) {
          const dt = clock.nanosToNextAlarm;
          ns = Math.min(dt > 0 ? dt : this.nsPerCycle, capNs - t);
        } else {
          ns = isFinite(capNs) ? capNs - t : this.nsPerCycle;
        }
        this.advance(ns);
        this.sleptNs += clock.nanos - t;
      } else {
        const stall = flashHooks.check();
        if (stall) { this.advance(stall); continue; }
        const cycles = core.executeInstruction();
        this.instructions++;
        this.tickInstruction(t, cycles);
      }
    }
    return i;
  }
}
