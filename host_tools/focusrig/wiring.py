"""Wiring diagrams, generated from hardware/pinmap.json so they cannot drift from the firmware.

    python -m focusrig.wiring --out hardware/diagrams     (what `make docs` runs)
    python -m focusrig.wiring --check                     (no graphviz needed)

Writes:
- hardware/wiring/*.yml      WireViz harness files (generated, committed)
- hardware/diagrams/*.svg    rendered by WireViz + Graphviz `dot` (generated, committed)
- the generated sections of hardware/README.md (pin table, BOM table, HIL jig table)

Every GPIO number in the diagrams comes from hardware/pinmap.json; every designator (U1, R2,
SW3 ...) must have a row in hardware/bom.csv, whose example part number is printed on the
part. Which *pin of which part* a signal goes to is the wiring design, kept in the tables
below: a signal added to the pin map without a place here is an error, not a silent gap.

Part count (checked by tests/test_hardware.py): a *part* is a WireViz connector, i.e. a
thing with pins you plug in or solder to: modules, switches, resistors, capacitors,
diodes, optocouplers, jacks and plugs. Its YAML key is its designator. The count is the
number of distinct designators over all hardware/wiring/*.yml files (the Pico, U1, appears
in most diagrams and counts once; the three driver variants share U2 and the camera
cables share P2 because you fit one of them). Cables and wires are not parts: they are cut
from the consumable rows of the BOM, which carry no designator.
"""

import argparse
import csv
import html
import json
import os
import shutil
import sys
import tempfile
import textwrap

from . import HARDWARE_DIR
from . import pinmap as pinmap_mod

WIRING_DIR = os.path.join(HARDWARE_DIR, "wiring")
DIAGRAM_DIR = os.path.join(HARDWARE_DIR, "diagrams")
BOM_PATH = os.path.join(HARDWARE_DIR, "bom.csv")
JIG_PATH = os.path.join(HARDWARE_DIR, "jig_wiring.json")
README_PATH = os.path.join(HARDWARE_DIR, "README.md")
MAIN_DIAGRAM = "main"

# Raspberry Pi Pico: RP2040 GPIO -> physical header pin (Pico datasheet pinout). GP23, GP24,
# GP25 and GP29 are used on the board (SMPS mode, VBUS sense, LED, VSYS/3 ADC) and are not on
# the header.
PICO_HEADER = {
    0: 1, 1: 2, 2: 4, 3: 5, 4: 6, 5: 7, 6: 9, 7: 10, 8: 11, 9: 12, 10: 14, 11: 15,
    12: 16, 13: 17, 14: 19, 15: 20, 16: 21, 17: 22, 18: 24, 19: 25, 20: 26, 21: 27,
    22: 29, 26: 31, 27: 32, 28: 34,
}
PICO_GND = (3, 8, 13, 18, 23, 28, 38)   # 33 is AGND
PICO_RUN = 30
PICO_3V3 = 36                            # 3V3(OUT), up to ~300 mA for external circuits
PICO_VSYS = 39
PICO_VBUS = 40
PICO_ONBOARD = {25: "on-board LED (not on the header; on a Pico W the LED is not GP25)"}

BOM_FIELDS = ("part", "value", "quantity", "example_part_number", "refs", "notes")

# ---------------------------------------------------------------------------------------
# The wiring design: where each pin-map signal lands. GPIO numbers are NOT here.

# input signal -> (switch designator, switch pin, cable)
INPUT_WIRING = {
    "shutter_half": ("SW1", "S1"),
    "shutter_full": ("SW1", "S2"),
    "af_on": ("SW2", "NO"),
    "jog_near": ("SW3", "NO"),
    "jog_far": ("SW4", "NO"),
    "home": ("SW5", "NO"),
}
SWITCHES = {
    "SW1": ("Two-stage shutter button", "half press S1 / full press S2",
            ["COM", "S1", "S2"], "S1 closes first (half press), S2 closes on full press; "
            "both to COM"),
    "SW2": ("Push button", "AF-ON (thumb)", ["NO", "COM"], None),
    "SW3": ("Push button", "jog near (optional)", ["NO", "COM"], None),
    "SW4": ("Push button", "jog far (optional)", ["NO", "COM"], None),
    "SW5": ("Micro switch", "lens home / end stop", ["COM", "NO", "NC"],
            "use COM + NO: closes to GND at the end stop; NC stays open"),
}
SWITCH_COLORS = {"shutter_half": "YE", "shutter_full": "OG", "af_on": "GN",
                 "jog_near": "BU", "jog_far": "VT", "home": "WH"}

OUTPUT_ROLES = {"cam_focus", "cam_shutter", "step", "dir", "motor_en", "led"}


def _t(s):
    """Text for WireViz, which pastes it into Graphviz HTML labels unescaped."""
    s = str(s).replace("->", "\u2192").replace(">=", "\u2265").replace("<=", "\u2264")
    return html.escape(s, quote=False)


def _wrap(s, width=58):
    """Notes wrapped to lines (WireViz turns newlines into line breaks)."""
    return "\n".join(textwrap.wrap(_t(s), width, break_on_hyphens=False))


def _driver_pins(left, right):
    return [(i + 1, n) for i, n in enumerate(left + right)]


