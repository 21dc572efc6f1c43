"""The stepper driver + lens on the rp2040 target, integrated from the recorded STEP, DIR
and ENABLE pin trace after the run (the emulated board's pins are recorded with
emulated-clock nanoseconds). The same rules as the virtual Pico's Lens
(virtual_pico/board/_vp_devices.py): a step counts on each STEP rising edge while the
driver is enabled and awake; a STEP pulse shorter than the driver's minimum high/low
time, a DIR change closer than its setup time, or a step while disabled/asleep is a
driver fault (signal 67). The driver's timing comes from virtual_pico.runner.DRIVER_MODELS.
"""

SIG_LENS_POS = 64
SIG_DRIVER_FAULT = 67


def integrate(trace, step, dir_, en, en_active, model, start_pos=0, end_ns=None):
    """trace: [(t_ns, gpio, level)] sorted by time. Returns (records, stats): the lens_pos
    and driver-fault records to add to the trace, and the Lens statistics."""
    pos = start_pos
    out = [(0, SIG_LENS_POS, pos)]
    steps = faults = 0
    t_rise = t_fall = t_dir = t_en = -1
    dir_level = 0
    enabled = False
    shortest_high = shortest_setup = -1
    for t, g, v in trace:
        if g == en:
            enabled = v == en_active
            if enabled:
                t_en = t
        elif g == dir_:
            if v != dir_level:
                t_dir = t
            dir_level = v
        elif g == step:
            if not v:
                t_fall = t
                if t_rise >= 0:
                    hi = t - t_rise
                    if shortest_high < 0 or hi < shortest_high:
                        shortest_high = hi
                    if hi < model["min_high_ns"]:
                        faults += 1
                        out.append((t, SIG_DRIVER_FAULT, faults))
                continue
            t_rise = t
            if not enabled or t - t_en < model["wake_ns"]:
                faults += 1
                out.append((t, SIG_DRIVER_FAULT, faults))
                continue
            if t_fall >= 0 and t - t_fall < model["min_low_ns"]:
                faults += 1
                out.append((t, SIG_DRIVER_FAULT, faults))
            if t_dir > 0:
                su = t - t_dir
                if shortest_setup < 0 or su < shortest_setup:
                    shortest_setup = su
                if su < model["setup_ns"]:
                    faults += 1
                    out.append((t, SIG_DRIVER_FAULT, faults))
            pos += 1 if dir_level else -1
            steps += 1
            out.append((t, SIG_LENS_POS, pos))
    if end_ns is not None:
        out.append((end_ns, SIG_LENS_POS, pos))
    stats = {"lens_pos": pos, "steps": steps, "driver_faults": faults,
             "shortest_high_ns": shortest_high, "shortest_setup_ns": shortest_setup}
    return out, stats
