"""Serial transport to the rig's Pico (real, or the virtual one behind a pseudo-terminal).

- open a port by path (incl. /dev/pts/N from `focusrig emulate`) or pyserial URL
  (socket://, loop://, rfc2217://, spy://, hwgrep://); no port: find the one Pico
  (USB VID:PID 2E8A:0005) with serial.tools.list_ports;
- errors are TransportError (a focusrig.cli.UserError): one line that says what to do;
- JSON lines from the firmware: events {"t":..,"ev":..} and replies {"t":..,"re":..};
  `Board.command("status")` sends a line and waits for the matching reply, keeping the
  events that arrive meanwhile; a timeout reports what was received instead.
"""

import errno
import json
import os
import time

from .cli import UserError

PICO_VID = 0x2E8A
PICO_PID = 0x0005
BAUD = 115200
URL_SCHEMES = ("socket://", "loop://", "rfc2217://", "spy://", "hwgrep://", "alt://", "cp2110://")


class TransportError(UserError):
    """Expected failure talking to the board; str() is the one line for the user."""


class NoReply(TransportError):
    pass


def _serial():
    try:
        import serial  # noqa: F401
        import serial.tools.list_ports  # noqa: F401
    except ImportError:
        raise TransportError("pyserial is not installed: run `make test` or "
                             "`pip install pyserial` in the focusrig environment") from None
    return serial


def find_picos():
    """Serial ports that are a MicroPython Pico (USB VID:PID 2E8A:0005)."""
    serial = _serial()
    return [p for p in serial.tools.list_ports.comports()
            if p.vid == PICO_VID and p.pid == PICO_PID]


def resolve_port(port=None):
    """The port to open: `port` as given, else the single Pico found by VID:PID."""
    if port:
        return port
    env = os.environ.get("FOCUSRIG_PORT")
    if env:
        return env
    found = find_picos()
    if not found:
        raise TransportError("no Pico found (USB 2E8A:0005): plug it in, or give --port "
                             "(for the virtual Pico: the path `focusrig emulate` prints)")
    if len(found) > 1:
        names = ", ".join(p.device for p in found)
        raise TransportError(f"several Picos found ({names}): choose one with --port")
    return found[0].device


def open_serial(port=None, timeout=0.05, exclusive=True):
    """Open the board's port; returns a pyserial object. Errors: one line, what to do."""
    serial = _serial()
    port = resolve_port(port)
    is_url = "://" in port
    try:
        if is_url:
            if not port.startswith(URL_SCHEMES):
                raise TransportError(f"unknown port URL {port!r}: use a device path or "
                                     "socket://, rfc2217://, loop://, spy://, hwgrep://")
            s = serial.serial_for_url(port, baudrate=BAUD, timeout=timeout, do_not_open=True)
            if not port.startswith(("socket://", "loop://", "rfc2217://")):
                try:
                    s.exclusive = exclusive
                except (AttributeError, ValueError):
                    pass
            s.open()
        else:
            if not os.path.exists(port):
                raise TransportError(f"no such port {port}: plug the Pico in or check the path "
                                     "(`focusrig emulate` prints the virtual Pico's)")
            s = serial.Serial(port, BAUD, timeout=timeout, exclusive=exclusive)
    except TransportError:
        raise
    except serial.SerialException as e:
        raise TransportError(_explain(port, e)) from None
    except OSError as e:
        raise TransportError(_explain(port, e)) from None
    except ValueError as e:
        raise TransportError(f"cannot open {port}: {e}: check the port name or URL") from None
    return s


def _explain(port, e):
    msg = str(e)
    code = getattr(e, "errno", None)
    low = msg.lower()
    if code in (errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK) or "exclusive" in low or "busy" in low:
        return (f"port {port} is busy: close the other program using it "
                "(mpremote, focusrig monitor, screen, Thonny) and try again")
    if code in (errno.EACCES, errno.EPERM) or "permission" in low:
        return (f"permission denied on {port}: add yourself to the dialout group "
                "(sudo usermod -aG dialout $USER) and log in again")
    if code == errno.ENOENT or "no such file" in low or "could not open port" in low:
        return (f"no such port {port}: plug the Pico in or check the path "
                "(`focusrig emulate` prints the virtual Pico's)")
    if "hwgrep" in low or "no ports found" in low:
        return f"no port matches {port}: check the pattern, or give the device path with --port"
    if "connection refused" in low or code == errno.ECONNREFUSED:
        return f"nothing listens at {port}: start the serial server or check host and port"
    return f"cannot open {port} ({msg}): check the port, or unplug and replug the board"


def _short(b, n=80):
    s = b.decode("utf-8", "replace") if isinstance(b, (bytes, bytearray)) else str(b)
    s = s.strip()
    return s if len(s) <= n else s[: n - 3] + "..."


