"""The firmware under adverse conditions (issue 8, section 4): a flash that cannot be
written, a calibration table that makes no sense, a jog while AF runs, a subject that
steps in as AF-ON is pressed. Scenario tests on the virtual Pico, plus firmware/config.py
on CPython."""

import json
import os
import shutil
import tempfile

import pytest

from focusrig import scenario as scn
from focusrig.virtual_pico import runner
from vpico import run, cal_steps

FULL = {"flash_full": True}        # board setup: opening a file on flash for writing: ENOSPC


def cmd(at, c):
    return {"at_ms": at, "cmd": c}


def press(inp, at, hold, bounce=0):
    return {"input": inp, "at_ms": at, "hold_ms": hold, "bounce_ms": bounce}


def answers(res, name):
    """Every line that answers command `name`: its replies and any `<name>_refused` event."""
    return res.replies(name) + res.ev(name + "_refused")


def one_line(text):
    assert isinstance(text, str) and "\n" not in text and 0 < len(text) < 200, text


# ---- config set on a flash that cannot be written ------------------------------------------

def test_config_set_on_a_full_flash_says_not_saved_and_why():
    work = tempfile.mkdtemp()
    try:
        s = scn.validate({"duration_ms": 200, "serial": [cmd(10, "config set max_speed 5000"),
                                                         cmd(50, "config get max_speed")]})
        res = runner.run(s, workdir=work, extra_setup=FULL)
        rep = res.replies("config")
        assert rep[0]["ok"] and rep[0]["changed"] == ["max_speed"]
        assert rep[0]["saved"] is False and "pending" not in rep[0]
        why = rep[0]["why"]
        one_line(why)
        assert "flash full" in why and "28" in why
        # the change is active (until restart), the flash holds nothing new, no temporary file
        assert rep[1]["value"] == 5000
        assert not os.path.exists(os.path.join(work, "flash", "config.json"))
        assert not os.path.exists(os.path.join(work, "flash", "config.tmp"))
        # the reply is the one answer: no event repeats it, none contradicts it
        assert not res.ev("config_saved") and not res.ev("config_error")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_a_deferred_save_that_fails_is_reported_by_an_event():
    res, _ = run({"duration_ms": 1500, "serial": [cmd(10, "move 3000"),
                                                 cmd(50, "config set burst_fps 7")]},
                 extra_setup=FULL)
    rep = res.replies("config")[0]
    assert rep["ok"] and rep["saved"] is False and rep["pending"] is True
    err = res.ev("config_error")
    assert len(err) == 1 and not res.ev("config_saved")
    one_line(err[0]["why"])
    assert "flash full" in err[0]["why"]
    assert err[0]["t"] >= res.ev("motion_stop")[0]["t"]


def test_mark_set_on_a_full_flash_says_not_saved():
    res, _ = run({"duration_ms": 200, "serial": [cmd(10, "move 40"), cmd(150, "mark set A")]},
                 extra_setup=FULL)
    rep = res.replies("mark")[0]
    assert rep["ok"] and rep["pos"] == 40 and rep["saved"] is False and "flash full" in rep["why"]


def test_config_save_failing_mid_write_keeps_the_old_file(tmp_path, monkeypatch):
    cfgmod = scn.firmware_config()
    monkeypatch.chdir(tmp_path)
    old = {"max_speed": 5000}
    (tmp_path / "config.json").write_text(json.dumps(old))

    class FullFile:
        def __init__(self, *a):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def write(self, s):
            open("config.tmp", "a").write(s[:3])       # part of it landed
            raise OSError(28)

    monkeypatch.setattr(cfgmod, "open", FullFile, raising=False)
    new = dict(cfgmod.DEFAULTS, max_speed=6000)
    with pytest.raises(OSError) as e:
        cfgmod.save(new)
    monkeypatch.delattr(cfgmod, "open")
    assert json.loads((tmp_path / "config.json").read_text()) == old
    assert not (tmp_path / "config.tmp").exists()
    why = cfgmod.save_error(e.value)
    one_line(why)
    assert "flash full" in why and "errno 28" in why
    assert "I/O error" in cfgmod.save_error(OSError(5))
    assert "errno 99" in cfgmod.save_error(OSError(99))


# ---- lens_cal must be monotonic --------------------------------------------------------------

NON_MONOTONIC = [
    [[500, 2500], [1000, 1300], [2000, 1400], [4000, 400]],     # turns back between 1 m and 2 m
    [[500, 2500], [1000, 1300], [2000, 1300]],                  # same position at two distances
    [[300, 100], [700, 500], [1500, 400]],                      # rising, then falling
]


@pytest.mark.parametrize("table", NON_MONOTONIC)
def test_check_cal_refuses_a_non_monotonic_table(table):
    cfgmod = scn.firmware_config()
    with pytest.raises(cfgmod.ConfigError) as e:
        cfgmod.check_value("lens_cal", table)
    one_line(str(e.value))
    assert "monotonic" in str(e.value)


