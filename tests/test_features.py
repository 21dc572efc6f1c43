"""Issue 3 features on the virtual Pico: homing, limit switch, soft limits, backlash,
jog buttons, marks and eased pulls, focus stacking; position never lost."""

from vpico import run


def cmd(at, c):
    return {"at_ms": at, "cmd": c}


def press(inp, at, hold, bounce=0):
    return {"input": inp, "at_ms": at, "hold_ms": hold, "bounce_ms": bounce}


def firmware_pos(res):
    st = res.replies("status")
    return st[-1]["pos"]


def test_homing_finds_the_switch_and_sets_zero_there():
    res, tr = run({"duration_ms": 2500, "lens": {"start_pos": 700, "home_pos": -50},
                   "serial": [cmd(10, "home"), cmd(2400, "status")]})
    done = res.ev("home_done")
    assert len(done) == 1, [e for e in res.events if "home" in e.get("ev", "")]
    # zero is the switch point: simulated lens at -50 <=> firmware 0 (within a step)
    assert abs(res.stats["lens_pos"] - (-50)) <= 1
    assert firmware_pos(res) == 0
    assert res.stats["driver_faults"] == 0


def test_homing_times_out_without_a_switch():
    res, tr = run({"duration_ms": 1500, "config": {"home_timeout_ms": 800},
                   "serial": [cmd(10, "home")]})
    err = res.ev("home_error")
    assert len(err) == 1 and "timeout" in err[0]["why"]
    assert not res.ev("home_done")


def test_limit_hit_stops_at_once_and_locks_motion_until_clear():
    res, tr = run({"duration_ms": 1500, "lens": {"start_pos": 0, "home_pos": -200},
                   "serial": [cmd(10, "move -5000"), cmd(800, "move 100"), cmd(900, "clear"),
                              cmd(950, "move 100"), cmd(1400, "status")]})
    hit = res.ev("limit_hit")
    assert len(hit) == 1
    # the motor stopped within a few steps of the switch (IRQ + main loop latency)
    fault_pos = res.stats["lens_pos"]
    assert res.replies("move")[1].get("error") or res.ev("motion_refused")
    assert res.replies("clear")[0]["cleared"] == "limit"
    # the abrupt halt lost no position: the firmware agrees with the lens afterwards
    # (the switch's IRQ stops the PIO and notes when; halt() counts the steps made up to
    # then: exact here, within one when a STEP rise falls a few us from the stop)
    assert res.stats["lens_pos"] == 100 and firmware_pos(res) == 100
    assert fault_pos == 100
    stop = [t for t in tr.rising("step") if 0 < t < 700e6]
    sw = tr.rising("home")
    assert sw and stop[-1] - sw[0] < 200e3        # stopped within 0.2 ms of the switch


def test_soft_limits_clamp_and_report():
    res, tr = run({"duration_ms": 800, "config": {"min_pos": -100, "max_pos": 400},
                   "serial": [cmd(10, "move 5000"), cmd(700, "status")]})
    assert res.replies("move")[0]["clamped"] is True
    assert res.ev("limit_clamp")[0]["target"] == 400
    assert res.stats["lens_pos"] == 400 and firmware_pos(res) == 400


def test_backlash_final_approach_always_from_one_side():
    res, tr = run({"duration_ms": 1200, "config": {"backlash_steps": 30, "backlash_dir": 1},
                   "serial": [cmd(10, "move 500"), cmd(400, "move 200"), cmd(1100, "status")]})
    lp = [v for t, v in tr.changes("lens_pos") if t > 400e6]
    assert min(lp) <= 200 - 30                   # overshot by at least the backlash
    assert lp[-1] == 200 and lp[-2] == 199        # final approach increasing
    assert res.stats["lens_pos"] == 200


def test_jog_buttons_fine_tap_and_coarse_hold():
    res, tr = run({"duration_ms": 2000, "config": {"jog_fine": 2, "jog_coarse": 40, "jog_repeat_ms": 100},
                   "presses": [press("jog_far", 100, 50), press("jog_far", 400, 50),
                               press("jog_near", 800, 650)],
                   "serial": [cmd(1900, "status")]})
    jogs = res.ev("jog")
    assert [j["size"] for j in jogs[:2]] == ["fine", "fine"]
    assert any(j["size"] == "coarse" for j in jogs)
    # with the default calibration nearer focus is more steps: two fine taps far (-4),
    # then near: fine (+2) and coarse repeats while held
    coarse = sum(1 for j in jogs if j["size"] == "coarse")
    assert coarse >= 4
    assert res.stats["lens_pos"] == -4 + 2 + 40 * coarse
    assert firmware_pos(res) == res.stats["lens_pos"]