# Stepper driver variants. Pins numbered 1-8 down the left row, 9-16 down the right row of
# the usual 16-pin "StepStick" carrier. Microstepping strapped to 1/16 on every variant
# (3200 microsteps per turn of a 1.8 degree motor) so calibrations carry across drivers.
DRIVERS = {
    "a4988": {
        "title": "A4988 carrier (Pololu #1182 style)",
        "pn": "Pololu 1182",
        "pins": _driver_pins(["ENABLE", "MS1", "MS2", "MS3", "RESET", "SLEEP", "STEP", "DIR"],
                             ["VMOT", "GND", "2B", "2A", "1A", "1B", "VDD", "GND"]),
        "logic_vdd": 15, "logic_gnd": 16, "vmot": 9, "vmot_gnd": 10,
        "enable": 1, "step": 7, "dir": 8,
        "tie_3v3": [2, 3, 4],          # MS1 MS2 MS3 high = 1/16 step
        "loops": [[5, 6]],             # RESET floats on the carrier: tie it to SLEEP
        "coils": {"1A": "A+", "1B": "A-", "2A": "B+", "2B": "B-"},
        "vmot_range": "8-35 V",
        "current": "Vref = Imax x 8 x Rs. Rs is printed on the board: R068 (0.068 ohm) -> "
                   "Vref = 0.544 x Imax; R050 -> Vref = 0.40 x Imax. Measure Vref between "
                   "the trim pot and GND with the motor unplugged.",
        "notes": "VDD from the Pico 3V3 so logic highs (and the ENABLE pull-up) meet "
                 "VIH = 0.7 x VDD. MS1-MS3 high = 1/16 step. RESET tied to SLEEP.",
    },
    "drv8825": {
        "title": "DRV8825 carrier (Pololu #2133 style)",
        "pn": "Pololu 2133",
        "pins": _driver_pins(["EN", "M0", "M1", "M2", "RST", "SLP", "STEP", "DIR"],
                             ["VMOT", "GND MOT", "B2", "B1", "A1", "A2", "FAULT",
                              "GND LOGIC"]),
        "logic_vdd": None, "logic_gnd": 16, "vmot": 9, "vmot_gnd": 10,
        "enable": 1, "step": 7, "dir": 8,
        "tie_3v3": [4, 5, 6],          # M2 high (M0 M1 low) = 1/16; RST, SLP high = run
        "loops": [],
        "coils": {"A1": "A+", "A2": "A-", "B1": "B+", "B2": "B-"},
        "vmot_range": "8.2-45 V",
        "current": "Imax = 2 x Vref (Rs = 0.1 ohm: Itrip = Vref / (5 x Rs)), so "
                   "Vref = Imax / 2. Measure Vref at the trim pot.",
        "notes": "No VDD pin (internal regulator): leave FAULT unconnected. Inputs are "
                 "3.3 V compatible. M2 high, M0/M1 open (internal pull-downs) = 1/16 step. "
                 "Firmware preset 'drv8825' uses 4 us STEP pulses.",
    },
    "tmc2209": {
        "title": "TMC2209 StepStick (standalone STEP/DIR, VREF current)",
        "pn": "BIGTREETECH TMC2209 V1.3",
        "pins": _driver_pins(["EN", "MS1", "MS2", "PDN_UART", "NC", "CLK", "STEP", "DIR"],
                             ["VM", "GND", "B2", "B1", "A1", "A2", "VIO", "GND"]),
        "logic_vdd": 15, "logic_gnd": 16, "vmot": 9, "vmot_gnd": 10,
        "enable": 1, "step": 7, "dir": 8,
        "tie_3v3": [2, 3],             # MS1 MS2 high = 1/16 (interpolated to 1/256)
        "loops": [],
        "coils": {"A1": "A+", "A2": "A-", "B1": "B+", "B2": "B-"},
        "vmot_range": "4.75-29 V",
        "current": "Irms = (VREF / 2.5 V) x 0.325 V / (Rs + 0.02 ohm) / sqrt(2) "
                   "(TMC2209 datasheet, analog current scaling). With Rs = 0.11 ohm: "
                   "VREF = 1.41 x Irms.",
        "notes": "Left-row pins 4-6 differ between vendors (PDN_UART / CLK / SPREAD): "
                 "leave them as the module ships (UART unused, StealthChop). VIO from the "
                 "Pico 3V3. MS1 MS2 high = 1/16 step.",
    },
}
DEFAULT_DRIVER = "a4988"

