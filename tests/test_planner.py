"""The motion planner on CPython (it is pure Python): exact step counts, speed and
acceleration limits, time-optimal moves, retargeting and reversal."""

import math
import os
import sys

from hypothesis import given, settings, strategies as st

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "firmware"))
import planner as pl  # noqa: E402


def drain(p, limit=2000000):
    out = []
    while len(out) < limit:
        s = p.next_segment()
        if s is None:
            return out
        out.append(s)
    raise AssertionError("planner never finished")


F = 125e6      # the planner's default PIO clock: segment times are in its cycles


def step_times(segs):
    """Absolute time of every step and its direction, from the segments."""
    t = 0.0
    d = 1
    out = []
    for kind, a, cyc in segs:
        if kind == pl.SEG_DIR:
            d = 1 if a else -1
            t += cyc / F
            continue
        for i in range(a):
            out.append((t + i * cyc / F, d))
        t += a * cyc / F
    return out, t


def ideal_times(d, v, a):
    """Crossing times (x = 0.5 .. d - 0.5) of the time-optimal rest-to-rest profile."""
    T = pl.optimal_time(d, v, a)
    xa = v * v / (2 * a)

    def tx(x):
        if d <= v * v / a:
            return math.sqrt(2 * x / a) if x <= d / 2 else T - math.sqrt(2 * (d - x) / a)
        if x <= xa:
            return math.sqrt(2 * x / a)
        if x >= d - xa:
            return T - math.sqrt(2 * (d - x) / a)
        return v / a + (x - xa) / v
    return [tx(i + 0.5) for i in range(d)], T


@settings(max_examples=60, deadline=None)
@given(d=st.integers(-100000, 100000), v=st.sampled_from([2000, 20000, 100000]),
       a=st.sampled_from([20000, 100000, 1000000]))
def test_step_count_equals_position_change_and_limits_hold(d, v, a):
    p = pl.Planner(v, a)
    p.move_to(d)
    segs = drain(p)
    steps, total = step_times(segs)
    assert sum(dd for _, dd in steps) == d
    assert p.pos == d and p.idle()
    # time-optimal, every step within the bound of its time on the optimal profile
    ideal, t_opt = ideal_times(abs(d), v, a)
    assert abs(total - t_opt) <= 2e-7 * abs(d) + 1e-6
    assert max([abs(t - i) for (t, _), i in zip(steps, ideal)] + [0]) <= p.tol_s
    # no step interval shorter than max_speed allows (a cycle of rounding)
    for kind, n, cyc in segs:
        if kind == pl.SEG_STEPS and n > 1:
            assert cyc >= F / v - 1


@settings(max_examples=40, deadline=None)
@given(first=st.integers(100, 20000), after=st.integers(1, 60), second=st.integers(-20000, 20000))
def test_retarget_mid_move_blends_and_lands_exactly(first, after, second):
    p = pl.Planner(20000, 100000)
    p.move_to(first)
    segs = []
    for _ in range(after):
        s = p.next_segment()
        if s is None:
            break
        segs.append(s)
    p.move_to(second)
    segs += drain(p)
    steps, _ = step_times(segs)
    assert sum(dd for _, dd in steps) == second
    # acceleration limit: consecutive step intervals imply |dv/dt| <= accel (with slack
    # for even spacing within a segment), and velocity passes through zero to reverse
    v_prev = None
    for (t0, d0), (t1, d1) in zip(steps, steps[1:]):
        if d0 != d1:
            v_prev = None
            continue
        v = d1 / (t1 - t0)
        if v_prev is not None:
            assert abs(v - v_prev) / (t1 - t0) <= 100000 * 2.5 + 5e3


def test_reversal_decelerates_through_zero():
    p = pl.Planner(20000, 100000)
    p.move_to(5000)
    segs = [p.next_segment() for _ in range(80)]
    p.move_to(0)
    segs += drain(p)
    kinds = [s[0] for s in segs]
    assert kinds.count(pl.SEG_DIR) == 2          # start, and exactly one reversal
    steps, _ = step_times(segs)
    rev = next(i for i, (_, d) in enumerate(steps) if d < 0)
    iv_before = steps[rev - 1][0] - steps[rev - 2][0]
    assert 1 / iv_before < 1000                  # slow at the turnaround, not a jerk


def test_optimal_time_formula():
    assert math.isclose(pl.optimal_time(1000, 20000, 100000), 0.2)
    assert math.isclose(pl.optimal_time(100000, 20000, 100000), 5.2)


