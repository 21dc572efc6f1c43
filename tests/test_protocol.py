"""The serial protocol and the config file, through timed serial commands on the virtual
Pico: every reply is one JSON line, bad input changes nothing, config survives reboot."""

import json
import os
import shutil
import tempfile

from focusrig import scenario as scn
from focusrig.virtual_pico import runner
from vpico import run


def cmd(at, c):
    return {"at_ms": at, "cmd": c}


def test_status_version_and_ping():
    res, _ = run({"duration_ms": 300, "serial": [cmd(10, "status"), cmd(20, "version"), cmd(30, "ping")]})
    st = res.replies("status")[0]
    assert st["ok"] and st["state"] == "idle" and st["pos"] == 0 and "mem_alloc" in st
    v = res.replies("version")[0]
    assert v["version"] == "0.1.0" and v["micropython"].startswith("1.")
    assert res.replies("ping")[0]["ok"]


def test_lines_are_whole_json_objects_padded_to_32_byte_chunks():
    # docs/protocol.md: "t" first, then "ev" or "re" (and "ok"); spaces pad each line to
    # whole 32-byte writes (the rp2 CDC FIFO); a reply longer than the firmware's line
    # buffer (config: ~1.5 KB) arrives whole
    import re
    res, _ = run({"duration_ms": 500, "presses": [{"input": "shutter_full", "at_ms": 300, "hold_ms": 50}],
                  "serial": [cmd(150, "config get"), cmd(160, "status"), cmd(170, "move abc"),
                             cmd(180, "config get max_speed")]})
    assert len(res.event_text) == len(res.events) >= 8
    for text, e in zip(res.event_text, res.events):
        assert (len(text.encode()) + 1) % 32 == 0, text
        assert re.match(r'\{"t": \d+, "(ev|re)": "', text), text
        if "re" in e:
            assert ("error" in e) != (e.get("ok") is True), e
    full = res.replies("config")[0]["config"]
    assert len(json.dumps(full)) > 256 and full["max_speed"] == res.replies("config")[1]["value"]
    assert res.replies("move")[0]["error"]
    assert len(res.ev("exposure")) == 1 and res.ev("press")


def test_bad_input_gets_one_line_errors_and_changes_nothing():
    bad = ["frobnicate", "config set max_speed -5", "config set max_speed fast",
           "config set nonsense 1", "config set lens_cal [[1000,100]]", "move", "move abc",
           "config", "jog", "mark goto Z", "x" * 300, "config set af_mode sideways"]
    res, _ = run({"duration_ms": 300, "serial": [cmd(10 + 5 * i, c) for i, c in enumerate(bad)]
                  + [cmd(250, "config get")]})
    errors = [e for e in res.events if "error" in e and "re" in e]
    assert len(errors) == len(bad), errors
    for e in errors:
        assert isinstance(e["error"], str) and "\n" not in e["error"] and len(e["error"]) < 200
    cfg = res.replies("config")[-1]["config"]
    defaults = scn.firmware_config().DEFAULTS
    assert cfg == defaults
    assert res.stats["steps"] == 0


def test_config_set_applies_and_persists_across_reboot():
    work = tempfile.mkdtemp()
    try:
        s = scn.validate({"duration_ms": 200, "serial": [cmd(10, "config set max_speed 5000"),
                                                         cmd(20, 'config set af_mode "servo"')]})
        res = runner.run(s, workdir=work)
        rep = res.replies("config")
        assert all(r["ok"] and r["saved"] is True and "why" not in r and "pending" not in r
                   for r in rep)
        with open(os.path.join(work, "flash", "config.json")) as f:
            saved = json.load(f)
        assert saved == {"max_speed": 5000, "af_mode": "servo"}
        # the flash folder is reused: boot again and read it back
        flash = os.path.join(work, "flash")
        s2 = scn.validate({"duration_ms": 100, "serial": [cmd(10, "config get max_speed")]})
        res2 = _run_on_flash(s2, flash)
        assert res2.replies("config")[0]["value"] == 5000
        assert "loaded" in res2.ev("boot")[0]["config"]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run_on_flash(s, flash):
    """Boot the firmware with an existing flash folder (config.json kept)."""
    orig = runner.prepare_flash

    def keep(flash_dir, config_overrides=None, firmware_dir=runner.FIRMWARE_DIR):
        orig(flash_dir, None, firmware_dir)
        shutil.copy(os.path.join(flash, "config.json"), os.path.join(flash_dir, "config.json"))
    runner.prepare_flash = keep
    try:
        return runner.run(s)
    finally:
        runner.prepare_flash = orig