# Camera cables: P1 (2.5 mm TRS plug into the trigger board jack J2) -> P2 (camera plug).
# Trigger board jack convention (Canon E3): tip = shutter, ring = focus, sleeve = ground.
CAMERAS = {
    "canon_e3": {
        "pn": "2.5 mm stereo plug, or an RS-60E3 clone cable",
        "title": "Canon E3 (2.5 mm stereo jack: Rebel/xxxD, many Pentax)",
        "type": "2.5 mm TRS plug", "subtype": "Canon E3",
        "pins": [("T", "shutter"), ("R", "focus"), ("S", "ground")],
        "map": {"shutter": "T", "focus": "R", "ground": "S"},
        "confirmed": True,
        "notes": "Tip = shutter, ring = focus (half press), sleeve = ground. ~3.3 V open "
                 "circuit, 68 uA short circuit (doc-diy.net, EOS 400D/40D). A ready-made "
                 "2.5 mm male-male stereo cable is P1 + P2 in one.",
    },
    "canon_n3": {
        "pn": "RS-80N3 clone, cut",
        "title": "Canon N3 (xxD, 5D, 1D series)",
        "type": "Canon N3 plug", "subtype": "from an RS-80N3 clone",
        "pins": [("focus", "focus"), ("shutter", "shutter"), ("GND", "ground")],
        "map": {"shutter": "shutter", "focus": "focus", "ground": "GND"},
        "confirmed": False,
        "notes": "UNCONFIRMED pin positions: same circuit as E3 (doc-diy.net), but the 3 "
                 "contacts can only be had by cutting a remote; wire colours vary between "
                 "clones (one clone: white = ground, yellow = focus, red = shutter). Identify "
                 "with a meter: camera on, each signal contact reads ~3.3 V to ground.",
    },
    "nikon_mc_dc2": {
        "pn": "MC-DC2 clone, cut",
        "title": "Nikon MC-DC2 socket (D90, D3x00/D5x00, D7x00, Z50/Z5/Z6/Z7 ...)",
        "type": "Nikon MC-DC2 plug", "subtype": "from an MC-DC2 clone cable",
        "pins": [("GND", "ground"), ("HALF", "half press (focus)"),
                 ("FULL", "full press (release)")],
        "map": {"shutter": "FULL", "focus": "HALF", "ground": "GND"},
        "confirmed": False,
        "notes": "Signals confirmed (ground, half press, full press, all pulled high in the "
                 "camera: nikonhacker.com GPS_Port), but published contact NUMBERS disagree "
                 "between sources: identify the three wires of the clone cable with a meter.",
    },
    "nikon_10pin": {
        "pn": "MC-30 clone, cut",
        "title": "Nikon 10-pin round (D200-D850, D3-D6, D500)",
        "type": "Nikon 10-pin plug", "subtype": "from an MC-30 clone",
        "pins": [(4, "shutter release (full)"), (6, "signal ground"),
                 (9, "half press (AF/meter)")],
        "map": {"shutter": 4, "focus": 9, "ground": 6},
        "confirmed": False,
        "notes": "Pin 4 release, pin 9 half press, pin 6 signal ground (dslrbodies.com "
                 "numbering, itself marked unverified). Another source (tajimamori.com) numbers "
                 "the contacts differently (4 = ground, 7 = release, 9 = AF-on): same "
                 "functions, other numbering convention. Check with a meter.",
    },
    "sony_multi": {
        "pn": "RM-VPR1 clone, cut",
        "title": "Sony Multi / Micro USB terminal (a6x00, a7 series, RX)",
        "type": "Sony Multi plug", "subtype": "from a Multi-terminal remote clone",
        "pins": [("M6", "XAE_LOCK_SW (half press)"), ("M7", "XSHUT_SW (full press)"),
                 ("M9", "AV_GND (ground)")],
        "map": {"shutter": "M7", "focus": "M6", "ground": "M9"},
        "confirmed": True,
        "notes": "Two independent sources agree (peterwedege.blogspot.com 2016: multi pins "
                 "11/12/14 in 15-pin numbering; qiita morohe: M6/M7/M9): pull to ground to "
                 "half / full press. The camera may want an ID resistor on AD_JACK_IN (M5): "
                 "the RM-VPR1 has 100 k to ground (qiita); add it if the body ignores the "
                 "lines (UNCONFIRMED that it is needed).",
    },
    "sony_2p5mm": {
        "pn": "2.5 mm stereo plug",
        "title": "Sony 2.5 mm remote jack",
        "type": "2.5 mm TRS plug", "subtype": "Sony",
        "pins": [("T", "shutter (assumed)"), ("R", "focus (assumed)"),
                 ("S", "ground (assumed)")],
        "map": {"shutter": "T", "focus": "R", "ground": "S"},
        "confirmed": False,
        "notes": "UNCONFIRMED: no pinout source found. Wired like Canon E3 on the "
                 "assumption that the body follows the common 2.5 mm convention; measure "
                 "before use (camera on: tip and ring ~3 V to sleeve). Older A-mount bodies "
                 "use the proprietary RM-S1AM socket instead.",
    },
}

# Benewake TF-Luna: 1 +5V, 2 RXD, 3 TXD, 4 GND, 5 config (open/3.3 V = UART, GND = I2C),
# 6 multiplexing output (TF-Luna product manual, table 6).
LIDAR_PINS = [(1, "+5V"), (2, "RXD"), (3, "TXD"), (4, "GND"), (5, "CONFIG"), (6, "MUX")]


# ---------------------------------------------------------------------------------------
# data files

def load_bom(path=BOM_PATH):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        missing = [k for k in BOM_FIELDS if k not in r]
        if missing:
            raise ValueError(f"bom.csv: columns missing: {missing}")
        r["quantity"] = int(r["quantity"])
        r["refs"] = r["refs"].split()
    return rows


def bom_refs(bom):
    """{designator: bom row}; a designator in two rows is an error."""
    out = {}
    for r in bom:
        for ref in r["refs"]:
            if ref in out:
                raise ValueError(f"bom.csv: {ref} in two rows")
            out[ref] = r
    return out


