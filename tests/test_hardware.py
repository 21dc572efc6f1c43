"""hardware/ stays in step with the firmware: pin map, generated pins.py, wiring harness files,
README tables, BOM part count, HIL jig wiring, and (when Graphviz is present) the SVGs."""

import json
import os

import pytest
import yaml

from focusrig import FIRMWARE_DIR, HARDWARE_DIR, pinmap, wiring


@pytest.fixture(scope="module")
def pm():
    return pinmap.load()


@pytest.fixture(scope="module")
def bom():
    return wiring.load_bom()


@pytest.fixture(scope="module")
def jig():
    return wiring.load_jig()


# --- pin map ---------------------------------------------------------------------------

def test_pinmap_valid_and_complete(pm):
    pinmap.validate(pm)
    assert set(pm["inputs"]) == {"shutter_half", "shutter_full", "af_on", "jog_near",
                                 "jog_far", "home"}
    assert set(wiring.OUTPUT_ROLES) == set(pm["outputs"])
    for name, p in {**pm["inputs"], **pm["outputs"]}.items():
        assert p["gpio"] in wiring.PICO_HEADER or p["gpio"] in wiring.PICO_ONBOARD, name


def test_firmware_pins_py_up_to_date(pm):
    with open(os.path.join(FIRMWARE_DIR, "pins.py")) as f:
        assert f.read() == pinmap.render_pins_py(pm), "run `make pins`"
    assert pinmap.main(["--check"]) == 0


def test_boot_states_are_safe(pm):
    """Every output boots inactive; every input is pulled to its inactive level."""
    for name, p in pm["outputs"].items():
        assert p["boot"] != p["active"], f"{name} would be asserted at boot"
    for name, p in pm["inputs"].items():
        assert p["pull"] == ("up" if p["active"] == "low" else "down"), name
    out = pm["outputs"]
    # RP2040 pads reset to input + pull-down: only active-high outputs are safe without
    # help; an active-low output needs the external pull-up the README and wiring show.
    for name, p in out.items():
        if p["active"] == "low":
            assert name == "motor_en", f"{name}: active-low output without a pull-up"


def test_pio_pin_constraints(pm):
    out = pm["outputs"]
    assert out["dir"]["gpio"] == out["step"]["gpio"] + 1


# --- jig wiring ------------------------------------------------------------------------

def test_jig_matches_pinmap(pm, jig):
    assert set(jig["drive"]) == set(pm["inputs"])
    for sig, m in jig["drive"].items():
        assert m["dut_gpio"] == pm["inputs"][sig]["gpio"], sig
    for sig, m in jig["capture"].items():
        assert m["dut_gpio"] == pm["outputs"][sig]["gpio"], sig
    assert set(jig["capture"]) == {"cam_focus", "cam_shutter", "step", "dir", "motor_en"}
    u, lidar = jig["uart"], pm["uart"]["lidar"]
    assert (u["dut_tx"], u["dut_rx"], u["baud"]) == (lidar["tx"], lidar["rx"], lidar["baud"])


def test_jig_capture_pins_consecutive(jig):
    pins = [m["jig_gpio"] for m in jig["capture"].values()]
    base = jig["capture_base"]
    assert pins == list(range(base, base + len(pins))), "one `in pins, N` needs consecutive pins"


def test_jig_pins_unique_and_on_header(jig):
    used = [m["jig_gpio"] for k in ("drive", "capture") for m in jig[k].values()]
    used += [jig["uart"]["jig_tx"], jig["uart"]["jig_rx"], jig["reset"]["jig_gpio"]]
    assert len(used) == len(set(used)), "a jig pin is used twice"
    for g in used:
        assert g in wiring.PICO_HEADER, f"jig GP{g} is not on the header"
    assert jig["reset"]["dut_header_pin"] == wiring.PICO_RUN
    for gp in jig["ground"]:
        assert gp["dut_header_pin"] in wiring.PICO_GND
        assert gp["jig_header_pin"] in wiring.PICO_GND


# --- wiring harness files, README ------------------------------------------------------

