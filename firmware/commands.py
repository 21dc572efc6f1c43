"""Serial commands: parse a line, check it, act, reply with one JSON line. Bad input of any
kind gets an error reply and changes nothing. See docs/protocol.md for the list.
"""

import gc
import json
import sys
import time

import config
import protocol
import version
import focus

# keys that re-time the step generator: only while the lens is at rest
_MOTION_KEYS = ("driver", "step_pulse_ns", "step_low_ns", "dir_setup_ns", "enable_wake_us")


class Commands:
    def __init__(self, app):
        self.app = app

    def run(self, line):
        out = self.app.out
        try:
            cmd, args = protocol.parse(line)
        except protocol.ProtocolError as e:
            out.error("?", e)
            return
        try:
            getattr(self, "c_" + cmd)(args)
        except (protocol.ProtocolError, config.ConfigError, ValueError) as e:
            out.error(cmd, e)
        except Exception as e:  # noqa: BLE001 - a command must never take the firmware down
            out.error(cmd, "internal error: %r" % e)

    # ---- information ----------------------------------------------------------------------
    def c_ping(self, args):
        self.app.out.reply("ping")

    def c_help(self, args):
        self.app.out.reply("help", commands=list(protocol.COMMANDS))

    def c_version(self, args):
        self.app.out.reply("version", version=version.VERSION, protocol=version.PROTOCOL,
                           micropython=".".join(str(x) for x in sys.implementation.version[:3]))

    def c_status(self, args):
        a = self.app
        # gc.mem_alloc() scans the whole heap on a Pico (~9 ms): once, twice when idle
        before = gc.mem_alloc()         # allocated since the last collection (the loop
        used = before                   # collects only when idle: see app.GC_IDLE_MS)
        gc_us = -1
        if not (a.motion.busy() or a.focus.af_running() or a.trigger.firing):
            t0 = time.ticks_us()        # a collection takes ~15 ms on an RP2040: never
            gc.collect()                # while the lens moves or the shutter fires
            gc_us = time.ticks_diff(time.ticks_us(), t0)
            a._gc_at = time.ticks_ms()
            used = gc.mem_alloc()
        if not a.focus.af_running():
            a.lidar.poll()      # the frames since the loop's last look (AF off: up to
                                # IDLE_POLL_MS ago); with AF on they are the AF's
        a.out.reply("status", gc_us=gc_us, mem_before_gc=before, state=focus.STATE_NAMES[a.focus.state],
                    pos=a.motion.pos_now(), target=a.motion.target(),
                    moving=a.motion.busy(), enabled=a.motion.enabled,
                    mm=a.lidar.mm, lidar_frames=a.lidar.frames,
                    lidar_valid=a.lidar.last_valid,
                    lidar_age_ms=a.lidar.age_us(time.ticks_us()) // 1000 if a.lidar.seq else -1,
                    frames=a.trigger.frames, armed=a.trigger.armed,
                    inputs={a.inputs.names[i]: a.inputs.pressed(i) for i in range(a.inputs.n)},
                    edges=a.inputs.edges, dropped=a.inputs.dropped,
                    mem_alloc=used, mem_free=a.heap_total - used,
                    uptime_us=a.clock.uptime(a.clock._ref))

    # ---- configuration -----------------------------------------------------------------------
    def c_config(self, args):
        a = self.app
        if not args:
            raise protocol.ProtocolError("config: use 'config get [key]', 'config set KEY VALUE' or 'config reset'")
        sub = args[0]
        if sub == "get":
            if len(args) > 1:
                key = args[1]
                if key not in config.SCHEMA:
                    raise config.ConfigError("unknown config key %s" % json.dumps(key))
                a.out.reply("config", key=key, value=a.cfg[key])
            else:
                # a copy: the line is made when it is written, after later commands
                a.out.reply("config", config=dict(a.cfg))
            return
        if sub == "set":
            if len(args) < 3:
                raise protocol.ProtocolError("config set: expected KEY VALUE")
            key = args[1]
            value = protocol.json_value(args[2])
            self.apply({key: value})
            return
        if sub == "reset":
            # the reply names only the keys whose value the reset changes
            old = a.cfg
            changed = [k for k in config.DEFAULTS if old.get(k) != config.DEFAULTS[k]]
            a.out.reply("config", changed=sorted(changed),
                        **self.apply_quiet(dict(config.DEFAULTS)))
            return
        raise protocol.ProtocolError("config: unknown subcommand '%s'" % sub[:20])

    def apply(self, changes):
        self.app.out.reply("config", changed=sorted(changes), **self.apply_quiet(changes))

    def apply_quiet(self, changes):
        """Validate and apply config changes; write flash now if nothing is moving or
        shooting, else as soon as that is over. Returns the reply's save fields:
        {"saved": True}; {"saved": False, "why": ...} (the write failed: the change is
        active, not on flash); or {"saved": False, "pending": True} (deferred: a
        config_saved or config_error event follows)."""
        a = self.app
        new = config.merged(a.cfg, changes)             # raises before anything changes
        if a.motion.busy():
            for k in _MOTION_KEYS:
                if new[k] != a.cfg[k]:
                    raise config.ConfigError("%s: the lens is moving, try again when it has stopped" % k)
        self.app_config(new)
        if a.motion.busy() or a.trigger.firing:
            a.save_pending = True
            return {"saved": False, "pending": True}
        # an earlier reply said "pending": its event goes out too (this write covers it)
        why = a._save(a.save_pending)
        if why:
            return {"saved": False, "why": why}
        return {"saved": True}

    def app_config(self, new):
        import app as app_mod
        a = self.app
        a.cfg = new
        timing, wake = app_mod.driver_timing(new, a.freq)
        if not a.motion.busy():
            a.gen.load_timing(timing)
            a.motion.timing = timing
        a.wake_us = wake
        a.motion.configure(a._motion_cfg())
        a.inputs.configure(new["debounce_ms"], new["glitch_us"])
        a.trigger.hw = new["glitch_us"] == 0 and a.trigger._s2 is not None
        a.lidar.min_amp = new["lidar_min_amp"]
        a.cal.set(new["lens_cal"])
        a.focus.configure(new)
        if a.extras:
            a.extras.configure(new)

    # ---- actions ------------------------------------------------------------------------------
    def c_move(self, args):
        a = self.app
        pos = protocol.int_arg(args, 0, "move")
        if a.extras and a.extras.motion_locked():
            raise protocol.ProtocolError("move: refused, %s" % a.extras.motion_locked())
        tgt = a.motion.move_to(pos, "command")
        a.motion.service()              # the lens first (a full FIFO starts it), then talk
        a.out.reply("move", target=tgt, clamped=a.motion.clamped)

    def c_stop(self, args):
        a = self.app
        a.motion.stop()
        if a.extras:
            a.extras.abort("stop command")
        a.out.reply("stop")

    def c_af(self, args):
        a = self.app
        sub = args[0] if args else ""
        if sub == "start":
            a.focus.af_button(True, _now(), "serial")
        elif sub == "stop":
            a.focus.af_button(False, _now(), "serial")
        else:
            raise protocol.ProtocolError("af: use 'af start' or 'af stop'")
        a.out.reply("af", state=focus.STATE_NAMES[a.focus.state])

    def c_shoot(self, args):
        a = self.app
        if a.trigger.firing:
            raise protocol.ProtocolError("shoot: an exposure is in progress")
        a.focus._fire(_now(), "command")
        a.out.reply("shoot", frame=a.trigger.frames)

    def c_test(self, args):
        """TEST HOOKS, not for a camera: `test hang` stops the service loop for good (the
        watchdog must reset the board: firmware/watchdog.py)."""
        a = self.app
        if args != ["hang"]:
            raise protocol.ProtocolError("test: the only test hook is 'test hang'")
        if a.wd.wdt is None:
            raise protocol.ProtocolError("test hang: refused, the watchdog is off (watchdog_ms 0)")
        a.wd.hang_requested = True
        a.out.reply("test", hang=True, watchdog_ms=a.wd.timeout_ms)

    def c_hyperfocal(self, args):
        """`hyperfocal [N]`: focus at the hyperfocal distance for f/N (default `aperture`)."""
        a = self.app
        n = protocol.json_value(args[0]) if args else 0
        if len(args) > 1 or isinstance(n, bool) or not isinstance(n, (int, float)) \
                or not (n == 0 or 0.5 <= n <= 256):
            raise protocol.ProtocolError("hyperfocal: use 'hyperfocal' (the aperture set) or "
                                         "'hyperfocal N' with an f-number from 0.5 to 256")
        locked = a.extras.motion_locked() if a.extras else None
        if locked:
            raise protocol.ProtocolError("hyperfocal: refused, " + locked)
        r = a.focus.hyperfocal(_now(), "serial", n)
        a.out.reply("hyperfocal", focus=r["focus"], near=r["near"], fnumber=r["fnumber"],
                    target=a.focus.target, clamped=r["clamped"])

    def _extras(self, name, args):
        a = self.app
        if not a.extras:
            raise protocol.ProtocolError("%s: not available in this firmware" % name)
        getattr(a.extras, "cmd_" + name)(args)

    def c_jog(self, args):
        self._extras("jog", args)

    def c_home(self, args):
        self._extras("home", args)

    def c_clear(self, args):
        self._extras("clear", args)

    def c_mark(self, args):
        self._extras("mark", args)

    def c_stack(self, args):
        self._extras("stack", args)


def _now():
    import time
    return time.ticks_us()