def load_jig(path=JIG_PATH):
    with open(path) as f:
        return json.load(f)


# ---------------------------------------------------------------------------------------
# harness builder

class Harness:
    """Collects WireViz connectors, cables and connections; pins of U1 (the Pico) are added
    as they get used, so each diagram shows only the header pins it needs."""

    def __init__(self, name, title, description, refs):
        self.name = name
        self.title = title
        self.description = description
        self.refs = refs
        self.connectors = {}
        self.cables = {}
        self.sets = []
        self._pico = {}

    # parts
    def part(self, ref, type_, subtype, pins, notes=None, loops=None, pn=None):
        if ref not in self.refs:
            raise ValueError(f"{self.name}: {ref} is not in hardware/bom.csv")
        if ref in self.connectors:
            return ref
        c: dict = {"type": _t(type_)}
        if subtype:
            c["subtype"] = _t(subtype)
        c["pins"] = [p for p, _ in pins]
        c["pinlabels"] = [_t(lbl) for _, lbl in pins]
        pn = pn or self.refs[ref]["example_part_number"]
        if pn:
            c["pn"] = _t(pn)
        if loops:
            c["loops"] = loops
        if notes:
            c["notes"] = _wrap(notes)
        self.connectors[ref] = c
        return ref

    def two_pin(self, ref, type_, value, labels=("1", "2"), notes=None):
        return self.part(ref, type_, value, [(1, labels[0]), (2, labels[1])], notes)

    def pico(self, header_pin, label):
        have = self._pico.get(header_pin)
        if have is not None and have != label:
            label = have if label in have else f"{have} / {label}"
        self._pico[header_pin] = label
        return ("U1", header_pin)

    def gpio(self, g, signal):
        if g not in PICO_HEADER:
            raise ValueError(f"GP{g} ({signal}) is not on the Pico header")
        return self.pico(PICO_HEADER[g], f"GP{g} {signal}")

    # wires
    def cable(self, name, notes=None, gauge=None):
        self.cables.setdefault(name, {"wires": [], "notes": notes, "gauge": gauge})
        return name

    def wire(self, cable, color, a, b, label=""):
        w = self.cables[cable]["wires"]
        w.append((color, label))
        n = len(w)
        last = self.sets[-1] if self.sets else None
        if last and last[0] == a[0] and last[2] == cable and last[3] == b[0]:
            last[1].append(a[1])
            last[4].append(n)
            last[5].append(b[1])
        else:
            self.sets.append([a[0], [a[1]], cable, b[0], [n], [b[1]]])

    def link(self, a, b):
        """A direct connection (component lead, solder bridge): no cable."""
        last = self.sets[-1] if self.sets else None
        if last and last[0] == a[0] and last[2] == "--" and last[3] == b[0]:
            last[1].append(a[1])
            last[5].append(b[1])
        else:
            self.sets.append([a[0], [a[1]], "--", b[0], None, [b[1]]])

    def to_dict(self):
        conns = {}
        if self._pico:
            pins = sorted(self._pico)
            conns["U1"] = {
                "type": "Raspberry Pi Pico",
                "subtype": "header pin: GPIO / signal",
                "pn": _t(self.refs["U1"]["example_part_number"]),
                "pins": pins,
                "pinlabels": [_t(self._pico[p]) for p in pins],
                "notes": _wrap("Pin numbers are the Pico's physical header pins (1-40).", 40),
            }
        conns.update(self.connectors)
        cables = {}
        for name, c in self.cables.items():
            d = {"wirecount": len(c["wires"]),
                 "colors": [col for col, _ in c["wires"]],
                 "wirelabels": [_t(lbl) for _, lbl in c["wires"]]}
            if c["gauge"]:
                d["gauge"] = c["gauge"]
            d["category"] = "bundle"
            if c["notes"]:
                d["notes"] = _wrap(c["notes"], 40)
            cables[name] = d
        connections = [[{a: ap}, cab, {b: bp}] if wn is None else [{a: ap}, {cab: wn}, {b: bp}]
                       for a, ap, cab, b, wn, bp in self.sets]
        return {
            "metadata": {"title": _t(self.title), "description": _wrap(self.description, 90)},
            "options": {"fontname": "DejaVu Sans", "bgcolor": "WH",
                        "color_mode": "SHORT"},
            "connectors": conns,
            "cables": cables,
            "connections": connections,
        }


def _gnd(h, label="GND", pin=None):
    return h.pico(pin or PICO_GND[0], label)


# ---------------------------------------------------------------------------------------
# the diagrams