@pytest.mark.parametrize("ms,ok", [(0, True), (1, False), (199, False), (200, True), (2000, True)])
def test_watchdog_ms_is_off_or_longer_than_a_flash_write(ms, ok):
    cfgmod = scn.firmware_config()
    cfg = dict(cfgmod.DEFAULTS, watchdog_ms=cfgmod.check_value("watchdog_ms", ms))
    if ok:
        cfgmod.check_all(cfg)
        return
    with pytest.raises(cfgmod.ConfigError) as e:
        cfgmod.check_all(cfg)
    one_line(str(e.value))
    assert "watchdog_ms" in str(e.value) and "flash" in str(e.value)


def test_check_cal_takes_monotonic_tables_either_way_and_in_any_order():
    cfgmod = scn.firmware_config()
    assert cfgmod.check_value("lens_cal", [[2000, 700], [500, 2500], [1000, 1300]]) == \
        [[500, 2500], [1000, 1300], [2000, 700]]
    assert cfgmod.check_value("lens_cal", [[400, -300], [700, -200]]) == [[400, -300], [700, -200]]
    assert cfgmod.check_value("lens_cal", cfgmod.DEFAULTS["lens_cal"]) == cfgmod.DEFAULTS["lens_cal"]


def test_config_set_lens_cal_refuses_a_non_monotonic_table_and_keeps_the_old_one():
    sets = [cmd(10 + 10 * i, "config set lens_cal " + json.dumps(t, separators=(",", ":")))
            for i, t in enumerate(NON_MONOTONIC)]
    res, _ = run({"duration_ms": 200, "serial": sets + [cmd(150, "config get lens_cal")]})
    rep = res.replies("config")
    assert len(rep) == len(NON_MONOTONIC) + 1
    for r in rep[:-1]:
        assert "ok" not in r
        one_line(r["error"])
        assert r["error"].startswith("lens_cal: not monotonic"), r["error"]
    assert rep[-1]["value"] == scn.firmware_config().DEFAULTS["lens_cal"]
    assert not res.ev("config_saved")


def test_a_scenario_with_a_non_monotonic_table_is_refused():
    with pytest.raises(scn.ScenarioError) as e:
        scn.validate({"config": {"lens_cal": NON_MONOTONIC[0]}})
    assert "monotonic" in str(e.value)


# ---- jog while AF runs: one answer ----------------------------------------------------------

def test_jog_while_af_runs_gets_exactly_one_answer():
    res, tr = run({"duration_ms": 900, "config": {"af_mode": "servo"},
                   "subject_mm": [[0, 2000]],
                   "presses": [press("af_on", 100, 400)],
                   "serial": [cmd(300, "jog 25"), cmd(320, "jog near coarse"), cmd(700, "jog 25"),
                              cmd(790, "status")]})
    during = [e for e in answers(res, "jog") if e["t"] < 500000]
    assert len(during) == 2, during
    for e in during:
        assert "re" in e and "ok" not in e, e
        one_line(e["error"])
        assert "AF is running" in e["error"]
    assert not [e for e in res.ev("jog") if e["t"] < 500000]
    # after AF: the jog runs and is answered once, ok
    after = [e for e in answers(res, "jog") if e["t"] > 500000]
    assert len(after) == 1 and after[0]["ok"] and after[0]["delta"] == 25
    assert res.replies("status")[0]["pos"] == round(cal_steps(2000)) + 25


# ---- one-shot AF measures after the start ---------------------------------------------------

def test_one_shot_af_uses_a_distance_measured_after_af_on():
    """The subject steps in (6 m -> 2 m) 2 ms before AF-ON: the frame that arrived 5 ms
    before the press still says 6 m; AF waits for the next one (at most 10 ms)."""
    res, tr = run({"duration_ms": 800, "subject_mm": [[0, 6000], [297.5, 6000], [298, 2000]],
                   "presses": [press("af_on", 300, 100)]})
    press_t = [e for e in res.ev("press") if e["input"] == "af_on"][0]["t"]
    tgt = res.ev("af_target")
    assert len(tgt) == 1 and tgt[0]["mm"] == 2000
    assert 0 < tgt[0]["t"] - press_t <= 12000          # the next frame + polling
    assert tgt[0]["target"] == round(cal_steps(2000))
    assert res.stats["lens_pos"] == round(cal_steps(2000))
    assert len(res.ev("af_achieved")) == 1 and not res.ev("af_error")


def test_one_shot_af_still_times_out_without_a_new_reading():
    # the subject leaves as AF-ON is pressed: frames after the press have no return
    res, tr = run({"duration_ms": 800, "config": {"focus_timeout_ms": 200},
                   "subject_mm": [[0, 2000], [290, 2000], [290.5, 0]],
                   "presses": [press("af_on", 300, 50)]})
    err = res.ev("af_error")
    assert len(err) == 1 and err[0]["why"] == "no_target"
    assert 499 <= err[0]["t"] / 1000 <= 503
    assert not res.ev("af_target") and res.stats["steps"] == 0
