"""Watchdog: the RP2040's hardware watchdog (machine.WDT) fed by the service loop, and
why the board last reset.

A service loop that stops running (a hang, an asyncio task that never yields) is not fed
for `watchdog_ms` and the watchdog resets the whole chip: every pad returns to its reset
state (input, pull-down; the motor driver's ENABLE has its 10 k pull-up), so the camera
lines and the driver are off through the reset (hardware/README.md, Power-up), and the
firmware boots again. Its `boot` event then says `reset_cause: "watchdog"`.

MicroPython v1.28.0 (ports/rp2/machine_wdt.c): the timeout is at most 8388 ms and the
watchdog cannot be stopped or changed once started (no deinit, no timeout_ms on rp2), so
a new `watchdog_ms` applies from the next boot; 0 = no watchdog. machine.reset() is a
watchdog reboot too: reset_cause() reads WDT_RESET after it (ports/rp2/modmachine.c).

Ctrl-C (a user or mpremote stopping the firmware for the REPL) stops the watchdog through
its CTRL register, so the REPL and file copies are not reset under the user's hands; a
crash leaves it running: the board resets and starts the firmware again.

TEST HOOK: `hang()` (the `test hang` command) spins the service loop for ever without
feeding, to prove the reset. Not for use on a camera.
"""

from micropython import const
import machine

MAX_MS = const(8388)            # machine_wdt.c: WDT_TIMEOUT_MAX (0xffffff / 2 / 1000)
_CTRL = const(0x40058000)       # WATCHDOG_BASE + CTRL (RP2040 datasheet 4.7.6)
_ENABLE = const(0x40000000)     # CTRL.ENABLE (bit 30)


def reset_cause():
    """Why the board last reset, in words: "watchdog" (a timeout, machine.reset()) or
    "power_on" (power-up, the RUN pin)."""
    try:
        c = machine.reset_cause()
    except (AttributeError, OSError):
        return "unknown"
    if c == getattr(machine, "WDT_RESET", 3):
        return "watchdog"
    if c == getattr(machine, "PWRON_RESET", 1):
        return "power_on"
    return "other (%d)" % c


class Watchdog:
    """machine.WDT with the firmware's timeout; feed() from the service loop."""

    def __init__(self, timeout_ms, wdt_cls=None):
        self.timeout_ms = timeout_ms if timeout_ms < MAX_MS else MAX_MS
        self.wdt = None
        self.hang_requested = False     # TEST HOOK: set by the `test hang` command
        self._make = wdt_cls or machine.WDT

    def start(self):
        """Start counting: once the parts are built, just before the service loop runs.
        (Building them takes ~150 ms on an RP2040, PIO programs and all: a watchdog
        started before that would reset a short `watchdog_ms` board at every boot.)"""
        if self.timeout_ms > 0 and self.wdt is None:
            self.wdt = self._make(timeout=self.timeout_ms)

    def feed(self):
        if self.wdt is not None:
            self.wdt.feed()

    def service(self, may_hang=True):
        """Once per service-loop round: feed, or (test hook) hang once may_hang (the
        hook's reply has gone out)."""
        if self.hang_requested and may_hang:
            self.hang()
        self.feed()

    def stop(self):
        """Stop the watchdog (Ctrl-C: the user wants the REPL). rp2's machine.WDT has no
        deinit; clearing CTRL.ENABLE stops the counter."""
        if self.wdt is None:
            return
        try:
            machine.mem32[_CTRL] = machine.mem32[_CTRL] & ~_ENABLE
        except Exception:  # noqa: BLE001 - a port without the register: nothing to stop
            pass
        self.wdt = None

    def hang(self):
        """TEST HOOK: never return and never feed: the watchdog must reset the board."""
        n = 0
        while True:
            n += 1
