"""Soak (issue 11, item 3), short form: a minute on the virtual Pico (servo on a
wandering subject, bursts, one-shot taps, half presses, a command every 3 s, a reading
host): heap flat, signed steps == position, presses / releases / exposures exactly as
pressed, no line lost. `make soak`: one virtual hour, and 60 emulated seconds on the
rp2040 target (tools/soak.py soak)."""

from reliability import soak


def test_one_minute_soak_nothing_lost():
    fig = soak.soak("vpico", 60)
    assert fig["lost"] == 0 and fig["driver_faults"] == 0
    assert fig["signed_steps"] == fig["lens_pos"] and fig["steps"] > 1000
    assert fig["exposures"] > 50 and fig["af_starts"] > 10
    assert fig["mem_alloc_spread"] < 4096, fig
