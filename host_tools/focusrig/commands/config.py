"""Get, set or reset the board's configuration (kept in config.json on the Pico).

Values are JSON when they parse as JSON, else plain words: 5000, true, "a4988", [1, 2].
The firmware checks every value; a bad one changes nothing and is reported.

examples:
  focusrig config get                          # every key
  focusrig config get max_speed
  focusrig config set max_speed 5000
  focusrig config set driver tmc2209 --port /dev/pts/7
  focusrig config reset                        # back to the defaults; names what changed
"""

import json

from .. import transport
from ..cli import UserError


def add_arguments(p):
    p.add_argument("action", choices=("get", "set", "reset"), help="get [KEY], set KEY VALUE, reset")
    p.add_argument("key", nargs="?", help="configuration key")
    p.add_argument("value", nargs="?", help="new value (JSON or a plain word)")
    p.add_argument("--port", "-p", help="serial port or pyserial URL (default: the Pico found by USB id)")
    p.add_argument("--json", action="store_true", help="print the reply as one JSON line")
    p.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for the reply (default 3)")


def run(args):
    if args.action == "get":
        if args.value is not None:
            raise UserError("config get takes at most one KEY: focusrig config get [KEY]")
        line = "config get" + (f" {args.key}" if args.key else "")
    elif args.action == "set":
        if args.key is None or args.value is None:
            raise UserError("config set needs KEY and VALUE: focusrig config set max_speed 5000")
        if any(c.isspace() for c in args.key):
            raise UserError(f"bad key {args.key!r}: keys have no spaces (see focusrig config get)")
        value = args.value
        if "\n" in value or "\r" in value:
            raise UserError("the value must be on one line")
        line = f"config set {args.key} {value}"
    else:
        if args.key is not None:
            raise UserError("config reset takes no KEY: focusrig config reset")
        line = "config reset"
    with transport.Board(args.port) as b:
        reply = b.command(line, timeout=args.timeout)
    if "error" in reply:
        raise UserError(f"{reply['error']} (see `focusrig config get` for keys and values)")
    if args.json:
        print(json.dumps(reply, sort_keys=True))
    elif "config" in reply:
        cfg = reply["config"]
        w = max((len(k) for k in cfg), default=0)
        for k in sorted(cfg):
            print(f"{k:<{w}}  {json.dumps(cfg[k])}")
    elif "key" in reply:
        print(f"{reply['key']} = {json.dumps(reply['value'])}")
    else:
        keys = reply.get("changed", [])
        saved = save_state(reply)
        if args.action == "reset" and not keys:
            print(f"every key was already at its default: nothing changed ({saved})")
        elif args.action == "reset":
            print(f"reset to the defaults: {', '.join(keys)} ({saved})")
        else:
            print(f"changed: {', '.join(keys) or 'nothing'} ({saved})")
    return 0


def save_state(reply):
    """How a config reply says the flash write went, in words (docs/protocol.md)."""
    if reply.get("saved"):
        return "saved to flash"
    if reply.get("pending"):
        return "will be saved when the lens stops and the shutter closes"
    return "active until restart, NOT saved: " + str(reply.get("why") or "the flash write failed")
