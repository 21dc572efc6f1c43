"""Runs in the virtual Pico's interpreter (MicroPython v1.28.0, float32, 32-bit objects):
reads one move per line as JSON [start, distance, max_speed, accel, jerk, max_segments],
runs the firmware's planner to the end and prints one JSON line:
    [end_error, step_error, segments, seconds, shortest_period_ratio, finished, full_ramp]
end_error: final position - target; step_error: signed steps emitted - distance;
shortest_period_ratio: min over segments of (period * max_speed) (>= 1 within limits);
full_ramp: the ramp table reaches max_speed (false: a ramp of over ~260,000 steps, cut
short at the speed its table reaches: ramp.py);
segment times are PIO cycles at the planner's clock.
"""

import json
import sys

import planner as pl


def run(start, d, v, a, j, cap):
    p = pl.Planner(v, a)
    p.set_limits(v, a, j)
    p.pos = start
    p.move_to(start + d)
    segs = 0
    steps = 0
    t = 0                   # PIO cycles (an int: exact)
    dirn = 1
    shortest = 1e9
    while segs < cap:
        s = p.next_segment()
        if s is None:
            return [p.pos - start - d, steps - d, segs, t / p.freq, shortest, True,
                    p.ramp.vtop >= p.ramp.vmax]
        segs += 1
        if s[0] == pl.SEG_DIR:
            dirn = 1 if s[1] else -1
            t += s[2]
        else:
            steps += dirn * s[1]
            t += s[1] * s[2]
            r = (s[2] + 1) * v / p.freq          # a cycle of rounding allowed
            if s[1] > 1 and r < shortest:
                shortest = r
    return [p.pos - start - d, steps - d, segs, t / p.freq, shortest, False,
            p.ramp.vtop >= p.ramp.vmax]


while True:
    line = sys.stdin.readline()
    if not line:
        break
    print(json.dumps(run(*json.loads(line))))
