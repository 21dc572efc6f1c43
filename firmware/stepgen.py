"""PIO step generator: STEP/DIR pulse trains timed by a PIO state machine, never by Python.

Owns the PIO program, the 32-bit segment word format, the driver timing presets and the
ENABLE line. The motion planner (planner.py) decides *what* to emit; this module turns
its segments into FIFO words and keeps the FIFO topped up.

FIFO word format (shift right, least significant bit first):

    step word  bit 0 = 0 | bits 1..10 = n - 1 (1..1024 steps) | bits 11..31 = L (low count)
    dir  word  bit 0 = 1 | bit 1      = DIR level             | bits 2..31 = D (dwell count)

A step word's period is at most H + 2^21 + 4 cycles (16.8 ms at 125 MHz, 60 steps/s);
slower steps go out as a 1-step word and a dwell each (motion.py). 1024-step words (256
until December 2026, with a 23-bit L) make a cruise at 100,000 steps/s 8 ms a word, not
2.56: a quarter of the words, and each costs the CPU ~0.3 ms on an RP2040.

Cycle accounting (1 cycle = 1 / SM clock, 8 ns at 125 MHz), H = ISR = high count:
- step word: STEP rises 4 cycles after the word is pulled, then every P = H + L + 5 cycles;
  STEP stays high H + 2 cycles; the word lasts 4 + n * P cycles.
- dir word: DIR changes 3 cycles after the pull; the word lasts D + 7 cycles; the next
  STEP rise comes at least D + 8 cycles after the DIR change (setup time).
"""

from micropython import const
import rp2

from pio_step import step_program, N_BITS

STEP_WORD_RISE = const(4)       # cycles from pull to first STEP rise
STEP_OVERHEAD = const(5)        # P = H + L + STEP_OVERHEAD
DIR_WORD_OVERHEAD = const(7)    # dir word lasts D + 7 cycles
DIR_SETUP_OVERHEAD = const(8)   # DIR change to next STEP rise is at least D + 8 cycles
HIGH_OVERHEAD = const(2)        # STEP high time = H + 2 cycles
LOW_OVERHEAD = const(3)         # STEP low time within a word = L + 3 cycles
MAX_STEPS_PER_WORD = 1 << N_BITS   # (pio_step.N_BITS: not a const() here, an import)
L_SHIFT = 1 + N_BITS            # a step word's L starts at this bit
FIFO_DEPTH = const(8)           # TX FIFO joined with RX
MAX_L = (1 << (32 - L_SHIFT)) - 1   # 21 bits
MAX_D = const(0x3FFFFFFF)       # 30 bits
PIO0_FDEBUG = const(0x50200008)  # RP2040 datasheet 3.7: PIO0 base + FDEBUG (PIO1: +0x100000)
TXSTALL_SHIFT = const(24)       # FDEBUG bits 24..27: SM 0..3 stalled on an empty TX FIFO


def step_word(n, low):
    """n steps (1..256) with low count `low`: period = H + low + 5 cycles."""
    return ((n - 1) << 1) | (low << L_SHIFT)


def dir_word(level, dwell):
    """Set DIR to `level`, then wait dwell + 7 cycles in total."""
    return 1 | (level << 1) | (dwell << 2)


class Timing:
    """Driver timing turned into PIO cycle counts for one SM clock."""

    def __init__(self, freq, high_ns, low_ns, setup_ns):
        self.freq = freq
        self.high_cycles = max(HIGH_OVERHEAD, _ns_to_cycles(high_ns, freq))
        self.low_cycles = max(LOW_OVERHEAD, _ns_to_cycles(low_ns, freq))
        self.setup_cycles = max(DIR_SETUP_OVERHEAD, _ns_to_cycles(setup_ns, freq))
        self.h = self.high_cycles - HIGH_OVERHEAD              # value loaded into ISR
        self.min_low = self.low_cycles - LOW_OVERHEAD          # smallest L
        self.min_period = self.h + self.min_low + STEP_OVERHEAD
        self.max_period = self.h + MAX_L + STEP_OVERHEAD
        self.min_dwell = self.setup_cycles - DIR_SETUP_OVERHEAD

    def max_rate(self):
        return self.freq // self.min_period


def _ns_to_cycles(ns, freq):
    # round up: a pulse may be longer than asked, never shorter
    return (ns * (freq // 1000000) + 999) // 1000


class StepGen:
    """Owns one PIO state machine running `step_program` and the driver ENABLE pin."""

    def __init__(self, sm_id, step_pin, dir_pin, en_pin, en_active, freq, timing, mem32=None):
        """mem32: machine.mem32, for the PIO's FDEBUG register (stalled); None: not read."""
        self.timing = timing
        self._mem32 = mem32
        self.freq = freq
        self._en = en_pin
        self._en_active = en_active
        self.enabled = False
        self._en.value(1 - en_active)
        self.sm = rp2.StateMachine(sm_id, step_program, freq=freq,
                                   sideset_base=step_pin, out_base=dir_pin)
        self._fdebug = PIO0_FDEBUG + (0x100000 if sm_id >= 4 else 0)
        self._txstall = 1 << (TXSTALL_SHIFT + (sm_id & 3))
        self.load_timing(timing)
        self.sm.active(1)

    def load_timing(self, timing):
        """Load the STEP high count into ISR (the program reads it for every pulse)."""
        self.timing = timing
        was = self.sm.active()
        self.sm.active(0)
        self.sm.put(timing.h)
        self.sm.exec("pull()")
        self.sm.exec("mov(isr, osr)")
        self.sm.active(was)

    def enable(self, on):
        self._en.value(self._en_active if on else 1 - self._en_active)
        self.enabled = bool(on)

    def stalled(self):
        """True when the state machine has waited on an empty FIFO since the flag was
        last cleared (the PIO's sticky FDEBUG.TXSTALL flag): the hardware's word on an
        underrun, not a model's."""
        m = self._mem32
        return m is not None and m[self._fdebug] & self._txstall != 0

    def clear_stall(self):
        """Clear FDEBUG.TXSTALL (write 1). Only once a word is in the FIFO: a state
        machine still waiting sets it again at once."""
        m = self._mem32
        if m is not None:
            m[self._fdebug] = self._txstall

    def room(self):
        """FIFO words that can be pushed now without blocking."""
        return FIFO_DEPTH - self.sm.tx_fifo()

    def push(self, word):
        self.sm.put(word)

    def queued(self):
        return self.sm.tx_fifo()
