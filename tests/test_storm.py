"""Long stimuli on the virtual Pico: the board streams them (a fixed buffer) instead of
loading them into the heap the firmware shares, so a storm of presses runs at all, and
the firmware counts every press once."""

from vpico import run


def test_2000_chattering_full_presses_make_2000_exposures():
    presses = [{"input": "shutter_full", "at_ms": 50 + 50 * i, "hold_ms": 20,
                "bounce_ms": (i * 37 % 81) / 10.0} for i in range(2000)]       # 0-8 ms
    res, tr = run({"duration_ms": 50 + 50 * 2000 + 100, "subject_mm": [[0, 2000]],
                   "config": {"shutter_pulse_ms": 10}, "presses": presses}, timeout=600)
    assert len(tr.rising("cam_shutter")) == 2000
    assert len([e for e in res.ev("press") if e["input"] == "shutter_full"]) == 2000
    # the firmware's own heap, reported apart from the board's
    assert 0 < res.stats["firmware_mem_alloc"] < 100 * 1024
    assert res.stats["sim_mem_alloc"] > 0 and res.stats["heap_reserved"] > 0
