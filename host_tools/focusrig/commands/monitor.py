"""Live, decoded event stream from the board, with timestamps and the time between events.

Each line: board time (s since the firmware started), the time since the previous event
(ms), the event name and its fields. Replies and non-JSON lines (REPL, tracebacks) are
shown too. When the board is unplugged the monitor waits and reconnects when it is back.
Stop with Ctrl-C; --count / --duration stop by themselves (scripts, tests).

examples:
  focusrig monitor                          # the Pico found by USB id 2E8A:0005
  focusrig monitor --port /dev/pts/7        # the virtual Pico (focusrig emulate)
  focusrig monitor --count 10 --json > events.jsonl
  focusrig monitor --duration 30 --stats    # events/s and lost lines at the end
"""

import json
import sys
import time

from .. import transport

SKIP_FIELDS = ("t", "ev", "re")


def add_arguments(p):
    p.add_argument("--port", "-p", help="serial port or pyserial URL (default: the Pico found by USB id)")
    p.add_argument("--json", action="store_true", help="print each message as its JSON line")
    p.add_argument("--count", type=int, metavar="N", help="stop after N events")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p.add_argument("--stats", action="store_true", help="print events/s and lost lines when done")
    p.add_argument("--no-reconnect", action="store_true", help="stop when the board goes away")
    p.add_argument("--send", action="append", metavar="CMD", default=[],
                   help="send this command once connected (repeatable), e.g. --send status")


def fmt_fields(d):
    parts = []
    for k, v in d.items():
        if k in SKIP_FIELDS:
            continue
        parts.append(f"{k}={v if isinstance(v, (int, float)) and not isinstance(v, bool) else json.dumps(v)}")
    return " ".join(parts)


class Decoder:
    """Formats messages; tracks deltas, counts and lost lines."""

    def __init__(self):
        self.prev_t = None
        self.events = 0
        self.replies = 0
        self.lost = 0
        self.t_first = None

    def format(self, msg):
        t = msg.get("t")
        if msg.get("lost"):
            self.lost += int(msg["lost"])
        if isinstance(t, (int, float)):
            delta = "" if self.prev_t is None else f"{(t - self.prev_t) / 1000:+.3f}"
            self.prev_t = t
            ts = f"{t / 1e6:12.6f}"
        else:
            ts, delta = f"{'?':>12}", ""
        if "ev" in msg:
            self.events += 1
            what = f"{msg['ev']:<14}"
        else:
            self.replies += 1
            what = f"reply {msg['re']:<8}" if "error" not in msg else f"ERROR {msg['re']:<8}"
        line = f"{ts} {delta:>11}  {what} {fmt_fields(msg)}".rstrip()
        if msg.get("lost"):
            line += f"   !! {msg['lost']} lines lost on the board (host too slow)"
        return line


def run(args):
    out = sys.stdout
    dec = Decoder()
    t_end = time.monotonic() + args.duration if args.duration else None
    board = transport.Board(args.port)
    port = board.port
    sys.stderr.write(f"[monitor] {port}: waiting for events (Ctrl-C to stop)\n")
    for c in args.send:
        board.send(c)
    t0 = time.monotonic()
    try:
        while True:
            if t_end is not None and time.monotonic() >= t_end:
                break
            if args.count is not None and dec.events >= args.count:
                break
            try:
                line = board.read_line(0.2)
            except transport.Disconnected:
                board.close()
                if args.no_reconnect:
                    raise
                board = _reconnect(args.port, port, t_end)
                if board is None:
                    break
                continue
            if line is None:
                continue
            msg = transport.parse_line(line)
            if msg is None:
                if line.strip():
                    out.write(("| " + line if not args.json else json.dumps({"text": line})) + "\n")
            else:
                if msg.get("ev") == "boot":
                    dec.prev_t = None
                text = dec.format(msg)
                out.write((line.strip() if args.json else text) + "\n")
            if not board.partial() and not board.ser.in_waiting:
                out.flush()
    except KeyboardInterrupt:
        pass
    finally:
        out.flush()
        board.close()
    wall = time.monotonic() - t0
    if args.stats:
        rate = dec.events / wall if wall > 0 else 0.0
        sys.stderr.write(f"[monitor] {dec.events} events, {dec.replies} replies in {wall:.2f} s "
                         f"({rate:.0f} events/s), {dec.lost} lines lost on the board\n")
    return 0


def _reconnect(port_arg, last_port, t_end):
    """Wait for the board to come back; returns a Board, or None when time is up."""
    sys.stderr.write(f"[monitor] lost {last_port}: waiting for the board to come back "
                     "(Ctrl-C to stop) ")
    sys.stderr.flush()
    n = 0
    while t_end is None or time.monotonic() < t_end:
        try:
            b = transport.Board(port_arg)  # None: find the Pico again (its path may change)
            sys.stderr.write(f"\n[monitor] reconnected to {b.port}\n")
            return b
        except transport.TransportError as e:
            if "permission" in str(e) or "busy" in str(e):
                if n % 10 == 0:
                    sys.stderr.write(f"\n[monitor] {e}\n")
            time.sleep(0.5)
            n += 1
            if n % 2 == 0:
                sys.stderr.write(".")
                sys.stderr.flush()
    sys.stderr.write("\n")
    return None