class Board:
    """Line-oriented JSON conversation with the focusrig firmware on one port."""

    def __init__(self, port=None, ser=None, timeout=0.05):
        self.ser = ser if ser is not None else open_serial(port, timeout=timeout)
        self.port = getattr(self.ser, "port", None) or port
        self._buf = bytearray()
        self.events = []          # events that arrived while waiting for a reply
        self.other = []           # lines that are not JSON (REPL, tracebacks)
        self.received = 0

    def close(self):
        try:
            self.ser.close()
        except Exception:  # noqa: BLE001
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- raw lines ----------------------------------------------------------------------
    def _fill(self, wait):
        """Read what is there (waiting up to the port timeout, ~`wait`, for a byte)."""
        serial = _serial()
        try:
            data = self.ser.read(max(1, self.ser.in_waiting))
        except (serial.SerialException, OSError) as e:
            raise Disconnected(f"lost the board on {self.port} ({_short(str(e), 60)}): "
                               "check the cable, then run the command again") from None
        if data:
            self._buf += data
        return len(data)

    def read_line(self, timeout=1.0):
        """One line (str, without line end) or None when none arrived within timeout."""
        end = time.monotonic() + timeout
        while True:
            i = self._buf.find(b"\n")
            if i >= 0:
                raw = bytes(self._buf[:i])
                del self._buf[: i + 1]
                self.received += 1
                return raw.decode("utf-8", "replace").rstrip("\r")
            left = end - time.monotonic()
            if left <= 0:
                return None
            self._fill(min(left, 0.2))

    def partial(self):
        """Bytes received after the last complete line (e.g. a REPL prompt)."""
        return bytes(self._buf)

    def read_message(self, timeout=1.0):
        """Next JSON object from the firmware (dict); other lines go to self.other.
        None on timeout."""
        end = time.monotonic() + timeout
        while True:
            line = self.read_line(max(0.0, end - time.monotonic()))
            if line is None:
                return None
            msg = parse_line(line)
            if msg is not None:
                return msg
            if line.strip():
                self.other.append(line)
                del self.other[:-20]

    # ---- commands -----------------------------------------------------------------------
    def send(self, line):
        serial = _serial()
        try:
            self.ser.write(line.encode() + b"\n")
            self.ser.flush()
        except (serial.SerialException, OSError) as e:
            raise Disconnected(f"lost the board on {self.port} ({_short(str(e), 60)}): "
                               "check the cable, then run the command again") from None

    def command(self, line, timeout=2.0):
        """Send one command line, return its reply (dict, may hold "error"). Events that
        arrive meanwhile are kept in self.events."""
        name = line.split()[0].lower() if line.split() else "?"
        self.other = []
        self.send(line)
        end = time.monotonic() + timeout
        seen = []
        while True:
            msg = self.read_message(max(0.0, end - time.monotonic()))
            if msg is None:
                raise NoReply(self._no_reply(line, timeout, seen))
            if "re" in msg:
                if msg["re"] in (name, "?"):
                    return msg
                seen.append(msg)
                continue
            self.events.append(msg)
            seen.append(msg)

    def _no_reply(self, line, timeout, seen):
        tail = self.partial()
        other = self.other[-3:]
        text = " | ".join(other + ([_short(tail)] if tail.strip() else []))
        if b">>>" in tail or any(">>>" in o for o in other) or b"raw REPL" in tail:
            return (f"no reply to '{line}' within {timeout:g} s: {self.port} is at the MicroPython "
                    "REPL, the firmware is not running: run `focusrig deploy`")
        if seen:
            return (f"no reply to '{line}' within {timeout:g} s (got {len(seen)} other messages, "
                    f"last {_short(json.dumps(seen[-1]), 60)}): try again or update the firmware "
                    "with `focusrig deploy`")
        if text:
            return (f"no reply to '{line}' within {timeout:g} s; received: {_short(text, 100)} - "
                    f"is {self.port} the focusrig Pico? run `focusrig deploy` to install the firmware")
        return (f"no reply to '{line}' within {timeout:g} s and nothing received: is the "
                "focusrig firmware running on this port? run `focusrig deploy`")

    def wait_for(self, pred, timeout):
        """First message with pred(msg) true within timeout, or None."""
        end = time.monotonic() + timeout
        while True:
            msg = self.read_message(max(0.0, end - time.monotonic()))
            if msg is None:
                return None
            if pred(msg):
                return msg
            self.events.append(msg)


class Disconnected(TransportError):
    pass


def parse_line(line):
    """A firmware JSON line as a dict, or None for anything else."""
    s = line.strip()
    if not s.startswith("{"):
        return None
    try:
        d = json.loads(s)
    except ValueError:
        return None
    if isinstance(d, dict) and ("ev" in d or "re" in d):
        return d
    return None


def check_reply(reply, what):
    """Raise TransportError for an error reply; returns the reply."""
    if "error" in reply:
        raise TransportError(f"{what}: the board says: {reply['error']}")
    return reply
