"""The virtual Pico's USB serial: rp2's USB CDC as the firmware sees it (MicroPython
v1.28.0; file:line below are in its source, tag v1.28.0).

While installed (the C hook in virtual_pico/cmod/vphook), sys.stdin, sys.stdout,
sys.stderr, their .buffer and print() read, write and poll through this object instead
of the interpreter's fds 0..2:

- RX: bytes reach the firmware as the host sends them, one at a time if typed, into a
  512-byte ring (ports/rp2/mphalport.c:56-61). A read of n bytes takes them one by one,
  each waiting in `mp_hal_stdin_rx_chr` until one is there (ports/rp2/mphalport.c:82-101,
  shared/runtime/sys_stdio_mphal.c:61-75, 137-142): it blocks in virtual time (IRQs and
  PIO go on) and so does `readline()` (py/stream.c unbuffered readline, one byte per
  read), which is why asyncio's StreamReader.readline() (extmod/asyncio/stream.py:55-64)
  stalls the whole event loop from a line's first byte to its newline. When the ring is
  full the host waits (the endpoint is not drained: shared/tinyusb/mp_usbd_cdc.c:75-93).
- Ctrl-C (0x03) clears the ring and raises KeyboardInterrupt in the running program
  (shared/tinyusb/mp_usbd_cdc.c:78-84).
- TX: a 256-byte FIFO (ports/rp2/tusb_config.h:84). poll() reports writable as soon as
  one byte is free, always when no host is connected (mp_usbd_cdc.c:62-67). A write
  takes what fits, waits 1 ms at a time for the host to make room and gives up 500 ms
  after the last progress, returning a short count (mp_usbd_cdc.c:97-142,
  ports/rp2/mphalport.h:36). With no host connected (DTR low) output is dropped at once.
  A reading host empties the FIFO at `drain_bytes_per_ms` (an assumption: full-speed
  bulk IN, about 1 MB/s; the real rate depends on the host's polling).

Not modelled: the text stream's "\\r" -> "\\n" on sys.stdin (sys_stdio_mphal.c:66-68),
the TX FIFO's overwrite-oldest while disconnected, USB enumeration and DTR edges.
"""

import struct
import sys

from _vp_kernel import K, NS_PER_MS

try:
    import _vphook
except ImportError:
    _vphook = None

RX_RING = 512               # ports/rp2/mphalport.c:56-57 MICROPY_HW_STDIN_BUFFER_LEN
TX_FIFO = 256               # ports/rp2/tusb_config.h:84 CFG_TUD_CDC_TX_BUFSIZE
TX_TIMEOUT_NS = 500 * NS_PER_MS   # ports/rp2/mphalport.h:36 MICROPY_HW_USB_CDC_TX_TIMEOUT
POLL_RD = 1
POLL_WR = 4
CTRL_C = 3


