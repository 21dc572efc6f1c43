"""Issue 2 behaviours as scenario tests on the virtual Pico (real MicroPython interpreter,
unmodified firmware, virtual time)."""

import pytest

from vpico import steps_between, cal_steps

CAL = [[1000, 1000], [2000, 500]]     # 1000 mm -> 1000 steps, linear in 1/d

# Full press -> shutter line: armed, a PIO state machine drives it at the contact edge
# (<= 5 us). Through the hard-IRQ path (glitch filter on, or a press the main loop fires)
# it is IRQ entry (20-25 us) plus the handler's Python: the rp2040 target measured
# 215-225 us for S2 alone, about 400 us with S1 closing together.
SHUTTER_IRQ_US = 500


def press(inp, at, hold, bounce=0):
    return {"input": inp, "at_ms": at, "hold_ms": hold, "bounce_ms": bounce}


def test_release_priority_fires_within_100us_of_the_contact(run_scenario):
    res, tr = run_scenario({"duration_ms": 400, "subject_mm": [[0, 2000]],
                   "presses": [press("shutter_full", 100, 50), press("shutter_full", 250, 50)]})
    shots = tr.rising("cam_shutter")
    assert len(shots) == 2
    for t, at in zip(shots, (100, 250)):
        lat_us = (t - at * 1e6) / 1000
        assert 0 < lat_us <= 5, lat_us              # the PIO drives the line
    # the press itself is stamped in the IRQ handler: its latency is modelled, not zero
    # (S1 closes with S2 here, and its lower GPIO's handler runs first: machine_pin.c)
    stamps = [e["t"] for e in res.ev("press") if e["input"] == "shutter_full"]
    assert all(20 <= t - at * 1000 <= SHUTTER_IRQ_US for t, at in zip(stamps, (100, 250)))
    half = [e["t"] for e in res.ev("press") if e["input"] == "shutter_half"]
    assert all(h < f for h, f in zip(half, stamps)), (half, stamps)
    assert len(res.ev("exposure")) == 2


def test_one_shot_focuses_locks_and_survives_recompose(run_scenario):
    res, tr = run_scenario({"duration_ms": 1500, "config": {"lens_cal": CAL},
                   "subject_mm": [[0, 1000], [600, 1000], [601, 2000]],
                   "presses": [press("af_on", 100, 100), press("shutter_full", 900, 50)]})
    ach = res.ev("af_achieved")
    assert len(ach) == 1 and len(res.ev("af_lock")) == 1
    # within one step of the calibrated target
    assert abs(tr.value_at("lens_pos", ms_to_ns(ach[0]["t"] / 1000)) - 1000) <= 1
    # time-optimal 1000-step move at 20000 steps/s, 100000 steps/s^2 is 200 ms; on a Pico
    # the planner's Python cannot feed the PIO that fast yet (rp2040 target: 554 ms)
    assert 199 <= ach[0]["ms"], ach[0]["ms"]
    # recompose: the LiDAR now sees 2 m; the lens must not move until the next AF start
    assert steps_between(tr, ms_to_ns(ach[0]["t"] / 1000) + 1, 1500e6) == 0
    assert tr.value_at("lens_pos", tr.rising("cam_shutter")[0]) == 1000


def ms_to_ns(ms_):
    return int(ms_ * 1e6)


def test_one_shot_without_return_reports_af_error(run_scenario):
    res, tr = run_scenario({"duration_ms": 800, "config": {"focus_timeout_ms": 300},
                   "subject_mm": [[0, 0]], "presses": [press("af_on", 100, 50)]})
    err = res.ev("af_error")
    assert len(err) == 1 and err[0]["why"] == "no_target"
    assert 399 <= err[0]["t"] / 1000 <= 402
    assert not tr.rising("step")


def test_bbf_half_press_only_holds_the_focus_line(run_scenario):
    res, tr = run_scenario({"duration_ms": 600, "subject_mm": [[0, 1500]],
                   "presses": [press("shutter_half", 100, 300)]})
    assert not tr.rising("step")
    up = tr.rising("cam_focus")
    down = tr.falling("cam_focus")
    assert len(up) == 1 and 100e6 <= up[0] <= 103e6
    assert len(down) == 1 and 400e6 <= down[0] <= 403e6
    assert not res.ev("af_start")


def test_shutter_mode_half_press_starts_af(run_scenario):
    res, tr = run_scenario({"duration_ms": 800, "config": {"focus_mode": "shutter"},
                   "subject_mm": [[0, 1500]], "presses": [press("shutter_half", 100, 500)]})
    assert len(res.ev("af_start")) == 1 and len(res.ev("af_achieved")) == 1
    assert tr.value_at("lens_pos", 700e6) == round(cal_steps(1500))