def add_buttons(h, pm):
    inputs = pm["inputs"]
    missing = set(inputs) - set(INPUT_WIRING)
    if missing:
        raise ValueError(f"inputs without wiring in focusrig/wiring.py: {sorted(missing)}")
    by_switch = {}
    for sig, (ref, pin) in INPUT_WIRING.items():
        if sig not in inputs:
            raise ValueError(f"wiring.py wires input {sig!r}, which pinmap.json lacks")
        by_switch.setdefault(ref, []).append((sig, pin))
    for ref, sigs in by_switch.items():
        part, value, pins, note = SWITCHES[ref]
        p = inputs[sigs[0][0]]
        extra = (f"Pico input, internal pull-{p['pull']}, active {p['active']}. "
                 "Debounced in firmware.")
        h.part(ref, part, value, [(n, n) for n in pins], (note + ". " if note else "") + extra)
        cab = h.cable(f"W_{ref}", notes="2-core + GND, AWG 26-28; twist or screen runs > 1 m")
        for sig, pin in sigs:
            h.wire(cab, SWITCH_COLORS[sig], h.gpio(inputs[sig]["gpio"], sig), (ref, pin), sig)
        com = "COM"
        h.wire(cab, "BK", h.pico(PICO_GND[1], "GND"), (ref, com), "GND")


def add_driver(h, pm, variant, full=True):
    """Pico to driver U2, ENABLE pull-up R1, motor M1; with full=True also the motor supply
    J1 and the decoupling C1-C3 (left out of the overview diagram)."""
    d = DRIVERS[variant]
    out = pm["outputs"]
    labels = dict(d["pins"])
    h.part("U2", d["title"], f"VMOT {d['vmot_range']}", d["pins"],
           f"{d['notes']} CURRENT LIMIT: {d['current']}", loops=d["loops"] or None,
           pn=d["pn"])
    cab = h.cable("W_logic", notes="STEP/DIR/EN + GND, keep < 30 cm")
    h.wire(cab, "VT", h.gpio(out["step"]["gpio"], "step"), ("U2", d["step"]), "STEP")
    h.wire(cab, "GY", h.gpio(out["dir"]["gpio"], "dir"), ("U2", d["dir"]), "DIR")
    h.wire(cab, "WH", h.gpio(out["motor_en"]["gpio"], "motor_en"), ("U2", d["enable"]),
           "ENABLE (active low)")
    h.wire(cab, "BK", h.pico(PICO_GND[4], "GND"), ("U2", d["logic_gnd"]), "GND")
    v33 = h.pico(PICO_3V3, "3V3(OUT)")
    cab = h.cable("W_3v3", notes="logic supply and straps from the Pico 3V3")
    if d["logic_vdd"]:
        h.wire(cab, "RD", v33, ("U2", d["logic_vdd"]), labels[d["logic_vdd"]])
    for p in d["tie_3v3"]:
        h.wire(cab, "RD", v33, ("U2", p), labels[p])
    # ENABLE pull-up: keeps the driver off while the RP2040 is in reset
    h.two_pin("R1", "Resistor", "10 k", ("3V3", "ENABLE"),
              "ENABLE pull-up to 3V3, soldered at the driver socket: driver disabled "
              "until the firmware drives EN low")
    h.wire(cab, "RD", v33, ("R1", 1), "3V3 (pull-up)")
    h.link(("R1", 2), ("U2", d["enable"]))
    if full and d["logic_vdd"]:
        h.two_pin("C3", "Capacitor, ceramic", "100 nF", ("+", "-"),
                  "at the driver's logic supply pin")
        h.link(("C3", 1), ("U2", d["logic_vdd"]))
        h.link(("C3", 2), ("U2", d["logic_gnd"]))
    if full:
        add_motor_supply(h, d)
    h.part("M1", "Stepper motor", "bipolar, 1.8 deg/step",
           [(1, "A+"), (2, "A-"), (3, "B+"), (4, "B-")],
           "Find the coil pairs with a meter (a few ohm within a coil, open between "
           "coils). Never plug/unplug the motor with VMOT on.")
    cab = h.cable("W_motor", notes="4-core, AWG 22-24", gauge="0.25 mm2")
    colors = {"A+": "BK", "A-": "GN", "B+": "RD", "B-": "BU"}
    motor_pin = {"A+": 1, "A-": 2, "B+": 3, "B-": 4}
    drv_pin = {lbl: n for n, lbl in d["pins"]}
    for lbl, coil in d["coils"].items():
        h.wire(cab, colors[coil], ("U2", drv_pin[lbl]), ("M1", motor_pin[coil]), coil)


def add_motor_supply(h, d):
    h.two_pin("J1", "DC barrel jack", "12 V in, 5.5/2.1 mm", ("+12V", "GND"),
              "Motor supply, 12 V 2 A. Feeds VMOT and the 5 V buck (power diagram).")
    cab = h.cable("W_vmot", notes="AWG 20, short", gauge="0.5 mm2")
    h.wire(cab, "RD", ("J1", 1), ("U2", d["vmot"]), "VMOT")
    h.wire(cab, "BK", ("J1", 2), ("U2", d["vmot_gnd"]), "GND (motor)")
    h.two_pin("C1", "Capacitor, electrolytic", "100 uF 35 V", ("+", "-"),
              "Bulk decoupling right at VMOT/GND, leads < 2 cm: absorbs the LC spike when "
              "the supply is plugged in, which otherwise can exceed the driver's rating.")
    h.link(("C1", 1), ("U2", d["vmot"]))
    h.link(("C1", 2), ("U2", d["vmot_gnd"]))
    h.two_pin("C2", "Capacitor, ceramic", "100 nF 50 V", ("1", "2"),
              "High-frequency decoupling, next to C1")
    h.link(("C2", 1), ("U2", d["vmot"]))
    h.link(("C2", 2), ("U2", d["vmot_gnd"]))


