"""Button and switch inputs: hard-IRQ edge timestamps, eager debouncing, a glitch filter,
and the hand-off to the main loop through a preallocated ring buffer.

Debouncing is *eager*: from a settled line (no edge for `debounce_ms`) the first edge
counts at once, in the interrupt handler, with its timestamp; the edges that follow are
chatter and only push the end of the quiet window out. When the window closes the main
loop compares the line with the accepted state and accepts the difference (a short tap or
noise spike). With `glitch_us` > 0 an edge is only accepted once the line has stayed put
for that long (checked by the main loop), so spikes shorter than that never count.

A button held at boot is ignored until it has been released and pressed again.

The interrupt handler allocates nothing: it reads the clock and the pin, updates
preallocated arrays and writes (time, input, state) into the ring.
"""

from micropython import const
from array import array
import time
import machine

RING = const(64)            # events; a power of two
_MASK = const(63)
_FALL = const(4)            # machine.Pin.IRQ_FALLING
_RISE = const(8)            # machine.Pin.IRQ_RISING


def _no_hook(idx, state, t):
    pass


class _Line:
    """One input's interrupt handler: hands (index, time, edge flags) to the owner."""

    def __init__(self, owner, idx, pin):
        self.owner = owner
        self.idx = idx
        self.cb = self.isr          # bound once: creating it in the IRQ would allocate
        pin.irq(self.cb, machine.Pin.IRQ_FALLING | machine.Pin.IRQ_RISING, hard=True)

    def isr(self, pin):
        self.owner.edge(self.idx, time.ticks_us(), pin.irq().flags())


class Inputs:
    def __init__(self, names, pins, actives, debounce_ms, glitch_us, flag, switches=()):
        n = len(pins)
        self.names = names
        self.n = n
        self.flag = flag                    # asyncio.ThreadSafeFlag: wakes the main loop
        self.state = bytearray(n)           # accepted logical state, 1 = pressed
        self.held_at_boot = bytearray(n)
        self.last_edge = array("i", [0] * n)
        self.dirty = bytearray(n)           # edge seen since the window was last checked
        self.pending = bytearray(n)         # glitch filter: transition waiting to be proven
        self.ring = array("i", [0] * (RING * 3))
        self.head = 0                       # written by the IRQ
        self.tail = 0                       # read by the main loop
        self.dropped = 0
        self.edges = 0
        self.isr_hook = _no_hook            # fn(idx, state, t_us) run in the IRQ on accept
        self.configure(debounce_ms, glitch_us)
        self.lines = []
        self.pins = pins
        self.actives = actives
        for i in range(n):
            pressed = 1 if pins[i].value() == actives[i] else 0
            self.state[i] = pressed
            # a button held at boot is ignored until released; a switch (the lens
            # end stop) is simply in its state
            self.held_at_boot[i] = pressed if i not in switches else 0
        for i in range(n):
            self.lines.append(_Line(self, i, pins[i]))

    def configure(self, debounce_ms, glitch_us):
        self.debounce_us = debounce_ms * 1000
        self.glitch_us = glitch_us

    def pressed(self, idx):
        return self.state[idx] == 1 and not self.held_at_boot[idx]

    # ---- interrupt side (hard IRQ: no allocation) --------------------------------------
    def edge(self, i, now, flags):
        """An edge on input i (hard IRQ). `flags` are the edge triggers latched since the
        last handler: they tell the direction even if the contact has bounced back by the
        time the handler runs (~20 us after the edge)."""
        self.edges += 1
        if flags == _FALL:
            new = 1 if self.actives[i] == 0 else 0
        elif flags == _RISE:
            new = 1 if self.actives[i] == 1 else 0
        else:
            new = -1        # both edges latched: the contact bounced within the IRQ latency
        if self.dirty[i]:
            need = self.glitch_us if self.pending[i] else self.debounce_us
            expired = time.ticks_diff(now, self.last_edge[i]) >= need
        else:
            expired = True
        if expired and not self.pending[i]:
            if new < 0:
                # a settled line that moved, moved away from its accepted state (the pin
                # may already read the old level again: do not sample it)
                new = 1 - self.state[i]
            elif self.dirty[i] and 1 - new != self.state[i]:
                # the quiet window closed before the main loop looked: the line had
                # settled opposite to this edge
                self._accept(i, 1 - new, now)
            if new != self.state[i]:
                if self.glitch_us:
                    self.pending[i] = 1
                else:
                    self._accept(i, new, now)
        self.last_edge[i] = now
        self.dirty[i] = 1
        self.flag.set()

    def _accept(self, i, st, t):
        self.state[i] = st
        h = self.head
        if ((h - self.tail) & 0x3FFFFFFF) >= RING:
            self.dropped += 1
        else:
            j = (h & _MASK) * 3
            self.ring[j] = t
            self.ring[j + 1] = i
            self.ring[j + 2] = st
            self.head = (h + 1) & 0x3FFFFFFF
        self.isr_hook(i, st, t)

    # ---- main-loop side ---------------------------------------------------------------
    def settle(self, now):
        """Close quiet windows that have expired. Returns ms until the next one closes
        (-1: none open)."""
        if not any(self.dirty):
            return -1       # the common pass: one C call, not a loop over every input
                            # (an edge after this look sets the flag: the next pass)
        wait = -1
        for i in range(self.n):
            if not self.dirty[i]:
                continue
            need = self.glitch_us if self.pending[i] else self.debounce_us
            st = machine.disable_irq()
            # pin first, then the clock, both with IRQs off: a level seen here is stamped
            # no earlier than it happened (the step's `now` can be older: an IRQ or the
            # contact itself can come between any two bytecodes)
            level = 1 if self.pins[i].value() == self.actives[i] else 0
            now = time.ticks_us()  # type: ignore  (a ticks value is an int)
            age = time.ticks_diff(now, self.last_edge[i])
            if age >= need:
                self.dirty[i] = 0
                self.pending[i] = 0
                if level != self.state[i]:
                    self._accept(i, level, now)
                    # an accepted transition opens a lock-out window of its own: the
                    # contact may only now be starting to bounce
                    self.dirty[i] = 1
                    self.last_edge[i] = now  # type: ignore
                machine.enable_irq(st)
                if self.dirty[i]:
                    ms = (self.debounce_us + 999) // 1000
                    wait = ms if wait < 0 or ms < wait else wait
            else:
                machine.enable_irq(st)
                ms = (need - age + 999) // 1000
                if wait < 0 or ms < wait:
                    wait = ms
        return wait

    def dispatch(self, fn):
        """Call fn(t_us, idx, state) for each event accepted since the last call, oldest
        first; a button held at boot is swallowed until its release. (Not a generator:
        the service loop asks every pass, and a generator is a heap object each time.)"""
        while self.tail != self.head:
            j = (self.tail & _MASK) * 3
            t, i, st = self.ring[j], self.ring[j + 1], self.ring[j + 2]
            self.tail = (self.tail + 1) & 0x3FFFFFFF
            if self.held_at_boot[i]:
                if st == 0:
                    self.held_at_boot[i] = 0
                continue
            fn(t, i, st)

    def events(self):
        """The accepted events as a list of (t_us, idx, state) (tests and tools)."""
        out = []
        self.dispatch(lambda t, i, st: out.append((t, i, st)))
        return out
