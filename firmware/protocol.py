"""Serial protocol on the USB serial: one JSON object per line each way out, plain text
commands in. See docs/protocol.md.

Events:   {"t": <uptime us>, "ev": "<name>", ...fields}
Replies:  {"t": ..., "re": "<command>", "ok": true, ...}  or  {"t": ..., "re": ..., "error": "<why>"}

The writer never blocks the rest of the firmware: a line goes out at once as far as the
USB takes it, the rest waits in a bounded queue that a task drains to stdout; if the
host does not read, the oldest lines are dropped and a `lost` event with their count
goes out before the next line.

Why chunks. On rp2 the USB CDC reports writable as soon as one byte of its 256-byte TX
FIFO is free, and a write that does not fit waits up to 500 ms for the host
(shared/tinyusb/mp_usbd_cdc.c:62-67, 97-142). The writer therefore only ever writes
CHUNK bytes at a time, CHUNK dividing 256: a FIFO that a host stops reading fills to
exactly full, polls not writable, and no write ever waits. A line's last chunk is padded
with spaces before its newline (JSON readers ignore them).
"""

import json
import select
import sys
import time

import asyncio

MAX_QUEUED = 48
WRITE_RETRY_MS = 5          # while the host is not reading
MAX_LINE = 200
CHUNK = 32                  # bytes per write; divides the rp2 CDC TX FIFO (256 B)

COMMANDS = ("status", "version", "config", "move", "jog", "stop", "home", "clear", "af",
            "shoot", "mark", "stack", "ping", "help", "test", "hyperfocal")


class ProtocolError(ValueError):
    pass


def parse(line):
    """'config set max_speed 5000' -> ('config', ['set', 'max_speed', '5000']).
    Control characters are dropped first: REPL tools (mpremote's Ctrl-B/Ctrl-D after a
    reset) can leave some in front of the first command."""
    line = "".join(c for c in line if " " <= c <= "~").strip()
    if not line:
        raise ProtocolError("empty command")
    if len(line) > MAX_LINE:
        raise ProtocolError("command longer than %d characters" % MAX_LINE)
    parts = line.split(None, 3) if line.startswith("config") else line.split()
    cmd = parts[0].lower()
    if cmd not in COMMANDS:
        raise ProtocolError("unknown command '%s' (try: %s)" % (cmd[:20], ", ".join(COMMANDS)))
    return cmd, parts[1:]


def json_value(text):
    """A config value as typed: JSON if it parses, else the bare word as a string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def int_arg(args, i, name):
    try:
        return int(args[i])
    except (IndexError, ValueError):
        raise ProtocolError("%s: expected a whole number" % name)


class Clock:
    """Firmware uptime in microseconds from the wrapping ticks_us counter."""

    def __init__(self):
        self._ref = time.ticks_us()
        self._base = 0

    def update(self, now):
        d = time.ticks_diff(now, self._ref)
        if d > 0:
            self._base += d
            self._ref = now

    def uptime(self, t):
        """Uptime of a ticks_us stamp `t` taken up to ~9 minutes before/after the last
        update."""
        return self._base + time.ticks_diff(t, self._ref)


class Out:
    """Bounded, non-blocking line output. The service loop writes the lines a pass made
    at the end of that pass (pump()), as far as the USB TX FIFO takes them: after the
    pass's own work, so a shot or a step never waits for an event line; what the FIFO does
    not take waits in the queue for the writer task. (Written only by that task until
    December 2026, a line waited for the event loop to get round to it: 25-45 ms late
    during the fastest moves on the `rp2040` target.)"""

    def __init__(self, clock, stream=None):
        self.clock = clock
        self.stream = stream
        self.q = []
        self.dropped = 0
        self.sent = 0
        self.flag = asyncio.ThreadSafeFlag()
        self._out = None                # the stream (and its poller's registration), at
        self._poller = select.poll()    # the first write
        self._line = b""                # the line being written, padded to whole chunks
        self._pos = 0                   # bytes of it written
        self._pumping = False           # (an event made while a write runs waits its turn)

    def _put(self, d):
        line = json.dumps(d)
        if len(self.q) >= MAX_QUEUED:
            self.q.pop(0)
            self.dropped += 1
        self.q.append(line)
        self.flag.set()                 # the writer task, if no pump() comes first

    def event(self, name, t=None, **fields):
        if t is None:
            t = time.ticks_us()
        d = {"t": self.clock.uptime(t), "ev": name}
        d.update(fields)
        self._put(d)

    def reply(self, cmd, **fields):
        d = {"t": self.clock.uptime(time.ticks_us()), "re": cmd}
        if "error" not in fields:
            d["ok"] = True
        d.update(fields)
        self._put(d)

    def error(self, cmd, why):
        self.reply(cmd, error=str(why))

    def pump(self):
        """Write queued lines, CHUNK bytes at a time, each only when the stream polls
        writable (see the module docstring): never waits. True when all is written."""
        if self._pumping:
            return False
        self._pumping = True
        try:
            out = self._out
            if out is None:
                out = self._out = self.stream or getattr(sys.stdout, "buffer", sys.stdout)
                self._poller.register(out, select.POLLOUT)
            while True:
                if self._pos >= len(self._line):
                    if not self.q and not self.dropped:
                        return True
                    self._line = self._next_line()
                    self._pos = 0
                if not self._poller.poll(0):
                    return False
                p = self._pos
                out.write(self._line[p:p + CHUNK])
                self._pos = p + CHUNK
                if self._pos >= len(self._line):
                    self.sent += 1
        finally:
            self._pumping = False

    async def writer(self):
        """What pump() could not write at once: retried while the host is not reading."""
        while True:
            if self.pump():
                await self.flag.wait()
            else:
                await asyncio.sleep_ms(WRITE_RETRY_MS)

    def _next_line(self):
        """The next line as bytes, its last chunk padded with spaces before its newline."""
        if self.dropped:
            n = self.dropped
            self.dropped = 0
            line = json.dumps({"t": self.clock.uptime(time.ticks_us()), "ev": "lost",
                               "lines": n})
        else:
            line = self.q.pop(0)
        b = line.encode()
        return b + b" " * (-(len(b) + 1) % CHUNK) + b"\n"
