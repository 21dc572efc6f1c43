"""Show the board's status: focus state, lens position, LiDAR distance, inputs, memory.

Sends `status` to the focusrig firmware and prints the reply (--json: the raw reply).

examples:
  focusrig status                      # the one Pico plugged in (USB 2E8A:0005)
  focusrig status --port /dev/pts/7    # the virtual Pico from `focusrig emulate`
  focusrig status --json | jq .pos
"""

import json

from .. import transport


def add_arguments(p):
    p.add_argument("--port", "-p", help="serial port or pyserial URL (default: the Pico found by USB id)")
    p.add_argument("--json", action="store_true", help="print the reply as one JSON line")
    p.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for the reply (default 3)")


def run(args):
    with transport.Board(args.port) as b:
        st = transport.check_reply(b.command("status", timeout=args.timeout), "status")
        try:
            ver = b.command("version", timeout=args.timeout)
        except transport.NoReply:
            ver = {}
    if args.json:
        print(json.dumps(st, sort_keys=True))
        return 0
    print(format_status(st, ver, b.port))
    return 0


def format_status(st, ver, port):
    pressed = [k for k, v in sorted((st.get("inputs") or {}).items()) if v]
    up = st.get("uptime_us", st.get("t", 0)) / 1e6
    lines = [
        f"board     {port}: focusrig firmware {ver.get('version', '?')} "
        f"(protocol {ver.get('protocol', '?')}, MicroPython {ver.get('micropython', '?')}), up {up:.1f} s",
        f"state     {st.get('state')}  armed={st.get('armed')}  frames={st.get('frames')}",
        f"lens      pos {st.get('pos')} target {st.get('target')}  moving={st.get('moving')}  "
        f"driver enabled={st.get('enabled')}",
        f"lidar     {st.get('mm')} mm  ({st.get('lidar_frames')} frames)",
        f"inputs    {', '.join(pressed) if pressed else 'none pressed'}  "
        f"(edges {st.get('edges')}, dropped {st.get('dropped')})",
        f"memory    {st.get('mem_alloc')} B used, {st.get('mem_free')} B free",
    ]
    known = {"t", "re", "ok", "state", "armed", "frames", "pos", "target", "moving", "enabled",
             "mm", "lidar_frames", "inputs", "edges", "dropped", "mem_alloc", "mem_free", "uptime_us"}
    extra = {k: v for k, v in st.items() if k not in known}
    if extra:
        lines.append("other     " + json.dumps(extra, sort_keys=True))
    return "\n".join(lines)
