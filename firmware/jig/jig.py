"""The jig's command loop: line protocol with the host over USB serial (docs/hil.md).

host -> jig (one command a line):
    hello                       -> {"re": "hello", ...capture/drive layout, timing constants}
    clear                       -> {"re": "clear"}      forget edges and subject points
    e T_US NAME PRESSED         (no reply) one contact edge, us from the capture start
    s T_MS MM                   (no reply) one subject-distance point for the TF-Luna frames
    reset                       -> {"re": "reset"}      pulse the DUT's RUN pin low 2 ms
    start DURATION_MS FREQ_HZ   -> {"re": "start", "t0_us": .., "freq": .., "edges": ..}
                                   then "W TICKS_US HEX HEX ..." capture batches while the
                                   edges play, then {"ev": "done", ...}
jig -> host: JSON lines (replies, events, errors) and W lines (capture words, hex).
"""

import sys
import time

from machine import Pin

import capture
import jig_pins
import player
import tfluna

VERSION = 1
BATCH = 32                 # words per W line
FLUSH_US = 20000           # send a partial batch at least this often
IDLE_STEP_US = 25          # how far ahead the loop may sleep (FIFO holds 8 changes)


def reply(obj):
    parts = []
    for k in obj:
        v = obj[k]
        if isinstance(v, str):
            parts.append('"%s": "%s"' % (k, v))
        elif isinstance(v, (list, tuple)):
            parts.append('"%s": [%s]' % (k, ", ".join('"%s"' % x if isinstance(x, str) else str(x) for x in v)))
        else:
            parts.append('"%s": %s' % (k, v))
    print("{" + ", ".join(parts) + "}")


class Jig:
    def __init__(self):
        self.cap = capture.Capture(0)
        self.play = player.Player()
        self.lidar = tfluna.TFLuna()
        self.reset_pin = Pin(jig_pins.RESET_GPIO, Pin.OPEN_DRAIN, value=1)

    def command(self, line):
        parts = line.split()
        if not parts:
            return
        c = parts[0]
        try:
            if c == "e":
                self.play.add(int(parts[1]), parts[2], int(parts[3]))
            elif c == "s":
                self.lidar.add(float(parts[1]), float(parts[2]))
            elif c == "hello":
                reply({"re": "hello", "jig": "focusrig-jig", "version": VERSION,
                       "capture": jig_pins.CAPTURE_NAMES, "drive": jig_pins.DRIVE_NAMES,
                       "loop_cycles": capture.LOOP_CYCLES,
                       "change_cycles": capture.CHANGE_CYCLES,
                       "sample_offset": capture.SAMPLE_OFFSET,
                       "counter_bits": capture.COUNTER_BITS})
            elif c == "clear":
                self.play.clear()
                self.lidar.clear()
                reply({"re": "clear"})
            elif c == "reset":
                self.reset_pin.value(0)
                time.sleep_ms(2)
                self.reset_pin.value(1)
                reply({"re": "reset"})
            elif c == "start":
                self.run(int(parts[1]), int(parts[2]) if len(parts) > 2 else 125000000)
            else:
                reply({"re": "error", "why": "unknown command " + c})
        except (IndexError, ValueError):
            reply({"re": "error", "why": "bad command: " + line.strip()})

    def run(self, duration_ms, freq):
        play, cap, lid = self.play, self.cap, self.lidar
        play.begin()
        lid.begin()
        words = []
        total = 0
        end_us = duration_ms * 1000
        t0 = time.ticks_us()
        cap.start(freq)
        reply({"re": "start", "t0_us": t0, "freq": freq, "edges": len(play.edges)})
        last_flush = 0
        while True:
            now = time.ticks_diff(time.ticks_us(), t0)
            cap.drain(words)
            play.play_due(now)
            lid.tick(now)
            if len(words) >= BATCH or (words and now - last_flush >= FLUSH_US):
                total += len(words)
                print("W %d %s" % (now, " ".join("%x" % w for w in words)))
                words = []
                last_flush = now
            if now >= end_us:
                break
            nxt = play.next_us()
            gap = (nxt - now) if nxt >= 0 else (end_us - now)
            # never spin without letting time pass (on the virtual Pico code takes no time)
            if gap > IDLE_STEP_US:
                gap = IDLE_STEP_US
            if lid.points and lid.next_us - now < gap:
                gap = lid.next_us - now
            time.sleep_us(gap if gap > 0 else 1)
        cap.drain(words)
        cap.stop()
        if words:
            total += len(words)
            print("W %d %s" % (now, " ".join("%x" % w for w in words)))
        play.release_all()
        reply({"ev": "done", "words": total, "fifo_full": cap.full_seen,
               "played": play.i, "late_max_us": play.late_max, "frames": lid.frames})


def serve():
    import select
    jig = Jig()
    reply({"ev": "boot", "jig": "focusrig-jig", "version": VERSION})
    poll = select.poll()
    poll.register(sys.stdin, select.POLLIN)
    while True:
        if poll.poll(0):
            line = sys.stdin.readline()
            if not line:
                time.sleep_ms(1)
                continue
            jig.command(line)
        else:
            time.sleep_ms(1)