def test_wiring_yaml_up_to_date(tmp_path, pm, bom):
    """Regenerate the harness YAML in memory and compare with the committed files."""
    want = wiring.yaml_files(pm, bom)
    have = {fn for fn in os.listdir(wiring.WIRING_DIR) if fn.endswith(".yml")}
    assert have == set(want), "run `make docs`"
    for fn, text in want.items():
        with open(os.path.join(wiring.WIRING_DIR, fn)) as f:
            assert f.read() == text, f"hardware/wiring/{fn} is stale: run `make docs`"


def test_wiring_gpios_come_from_pinmap(pm):
    """Every 'GPn signal' label on the Pico in every diagram agrees with the pin map."""
    gp = {name: p["gpio"] for g in ("inputs", "outputs") for name, p in pm[g].items()}
    seen = set()
    for fn in os.listdir(wiring.WIRING_DIR):
        with open(os.path.join(wiring.WIRING_DIR, fn)) as f:
            u1 = yaml.safe_load(f)["connectors"].get("U1")
        if not u1:
            continue
        for pin, label in zip(u1["pins"], u1["pinlabels"]):
            if not label.startswith("GP"):
                continue
            g_str, sig = label.split(" ", 1)
            g = int(g_str[2:])
            assert wiring.PICO_HEADER[g] == pin, f"{fn}: {label} on header pin {pin}"
            if sig in gp:
                assert gp[sig] == g, f"{fn}: {sig} drawn on GP{g}, pin map says GP{gp[sig]}"
                seen.add(sig)
    assert seen == {s for s, g in gp.items() if g not in wiring.PICO_ONBOARD}


def test_readme_tables_up_to_date(pm, bom, jig):
    with open(wiring.README_PATH) as f:
        text = f.read()
    assert wiring.update_readme(text, wiring.readme_sections(pm, bom, jig)) == text, \
        "hardware/README.md tables are stale: run `make docs`"
    assert "![" in text and "diagrams/main.svg" in text


def test_check_mode_passes(capsys):
    assert wiring.main(["--check"]) == 0


# --- BOM -------------------------------------------------------------------------------

def test_bom_rows(bom):
    for r in bom:
        assert r["part"] and r["value"] and r["quantity"] > 0, r
        if r["refs"]:
            assert r["quantity"] == len(r["refs"]), f"{r['part']}: quantity != refs"
            assert r["example_part_number"], f"{r['part']}: no example part number"


def test_bom_part_count_matches_wiring(bom):
    """Part = a WireViz connector; count = distinct designators over hardware/wiring/*.yml.
    The BOM quantities of rows with designators must add up to that, ref for ref."""
    in_wiring = wiring.count_parts()
    in_bom = wiring.bom_refs(bom)
    assert set(in_bom) == in_wiring, (
        f"only in BOM: {sorted(set(in_bom) - in_wiring)}, "
        f"only in wiring: {sorted(in_wiring - set(in_bom))}")
    assert sum(r["quantity"] for r in bom if r["refs"]) == len(in_wiring)


# --- rendering -------------------------------------------------------------------------

def test_svgs_committed_for_every_harness():
    ymls = {fn[:-4] for fn in os.listdir(wiring.WIRING_DIR) if fn.endswith(".yml")}
    svgs = {fn[:-4] for fn in os.listdir(wiring.DIAGRAM_DIR) if fn.endswith(".svg")}
    assert ymls == svgs, "run `make docs`"


@pytest.mark.skipif(not wiring.have_dot(),
                    reason="Graphviz `dot` not installed: run `make system-deps` "
                           "(apt-get install graphviz) to render the wiring diagrams")
def test_svgs_render(tmp_path):
    names = {"main", "trigger_board", "camera_canon_e3"}
    out = wiring.render_svgs(wiring.WIRING_DIR, str(tmp_path), names)
    assert {os.path.basename(p)[:-4] for p in out} == names
    for p in out:
        with open(p) as f:
            assert "<svg" in f.read(2000)


def test_missing_dot_is_one_line_exit_2(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(wiring, "have_dot", lambda: False)
    monkeypatch.setattr(wiring, "README_PATH", str(tmp_path / "README.md"))
    with open(os.path.join(HARDWARE_DIR, "README.md")) as f:
        (tmp_path / "README.md").write_text(f.read())
    rc = wiring.main(["--yaml-dir", str(tmp_path / "yml"), "--out", str(tmp_path / "svg")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and "make system-deps" in err[0]


def test_jig_file_is_plain_json():
    with open(wiring.JIG_PATH) as f:
        json.load(f)