@settings(max_examples=30, deadline=None)
@given(d=st.integers(-50000, 50000).filter(lambda x: x != 0), j=st.sampled_from([1e5, 1e6, 1e7]))
def test_jerk_limited_moves_are_exact_and_smooth(d, j):
    from scurve import SCurve
    p = pl.Planner(20000, 100000)
    p.set_limits(20000, 100000, j)
    p.move_to(d)
    segs = drain(p)
    steps, total = step_times(segs)
    assert sum(dd for _, dd in steps) == d and p.pos == d
    sc = SCurve(abs(d), 20000, 100000, j)
    assert abs(total - sc.t_end) < 2e-6
    # every step within the step-time bound of the S-curve's crossing time
    for k, (t, _) in enumerate(steps):
        ideal = sc.time_at(k + 0.5)
        assert abs(t - ideal) < p.tol_s * 1.1, (k, t, ideal)


def test_jerk_profile_limits():
    from scurve import SCurve
    sc = SCurve(5000, 20000, 100000, 1e6)
    n = 4000
    dt = sc.t_end / n
    xs = [sc.x(i * dt) for i in range(n + 1)]
    v = [(b - a) / dt for a, b in zip(xs, xs[1:])]
    acc = [(b - a) / dt for a, b in zip(v, v[1:])]
    jerk = [(b - a) / dt for a, b in zip(acc, acc[1:])]
    assert max(v) <= 20000 * 1.001 and max(abs(a) for a in acc) <= 100000 * 1.01
    assert max(abs(x) for x in jerk[3:-3]) <= 1e6 * 1.05
    assert abs(xs[-1] - 5000) < 1e-6


def test_full_speed_s_curves_reuse_the_acceleration_half_built_at_config_time():
    """A jerk-limited move that reaches max_speed plays the words set_limits() built (no
    float work before its first step on a Pico); a short one builds its own; both exact."""
    from scurve import SCurve
    p = pl.Planner(20000, 100000)
    p.set_limits(20000, 100000, 1e6)
    for d, reused in ((30000, True), (41234, True), (900, False)):
        p.move_to(p.pos + d)
        segs = drain(p)
        assert p._sc is None and p.built is (not reused), d
        p.built = False
        steps, total = step_times(segs)
        sc = SCurve(d, 20000, 100000, 1e6)
        assert abs(total - sc.t_end) < 2e-6
        assert max(abs(t - sc.time_at(k + 0.5)) for k, (t, _) in enumerate(steps)) < p.tol_s * 1.1


def _words_irq_first(p, retargets, limit=100000):
    """Words as the refill IRQ and the main loop share them: each word is asked for in the
    planner's irq mode first; on SEG_LATER the main loop plans it. Every `retargets[i]`
    words, a new goal (i: move target or a servo reading)."""
    out = []
    later = 0
    n = 0
    while len(out) < limit:
        if n in retargets:
            retargets[n](p)
        n += 1
        p.irq = True
        kind = p.next_word()
        p.irq = False
        if kind == pl.SEG_LATER:
            later += 1
            kind = p.next_word()
        if kind == pl.SEG_NONE:
            return out, later
        out.append((kind, p.arg, p.cyc))
    raise AssertionError("planner never finished")


@settings(max_examples=60, deadline=None)
@given(d=st.integers(1, 30000), d2=st.integers(-30000, 30000), at=st.integers(1, 60),
       v=st.sampled_from([2000, 20000, 100000]), a=st.sampled_from([20000, 400000, 2000000]),
       j=st.sampled_from([0.0, 2e9]))
def test_irq_mode_plans_the_same_words_or_leaves_them_to_the_main_loop(d, d2, at, v, a, j):
    # the refill IRQ (motion.py) plans with the heap locked: it must give exactly the
    # words the main loop would, or SEG_LATER and change nothing (S-curve moves too)
    def plain():
        p = pl.Planner(v, a)
        p.set_limits(v, a, j)
        p.move_to(d)
        return p
    ref_p = plain()
    ref = []
    n = 0
    while True:
        if n == at:
            ref_p.move_to(d2)
        n += 1
        s = ref_p.next_segment()
        if s is None:
            break
        ref.append(s)
    got, later = _words_irq_first(plain(), {at: lambda p: p.move_to(d2)})
    assert got == ref
    if j > 0:
        assert later >= 1       # an S-curve move's start (its words, in floats)


def test_irq_mode_plans_the_servo_words_the_main_loop_would():
    # starts from rest (the servo's reversals) are integers: the IRQ plans them too
    p = pl.Planner(100000, 2000000)
    seq = {0: lambda p: p.track16(3000 * 16, 0), 40: lambda p: p.track16(-2000 * 16, 5000),
           90: lambda p: p.track16(-2010 * 16, 0)}
    got, later = _words_irq_first(p, dict(seq), limit=400)
    p2 = pl.Planner(100000, 2000000)
    ref = []
    for n in range(len(got)):
        if n in seq:
            seq[n](p2)
        s = p2.next_segment()
        assert s is not None
        ref.append(s)
    assert got == ref
    assert sum(1 for k, _, _ in got if k == pl.SEG_DIR) >= 2    # starts, in IRQ mode
