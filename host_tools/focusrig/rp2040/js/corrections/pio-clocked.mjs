// Correction 2: PIO state machines stepped per clk_sys cycle, with the clock divider and
// delay cycles honoured.
//
// Corrects rp2040js 1.4.1 `RPPIO.run()` / `StateMachine.step()` (src/peripherals/pio.ts,
// dist peripherals/pio.js): an enabled PIO block runs 1000 instructions per
// `setTimeout(0)` turn of the Node event loop, unrelated to the emulated clock, so PIO
// output timing depends on how fast the host is. Delay cycles (`[n]`) are only added to
// a `cycles` counter, never waited; the clock divider (SMx_CLKDIV) is stored but unused;
// a stalled `pull`/`wait` that resolves executes the *next* instruction in the same step.
//
// What we do: `run()` no longer schedules itself; the harness calls `tick(n)` after every
// n clk_sys cycles the CPU spends (and while it sleeps). Each enabled state machine has a
// fractional divider (INT + FRAC/256, 0 = 65536) and advances one instruction per
// divided clock; after an instruction its delay is burnt one divided clock at a time
// (rp2040js's own cycle accounting, the growth of `sm.cycles`, tells us how many); a
// stall that resolves consumes that cycle. `onCycle(ns)` is called before each stepped
// cycle so pin changes can be stamped with their exact emulated time.

const SM_INSTR_OFFSET = 0x0d8 - 0x0c8; // SM0_INSTR relative to SM0_CLKDIV (RP2040 datasheet 3.7)

// rp2040js's WaitType values (not exported by the package)
const WaitType = { txFIFO: 3, Out: 5 };

export function installClockedPio(rp2040, enabled = true) {
  if (!enabled) return { tick() {}, busy: () => false };
  const machines = [];
  for (const pio of rp2040.pio) {
    pio.run = function () {}; // stepped by tick()
    for (const sm of pio.machines) {
      sm._acc = 0;
      sm._delay = 0;
      const restart = sm.restart.bind(sm);
      sm.restart = function () {
        restart();
        this._delay = 0;
      };
      sm.clkDivRestart = function () {
        this._acc = 0;
      };
      // An instruction written to SMx_INSTR (MicroPython's sm.exec) runs at once and its
      // pin writes reach the pads at once, on silicon. rp2040js executes it at once but
      // tells the GPIOs only from its stepping loop (RPPIO.step -> checkChangedPins); a
      // state machine stalled on its TX FIFO is not stepped here, so the CPU's `set pins`
      // would never show on a pad (found by focusrig's PIO shutter).
      const write = sm.writeUint32.bind(sm);
      sm.writeUint32 = function (offset, value) {
        write(offset, value);
        if (offset === SM_INSTR_OFFSET) pio.checkChangedPins();
      };
      machines.push(sm);
    }
  }

  function stepMachine(sm) {
    if (sm._delay > 0) {
      sm._delay--;
      return;
    }
    const c0 = sm.cycles;
    if (sm.waiting) {
      sm.checkWait();
      if (!sm.waiting) sm._delay = Math.max(0, sm.cycles - c0);
      return;
    }
    sm.step();
    if (!sm.waiting) sm._delay = Math.max(0, sm.cycles - c0 - 1);
  }

  // a machine stalled on an empty TX FIFO cannot change until the CPU (or DMA) writes it
  function idle(sm) {
    return sm.waiting && sm._delay === 0 &&
      (sm.waitType === WaitType.txFIFO || sm.waitType === WaitType.Out) && sm.txFIFO.empty;
  }

  function busy() {
    for (const pio of rp2040.pio) {
      if (pio.stopped) continue;
      for (const sm of pio.machines) if (sm.enabled && !idle(sm)) return true;
    }
    return false;
  }

  function tick(cycles, onCycle) {
    if (!busy()) return;
    for (let c = 0; c < cycles; c++) {
      if (onCycle) onCycle(c);
      for (const pio of rp2040.pio) {
        if (pio.stopped) continue;
        for (const sm of pio.machines) {
          if (!sm.enabled) continue;
          const div = (sm.clockDivInt || 65536) * 256 + sm.clockDivFrac;
          sm._acc += 256;
          if (sm._acc < div) continue;
          sm._acc -= div;
          if (!idle(sm)) stepMachine(sm);
        }
        pio.checkChangedPins();
      }
    }
  }
  return { tick, busy };
}