def test_focus_priority_fires_when_focus_is_achieved_and_refuses_without(run_scenario):
    res, tr = run_scenario({"duration_ms": 2000,
                   "config": {"focus_mode": "shutter", "priority": "focus", "focus_timeout_ms": 400},
                   "subject_mm": [[0, 1500], [1000, 1500], [1001, 0]],
                   "presses": [press("shutter_full", 100, 600), press("shutter_full", 1200, 600)]})
    shots = tr.rising("cam_shutter")
    assert len(shots) == 1
    ach = res.ev("af_achieved")[0]
    # fired as soon as focus was achieved, with the lens on target
    assert abs(shots[0] / 1000 - ach["t"]) <= 1000
    assert tr.value_at("lens_pos", shots[0]) == round(cal_steps(1500))
    refused = res.ev("shot_refused")
    assert len(refused) == 1 and refused[0]["why"] == "focus_not_achieved"
    assert [e["why"] for e in res.ev("af_error")] == ["no_target"]


def test_release_priority_fires_even_while_focusing(run_scenario):
    res, tr = run_scenario({"duration_ms": 800, "config": {"lens_cal": CAL},
                   "subject_mm": [[0, 1000]],
                   "presses": [press("af_on", 100, 400), press("shutter_full", 150, 50)]})
    shots = tr.rising("cam_shutter")
    assert len(shots) == 1 and shots[0] - 150e6 <= SHUTTER_IRQ_US * 1e3
    assert 0 < tr.value_at("lens_pos", shots[0]) < 1000      # lens still moving


def test_single_drive_one_frame_per_press_continuous_bursts_at_fps(run_scenario):
    # (presses after boot: ~120 ms on the virtual Pico, ~155 ms on the rp2040 target)
    res, tr = run_scenario({"duration_ms": 1700, "subject_mm": [[0, 1500]],
                   "presses": [press("shutter_full", 300, 400)]})
    assert len(tr.rising("cam_shutter")) == 1
    res, tr = run_scenario({"duration_ms": 1700, "config": {"drive": "continuous", "burst_fps": 8,
                                                   "shutter_pulse_ms": 50},
                   "subject_mm": [[0, 1500]], "presses": [press("shutter_full", 300, 1000)]})
    shots = tr.rising("cam_shutter")
    assert len(shots) == 8          # 0, 125, ... 875 ms after the press
    # frames keep the schedule the first one set: whole-ms soft timers fire a frame 0-2 ms
    # after its time, plus its handler's Python (so two frames are 123-127 ms apart:
    # 123.4-126.9 measured, December 2026; the rp2040 target: 124.1-126.3 in
    # tests/test_rp2040.py::test_smoke_servo_burst)
    late = [(t - shots[0]) / 1e6 - 125 * i for i, t in enumerate(shots)]
    assert all(-0.5 <= x <= 2.5 for x in late), late
    pulses = [(f - r) / 1e6 for r, f in zip(shots, tr.falling("cam_shutter"))]
    assert all(50 <= p <= 52.5 for p in pulses), pulses


def test_servo_tracks_an_approaching_subject_without_hunting(run_scenario):
    from focusrig import analysis
    res, tr = run_scenario({"duration_ms": 1600, "config": {"af_mode": "servo"},
                   "subject_mm": [[0, 4000], [200, 4000], [1200, 1000], [1600, 1000]],
                   "presses": [press("af_on", 100, 1400)]})
    cfg_cal = res.scenario["config_full"]["lens_cal"]
    mx, rms = analysis.tracking_error(tr, cfg_cal, res.scenario["subject_mm"], 400e6, 1200e6)
    # (the bound carries the CPU model's planner time; the rp2040 target is far worse:
    # issue 10)
    assert mx < 25 and rms < 5, (mx, rms)
    # steadily approaching: the lens never turns back while the subject comes in
    assert analysis.direction_reversals(tr, 250e6, 1200e6) == 0
    # after the subject stops the lens settles on it
    assert abs(tr.value_at("lens_pos", 1500e6) - cal_steps(1000)) <= 2


