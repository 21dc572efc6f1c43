"""Virtual Pico kernel: the virtual clock, the event queue and the simulated GPIO bank.

Runs inside the MicroPython unix port, next to the unmodified firmware. Owns:
- virtual time (integer nanoseconds since power-on) and how `time.ticks_*` derive from it;
- a time-ordered queue of hardware events (button edges, UART bytes, timer expiries);
- GPIO levels: what outside devices drive onto inputs, what the firmware or a PIO state
  machine drives onto outputs, and the trace record of every change;
- hard/soft IRQ dispatch with a modelled entry latency, hard handlers under heap_lock();
- idling: advancing time while the firmware waits (asyncio or time.sleep);
- the CPU: firmware bytecodes cost virtual time (the `_vp_cpu` model, counted in C by the
  project's interpreter build), and due IRQs run *between any two bytecodes* of the main
  program through that counter's alarm, not only while the firmware sleeps.

Other board modules (machine.py, rp2.py, _vp_devices.py) talk to the single instance `K`.
This file is MicroPython code; it also imports on CPython for unit tests.
"""

import sys

try:
    import micropython
except ImportError:  # CPython unit tests
    micropython = None

try:
    from heapq import heappush, heappop
except ImportError:
    from _vp_heapq import heappush, heappop  # type: ignore

try:
    import _vphook      # the project's interpreter build (virtual_pico/cmod)
except ImportError:     # CPython unit tests
    _vphook = None

MASK30 = (1 << 30) - 1
NS_PER_US = 1000
NS_PER_MS = 1000000

# trace signal ids above the GPIO range
SIG_LENS_POS = 64
SIG_SUBJECT_MM = 65
SIG_EXPOSURE = 66
SIG_DRIVER_FAULT = 67


class IrqLine:
    """One pin's interrupt configuration and pending state."""

    def __init__(self, handler, trigger, hard, owner):
        self.handler = handler
        self.trigger = trigger
        self.hard = hard
        self.owner = owner      # the machine.Pin passed to the handler
        self.pending = False
        self.flags = 0          # triggers latched since last dispatch
        self.cur_flags = 0      # what flags() returns inside the handler


