"""Power cuts during flash writes (issue 11, item 2), on the rp2040 target: the official
v1.28.0 UF2 with real littlefs on emulated flash. The harness snapshots the flash after
every erase/program step (js/flash-snapshots.mjs); each snapshot is the flash as a power
cut right after that step leaves it. CI: one `config set`, every cut point read back, one
booted, and a shutter press in the middle of the longest step. `make soak`: 40 writes of each kind, every cut point
booted. Plus, on the virtual Pico, a corrupt config.json boots on the defaults."""

import json

import pytest

from focusrig import scenario as scn
from focusrig.virtual_pico import runner
from reliability import rp2040_missing, soak

_MISSING = rp2040_missing()


@pytest.mark.skipif(_MISSING is not None, reason=f"rp2040 target: {_MISSING}")
def test_rp2040_power_cut_after_each_flash_step_old_or_new_config():
    fig = soak.powercut("config", sets=1, verify_boot=1)
    assert fig["steps"] >= 2 and fig["cut_points_read_back"] == fig["steps"]
    assert fig["read_back_old_new"]["old"] and fig["read_back_old_new"]["new"]
    assert fig["cut_points_booted"] == 1
    # the press in the middle of a flash step: the PIO shutter at the contact edge, the
    # press counted once (stamped when the CPU runs again)
    assert fig["press_to_shutter_ns"] <= 5000
    assert 0 <= fig["press_stamp_late_us"] <= fig["press_step_stall_ms"] * 1000 + 1000


CORRUPT = [
    (b'{"max_speed": 5000, "af_mo', "corrupt"),                      # truncated
    (b"\xff\xfe\x00garbage\x80\x81", "corrupt"),                     # garbage, not UTF-8
    (b"", "corrupt"),                                                # empty
    (b'{"max_speed": "fast", "af_mode": "servo"}', "rejected"),      # wrong type
    (b'{"lens_cal": [[1000, 2]]}', "rejected"),                      # wrong shape
    (b"[1, 2, 3]", "not an object"),
]


@pytest.mark.parametrize("data,why", CORRUPT, ids=[w + str(i) for i, (_, w) in enumerate(CORRUPT)])
def test_corrupt_config_json_boots_on_defaults_and_says_why(monkeypatch, data, why):
    real = runner.prepare_flash

    def with_bad_config(flash_dir, *a, **kw):
        real(flash_dir, *a, **kw)
        with open(flash_dir + "/config.json", "wb") as f:
            f.write(data)

    monkeypatch.setattr(runner, "prepare_flash", with_bad_config)
    res = runner.run(scn.validate({"duration_ms": 300,
                                   "serial": [{"at_ms": 100, "cmd": "config get"},
                                              {"at_ms": 200, "cmd": "status"}]}))
    boot = res.ev("boot")
    assert len(boot) == 1 and why in boot[0]["config"] and "using defaults" in boot[0]["config"]
    assert "\n" not in boot[0]["config"] and len(boot[0]["config"]) < 200
    assert res.replies("config")[0]["config"] == json.loads(json.dumps(
        scn.firmware_config().DEFAULTS))
    assert res.replies("status")[0]["ok"]
