"""Press playback: drives the DUT's button inputs open drain (released = high impedance,
the DUT's pull-up makes the high; pressed = driven low). Never drives high.

The schedule is the host's edge list (scenario.edges(): seeded contact chatter included),
[(t_us, drive_index, pressed)], relative to the capture start.
"""

from machine import Pin

import jig_pins


class Player:
    def __init__(self):
        self.pins = []
        for name in jig_pins.DRIVE_NAMES:
            self.pins.append(Pin(jig_pins.DRIVE[name], Pin.OPEN_DRAIN, value=1))
        self.edges = []
        self.i = 0
        self.late_max = 0

    def clear(self):
        self.edges = []
        self.i = 0
        self.release_all()

    def release_all(self):
        for p in self.pins:
            p.value(1)

    def add(self, t_us, name, pressed):
        idx = jig_pins.DRIVE_NAMES.index(name)
        self.edges.append((t_us, idx, 1 if pressed else 0))

    def begin(self):
        self.edges.sort()
        self.i = 0
        self.late_max = 0

    def next_us(self):
        """Time of the next edge (us from start), or -1 when all are played."""
        if self.i < len(self.edges):
            return self.edges[self.i][0]
        return -1

    def play_due(self, now_us):
        """Apply every edge due by now_us; returns how many were applied."""
        n = 0
        edges = self.edges
        while self.i < len(edges) and edges[self.i][0] <= now_us:
            t, idx, pressed = edges[self.i]
            self.pins[idx].value(0 if pressed else 1)
            late = now_us - t
            if late > self.late_max:
                self.late_max = late
            self.i += 1
            n += 1
        return n