def test_marks_and_eased_pull():
    res, tr = run({"duration_ms": 3000,
                   "serial": [cmd(10, "move 200"), cmd(300, "mark set A"), cmd(320, "move 1400"),
                              cmd(700, "mark set B"), cmd(800, "mark goto A 1000"), cmd(2900, "config get marks")]})
    assert res.replies("config")[-1]["value"] == {"A": 200, "B": 1400}
    done = res.ev("pull_done")
    assert len(done) == 1 and 1000 <= done[0]["ms"] <= 1100
    assert res.stats["lens_pos"] == 200
    # eased: slow at both ends, fastest in the middle
    steps = [t for t in tr.rising("step") if t > 800e6]
    n = len(steps)
    mid = steps[n // 2 + 1] - steps[n // 2]
    early = steps[5] - steps[4]
    late = steps[-4] - steps[-5]
    assert early > 2 * mid and late > 2 * mid


def test_focus_stack_exposes_only_after_settle_and_returns():
    res, tr = run({"duration_ms": 4000,
                   "config": {"stack_near": 100, "stack_far": 300, "stack_step": 50, "settle_ms": 150,
                              "stack_shots": 2, "shutter_pulse_ms": 30},
                   "serial": [cmd(10, "stack start")]})
    shots = tr.rising("cam_shutter")
    assert len(shots) == 5 * 2
    assert res.ev("stack_done") and res.stats["lens_pos"] == 0      # returned to start
    steps = tr.rising("step")
    for s in shots:
        last_step = max(t for t in steps if t < s)
        assert s - last_step >= 150e6 - 1e3, "exposure before settle"
        assert tr.value_at("lens_pos", s) in (100, 150, 200, 250, 300)
    assert len(res.ev("stack_progress")) == 5


def test_button_press_aborts_a_stack_and_leaves_the_lens():
    res, tr = run({"duration_ms": 3000,
                   "config": {"stack_near": 0, "stack_far": 1000, "stack_step": 100, "settle_ms": 200},
                   "serial": [cmd(10, "stack start"), cmd(2900, "status")],
                   "presses": [press("af_on", 900, 50)]})
    ab = res.ev("stack_aborted")
    assert len(ab) == 1
    after = [t for t in tr.rising("step") if t > 960e6]
    assert not after or after[-1] < 1000e6        # stopped, did not return
    assert not res.ev("stack_done")
    assert firmware_pos(res) == res.stats["lens_pos"]


def test_motor_disabled_after_idle_time_and_woken_for_the_next_move():
    res, tr = run({"duration_ms": 1500, "config": {"idle_disable_ms": 300},
                   "serial": [cmd(10, "move 200"), cmd(1000, "move 0")]})
    en = tr.changes("motor_en")
    ups = [t for t, v in en if v == 1]
    downs = [t for t, v in en if v == 0 and t > 0]
    stop1 = res.ev("motion_stop")[0]["t"] * 1000
    assert len(ups) == 2 and len(downs) == 2
    assert stop1 + 300e6 <= downs[0] <= stop1 + 305e6
    assert downs[0] < ups[1]
    # the first step after re-enabling waits for the driver to wake (a4988: 1 ms)
    first = min(t for t in tr.rising("step") if t > ups[1])
    assert first - ups[1] >= 1e6
    assert res.stats["driver_faults"] == 0 and res.stats["lens_pos"] == 0


def test_both_jog_buttons_store_marks_and_pull_between_them():
    res, tr = run({"duration_ms": 6000, "config": {"long_press_ms": 500, "pull_ms": 600},
                   "serial": [cmd(10, "move 100"), cmd(1200, "move 800"), cmd(5900, "status")],
                   "presses": [press("jog_near", 400, 700), press("jog_far", 400, 700),     # hold: mark A
                               press("jog_near", 2000, 700), press("jog_far", 2000, 700),   # hold: mark B
                               press("jog_near", 3500, 100), press("jog_far", 3500, 100)]})  # tap: pull
    marks = [(e["mark"], e["pos"]) for e in res.ev("mark_set")]
    assert marks == [("A", 100), ("B", 800)]
    assert len(res.ev("pull_done")) == 1
    assert res.stats["lens_pos"] == 100           # pulled from B (800) to the other mark, A
    # holding both buttons did not jog the lens
    assert not res.ev("jog")