def test_servo_release_brakes_within_accel_and_holds(run_scenario):
    res, tr = run_scenario({"duration_ms": 1500, "config": {"af_mode": "servo", "lens_cal": CAL},
                   "subject_mm": [[0, 2000], [100, 2000], [1100, 1000]],
                   "presses": [press("af_on", 50, 500)]})
    rel = 550e6
    steps = [t for t in tr.rising("step") if t > rel]
    assert steps, "lens was moving at release"
    # once the servo motion already queued for the PIO (4 ms) has run, the speed only
    # goes down, and the lens comes to rest
    iv = [b - a for a, b in zip(steps, steps[1:]) if a >= rel + 4e6]
    assert all(b >= a for a, b in zip(iv, iv[1:])), "accelerated after release"
    iv = [b - a for a, b in zip(steps, steps[1:])]
    assert steps[-1] < rel + 100e6
    v0 = 1e9 / iv[0]
    # what is already queued for the PIO (the servo queues a word while less than 4 ms
    # is: 4 ms and that word, one step at this speed), then the braking distance at
    # accel, rounded up to a whole step
    assert len(steps) <= v0 * 0.004 + 1 + v0 * v0 / (2 * 100000) + 2
    assert steps_between(tr, steps[-1] + 1, 1500e6) == 0


def test_button_held_at_boot_never_fires_until_pressed_again(run_scenario):
    res, tr = run_scenario({"duration_ms": 800, "subject_mm": [[0, 1500]],
                   "presses": [press("shutter_full", 0, 300), press("shutter_full", 500, 50)]})
    assert res.ev("boot")[0]["held"] == ["shutter_half", "shutter_full"]
    shots = tr.rising("cam_shutter")
    assert len(shots) == 1 and shots[0] > 500e6


def test_outputs_inactive_from_power_on(run_scenario):
    res, tr = run_scenario({"duration_ms": 50, "subject_mm": [[0, 1500]]})
    for sig in ("cam_focus", "cam_shutter", "step", "motor_en"):
        assert tr.changes(sig) == [(0, 0)], sig


@pytest.mark.parametrize("bounce", [2, 10])
def test_bouncy_presses_count_once(run_scenario, bounce):
    res, tr = run_scenario({"duration_ms": 1400, "config": {"debounce_ms": 10},
                   "subject_mm": [[0, 1500]], "seed": 11,
                   "presses": [press("af_on", 100, 200, bounce), press("shutter_full", 500, 150, bounce),
                               press("shutter_full", 900, 150, bounce)]})
    presses = [e["input"] for e in res.ev("press")]
    releases = [e["input"] for e in res.ev("release")]
    assert presses.count("af_on") == 1 and presses.count("shutter_full") == 2
    assert releases.count("af_on") == 1 and releases.count("shutter_full") == 2
    assert len(tr.rising("cam_shutter")) == 2
    assert len(res.ev("af_start")) == 1
    # eager: each press counts at its first contact edge, plus the IRQ latency only, and
    # the exposure follows within the IRQ path's bound despite the chatter
    full = [e["t"] for e in res.ev("press") if e["input"] == "shutter_full"]
    for t_us, at_ms in zip(full, (500, 900)):
        # (up to ~170 us when the edge waits for another input's handler or the main
        # loop's short IRQ-off window)
        assert 0 <= t_us - at_ms * 1000 <= 300, t_us
    for t_ns, at_ms in zip(tr.rising("cam_shutter"), (500, 900)):
        assert t_ns - at_ms * 1e6 <= SHUTTER_IRQ_US * 1e3


def test_glitch_filter_ignores_short_spikes(run_scenario):
    base = {"duration_ms": 500, "subject_mm": [[0, 1500]],
            "presses": [press("shutter_full", 100, 0.2), press("shutter_full", 300, 5)]}
    res, tr = run_scenario(dict(base, config={"glitch_us": 1000}))
    assert len(tr.rising("cam_shutter")) == 1        # the 0.2 ms spike never counted
    assert tr.rising("cam_shutter")[0] > 300e6
    res, tr = run_scenario(dict(base, config={"glitch_us": 0}))
    assert len(tr.rising("cam_shutter")) == 2        # without the filter it does


def test_same_scenario_same_trace_bytes(run_scenario, target):
    if target != "emu":
        pytest.skip("determinism of the virtual Pico (a real rig has real jitter)")
    from focusrig import trace as trace_mod
    raw = {"duration_ms": 900, "subject_mm": [[0, 3000], [800, 1200]], "seed": 5,
           "config": {"af_mode": "servo"},
           "presses": [press("af_on", 50, 700, 3), press("shutter_full", 300, 100, 3)]}
    a = trace_mod.vcd_text(run_scenario(raw)[1])
    b = trace_mod.vcd_text(run_scenario(raw)[1])
    assert a.split("$enddefinitions")[1] == b.split("$enddefinitions")[1]
    assert a == b


