"""Edge capture of the DUT's outputs with one PIO state machine.

The program samples the capture pins (IN base = jig_pins.CAPTURE_BASE, CAPTURE_COUNT pins)
in a loop of LOOP_CYCLES cycles and keeps a free-running 32-bit loop counter in X. When the
sample differs from the previous one it pushes one word:

    bits 31..27  the new sample (bit 27 = first capture pin, cam_focus)
    bits 26..0   the low 27 bits of the loop counter (counts down from 0: -n mod 2**32)

That branch costs CHANGE_CYCLES extra cycles, so the sample in loop n, after k earlier
changes, was taken at cycle  n * LOOP_CYCLES + k * CHANGE_CYCLES + SAMPLE_OFFSET  after the
state machine started. At 125 MHz one loop is 56 ns; the host picks the clock (`start`),
e.g. 8 MHz on the virtual Pico (875 ns). The host unwraps the 27-bit counter with the
coarse ticks_us the CPU attaches to each batch (see docs/hil.md).
"""

import rp2
from machine import Pin

import jig_pins
from pio_capture import edge_capture

LOOP_CYCLES = 7
CHANGE_CYCLES = 4
SAMPLE_OFFSET = 2
COUNTER_BITS = 27
FIFO_DEPTH = 8


class Capture:
    """Owns state machine `sm_id`; start(freq) then drain() regularly."""

    def __init__(self, sm_id=0):
        self.sm_id = sm_id
        self.sm = None
        self.full_seen = 0

    def start(self, freq):
        for i in range(jig_pins.CAPTURE_COUNT):
            Pin(jig_pins.CAPTURE_BASE + i, Pin.IN)
        self.sm = rp2.StateMachine(self.sm_id, edge_capture, freq=freq,
                                   in_base=Pin(jig_pins.CAPTURE_BASE))
        self.full_seen = 0
        self.sm.active(1)

    def drain(self, out):
        """Move every captured word into the list `out`; returns how many."""
        sm = self.sm
        if sm is None:
            return 0
        n = sm.rx_fifo()
        if n >= FIFO_DEPTH:
            self.full_seen += 1          # words may have been dropped (push noblock)
        got = 0
        while n:
            out.append(sm.get())
            got += 1
            n = sm.rx_fifo()
        return got

    def stop(self):
        if self.sm is not None:
            self.sm.active(0)