def add_power(h):
    h.two_pin("J1", "DC barrel jack", "12 V in, 5.5/2.1 mm", ("+12V", "GND"),
              "Motor supply, 12 V 2 A. Also feeds VMOT (driver diagrams).")
    h.part("U3", "Buck converter module", "12 V -> 5.0 V, >= 1 A",
           [(1, "IN+"), (2, "IN-"), (3, "OUT+"), (4, "OUT-")],
           "Set the output to 5.0 V with a meter BEFORE connecting the Pico.")
    h.two_pin("D1", "Schottky diode", "1N5819", ("A", "K"),
              "Into VSYS, so USB (VBUS has its own diode on the Pico) and the buck can "
              "both be connected (Pico datasheet: external supply via Schottky into VSYS).")
    cab = h.cable("W_in", notes="AWG 22")
    h.wire(cab, "RD", ("J1", 1), ("U3", 1), "+12V")
    h.wire(cab, "BK", ("J1", 2), ("U3", 2), "GND")
    h.link(("U3", 3), ("D1", 1))
    cab = h.cable("W_vsys", notes="AWG 22")
    h.wire(cab, "OG", ("D1", 2), h.pico(PICO_VSYS, "VSYS"), "VSYS")
    h.wire(cab, "BK", ("U3", 4), h.pico(PICO_GND[6], "GND"), "GND")


def add_lidar(h, pm):
    u = pm["uart"]["lidar"]
    h.part("U4", "Benewake TF-Luna", f"UART {u['baud']} 8N1", LIDAR_PINS,
           "CONFIG (pin 5) left open = UART mode; MUX (pin 6) unused. Supply 5 V, "
           "signals 3.3 V. Powered from VSYS (~4.7 V on USB, 5 V via the buck).")
    cab = h.cable("W_lidar", notes="the sensor's 6-pin 1.25 mm cable, 4 wires used")
    h.wire(cab, "RD", h.pico(PICO_VSYS, "VSYS"), ("U4", 1), "+5V")
    h.wire(cab, "GN", h.gpio(u["tx"], f"UART{u['id']} TX"), ("U4", 2), "Pico TX -> RXD")
    h.wire(cab, "WH", h.gpio(u["rx"], f"UART{u['id']} RX"), ("U4", 3), "TXD -> Pico RX")
    h.wire(cab, "BK", h.pico(PICO_GND[0], "GND"), ("U4", 4), "GND")


def add_trigger_board(h, pm):
    out = pm["outputs"]
    h.part("J2", "2.5 mm stereo jack", "to camera cable",
           [("T", "shutter"), ("R", "focus"), ("S", "camera ground")],
           "Canon E3 convention. Camera side only: never connect S to the Pico GND.")
    cab = h.cable("W_trig", notes="Pico to trigger board")
    for sig, rref, uref, jack in (("cam_focus", "R2", "U5", "R"),
                                  ("cam_shutter", "R3", "U6", "T")):
        h.two_pin(rref, "Resistor", "330 R", ("in", "out"),
                  "LED current (3.3 V - 1.2 V) / 330 R = 6.4 mA")
        h.part(uref, "Optocoupler PC817", sig,
               [(1, "anode"), (2, "cathode"), (3, "emitter"), (4, "collector")],
               "Collector to the camera signal (+), emitter to camera ground.")
        h.wire(cab, "YE" if sig == "cam_focus" else "OG",
               h.gpio(out[sig]["gpio"], sig), (rref, 1), sig)
        h.link((rref, 2), (uref, 1))
    h.wire(cab, "BK", h.pico(PICO_GND[3], "GND"), ("U5", 2), "GND (LED cathodes)")
    h.link(("U6", 2), ("U5", 2))
    for uref, jack in (("U5", "R"), ("U6", "T")):
        h.link((uref, 4), ("J2", jack))
        h.link((uref, 3), ("J2", "S"))


def add_camera(h, cam):
    c = CAMERAS[cam]
    h.part("P1", "2.5 mm stereo plug", "into J2 (trigger board)",
           [("T", "shutter"), ("R", "focus"), ("S", "ground")])
    h.part("P2", c["type"], c["subtype"], c["pins"],
           ("" if c["confirmed"] else "UNCONFIRMED. ") + c["notes"], pn=c["pn"])
    cab = h.cable("W_cam", notes="3-core, camera side of the isolation")
    m = c["map"]
    h.wire(cab, "RD", ("P1", "T"), ("P2", m["shutter"]), "shutter")
    h.wire(cab, "YE", ("P1", "R"), ("P2", m["focus"]), "focus")
    h.wire(cab, "BK", ("P1", "S"), ("P2", m["ground"]), "ground")


