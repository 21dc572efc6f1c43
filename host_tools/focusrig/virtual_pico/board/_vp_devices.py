"""Simulated devices around the virtual Pico: button contacts (a stimulus schedule),
the TF-Luna LiDAR on a UART, the stepper driver + lens (with its home switch), and the
trace writer that records every pin change for the host's VCD.
"""

import struct

from _vp_kernel import K, SIG_LENS_POS, SIG_DRIVER_FAULT

TRACE_REC = "<qHi"          # t_ns, signal, value
TRACE_REC_SIZE = 14


EDGE_REC = "<qBB"          # contact edge: t_ns, gpio, level (written by the host's runner)
EDGE_REC_SIZE = 10


class TraceWriter:
    """Binary trace records into a preallocated buffer; flushed outside IRQs."""

    def __init__(self, path, records=1024):
        self._f = open(path, "wb")
        self._buf = bytearray(records * TRACE_REC_SIZE)
        self._cap = records
        self._n = 0
        self.dropped = 0

    def record(self, t_ns, sig, value):
        if self._n >= self._cap:
            if K.in_irq:
                self.dropped += 1
                return
            self.flush()
        struct.pack_into(TRACE_REC, self._buf, self._n * TRACE_REC_SIZE, t_ns, sig, value)
        self._n += 1
        if self._n >= (self._cap >> 1) and not K.in_irq:
            self.flush()

    def flush(self):
        if self._n:
            self._f.write(memoryview(self._buf)[: self._n * TRACE_REC_SIZE])
            self._n = 0

    def close(self):
        self.flush()
        self._f.close()


class Contacts:
    """Plays a schedule of input edges onto the input pins, streamed from a file of
    EDGE_REC records (t_ns, gpio, level) in time order, CHUNK records at a time: a long
    stimulus (thousands of chattering presses) costs the board a fixed buffer, not the
    firmware's heap. Edges at t = 0 are the levels at power-on (a button held at boot)."""

    CHUNK = 64

    def __init__(self, path):
        self._f = open(path, "rb") if path else None
        self._buf = bytearray(self.CHUNK * EDGE_REC_SIZE)
        self._n = 0             # records in the buffer
        self._i = 0             # next record in the buffer
        self._fill()
        self._next_t = self._rec(0)[0] if self._n else 1 << 62
        while self._i < self._n and self._rec(self._i)[0] <= 0:
            _, gpio, level = self._rec(self._i)
            K.gpio_ext[gpio] = level
            if K.trace_fn:
                K.trace_fn(0, gpio, level)
            self._advance()
        self._schedule()

    def _fill(self):
        if self._f is None:
            return
        got = self._f.readinto(self._buf)
        self._n = (got or 0) // EDGE_REC_SIZE
        self._i = 0
        if self._n == 0:
            self._f.close()
            self._f = None

    def _rec(self, i):
        return struct.unpack_from(EDGE_REC, self._buf, i * EDGE_REC_SIZE)

    def _advance(self):
        self._i += 1
        if self._i >= self._n:
            self._fill()
        self._next_t = self._rec(self._i)[0] if self._i < self._n else 1 << 62

    def _schedule(self):
        if self._i < self._n:
            K.at(self._rec(self._i)[0], self._next)

    def _next(self, _):
        while self._i < self._n and self._rec(self._i)[0] <= K.now:
            t, gpio, level = self._rec(self._i)
            K.drive_input(gpio, level, t)       # at its own time, even if handled late
            self._advance()
        self._schedule()

    def next_t(self):
        """Time of the next edge not yet applied (a large number: none)."""
        return self._next_t

    def apply_due(self, now, run_sms_to):
        """Apply every edge due by `now` that is still waiting, each after the state
        machines ran up to its time (Kernel.sync). Its queued event then finds nothing
        due and reschedules itself for the next."""
        while self._i < self._n and self._rec(self._i)[0] <= now:
            t, gpio, level = self._rec(self._i)
            run_sms_to(t)
            K.drive_input(gpio, level, t)
            self._advance()


class Subject:
    """Subject distance in mm, piecewise linear over [[t_ms, mm], ...]; 0 = no return."""

    def __init__(self, points):
        self._p = [(int(t * 1000000), float(d)) for t, d in points] or [(0, 0.0)]

    def mm(self, t_ns):
        p = self._p
        if t_ns <= p[0][0]:
            return p[0][1]
        for i in range(1, len(p)):
            t1, d1 = p[i]
            if t_ns <= t1:
                t0, d0 = p[i - 1]
                if d0 == 0 or d1 == 0:
                    return d0 if t_ns < t1 else d1     # no return: no interpolation
                return d0 + (d1 - d0) * (t_ns - t0) / (t1 - t0)
        return p[-1][1]


