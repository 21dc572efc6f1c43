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

import io
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


_PAD = memoryview(b" " * (CHUNK - 1) + b"\n")     # a line's padding: its last k + 1 bytes
LINE_BUF = 256              # the line buffer's size (most lines are 64-160 bytes)
_EV = b', "ev": '
_RE = b', "re": '


class Out:
    """Bounded, non-blocking line output. An event or reply is queued as it happens, as
    its fields; it is made into a line only when it is written: by the service loop at the
    end of the pass that made it (pump()), after the pass's own work, so a shot or a step
    never waits for an event line; what the USB TX FIFO does not take waits for the
    writer task. (Lines were made as events happened until December 2026: on the
    `rp2040` target focus priority's shot waited 2.9 ms for the four lines made before it;
    and written only by the writer task, a line waited for the event loop to get round to
    it: 25-45 ms late during the fastest moves.)

    Allocation (issue 10: a steady servo + burst allocates at most 10 KB/s). Per line
    only the caller's keyword dict, a 4-item tuple and the padding's memoryview are new. The JSON goes into one
    reused BytesIO (json.dump to a stream allocates nothing), then into one reused line
    buffer, padded there, and is written from it with write(buf, off, n): no string, no
    slice. (json.dumps, encode(), the padding's concatenations and a slice per chunk made
    ~1 KB of garbage per line: ~10 KB/s in a 10 fps burst on the rp2040 target.)"""

    def __init__(self, clock, stream=None):
        self.clock = clock
        self.stream = stream
        self.q = []                     # (key, name, uptime, fields) to write, oldest first
        self.dropped = 0
        self.sent = 0
        self.flag = asyncio.ThreadSafeFlag()
        self._out = None                # the stream (and its poller's registration), at
        self._poller = select.poll()    # the first write
        bio = self._bio = io.BytesIO(LINE_BUF)      # where a line's JSON is made
        # its methods, bound once (the rp2 stubs, v1.28.0, give BytesIO none)
        self._seek = bio.seek  # type: ignore
        self._write = bio.write  # type: ignore
        self._tell = bio.tell  # type: ignore
        self._readinto = bio.readinto  # type: ignore
        self._buf = bytearray(LINE_BUF)     # the line being written (a longer one gets its own)
        self._line = self._buf
        self._len = 0                   # its length (padded, with the newline)
        self._pos = 0                   # bytes of it written
        self._pumping = False           # (an event made while a write runs waits its turn)

    def _put(self, key, name, t, fields):
        if len(self.q) >= MAX_QUEUED:
            self.q.pop(0)
            self.dropped += 1
        self.q.append((key, name, self.clock.uptime(t), fields))
        self.flag.set()                 # the writer task, if no pump() comes first

    def event(self, name, t=None, **fields):
        self._put(_EV, name, time.ticks_us() if t is None else t, fields)

    def reply(self, cmd, **fields):
        self._put(_RE, cmd, time.ticks_us(), fields)

    def error(self, cmd, why):
        self.reply(cmd, error=str(why))

    def _make(self, key, name, t, fields):
        """The line {"t": t, <key> name, ["ok": true,] **fields} into self._line, padded to
        whole CHUNKs; its length into self._len. A reply without "error" gets "ok"."""
        bio = self._bio
        seek = self._seek
        write = self._write
        tell = self._tell
        seek(0)
        write(b'{"t": ')
        json.dump(t, bio)
        write(key)
        json.dump(name, bio)
        if key is _RE and "error" not in fields:
            write(b', "ok": true')
        if fields:
            write(b",")
            p = tell()
            json.dump(fields, bio)          # {"a": 1, ...}: its "{" becomes a space
            e = tell()
            seek(p)
            write(b" ")
            seek(e)
        else:
            write(b"}")
        n = tell()
        pad = -(n + 1) % CHUNK
        write(_PAD[CHUNK - 1 - pad:])
        n += pad + 1
        line = self._buf if n <= LINE_BUF else bytearray(n)
        seek(0)
        self._readinto(line, n)
        self._line = line
        self._len = n
        self._pos = 0

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
                if self._pos >= self._len:
                    if not self.q and not self.dropped:
                        return True
                    self._next_line()
                if not self._poller.poll(0):
                    return False
                p = self._pos
                out.write(self._line, p, CHUNK)  # type: ignore  (write(buf, off, n): py/stream.c)
                self._pos = p + CHUNK
                if self._pos >= self._len:
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
        """Make the next line (a `lost` line first when lines were dropped)."""
        if self.dropped:
            n = self.dropped
            self.dropped = 0
            self._make(_EV, "lost", self.clock.uptime(time.ticks_us()), {"lines": n})
        else:
            key, name, t, fields = self.q.pop(0)
            self._make(key, name, t, fields)