class Kernel:
    def __init__(self):
        self.now = 0                    # virtual ns since power-on
        self.us_start = 0               # ticks_us() value at power-on
        self.ms_start = 0               # ticks_ms() value at power-on
        self.end_ns = -1                # stop the run here (-1: never)
        self.paced = False              # True: follow the wall clock (emulate)
        self._q = []                    # heap of [t_ns, seq, fn, arg]
        self._seq = 0
        self.gpio_ext = {}              # gpio -> level driven from outside (buttons, switch)
        self.gpio_out = {}              # gpio -> level driven by firmware / PIO
        self.gpio_is_out = {}           # gpio -> True when configured as output
        self.gpio_pull = {}             # gpio -> 1 pull-up, 0 pull-down, None
        self.irqs = {}                  # gpio -> IrqLine
        self._bank_queued = False       # the GPIO bank's interrupt is on its way (_bank)
        self.irq_latency_ns = 22000     # hard IRQ entry latency (~20-25 us measured on a Pico)
        self.irq_jitter_ns = 3000       # uniform extra 0..jitter, from a seeded LCG
        self.soft_latency_ns = 100000   # scheduled (soft) callback latency
        self._lcg = 12345
        self.sms = []                   # active PIO state machines (engines with run_until)
        self.contacts = None            # the button contacts' edge source (see sync())
        self.pin_watchers = {}          # gpio -> list of fn(gpio, level, t_ns) -> bool(stop)
        self.wake = False               # set when something the firmware may wait on happened
        self.trace_fn = None            # fn(t_ns, sig, value) or None
        self.in_irq = False
        self.preempt_ok = False         # the running handler is PendSV-priority (soft timer)
        self._held = False              # vphook.hold is on (a handler runs)
        self.heap_locked = False        # a hard handler runs (see hw())
        self.irq_count = 0
        self.irq_entry = 0              # cycles of C around a hard handler (_vp_cpu.IRQ_ENTRY)
        self.irq_entry_timer = 0        # a soft timer's (_vp_cpu.IRQ_ENTRY_TIMER)
        self.uart_rx_irq = 0            # a UART receive interrupt's C (_vp_cpu.UART_RX_IRQ)
        self.irq_alloc_errors = 0
        self.idle_hooks = []            # fn(kernel) called while idling (paced mode I/O)
        self.on_end = []                # fn() called once when the run ends
        self.uarts = {}                 # id -> machine.UART
        self.uart_devices = {}          # id -> simulated device (attach/receive)
        self.watchdogs = []
        self.probing = False            # allocation probe window (see _vp_boot)
        self.sim_alloc = 0
        self.sim_mem = 0                # the board's own heap at power-on (see gc.py)
        self.heap_reserved = 0          # the block that sizes the firmware's heap as a Pico's
        self.probe_result = None
        self.ns_per_cycle = 8           # RP2040 at 125 MHz (machine.freq())
        self.cpu_ns = 0                 # firmware CPU time charged so far (stats)
        self.irq_enabled = True         # machine.disable_irq() / enable_irq()
        self._held_irqs = []            # (fn, arg): hard IRQs that came due while disabled
        self._cpu = False               # the CPU model is running (start_cpu)
        self.cpu_armed = False          # start it at the firmware's first clock read

    # ---- clock ------------------------------------------------------------------------
    def seed(self, s):
        self._lcg = (s * 2654435761 + 1) & 0x7FFFFFFF

    def rand(self, n):
        """Deterministic pseudo-random int in [0, n)."""
        self._lcg = (self._lcg * 1103515245 + 12345) & 0x7FFFFFFF
        return (self._lcg >> 8) % n if n > 0 else 0

    def clock_read(self):
        """The firmware reads the clock (time.ticks_*): the first read starts the CPU
        model (see start_cpu)."""
        if self.cpu_armed:
            self.start_cpu()

    def ticks_us(self):
        return (self.us_start + self.now // NS_PER_US) & MASK30

    def ticks_ms(self):
        # Wrapped at 2**30 like the board's; asyncio's C half reads it too (_vp_boot)
        return (self.ms_start + self.now // NS_PER_MS) & MASK30

    # ---- board code called from a hard IRQ handler ------------------------------------
    # On a Pico, ticks_us(), Pin.value() or sm.put() are C functions that allocate
    # nothing. Here they are Python on 32-bit objects, and virtual nanoseconds are big
    # ints: the board's own arithmetic must not count as the firmware's allocation. Board
    # entry points the firmware may call in a hard IRQ bracket their work with
    #     w = K.hw(); ...; K.hw_done(w)
    # which lifts the heap lock for the board's code only.
    def hw(self):
        """Enter board code: the clock catches up with the CPU time spent, and the heap
        lock of a hard handler is lifted for the board's own work."""
        if self.heap_locked:
            self.heap_locked = False
            micropython.heap_unlock()
            self.catch_up()
            return True
        self.catch_up()
        return False

    def hw_done(self, was_locked):
        if was_locked:
            micropython.heap_lock()
            self.heap_locked = True

    # ---- events -----------------------------------------------------------------------
    def at(self, t_ns, fn, arg=None):
        """Schedule fn(arg) at virtual time t_ns (never earlier than now)."""
        if t_ns < self.now:
            t_ns = self.now
        self._seq += 1
        heappush(self._q, [t_ns, self._seq, fn, arg])

    def next_event_ns(self):
        return self._q[0][0] if self._q else -1

    # ---- the CPU: firmware bytecodes take time ------------------------------------------
    def start_cpu(self):
        """From now on firmware bytecodes cost time and due events interrupt them. Called
        at the firmware's first clock read (time.ticks_*): scenario time 0 is then the
        firmware's uptime 0 on both targets (the rp2040 target's time origin is the
        firmware configuring its outputs, just before it starts its clock); the boot's
        imports before it are not charged."""
        self.cpu_armed = False
        if _vphook is None:
            return
        _vphook.take()
        self._alarm_cb = self._on_alarm          # bound once (runs with the heap locked)
        _vphook.set_callback(self._alarm_cb)
        self._cpu = True
        self._arm()

    def catch_up(self):
        """Charge the CPU cycles the firmware has run since the last look."""
        if self._cpu:
            c = _vphook.take()
            if c:
                dt = c * self.ns_per_cycle
                self.now += dt
                self.cpu_ns += dt

    def _arm(self):
        """Set the bytecode counter's alarm at the next event (or the end of the run)."""
        if not self._cpu:
            return
        nxt = self._q[0][0] if self._q else -1
        if self.end_ns >= 0 and (nxt < 0 or self.end_ns < nxt):
            nxt = self.end_ns
        if nxt < 0:
            _vphook.set_alarm(-1)
            return
        c = (nxt - self.now + self.ns_per_cycle - 1) // self.ns_per_cycle
        if c < 1:
            c = 1       # already due (e.g. held back by a running handler): next bytecode
        _vphook.set_alarm(c if c < 0x3FFFFFFF else 0x3FFFFFFF)

    def _on_alarm(self):
        """The counter reached the next event while the firmware ran: that event
        happens now, between two of its bytecodes (an IRQ preempts the main program)."""
        w = self.hw()
        self.catch_up()
        # hard IRQs do not nest (they run after the handler), except that a soft timer's
        # callback runs in PendSV, the lowest priority: a GPIO interrupt preempts it
        if not self.in_irq or self.preempt_ok:
            self.advance_to(self.now)
        self._arm()
        self.hw_done(w)

    def _run_sms(self, t_ns):
        """Run every active state machine up to t_ns; returns the time actually reached
        (earlier when a state machine produced a change someone asked to stop on)."""
        for sm in self.sms:
            r = sm.run_until(t_ns)
            if r < t_ns:
                t_ns = r
        return t_ns

    def advance_to(self, target):
        """Process every event up to and including `target`, then set now = target.
        Returns early (with now < target) when an IRQ ran or a device woke the firmware."""
        self.catch_up()
        if target < self.now:
            target = self.now
        self.wake = False
        while True:
            tq = self._q[0][0] if self._q else target + 1
            t = tq if tq <= target else target
            if self.end_ns >= 0 and t > self.end_ns:
                t = self.end_ns
            t = self._run_sms(t)
            if self.paced and t > self.now:
                real = self.real_ns()
                if t > real:
                    self._real_sleep_us((t - real) // NS_PER_US)
            if t > self.now:
                self.now = t
            if self.end_ns >= 0 and self.now >= self.end_ns:
                self.finish()
            if self._q and self._q[0][0] <= self.now:
                ev = heappop(self._q)
                ev[2](ev[3])
                self.catch_up()             # an IRQ handler's own bytecodes took time
                if self.wake:
                    self._arm()
                    return False
                continue
            if self.now >= target:
                self._arm()
                return True
            if self.wake:
                self._arm()
                return False

    def idle(self, dt_ms):
        """The firmware has nothing to do for dt_ms milliseconds (-1: until an event).
        Called from asyncio's IOQueue.wait_io_event and machine.idle(). Returns when the
        time is up or something happened that the firmware may be waiting for."""
        if dt_ms < 0:
            target = 1 << 62
        else:
            # asyncio counts in whole ticks_ms: wake exactly on the millisecond boundary
            target = (self.now // NS_PER_MS + dt_ms) * NS_PER_MS
            if target < self.now:
                target = self.now
        if self.paced:
            return self._idle_paced(target)
        if target == self.now:
            return self.advance_to(target)
        return self.advance_to(target)

    def _idle_paced(self, target):
        """Emulate mode: virtual time follows the wall clock; stdin and the idle hooks
        (control channel) are polled while waiting."""
        while True:
            real = self.real_ns()
            nxt = self._q[0][0] if self._q else target
            until = nxt if nxt < target else target
            if until > real:
                wait_ms = (until - real + NS_PER_MS - 1) // NS_PER_MS
                if wait_ms > 20:
                    wait_ms = 20
                if self._wait_real(wait_ms):
                    self.advance_to(max(self.now, min(self.real_ns(), target)))
                    return False
                for h in self.idle_hooks:
                    h(self)
            step_to = min(self.real_ns(), target)
            if step_to < self.now:
                step_to = self.now
            if not self.advance_to(step_to):
                return False
            if self.now >= target:
                return True

    def real_ns(self):
        return self._real_ticks_ns() - self._real_t0 + self._real_base

    def _wait_real(self, ms):
        """Wait up to ms of wall time for stdin input; True when input is waiting."""
        return bool(self._poller.poll(ms))

    def start_paced(self):
        import select
        import time as shim   # the board's time module keeps the wall-clock functions
        self._real_ticks_ns = shim._real_time_ns
        self._real_sleep_us = shim._real_sleep_us
        self._real_t0 = shim._real_time_ns()
        self._real_base = self.now
        self._poller = select.poll()
        self._poller.register(sys.stdin, select.POLLIN)
        self.paced = True

    def sync(self):
        """Bring the clock (CPU time spent) and the state machines up to `now` before
        the firmware looks at hardware.

        Events can be overdue here: they wait while a hard IRQ handler runs (handlers do
        not nest) or the board's own code does, and the CPU time charged at this call can
        pass them. A contact's edge must not wait for the state machines, though: on a
        Pico a PIO samples its pins every cycle, whatever the CPU does. So the overdue
        edges are applied first, in order, each after the state machines ran up to its
        time (found by the soak: an armed shutter machine that ran past an S2 closure
        it had not been shown fired ~240 us late, after the handler had looked)."""
        self.catch_up()
        if self.sms:
            c = self.contacts
            if c is not None and c.next_t() <= self.now:
                c.apply_due(self.now, self._run_sms_to)
            self._run_sms(self.now)

    def _run_sms_to(self, t_ns):
        """Run the state machines all the way to t_ns (through any stops they make)."""
        while self._run_sms(t_ns) < t_ns:
            pass

    def c_work(self, cycles):
        """C work of the port that the board does in Python (asyncio's poll of its
        streams: _vp_cpu.WAIT_IO), run by the main program: the CPU is busy for it, and
        interrupts due meanwhile run at their own time, the work going on after them.
        (Charged in one piece it held a press's IRQ ~86 us, to its end.)"""
        if not self._cpu or cycles <= 0:
            return
        self.catch_up()
        left = cycles * self.ns_per_cycle
        while left > 0:
            nxt = self._q[0][0] if self._q else -1
            if nxt < 0 or nxt >= self.now + left:
                self.cpu_ns += left
                self.advance_to(self.now + left)
                return
            step = nxt - self.now if nxt > self.now else 0
            self.cpu_ns += step
            left -= step
            self.advance_to(self.now + step)    # the events due then (handlers run)

    def uart_irq(self, _arg=None):
        """A UART receive interrupt (C only: the ring buffer, the CPU woken): the CPU is
        busy that long, whatever runs that much later. One event per interrupt, at its
        own time: charged for a whole frame at once, 100 us of them held a press's IRQ."""
        if self.uart_rx_irq and _vphook is not None:
            _vphook.c_work(self.uart_rx_irq)

    def sleep_ns(self, dt):
        """Busy/blocking sleep: time passes, IRQs run, the caller does not wake early."""
        self.catch_up()
        target = self.now + dt
        while not self.advance_to(target):
            pass

    def finish(self):
        hooks = self.on_end
        self.on_end = []
        for fn in hooks:
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - the board's own failure (a MemoryError
                # writing the report): raised from here into the firmware, its own
                # handlers took it and the run ended "exit 0, no output"
                import sys
                sys.print_exception(e, sys.stderr)
                raise SystemExit(3)
        raise SystemExit(0)

    # ---- GPIO -------------------------------------------------------------------------
    def level(self, gpio):
        """The level a read of `gpio` sees now."""
        if self.gpio_is_out.get(gpio):
            return self.gpio_out.get(gpio, 0)
        ext = self.gpio_ext.get(gpio)
        if ext is not None:
            return ext
        pull = self.gpio_pull.get(gpio)
        return 1 if pull == 1 else 0

    def drive_output(self, gpio, level, t_ns=-1):
        """Firmware or PIO drives an output pin. Returns True when a watcher asks the
        caller (a state machine) to stop and let the kernel catch up."""
        if t_ns < 0:
            t_ns = self.now
        old = self.gpio_out.get(gpio, -1)
        self.gpio_out[gpio] = level
        if old == level:
            return False
        if self.trace_fn:
            self.trace_fn(t_ns, gpio, level)
        stop = False
        ws = self.pin_watchers.get(gpio)
        if ws:
            for w in ws:
                if w(gpio, level, t_ns):
                    stop = True
        return stop

    def drive_input(self, gpio, level, t_ns=-1):
        """An outside device (button contact, switch) drives an input pin, now or at
        t_ns (a device reacting to a state machine that ran ahead of `now`)."""
        if t_ns < 0:
            t_ns = self.now
        prev = self.level(gpio)
        self.gpio_ext[gpio] = level
        if self.trace_fn:
            self.trace_fn(t_ns, gpio, level)
        cur = self.level(gpio)
        if cur != prev:
            self._edge(gpio, cur, t_ns)

    def watch(self, gpio, fn):
        self.pin_watchers.setdefault(gpio, []).append(fn)

    # ---- interrupts -------------------------------------------------------------------
    def set_irq(self, gpio, handler, trigger, hard, owner):
        if handler is None:
            self.irqs.pop(gpio, None)
            return None
        line = IrqLine(handler, trigger, hard, owner)
        self.irqs[gpio] = line
        return line

    def _edge(self, gpio, level, t_ns):
        line = self.irqs.get(gpio)
        if line is None:
            return
        flag = 8 if level else 4   # machine.Pin.IRQ_RISING = 8, IRQ_FALLING = 4 (rp2)
        if not (line.trigger & flag):
            return
        line.flags |= flag
        if line.pending:
            return                 # coalesced into the IRQ already on its way
        line.pending = True
        if not line.hard:
            self.at(t_ns + self.soft_latency_ns, self._dispatch, line)
        elif not self._bank_queued:
            self._bank_queued = True
            self.at(t_ns + self.hard_entry_ns(), self._bank, None)

    def hard_entry_ns(self):
        """A hard interrupt's entry latency: the measured mean plus seeded jitter."""
        return self.irq_latency_ns + self.rand(self.irq_jitter_ns + 1)

    def _bank(self, _arg):
        """IO_IRQ_BANK0: one interrupt for every GPIO. Its handler reads which pins are
        pending and runs their handlers in GPIO order, so of two contacts closing
        together the lower GPIO's handler runs (and stamps its edge) first
        (ports/rp2/machine_pin.c:97-114 gpio_irq). An edge that comes while the handlers
        run raises the interrupt again."""
        if not self.irq_enabled:
            self.hold(self._bank, None)
            return
        self._bank_queued = False
        for g in sorted(self.irqs):
            line = self.irqs.get(g)
            if line is not None and line.hard and line.pending:
                self._dispatch(line)

    def _dispatch(self, line):
        if not self.irq_enabled and line.hard:
            self.hold(self._dispatch, line)
            return
        line.pending = False
        line.cur_flags = line.flags
        line.flags = 0
        self.run_handler(line.handler, line.owner, line.hard)

    def disable_irq(self):
        was = self.irq_enabled
        self.irq_enabled = False
        return 1 if was else 0

    def enable_irq(self, state):
        """machine.enable_irq(state): IRQs that came due meanwhile run now."""
        self.irq_enabled = bool(state)
        if self.irq_enabled and self._held_irqs:
            held = self._held_irqs
            self._held_irqs = []
            for fn, arg in held:
                fn(arg)

    def hold(self, fn, arg):
        """An interrupt came due while disabled: fn(arg) runs at enable_irq()."""
        self._held_irqs.append((fn, arg))

    def run_handler(self, handler, arg, hard, preemptible=False):
        """Run an interrupt handler the way the board would (hard: heap locked). A soft
        one is scheduled (micropython.schedule, as rp2's mp_sched_schedule): it runs in
        the main program's context at its next bytecode, where hard IRQs preempt it; run
        here (as a handler) it held every hard IRQ until it returned.
        preemptible: a hard handler at PendSV priority (a soft timer's: rp2 runs
        soft_timer_handler from PendSV at the lowest priority, ports/rp2/mphalport.c:250-254
        and pendsv.c:50), which the other interrupts (GPIO) preempt between two of its
        bytecodes; any other handler holds them until it returns. Until December 2026
        every handler held them, and a press during the motion's refill IRQ was stamped
        that IRQ's length late."""
        if not hard and micropython is not None and hasattr(micropython, "schedule"):
            try:
                micropython.schedule(handler, arg)
            except RuntimeError:
                pass                # "schedule queue full": lost, as on a Pico
            self.wake = True
            return
        self.sync()
        self.irq_count += 1
        if self.irq_entry and _vphook is not None:
            # the port's C around the handler (_vp_cpu.IRQ_ENTRY*): a PendSV one is a
            # soft timer's
            _vphook.c_work(self.irq_entry_timer if preemptible else self.irq_entry)
        was_irq = self.in_irq
        was_ok = self.preempt_ok
        was_held = self._held
        self.in_irq = True
        self.preempt_ok = preemptible
        nest_was = False
        if _vphook is not None:
            _vphook.hold(True)      # a collection in progress waits for the handler
            self._held = True
            if preemptible:
                nest_was = _vphook.preemptible(True)
                self._arm()         # the next event may land inside the handler
        err = None
        if hard and micropython is not None:
            micropython.heap_lock()
            self.heap_locked = True
            try:
                handler(arg)
            except MemoryError:
                err = 1
            except Exception as e:  # noqa: BLE001 - reported after unlock
                err = e
            if self.heap_locked:
                self.heap_locked = False
                micropython.heap_unlock()
        else:
            try:
                handler(arg)
            except Exception as e:  # noqa: BLE001
                err = e
        self.in_irq = was_irq
        self.preempt_ok = was_ok
        if _vphook is not None:
            if preemptible:
                _vphook.preemptible(nest_was)
            _vphook.hold(was_held)
            self._held = was_held
        self.wake = True
        if err is not None:
            self.irq_failed(err, hard)

    def irq_failed(self, err, hard):
        if err == 1:
            self.irq_alloc_errors += 1
            msg = "virtual-pico: hard IRQ handler allocated heap memory (MemoryError: heap is locked)"
        else:
            msg = "virtual-pico: IRQ handler raised " + repr(err)
        sys.stderr.write(msg + "\n")
        # An exception in an IRQ handler disables nothing on the board but is a firmware
        # bug; the virtual Pico stops the run so tests see it.
        self.end_ns = self.now
        self.finish()


K = Kernel()