def test_ticks_wraparound_changes_nothing(run_scenario, target):
    if target != "emu":
        pytest.skip("the virtual Pico's clock can start near the wrap; a board's cannot")
    raw = {"duration_ms": 1000, "subject_mm": [[0, 1500]], "config": {"drive": "continuous"},
           "presses": [press("af_on", 100, 300), press("shutter_full", 600, 300)]}
    a_res, a = run_scenario(raw)
    b_res, b = run_scenario(dict(raw, ticks_start_us=(1 << 30) - 400000))   # wraps 0.4 s in
    assert a.rising("cam_shutter") == b.rising("cam_shutter")
    assert a.changes("lens_pos") == b.changes("lens_pos")
    assert [e["t"] for e in a_res.events] == [e["t"] for e in b_res.events]


def test_servo_rests_on_a_still_subject_without_hunting(run_scenario):
    from focusrig import analysis
    res, tr = run_scenario({"duration_ms": 1500, "config": {"af_mode": "servo"},
                            "subject_mm": [[0, 3000], [100, 3000], [700, 1200], [1500, 1200]],
                            "presses": [press("af_on", 100, 1300)]})
    # still subject from 700 ms: settled within 200 ms, then not a single step more
    assert not [t for t in tr.rising("step") if 900e6 < t < 1400e6]
    assert abs(tr.value_at("lens_pos", 1400e6) - cal_steps(1200)) <= 1
    # held on a subject that never moves: no motion at all after the acquisition
    res, tr = run_scenario({"duration_ms": 1200, "config": {"af_mode": "servo"},
                            "subject_mm": [[0, 1500]], "presses": [press("af_on", 100, 1000)]})
    assert analysis.direction_reversals(tr, 100e6, 1200e6) == 0
    assert not [t for t in tr.rising("step") if t > 400e6]


def test_shutter_in_hardware_within_5us(run_scenario):
    res, tr = run_scenario({"duration_ms": 300, "subject_mm": [[0, 2000]],
                            "presses": [press("shutter_full", 100, 50)]})
    shots = tr.rising("cam_shutter")
    assert len(shots) == 1 and 0 < shots[0] - 100e6 <= 5e3
    assert tr.value_at("cam_focus", shots[0] + 1) == 1       # focus line with it


def test_glitch_filter_fires_from_the_irq_once_the_contact_held(run_scenario):
    # with glitch_us the PIO cannot judge a spike: the IRQ path fires after the hold
    res, tr = run_scenario({"duration_ms": 500, "subject_mm": [[0, 2000]],
                            "config": {"glitch_us": 200},
                            "presses": [press("shutter_full", 300, 50)]})
    shots = tr.rising("cam_shutter")
    # the main loop closes the glitch window: it wakes in whole ms (up to ~1 ms after the
    # window ends), then its pass fires (with the CPU model at the rp2040's speed: 1.23 ms)
    assert len(shots) == 1 and 200e3 <= shots[0] - 300e6 <= 200e3 + 1500e3


def test_one_shot_move_within_1_02x_of_optimal(run_scenario):
    # the 1000-step move (20,000 steps/s, 100,000 steps/s^2: 200 ms optimum) within 1.02x
    # of its profile, first to last step (issue 10's goal), as the rp2040 smoke test
    # checks it on the real port (test_rp2040.py::test_smoke_one_shot_portrait)
    res, tr = run_scenario({"duration_ms": 800, "config": {"lens_cal": CAL},
                            "subject_mm": [[0, 1000]], "presses": [press("af_on", 100, 100)]})
    ach = res.ev("af_achieved")
    assert len(ach) == 1
    steps = [t for t in tr.rising("step") if 100e6 < t <= ach[0]["t"] * 1000 + 1]
    assert len(steps) == 1000
    opt = 2 * (1000 / 100000) ** 0.5 - 2 * (1.0 / 100000) ** 0.5     # first to last crossing
    assert (steps[-1] - steps[0]) / 1e9 <= 1.02 * opt, ((steps[-1] - steps[0]) / 1e9, opt)
    # AF-ON -> achieved: the move, plus the next LiDAR frame (up to 10 ms at 100 Hz) and the
    # planning before the first step (~6 ms): the rp2040 smoke test's bound (210.4 ms
    # measured here in December 2026 against a bound that left the frame out)
    assert 199 <= ach[0]["ms"] <= 1.02 * 200 + 6 + 10, ach[0]["ms"]