def harnesses(pm, bom):
    """{name: WireViz dict} for every diagram."""
    pinmap_mod.validate(pm)
    unknown = set(pm["outputs"]) - OUTPUT_ROLES
    if unknown:
        raise ValueError(f"outputs without wiring in focusrig/wiring.py: {sorted(unknown)}")
    refs = bom_refs(bom)
    hs = {}

    def new(name, title, desc):
        h = Harness(name, title, desc, refs)
        hs[name] = h
        return h

    h = new(MAIN_DIAGRAM, "focusrig: Pico to everything (A4988 variant)",
            "Overview generated from hardware/pinmap.json. Power, other drivers and the "
            "camera cables are in their own diagrams.")
    add_buttons(h, pm)
    add_driver(h, pm, DEFAULT_DRIVER, full=False)
    add_lidar(h, pm)
    add_trigger_board(h, pm)
    add_buttons(new("buttons", "Pico to buttons and home switch",
                    "Inputs: internal pull-ups, switches close to GND."), pm)
    for v, d in DRIVERS.items():
        add_driver(new(f"driver_{v}", f"Pico to stepper driver: {d['title']}",
                       f"Current limit: {d['current']}"), pm, v)
    add_power(new("power", "Power: 12 V in, 5 V buck into VSYS",
                  "Motor supply and logic supply; see README 'Power'."))
    add_lidar(new("lidar", "Pico to Benewake TF-Luna (UART)",
                  "Pico TX to sensor RXD, sensor TXD to Pico RX."), pm)
    add_trigger_board(new("trigger_board", "Pico to the PC817 trigger board",
                          "Two optocouplers isolate the camera's remote port."), pm)
    for cam, c in CAMERAS.items():
        add_camera(new(f"camera_{cam}", f"Camera cable: {c['title']}",
                       ("" if c["confirmed"] else "UNCONFIRMED pinout. ") +
                       "Trigger board jack J2 (tip shutter, ring focus, sleeve ground) "
                       "to the camera."), cam)
    return {name: h.to_dict() for name, h in hs.items()}


def render_yaml(name, data):
    import yaml
    head = (f"# {name}.yml: GENERATED by `make docs` (python -m focusrig.wiring) from\n"
            "# hardware/pinmap.json and hardware/bom.csv. Do not edit: change the pin map\n"
            "# or host_tools/focusrig/wiring.py and regenerate.\n")
    return head + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def yaml_files(pm=None, bom=None):
    """{filename: text} of every generated harness file."""
    pm = pm if pm is not None else pinmap_mod.load()
    bom = bom if bom is not None else load_bom()
    return {f"{n}.yml": render_yaml(n, d) for n, d in harnesses(pm, bom).items()}


def count_parts(yaml_dir=WIRING_DIR):
    """Distinct designators (WireViz connector keys) over every *.yml in yaml_dir."""
    import yaml
    refs = set()
    for fn in sorted(os.listdir(yaml_dir)):
        if fn.endswith(".yml"):
            with open(os.path.join(yaml_dir, fn)) as f:
                refs.update(yaml.safe_load(f).get("connectors", {}))
    return refs


# ---------------------------------------------------------------------------------------
# README generated sections

def _md_table(header, rows):
    esc = [[str(c).replace("|", "\\|") for c in r] for r in rows]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in esc]
    return "\n".join(lines)


def pin_table(pm):
    rows = []
    for group in ("inputs", "outputs"):
        for name, p in pm[group].items():
            g = p["gpio"]
            hdr = PICO_HEADER.get(g, "on board")
            if group == "inputs":
                boot = f"input, pull-{p['pull']}"
            else:
                boot = f"output {p['boot']}"
            rows.append((f"GP{g}", hdr, name, group[:-1], f"active {p['active']}", boot,
                         p["desc"]))
    for name, u in pm["uart"].items():
        rows.append((f"GP{u['tx']}", PICO_HEADER[u["tx"]], f"{name} TX", f"UART{u['id']}",
                     f"{u['baud']} 8N1", "-", "to sensor RXD"))
        rows.append((f"GP{u['rx']}", PICO_HEADER[u["rx"]], f"{name} RX", f"UART{u['id']}",
                     f"{u['baud']} 8N1", "-", "from sensor TXD"))
    rows.sort(key=lambda r: int(r[0][2:]))
    return _md_table(("GPIO", "header pin", "signal", "kind", "level", "firmware boot state",
                      "what"), rows)


def bom_table(bom):
    rows = [(r["part"], r["value"], r["quantity"], r["example_part_number"],
             " ".join(r["refs"]) or "-", r["notes"]) for r in bom]
    n = sum(r["quantity"] for r in bom if r["refs"])
    return (_md_table(("part", "value", "qty", "example part number", "refs", "notes"), rows)
            + f"\n\nParts with a designator: **{n}** (= distinct designators in "
            "`hardware/wiring/*.yml`, checked by `tests/test_hardware.py`).")


def jig_table(jig):
    rows = []
    for kind in ("drive", "capture"):
        for sig, m in jig[kind].items():
            rows.append((kind, sig, f"GP{m['dut_gpio']}", PICO_HEADER[m["dut_gpio"]],
                         f"GP{m['jig_gpio']}", PICO_HEADER[m["jig_gpio"]]))
    u = jig["uart"]
    rows.append(("uart", "DUT TX -> jig RX", f"GP{u['dut_tx']}", PICO_HEADER[u["dut_tx"]],
                 f"GP{u['jig_rx']}", PICO_HEADER[u["jig_rx"]]))
    rows.append(("uart", "jig TX -> DUT RX", f"GP{u['dut_rx']}", PICO_HEADER[u["dut_rx"]],
                 f"GP{u['jig_tx']}", PICO_HEADER[u["jig_tx"]]))
    r = jig["reset"]
    rows.append(("reset", "DUT RUN", "RUN", r["dut_header_pin"], f"GP{r['jig_gpio']}",
                 PICO_HEADER[r["jig_gpio"]]))
    for gp in jig["ground"]:
        rows.append(("ground", "GND", "GND", gp["dut_header_pin"], "GND",
                     gp["jig_header_pin"]))
    return _md_table(("kind", "signal", "DUT GPIO", "DUT pin", "jig GPIO", "jig pin"), rows)