class TFLuna:
    """Benewake TF-Luna on a UART: a 9-byte frame every 1/rate s.

    Frame: 0x59 0x59 Dist_L Dist_H Amp_L Amp_H Temp_L Temp_H Checksum (sum of the first
    eight bytes, low 8 bits). Distance in cm, or in mm after the output-format command
    5A 05 05 06 cs, which the sensor answers with 5A 05 05 06 cs (ID_OUTPUT_FORMAT). No
    return: distance 0, amplitude 0. Bytes arrive one per 10 bit times; the UART collects
    them lazily when the firmware looks. The reading is the average over the last frame
    period, modelled as the subject distance half a period before the frame.
    """

    def __init__(self, subject, rate_hz=100, first_ms=3, noise_cm=0, amp=1200, cm_only=False):
        self.subject = subject
        self.cm_only = cm_only          # an older sensor that ignores the format command
        self.period_ns = 1000000000 // rate_hz
        self.noise_cm = noise_cm
        self.amp = amp
        self.uart = None
        self.frames = 0
        self.unit_mm = False
        self._reply = None              # command reply to send before the next frame
        self._out = bytearray(32)       # bytes on the wire now, arriving from _t_out
        self._n_out = 0
        self._sent = 0
        self._t_out = 0
        self._byte_ns = 0
        self._rx = bytearray(0)
        K.at(first_ms * 1000000, self._tick)

    def attach(self, uart):
        self.uart = uart
        self._byte_ns = 10 * 1000000000 // uart.baudrate    # 8N1: 10 bits a byte

    def receive(self, data):
        """Bytes from the firmware: commands 5A LEN ID payload checksum."""
        self._rx += data
        while len(self._rx) >= 4:
            if self._rx[0] != 0x5A:
                self._rx = self._rx[1:]
                continue
            n = self._rx[1]
            if n < 4 or n > 32:
                self._rx = self._rx[1:]
                continue
            if len(self._rx) < n:
                return
            cmd = self._rx[:n]
            self._rx = self._rx[n:]
            if cmd[2] == 0x05 and n == 5 and not self.cm_only:    # ID_OUTPUT_FORMAT
                if cmd[3] in (0x01, 0x06):
                    self.unit_mm = cmd[3] == 0x06
                fmt = 0x06 if self.unit_mm else 0x01
                self._reply = bytes((0x5A, 5, 5, fmt, (0x5A + 5 + 5 + fmt) & 0xFF))

    def _tick(self, _):
        K.at(K.now + self.period_ns, self._tick)
        if self.uart is None:
            return
        if self._sent < self._n_out:
            self.pump(self.uart)        # an unread earlier burst: deliver what arrived
        mm = self.subject.mm(K.now - self.period_ns // 2)
        out = self._out
        n = 0
        if self._reply is not None:
            for b in self._reply:
                out[n] = b
                n += 1
            self._reply = None
        if mm <= 0:
            dist, amp = 0, 0
        else:
            if self.unit_mm:
                dist = int(mm + 0.5)
                if self.noise_cm:
                    dist += K.rand(20 * self.noise_cm + 1) - 10 * self.noise_cm
            else:
                dist = int(mm / 10 + 0.5)
                if self.noise_cm:
                    dist += K.rand(2 * self.noise_cm + 1) - self.noise_cm
            amp = self.amp
        temp = 40 * 8 + 256 * 8   # 40 C as the sensor encodes it (/8 - 256)
        frame = (0x59, 0x59, dist & 0xFF, dist >> 8, amp & 0xFF, amp >> 8,
                 temp & 0xFF, (temp >> 8) & 0xFF)
        cs = 0
        for b in frame:
            out[n] = b
            n += 1
            cs += b
        out[n] = cs & 0xFF
        n += 1
        self.frames += 1
        self._n_out = n
        self._sent = 0
        self._t_out = K.now
        K.at(K.now + n * self._byte_ns, self._frame_done)
        # the UART's receive interrupts (the CPU model's cost, _vp_cpu.UART_RX_IRQ): a
        # PL011 raises one at its FIFO's trigger level, every 4 bytes on rp2, and one at
        # the receive timeout, 32 bit times after the last byte, for the rest
        for k in range(4, n + 1, 4):
            K.at(K.now + k * self._byte_ns, K.uart_irq)
        if n % 4:
            K.at(K.now + n * self._byte_ns + self._byte_ns * 32 // 10, K.uart_irq)

    def pump(self, uart):
        """Move the bytes that have arrived by now into the UART's receive buffer."""
        if self._sent >= self._n_out:
            return
        n = (K.now - self._t_out) // self._byte_ns
        if n > self._n_out:
            n = self._n_out
        out = self._out
        while self._sent < n:
            uart._rx_byte(out[self._sent])
            self._sent += 1

    def _frame_done(self, _):
        K.wake = True


HOME_REACH_NS = 2000000    # the lens polls when the switch is this close at its step rate
HOME_POLL_NS = 5000        # and how often (the kernel then runs the PIO that often)


class Lens:
    """Stepper driver + motor + lens focus ring. Counts a step on every STEP rising edge
    while the driver is enabled and awake; records timing violations of the driver's
    minimum STEP high/low and DIR setup; drives the home switch at `home_pos`."""

    def __init__(self, step, dir_, en, en_active, min_high_ns, min_low_ns, setup_ns,
                 wake_ns=0, home_gpio=-1, home_pos=None, home_active=0, start_pos=0):
        self.pos = start_pos
        self.steps = 0
        self.faults = 0
        self._step, self._dir, self._en = step, dir_, en
        self._en_active = en_active
        self.min_high_ns, self.min_low_ns, self.setup_ns = min_high_ns, min_low_ns, setup_ns
        self.wake_ns = wake_ns
        self._t_rise = -1
        self._t_fall = -1
        self._t_dir = -1
        self._t_en = -1
        self._dir_level = 0
        self.enabled = False
        self.shortest_high_ns = -1
        self.shortest_setup_ns = -1
        self.home_gpio = home_gpio
        self.home_pos = home_pos
        self.home_active = home_active
        self._polling = False
        self._step_dt = 0          # ns between the last two STEP rises
        K.watch(step, self._on_step)
        K.watch(dir_, self._on_dir)
        K.watch(en, self._on_en)
        if K.trace_fn:
            K.trace_fn(0, SIG_LENS_POS, self.pos)
        if home_gpio >= 0:
            self._update_home(0)

    def _fault(self, t_ns):
        self.faults += 1
        if K.trace_fn:
            K.trace_fn(t_ns, SIG_DRIVER_FAULT, self.faults)

    def _on_en(self, gpio, level, t_ns):
        self.enabled = level == self._en_active
        if self.enabled:
            self._t_en = t_ns
        return False

    def _on_dir(self, gpio, level, t_ns):
        self._dir_level = level
        self._t_dir = t_ns
        return False

    def _on_step(self, gpio, level, t_ns):
        if not level:
            self._t_fall = t_ns
            if self._t_rise >= 0:
                hi = t_ns - self._t_rise
                if self.shortest_high_ns < 0 or hi < self.shortest_high_ns:
                    self.shortest_high_ns = hi
                if hi < self.min_high_ns:
                    self._fault(t_ns)
            return False
        if self._t_rise >= 0:
            self._step_dt = t_ns - self._t_rise
        self._t_rise = t_ns
        if not self.enabled or t_ns - self._t_en < self.wake_ns:
            self._fault(t_ns)          # a step the driver does not take
            return False
        if self._t_fall >= 0 and t_ns - self._t_fall < self.min_low_ns:
            self._fault(t_ns)
        if self._t_dir >= 0:
            su = t_ns - self._t_dir
            if self.shortest_setup_ns < 0 or su < self.shortest_setup_ns:
                if self._t_dir > 0:
                    self.shortest_setup_ns = su
            if su < self.setup_ns:
                self._fault(t_ns)
        self.pos += 1 if self._dir_level else -1
        self.steps += 1
        if K.trace_fn:
            K.trace_fn(t_ns, SIG_LENS_POS, self.pos)
        if self.home_gpio >= 0:
            if not self._polling and self._near_home():
                self._polling = True
                K.at(t_ns + HOME_POLL_NS, self._poll)
            return self._update_home(t_ns)
        return False

    def _near_home(self):
        """Stepping, and the switch within HOME_REACH_NS at the current step rate."""
        if self.home_pos is None or not self.enabled:
            return False
        dt = self._step_dt if self._step_dt > 20000 else 20000
        if K.now - self._t_rise > 4 * dt:
            return False                # the motor has stopped
        return abs(self.pos - self.home_pos) * dt <= HOME_REACH_NS + dt

    def _poll(self, arg):
        """Near the switch: an event every HOME_POLL_NS. The kernel runs the state
        machines only up to its next event, so without these a switch edge that the PIO's
        steps cause would be found (and its IRQ raised) only when the firmware next looks
        at hardware: measured up to 1 ms after the contact while the main loop plans."""
        if self._near_home():
            K.at(K.now + HOME_POLL_NS, self._poll)
        else:
            self._polling = False

    def _update_home(self, t_ns):
        closed = self.home_pos is not None and self.pos <= self.home_pos
        level = self.home_active if closed else 1 - self.home_active
        if K.gpio_ext.get(self.home_gpio) != level:
            K.drive_input(self.home_gpio, level, t_ns)
            return True
        return False


class SerialScript:
    """The host side of a scenario run's USB serial: [[t_ns, hex bytes, gap_ns], ...]
    typed into the board's USB CDC model at their virtual times, all at once (a
    program) or one byte every gap_ns (a person at a terminal)."""

    def __init__(self, cdc, entries):
        self.cdc = cdc
        # one entry in the event queue at a time: a long script (a flood, an hour's
        # commands) costs the board's heap the same all run long
        self.entries = sorted(entries, key=lambda e: e[0])
        self.next = 0
        if self.entries:
            K.at(self.entries[0][0], self._due)

    def _due(self, _):
        e = self.entries[self.next]
        self.next += 1
        if self.next < len(self.entries):
            K.at(self.entries[self.next][0], self._due)
        self._send([bytes.fromhex(e[1]), 0, e[2]])

    def _send(self, st):
        data, i, gap = st
        if gap <= 0:
            self.cdc.host_send(data[i:])
            return
        self.cdc.host_send(data[i:i + 1])
        if i + 1 < len(data):
            st[1] = i + 1
            K.at(K.now + gap, self._send, st)