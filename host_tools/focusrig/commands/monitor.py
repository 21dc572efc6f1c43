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


# marked f-numbers, third stops (2 ** (k / 6)), as lenses and cameras show them
_MARKED = ("1", "1.1", "1.2", "1.4", "1.6", "1.8", "2", "2.2", "2.5", "2.8", "3.2", "3.5", "4",
           "4.5", "5", "5.6", "6.3", "7.1", "8", "9", "10", "11", "13", "14", "16", "18", "20",
           "22", "25", "29", "32", "36", "40", "45", "51", "57", "64", "72", "81", "90", "101",
           "114", "128")


def marked_fnumber(n):
    """The f-number to set for at least f/n: the next third-stop mark ("18" for 17.8)."""
    import math
    if n <= 1:
        return "1"
    k = math.ceil(6 * math.log2(n) - 0.01)        # 0.01: marks are rounded (f/18 = 17.96)
    return _MARKED[k] if k < len(_MARKED) else f"{n:.0f}"


def _m(mm, digits=2):
    return "infinity" if mm is None else f"{mm / 1000:.{digits}f} m"


def _span(a, b):
    return f"{a / 1000:.1f} m to infinity" if b is None else f"{a / 1000:.1f}–{b / 1000:.1f} m"


def dof_words(e):
    """A dof_focus event in the photographer's words."""
    need, ap, margin = e.get("fnumber") or 0, e.get("aperture"), e.get("margin")
    zone = _span(e["zone_near"], e["zone_far"])
    tail = ""
    if e.get("clamped"):
        tail = " (beyond the lens calibration: the lens stops at its end; calibrate farther)"
    if e.get("kind") == "hyperfocal":
        return (f"hyperfocal: focus at {_m(e['focus'])} for f/{marked_fnumber(need)}: "
                f"sharp from {_m(e['near'])} to infinity" + tail)
    group = _span(e["near"], e["far"])
    if e["near"] == e["far"]:
        at = f" at f/{marked_fnumber(ap)}" if ap else ""
        return (f"one subject at {_m(e['near'])} (sharp {zone}{at}): tap or sweep the "
                "others to add them" + tail)
    if e.get("limited"):
        mx = e.get("max_fnumber")
        smallest = f"f/{marked_fnumber(mx)}" if mx else "its smallest"
        return (f"group {group} needs f/{marked_fnumber(need)}, beyond the lens: stop down to "
                f"{smallest}; focus at {_m(e['focus'])} keeps {e.get('covered', 0):.0%} of "
                f"the group sharp ({zone} at {'f/' + marked_fnumber(ap) if ap else smallest})"
                + tail)
    if ap and e.get("sharp"):
        return (f"everyone sharp at f/{marked_fnumber(ap)} ({margin:+.1f} stops to spare): "
                f"focus at {_m(e['focus'])}, sharp {zone}" + tail)
    short = f" (f/{marked_fnumber(ap)} is {-margin:.1f} stops short)" if ap else ""
    return (f"stop down to f/{marked_fnumber(need)} for {group}: focus at {_m(e['focus'])}"
            + short + tail)


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
        words = dof_words(msg) if msg.get("ev") == "dof_focus" and "zone_near" in msg else None
        line = f"{ts} {delta:>11}  {what} {words or fmt_fields(msg)}".rstrip()
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