def readme_sections(pm, bom, jig):
    return {"pins": pin_table(pm), "bom": bom_table(bom), "jig": jig_table(jig)}


def update_readme(text, sections):
    for name, body in sections.items():
        begin = f"<!-- BEGIN generated:{name} -->"
        end = f"<!-- END generated:{name} -->"
        i, j = text.find(begin), text.find(end)
        if i < 0 or j < i:
            raise ValueError(f"README.md lacks the markers {begin} ... {end}")
        text = text[:i + len(begin)] + "\n" + body + "\n" + text[j:]
    return text


# ---------------------------------------------------------------------------------------
# rendering

def have_dot():
    return shutil.which("dot") is not None


def render_svgs(yaml_dir, svg_dir, names=None):
    """Render every (or the named) harness YAML in yaml_dir to svg_dir; returns paths."""
    from pathlib import Path
    from wireviz import wireviz  # type: ignore[import-untyped]
    os.makedirs(svg_dir, exist_ok=True)
    done = []
    for fn in sorted(os.listdir(yaml_dir)):
        stem = fn[:-4]
        if not fn.endswith(".yml") or (names and stem not in names):
            continue
        wireviz.parse(Path(yaml_dir, fn), output_formats=("svg",), output_dir=Path(svg_dir),
                      output_name=stem)
        done.append(os.path.join(svg_dir, stem + ".svg"))
    return done


def _write_if_changed(path, text):
    try:
        with open(path) as f:
            if f.read() == text:
                return False
    except OSError:
        pass
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
    return True


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m focusrig.wiring", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DIAGRAM_DIR, help="SVG directory (hardware/diagrams)")
    ap.add_argument("--yaml-dir", default=WIRING_DIR, help="harness YAML directory")
    ap.add_argument("--no-svg", action="store_true", help="write YAML and README only")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 if the YAML files or README tables are stale (no graphviz)")
    a = ap.parse_args(argv)
    try:
        pm = pinmap_mod.load()
        bom = load_bom()
        files = yaml_files(pm, bom)
        sections = readme_sections(pm, bom, load_jig())
        with open(README_PATH) as f:
            readme = f.read()
        new_readme = update_readme(readme, sections)
    except (OSError, ValueError, KeyError) as e:
        print(f"focusrig.wiring: {e}", file=sys.stderr)
        return 2

    if a.check:
        stale = []
        for fn, text in files.items():
            p = os.path.join(a.yaml_dir, fn)
            try:
                with open(p) as f:
                    if f.read() != text:
                        stale.append(p)
            except OSError:
                stale.append(p)
        extra = {fn for fn in os.listdir(a.yaml_dir) if fn.endswith(".yml")} - set(files) \
            if os.path.isdir(a.yaml_dir) else set()
        stale += [os.path.join(a.yaml_dir, fn) for fn in sorted(extra)]
        if new_readme != readme:
            stale.append(README_PATH)
        if stale:
            print("stale (run `make docs`): " + ", ".join(stale), file=sys.stderr)
            return 1
        print(f"wiring: {len(files)} harness files and README tables match pinmap.json")
        return 0

    os.makedirs(a.yaml_dir, exist_ok=True)
    for fn in os.listdir(a.yaml_dir):
        if fn.endswith(".yml") and fn not in files:
            os.remove(os.path.join(a.yaml_dir, fn))
            print(f"removed {os.path.join(a.yaml_dir, fn)}")
    for fn, text in files.items():
        p = os.path.join(a.yaml_dir, fn)
        print(("wrote " if _write_if_changed(p, text) else "unchanged ") + p)
    if _write_if_changed(README_PATH, new_readme):
        print(f"wrote {README_PATH} (generated tables)")
    if a.no_svg:
        return 0
    if not have_dot():
        print("focusrig.wiring: Graphviz `dot` not found: run `make system-deps` "
              "(apt-get install graphviz)", file=sys.stderr)
        return 2
    # render into a scratch directory, then move only the SVGs (wireviz writes nothing
    # else with output_formats=svg, but keep the diagram directory clean regardless)
    os.makedirs(a.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            svgs = render_svgs(a.yaml_dir, tmp)
        except Exception as e:  # wireviz/graphviz errors: one line, no traceback
            print(f"focusrig.wiring: rendering failed: {e}", file=sys.stderr)
            return 2
        for s in svgs:
            dst = os.path.join(a.out, os.path.basename(s))
            with open(s) as f:
                text = f.read()
            print(("wrote " if _write_if_changed(dst, text) else "unchanged ") + dst)
    for fn in os.listdir(a.out):
        if fn.endswith(".svg") and fn[:-4] + ".yml" not in files:
            os.remove(os.path.join(a.out, fn))
            print(f"removed {os.path.join(a.out, fn)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