def test_corrupt_config_file_falls_back_to_defaults_and_says_so():
    work = tempfile.mkdtemp()
    try:
        flash = os.path.join(work, "keep")
        os.makedirs(flash)
        with open(os.path.join(flash, "config.json"), "w") as f:
            f.write('{"max_speed": 50')
        # (the boot event comes ~120 ms after the clock start on the virtual Pico's CPU
        # model, ~155 ms on the rp2040 target)
        res = _run_on_flash(scn.validate({"duration_ms": 250}), flash)
        assert "corrupt" in res.ev("boot")[0]["config"]
        with open(os.path.join(flash, "config.json"), "w") as f:
            json.dump({"max_speed": -3}, f)
        res = _run_on_flash(scn.validate({"duration_ms": 250}), flash)
        assert "rejected" in res.ev("boot")[0]["config"] and "max_speed" in res.ev("boot")[0]["config"]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_config_write_is_deferred_while_the_lens_moves():
    res, tr = run({"duration_ms": 1500, "serial": [cmd(10, "move 3000"), cmd(50, "config set burst_fps 7")]})
    rep = res.replies("config")[0]
    assert rep["ok"] and rep["saved"] is False and rep["pending"] is True and "why" not in rep
    saved = res.ev("config_saved")
    stop = res.ev("motion_stop")[0]
    assert len(saved) == 1 and saved[0]["t"] >= stop["t"] and not res.ev("config_error")


def test_events_carry_microsecond_timestamps_in_order():
    res, _ = run({"duration_ms": 600, "subject_mm": [[0, 1500]],
                  "presses": [{"input": "af_on", "at_ms": 100, "hold_ms": 100},
                              {"input": "shutter_full", "at_ms": 400, "hold_ms": 50}]})
    ts = [e["t"] for e in res.events]
    assert ts == sorted(ts)
    press = [e for e in res.ev("press") if e["input"] == "af_on"][0]
    # uptime 0 is the firmware's first clock read, a few us of boot code after scenario
    # time 0 (the CPU model charges that code); the IRQ adds 20-25 us
    assert 99900 < press["t"] < 100100


def test_nothing_blocks_the_buttons_when_no_host_reads():
    # (presses after boot: ~120 ms virtual, ~155 ms on the rp2040 target)
    presses = [{"input": "shutter_full", "at_ms": 250 + 40 * i, "hold_ms": 15} for i in range(40)]
    s = scn.validate({"duration_ms": 2000, "subject_mm": [[0, 1500]], "presses": presses,
                      "serial": [cmd(5, "config set shutter_pulse_ms 10")]})
    res = runner.run(s, host_not_reading=True)
    from focusrig import trace as trace_mod
    tr = trace_mod.from_run(res)
    # every press still fired, on time, though the event lines could not get out
    shots = tr.rising("cam_shutter")
    assert len(shots) == 40
    # the IRQ path's own bound on a Pico (rp2040 target: 215-225 us; docs/virtual_pico.md)
    assert all(t - (250 + 40 * i) * 1e6 < 500e3 for i, t in enumerate(shots))
    # the output stalled: far fewer lines than events were produced
    assert len(res.events) < 120


def test_control_characters_before_a_command_are_ignored():
    # what mpremote leaves after a reset (Ctrl-B, Ctrl-D); not Ctrl-C, which is the REPL's
    res, _ = run({"duration_ms": 300, "serial": [cmd(10, "\x02\x04status"), cmd(20, "\x01\x1bping")]})
    assert res.replies("status")[0]["ok"] and res.replies("ping")[0]["ok"]


def test_ctrl_c_stops_the_firmware_as_on_a_board():
    # rp2's USB CDC turns 0x03 into KeyboardInterrupt (shared/tinyusb/mp_usbd_cdc.c:78-84):
    # main.py stops, nothing answers any more; a host must not expect a reply to it. The
    # ping comes after boot (~47 ms virtual, ~155 ms on an RP2040), the Ctrl-C after its
    # reply (a Ctrl-C 3 ms after boot once came before the ping was answered)
    res, tr = run({"duration_ms": 400, "serial": [cmd(200, "ping"), {"at_ms": 250, "hex": "03"},
                                                   cmd(300, "status")]})
    assert len(res.replies("ping")) == 1 and not res.replies("status")
    assert res.stats["usb_interrupts"] == 1
    assert any("KeyboardInterrupt" in line for line in res.raw_lines)
    assert tr.value_at("cam_shutter", 399e6) == 0 and tr.value_at("motor_en", 399e6) == 0


def test_command_reader_survives_bad_bytes_and_never_waits_for_a_newline():
    # (after boot: the boot event comes ~120 ms after the firmware's first clock read on
    # the virtual Pico's CPU model, ~155 ms on the rp2040 target)
    res, _ = run({"duration_ms": 2500, "serial": [
        {"at_ms": 200, "hex": "636166e90a"},                 # caf\xe9\n: not UTF-8
        cmd(210, "ping"),
        {"at_ms": 220, "hex": "41" * 10000 + "0a"},          # 10 kB without a newline
        {"at_ms": 360, "cmd": "status", "typing_ms": 20}],   # typed by a person
        "presses": [{"input": "af_on", "at_ms": 390, "hold_ms": 30}]})  # mid-typing
    errs = [e["error"] for e in res.events if e.get("re") == "?"]
    assert errs == ["command is not text (UTF-8)", "command longer than 200 characters"]
    assert len(res.replies("ping")) == 1 and res.replies("status")[0]["ok"]
    # the reader takes bytes as they come: the press made while "status" is still being
    # typed is handled and reported at once (no readline() holding the event loop)
    press = [e for e in res.ev("press") if e["input"] == "af_on"][0]
    assert press["t"] < res.replies("status")[0]["t"] and res.ev("af_start")[0]["t"] < 400000