class UsbCdc:
    def __init__(self, host_connected=True, host_reading=True, drain_bytes_per_ms=1000,
                 paced=False):
        self.connected = host_connected
        self.reading = host_reading
        self.rate = drain_bytes_per_ms
        self.paced = paced                  # emulate: the host is the real fd 0 / fd 1
        self.rx = bytearray()
        self.host_pending = bytearray()     # sent by the host, waiting for ring space
        self.tx = bytearray()
        self.tx_t = 0                       # virtual time the FIFO was last drained to
        self.rx_bytes = 0
        self.tx_bytes = 0
        self.tx_packet_cycles = 0       # the CPU model's cost of a packet (_vp_boot sets it)
        self.dropped = 0                    # written with no host connected
        self.line_file = None               # open file: virtual ns each line reached the host
        self._rec = bytearray(8)
        self.interrupts = 0
        self._drain_due = False

    # ---- host side ---------------------------------------------------------------------
    def host_send(self, data):
        """Bytes from the host arrive now."""
        for b in data:
            if b == CTRL_C:
                self.rx = bytearray()
                self.host_pending = bytearray()
                self.interrupts += 1
                if _vphook is not None:
                    _vphook.kbd_interrupt()
                continue
            self.host_pending.append(b)
        self._fill()
        K.wake = True

    def _fill(self):
        room = RX_RING - len(self.rx)
        if room > 0 and self.host_pending:
            self.rx += self.host_pending[:room]
            self.host_pending = self.host_pending[room:]

    def _poll_host(self):
        """Paced mode: take what the real host has typed (never waits)."""
        if self.paced and _vphook is not None:
            data = _vphook.raw_read(0, 256)
            if data:
                self.host_send(data)

    def drain(self, final=False):
        """Move what the host has read by now from the FIFO to the real output."""
        if not self.tx:
            return
        if final:
            n = len(self.tx) if self.reading else len(self.tx)
        elif not self.reading:
            return
        else:
            n = (K.now - self.tx_t) * self.rate // NS_PER_MS
        if n <= 0:
            return
        out = self.tx[:n]
        self.tx = self.tx[n:]
        self.tx_t = K.now
        if self.line_file is not None:
            # when the host has each line (host-link latency), streamed to a file: a list
            # would grow the board's share of the heap over a long run
            struct.pack_into("<q", self._rec, 0, K.now)
            for _ in range(out.count(b"\n")):
                self.line_file.write(self._rec)
        if _vphook is not None:
            _vphook.raw_write(1, out)
        else:
            sys.stdout.buffer.write(out)

    def _schedule_drain(self):
        if self.reading and self.tx and not self._drain_due:
            self._drain_due = True
            dt = (len(self.tx) * NS_PER_MS + self.rate - 1) // self.rate
            K.at(K.now + dt, self._drained, None)

    def _drained(self, _):
        self._drain_due = False
        self.drain()
        self._schedule_drain()
        K.wake = True

    # ---- firmware side (called by the C hook for fds 0..2) ------------------------------
    def read(self, n):
        w = K.hw()
        out = bytearray()
        while len(out) < n:
            self._poll_host()
            if self.rx:
                out.append(self.rx[0])
                self.rx = self.rx[1:]
                self._fill()
                continue
            self._wait()
        self.rx_bytes += len(out)
        K.hw_done(w)
        return bytes(out)

    def _wait(self):
        """mp_hal_stdin_rx_chr's wait: time passes (IRQs, PIO, devices) until a byte."""
        if self.paced:
            K.idle(5)
        else:
            nxt = K.next_event_ns()
            K.advance_to(nxt if nxt >= 0 else K.now + 1000 * NS_PER_MS)

    def write(self, buf):
        w = K.hw()
        n = len(buf)
        if self.tx_packet_cycles and n and _vphook is not None:
            # rp2's USB stack for it, per 64-byte packet (_vp_cpu.USB_TX_PACKET), passed
            # at the firmware's next bytecode like other C work
            _vphook.charge(self.tx_packet_cycles * ((n + 63) // 64))
        if not self.connected:
            self.dropped += n
            K.hw_done(w)
            return n
        i = 0
        last = K.now
        while i < n:
            self.drain()
            room = TX_FIFO - len(self.tx)
            if room > 0:
                k = room if room < n - i else n - i
                if not self.tx:
                    self.tx_t = K.now
                self.tx += buf[i:i + k]
                i += k
                last = K.now
                self._schedule_drain()
                continue
            if K.now - last >= TX_TIMEOUT_NS:
                break
            K.sleep_ns(NS_PER_MS)           # mp_event_wait_ms(1): IRQs run meanwhile
        self.tx_bytes += i
        K.hw_done(w)
        return i

    def poll(self, flags):
        w = K.hw()
        self._poll_host()
        self.drain()
        r = 0
        if flags & POLL_RD and self.rx:
            r |= POLL_RD
        if flags & POLL_WR and (not self.connected or len(self.tx) < TX_FIFO):
            r |= POLL_WR
        K.hw_done(w)
        return r

    def install(self):
        if _vphook is not None:
            _vphook.set_stdio(self)

    def uninstall(self):
        self.drain(final=True)
        if _vphook is not None:
            _vphook.set_stdio(None)
