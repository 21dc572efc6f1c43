"""Near and far, decided once: DIR high = the step count rises (wiring); which way is nearer
is a fact of each rig, found by calibration and stored in lens_cal's slope. `jog near|far`,
the jog buttons, the calibration wizard's keys and focus stacking all follow lens_cal; the
default table is one rig's (nearer = more steps) and the docs say the same.
"""

import json
import os

from focusrig import calibrate as cal
from focusrig import scenario as scn
from vpico import REPO, cal_steps, run

RISING = [[300, 0], [1000, 2800], [8000, 3850]]       # a rig where nearer = fewer steps


def cmd(at, c):
    return {"at_ms": at, "cmd": c}


def press(inp, at, hold):
    return {"input": inp, "at_ms": at, "hold_ms": hold, "bounce_ms": 0}


def test_default_table_is_one_rig_nearer_is_more_steps():
    table = scn.firmware_config().DEFAULTS["lens_cal"]
    assert cal.table_near_sign(table) == 1
    assert cal_steps(500) > cal_steps(4000)


def _jogs(cfg):
    """jog near / jog far by command, then the two jog buttons; the lens moves."""
    res, tr = run({"duration_ms": 1500, "config": {"jog_fine": 7, **cfg},
                   "subject_mm": [[0, 0]],
                   "serial": [cmd(50, "jog near"), cmd(300, "jog far coarse"), cmd(600, "status")],
                   "presses": [press("jog_near", 800, 30), press("jog_far", 1100, 30)]})
    replies = res.replies("jog")
    buttons = [e["delta"] for e in res.ev("jog")]
    return [r["delta"] for r in replies], buttons, res


def test_jog_near_follows_the_default_table():
    cmds, buttons, res = _jogs({"jog_coarse": 40})
    assert cmds == [7, -40]                # nearer = more steps on the default table
    assert buttons[-2:] == [7, -7]         # jog_near button, then jog_far button
    assert res.stats["lens_pos"] == 7 - 40 + 7 - 7


def test_jog_near_follows_a_rising_table():
    cmds, buttons, res = _jogs({"jog_coarse": 40, "lens_cal": RISING})
    assert cmds == [-7, 40]                # nearer = fewer steps on this rig
    assert buttons[-2:] == [-7, 7]


def test_af_on_a_nearer_subject_moves_the_way_jog_near_does():
    for table in (None, RISING):
        cfg = {"lens_cal": table} if table else {}
        res, _ = run({"duration_ms": 900, "config": cfg, "subject_mm": [[0, 600]],
                      "presses": [press("af_on", 100, 50)]})
        near_pos = res.stats["lens_pos"]
        expect = cal_steps(600, table)
        assert abs(near_pos - expect) <= 1
        far_pos = cal_steps(6000, table)
        sign = cal.table_near_sign(table or scn.firmware_config().DEFAULTS["lens_cal"])
        assert (near_pos - far_pos) * sign > 0


def test_stack_count_without_stack_far_goes_towards_far():
    for table, sign in ((None, -1), (RISING, 1)):
        cfg = {"stack_near": 500, "stack_count": 3, "stack_step": 100, "settle_ms": 20,
               "stack_shots": 1, "shutter_pulse_ms": 20, "stack_return": False}
        if table:
            cfg["lens_cal"] = table
        res, _ = run({"duration_ms": 1800, "config": cfg, "subject_mm": [[0, 0]],
                      "serial": [cmd(10, "stack start")]})
        st = res.ev("stack_start")[0]
        assert (st["near"], st["far"]) == (500, 500 + sign * 200), st


def test_wizard_keys_follow_the_board_then_the_points():
    assert cal.parse_key_line("left", 2, 40) == ("near", 2)
    assert cal.parse_key_line("RIGHT", 2, 40) == ("far", 40)
    assert cal.parse_key_line("jog -17", 2, 40) == ("jog", -17)     # raw steps: no direction
    assert cal.decode_tty(b"\x1b[D\x1b[1;2C", 1, 50) == [("near", 1), ("far", 50)]

    class Board:
        port = "test"
        events = []

        def __init__(self, table):
            self.table = table
            self.sent = []

        def command(self, line, timeout=None):
            self.sent.append(line)
            return {"re": "config", "key": "lens_cal", "value": self.table}

    import io
    w = cal.Wizard(Board([[300, 4100], [8000, 250]]), None, io.StringIO(), [400, 700], 1, 50)
    assert w.near_sign() == 1
    w.points = [[400, 100], [700, 300]]                   # this rig: nearer = fewer steps
    assert w.near_sign() == -1
    assert "fewer" in w.out.getvalue()
    w2 = cal.Wizard(Board([[300, 0], [8000, 3000]]), None, io.StringIO(), [400, 700], 1, 50)
    assert w2.near_sign() == -1


def test_docs_and_pin_map_agree():
    with open(os.path.join(REPO, "hardware", "pinmap.json")) as f:
        pm = json.load(f)
    dir_text = json.dumps(pm).lower()
    assert "(far)" not in dir_text
    docs = {p: open(os.path.join(REPO, p)).read() for p in
            ("hardware/README.md", "docs/host_tool.md", "README.md", "docs/protocol.md")}
    for path, text in docs.items():
        low = text.lower()
        assert "dir high = increasing steps = towards far" not in low, path
        assert "near is a negative jog" not in low, path
    assert "lens_cal" in docs["hardware/README.md"].split("Motor and direction")[1][:900]
