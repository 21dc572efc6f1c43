"""PIO on the virtual Pico: the assembler, the firmware's step program and the engine.

- opcodes of the firmware's step program against hand encoding from the RP2040 datasheet;
- the step program's cycle timing, checked with rp2040-pio-emulator (pioemu), against the
  constants documented in firmware/stepgen.py;
- the virtual Pico's engine (_vp_pio.Engine) against pioemu, edge for edge, on the step
  program and a few generic programs; loop acceleration split at arbitrary run_until targets;
  the rp2 shim's blocking put(); the firmware module importing under MicroPython.
"""

import os
import random
import subprocess
import sys
import types
from collections import deque

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOARD = os.path.join(ROOT, "host_tools", "focusrig", "virtual_pico", "board")
FIRMWARE = os.path.join(ROOT, "firmware")
for _p in (BOARD, FIRMWARE):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import _vp_kernel  # noqa: E402
import _vp_pio  # noqa: E402
import rp2  # noqa: E402
from _vp_pio import PIOASMError, asm_pio, asm_pio_encode  # noqa: E402

pioemu = pytest.importorskip("pioemu")

STEP, DIR = 2, 3
NS = 8  # ns per cycle at 125 MHz


def _import_firmware(name):
    """Import a firmware module on CPython: `micropython.const` is stubbed only while the
    module loads (the kernel was imported first and keeps seeing CPython)."""
    if name in sys.modules:
        return sys.modules[name]
    stub = types.ModuleType("micropython")
    stub.const = lambda v: v
    saved = sys.modules.get("micropython")
    sys.modules["micropython"] = stub
    try:
        mod = __import__(name)
    finally:
        if saved is None:
            del sys.modules["micropython"]
        else:
            sys.modules["micropython"] = saved
    return mod


stepgen = _import_firmware("stepgen")
PROG = stepgen.step_program


# ---- hand encoding (RP2040 datasheet, PIO instruction set) ------------------------------

def enc(major, fields, side=None, delay=0, side_bits=1):
    """major 0..7, fields = bits 7..0, side-set in the top side_bits of bits 12..8."""
    f = delay
    if side is not None:
        f |= side << (5 - side_bits)
    return major << 13 | f << 8 | fields


JMP, WAIT, IN, OUT, PUSHPULL, MOV, IRQ, SET = range(8)


def test_step_program_opcodes_match_hand_encoding():
    expected = [
        enc(PUSHPULL, 0b1_0_1_00000, side=0),        # pull block
        enc(OUT, 0b001_00001, side=0),                # out x, 1
        enc(JMP, 0b001_00111, side=0),                # jmp !x 7
        enc(OUT, 0b000_00001, side=0),                # out pins, 1
        enc(MOV, 0b001_00_111, side=0),               # mov x, osr
        enc(JMP, 0b010_00101, side=0),                # jmp x-- 5
        enc(JMP, 0b000_00000, side=0),                # jmp 0
        enc(OUT, 0b010_01010, side=0),                # out y, 10
        enc(MOV, 0b001_00_110, side=1),               # mov x, isr side 1
        enc(JMP, 0b010_01001, side=1),                # jmp x-- 9 side 1
        enc(MOV, 0b001_00_111, side=0),               # mov x, osr
        enc(JMP, 0b010_01011, side=0),                # jmp x-- 11
        enc(JMP, 0b100_01000, side=0),                # jmp y-- 8
    ]
    assert PROG.opcodes == expected
    # a few literal values, straight from the datasheet tables
    assert PROG.opcodes[0] == 0x80A0 and PROG.opcodes[8] == 0xB026
    assert PROG.opcodes[9] == 0x1049 and PROG.opcodes[12] == 0x0088
    assert (PROG.wrap_target, PROG.wrap) == (0, 12)
    assert (PROG.sideset_count, PROG.sideset_opt) == (1, False)
    assert PROG.fifo_join == rp2.PIO.JOIN_TX and PROG.out_shiftdir == rp2.PIO.SHIFT_RIGHT
    assert PROG.out_init == (rp2.PIO.OUT_LOW,) and PROG.sideset_init == (rp2.PIO.OUT_LOW,)


def test_assembler_dsl_forms():
    P = rp2.PIO

    @asm_pio(set_init=(P.OUT_LOW, P.OUT_HIGH), sideset_init=P.OUT_LOW, autopull=True,
             pull_thresh=8, in_shiftdir=P.SHIFT_RIGHT)
    def prog():
        nop()[3]                                   # noqa: F821
        set(pins, 3).side(1)[2]                    # noqa: F821
        label("a")                                 # noqa: F821
        wait(1, gpio, 5)                           # noqa: F821
        wait(0, pin, 2)                            # noqa: F821
        wait(1, irq, rel(1))                       # noqa: F821
        in_(pins, 32)                              # noqa: F821
        push(iffull, noblock)                      # noqa: F821
        pull(ifempty)                              # noqa: F821
        mov(x, invert(y))                          # noqa: F821
        mov(isr, reverse(osr))                     # noqa: F821
        mov(y, status)                             # noqa: F821
        irq(clear, 3)                              # noqa: F821
        irq(block, rel(2))                         # noqa: F821
        jmp(not_osre, "a")                         # noqa: F821
        jmp(x_not_y, "a")                          # noqa: F821
        jmp(pin, "a")                              # noqa: F821
        out(exec, 16)                              # noqa: F821
        word(0xE001)                               # noqa: F821

    o = prog.opcodes
    # side-set is optional here (not every instruction side-sets): 1 enable + 1 data bit
    assert prog.sideset_opt and prog.sideset_count == 1
    assert o[0] == 0xA042 | 3 << 8
    assert o[1] == enc(SET, 0b000_00011) | (0b11 << 11) | 2 << 8
    assert o[2] == enc(WAIT, 0b1_00_00101)
    assert o[3] == enc(WAIT, 0b0_01_00010)
    assert o[4] == enc(WAIT, 0b1_10_10001)
    assert o[5] == enc(IN, 0b000_00000)
    assert o[6] == enc(PUSHPULL, 0b0_1_0_00000)
    assert o[7] == enc(PUSHPULL, 0b1_1_1_00000)
    assert o[8] == enc(MOV, 0b001_01_010)
    assert o[9] == enc(MOV, 0b110_10_111)
    assert o[10] == enc(MOV, 0b010_00_101)
    assert o[11] == enc(IRQ, 0b0_1_0_00011)
    assert o[12] == enc(IRQ, 0b0_0_1_10010)
    assert o[13] == enc(JMP, 0b111_00010)
    assert o[14] == enc(JMP, 0b101_00010)
    assert o[15] == enc(JMP, 0b110_00010)
    assert o[16] == enc(OUT, 0b111_10000)
    assert o[17] == 0xE001
    assert prog.set_init == (P.OUT_LOW, P.OUT_HIGH) and prog.autopull and prog.pull_thresh == 8
    # the DSL names do not leak into this module
    assert "label" not in globals() and "pins" not in globals()


def test_asm_pio_encode_and_errors():
    assert asm_pio_encode("pull()", 0) == 0x80A0
    assert asm_pio_encode("mov(isr, osr)", 1) == 0xA0C7
    assert asm_pio_encode("set(pins, 1).side(1) [3]", 1) == 0xF301
    assert asm_pio_encode("nop().side(1)", 2, True) == 0xA042 | 1 << 12 | 1 << 10
    with pytest.raises(PIOASMError):
        asm_pio_encode("nop() [16]", 1)             # only 4 delay bits left
    with pytest.raises(PIOASMError):
        asm_pio_encode("set(pins, 32)", 0)
    with pytest.raises(PIOASMError):
        asm_pio_encode("mov(x, gpio)", 0)
    with pytest.raises(PIOASMError):
        asm_pio_encode("nop().side(1)", 0)

    with pytest.raises(PIOASMError):
        @asm_pio()
        def bad():
            jmp("nowhere")                          # noqa: F821


# ---- pioemu harness ----------------------------------------------------------------------

def pioemu_run(program, cycles, tx=(), isr=0, pins=(), feed=None, input_fn=None,
               out_base=DIR, set_base=0, side_base=STEP, jmp_pin=0, out_dirs=0):
    """Run `program` on pioemu for `cycles` cycles. Returns (edges, pulls, rx):
    edges = [(cycle, gpio, level)], pulls = cycles at which the TX FIFO was popped.
    feed: {cycle: [words]} appended to the TX FIFO before that cycle executes.
    input_fn(cycle) -> pin value bitmap for wait/jmp pin/in; out_dirs: pins it cannot
    override (pioemu treats every pin as an input unless its direction bit is set)."""
    p = program
    st = pioemu.State(input_shift_register=pioemu.ShiftRegister(isr, 0),
                      transmit_fifo=deque(tx), pin_directions=out_dirs)
    kw = dict(shift_osr_right=p.out_shiftdir == 1, shift_isr_right=p.in_shiftdir == 1,
              out_base=out_base, out_count=len(p.out_init), set_base=set_base,
              set_count=len(p.set_init), side_set_base=side_base,
              side_set_count=p.sideset_count, wrap_target=p.wrap_target, wrap_top=p.wrap,
              auto_pull=p.autopull, auto_push=p.autopush, pull_threshold=p.pull_thresh,
              push_threshold=p.push_thresh, jmp_pin=jmp_pin)
    if input_fn is not None:
        def source(clock: int) -> int:
            return input_fn(clock)
        kw["input_source"] = source
    feed = dict(feed or {})
    edges, pulls = [], []
    rx = []
    for prev, cur in pioemu.emulate(p.opcodes, stop_when=lambda op, s: s.clock >= cycles,
                                    initial_state=st, **kw):
        if len(cur.transmit_fifo) < len(prev.transmit_fifo):
            pulls.append(prev.clock)
        if len(cur.receive_fifo) > len(prev.receive_fifo):
            rx.append(cur.receive_fifo[-1])
        diff = prev.pin_values ^ cur.pin_values
        for g in range(32):
            if diff >> g & 1 and g not in (pins or ()):
                edges.append((prev.clock, g, cur.pin_values >> g & 1))
        for c in sorted(feed):
            if c <= cur.clock:
                cur.transmit_fifo.extend(feed.pop(c))
    return edges, pulls, rx


# ---- engine harness ----------------------------------------------------------------------

class Rig:
    """A fresh kernel plus one engine running `program`, recording pin edges in cycles."""

    def __init__(self, program, isr=0, out_base=DIR, set_base=0, side_base=STEP, jmp_pin=0,
                 in_base=0):
        self.k = _vp_kernel.Kernel()
        self.edges = []
        self.k.trace_fn = self._trace
        for g in range(32):
            self.k.gpio_out[g] = 0          # pioemu starts with every pin low
        self.e = _vp_pio.Engine(self.k)
        self.e.load(program, in_base=in_base, out_base=out_base, set_base=set_base,
                    jmp_pin=jmp_pin, sideset_base=side_base)
        self.e.isr = isr
        self.e.start(0)
        self.e.tx_depth = 1 << 20           # tests preload freely (pioemu has no depth)

    def _trace(self, t, g, v):
        assert t % NS == 0
        self.edges.append((t // NS, g, v))

    def run(self, cycles, step_targets=None):
        """Run to the end of cycle `cycles - 1`, optionally in several run_until calls."""
        for t in step_targets or ():
            assert self.e.run_until(t) == t
        end = (cycles - 1) * NS
        assert self.e.run_until(end) == end
        return self.edges


def step_words(rnd, count):
    """A random mix of dir words and step words (n, L small enough for pioemu)."""
    ws = []
    for _ in range(count):
        if rnd.random() < 0.25:
            ws.append(stepgen.dir_word(rnd.randrange(2), rnd.randrange(12)))
        else:
            ws.append(stepgen.step_word(rnd.randrange(1, 6), rnd.randrange(10)))
    return ws


def word_duration(w, h):
    if w & 1:
        return (w >> 2) + stepgen.DIR_WORD_OVERHEAD
    n = ((w >> 1) & (stepgen.MAX_STEPS_PER_WORD - 1)) + 1
    low = w >> stepgen.L_SHIFT
    return stepgen.STEP_WORD_RISE + n * (h + low + stepgen.STEP_OVERHEAD)


# ---- the step program's timing, from pioemu ---------------------------------------------

@pytest.mark.parametrize("h", [0, 1, 5, 23])
def test_step_program_timing_matches_stepgen_constants(h):
    rnd = random.Random(h)
    words = [stepgen.dir_word(1, 0), stepgen.step_word(1, 0), stepgen.step_word(3, 2),
             stepgen.dir_word(0, 4), stepgen.step_word(4, 7), stepgen.dir_word(1, 9),
             stepgen.dir_word(0, 1), stepgen.step_word(2, 0)] + step_words(rnd, 20)
    total = sum(word_duration(w, h) for w in words)
    edges, pulls, _ = pioemu_run(PROG, total + 40, tx=words, isr=h)
    assert len(pulls) == len(words)
    # every word starts exactly where the previous one's documented duration ends
    for i in range(1, len(words)):
        assert pulls[i] - pulls[i - 1] == word_duration(words[i - 1], h)
    rises = [c for c, g, v in edges if g == STEP and v == 1]
    falls = [c for c, g, v in edges if g == STEP and v == 0]
    dir_edges = [(c, v) for c, g, v in edges if g == DIR]
    assert len(rises) == len(falls)
    for r, f in zip(rises, falls):
        assert f - r == h + stepgen.HIGH_OVERHEAD
    level = 0
    for i, w in enumerate(words):
        start, end = pulls[i], pulls[i] + word_duration(w, h)
        mine = [r for r in rises if start <= r < end]
        if w & 1:
            assert mine == []
            new = (w >> 1) & 1
            if new != level:
                assert (start + 3, new) in dir_edges       # DIR changes 3 cycles after pull
                level = new
                nxt = [r for r in rises if r >= start]
                if nxt:
                    d = w >> 2
                    assert nxt[0] - (start + 3) >= d + stepgen.DIR_SETUP_OVERHEAD
                    if i + 1 < len(words) and not words[i + 1] & 1:
                        assert nxt[0] - (start + 3) == d + stepgen.DIR_SETUP_OVERHEAD
            continue
        n = ((w >> 1) & (stepgen.MAX_STEPS_PER_WORD - 1)) + 1
        low = w >> stepgen.L_SHIFT
        period = h + low + stepgen.STEP_OVERHEAD
        assert len(mine) == n                                   # exact step count
        assert mine[0] - start == stepgen.STEP_WORD_RISE
        assert all(b - a == period for a, b in zip(mine, mine[1:]))
        for r in mine:
            f = falls[rises.index(r)]
            if r + period < end:
                assert period - (f - r) == low + stepgen.LOW_OVERHEAD
        # DIR level while stepping is the last dir word's level
        before = [v for c, v in dir_edges if c <= mine[0]]
        assert (before[-1] if before else 0) == level


def test_step_word_holds_1024_steps_and_the_planner_knows():
    sys.path.insert(0, FIRMWARE)
    import ramp
    assert ramp.MAX_N == stepgen.MAX_STEPS_PER_WORD == 1024
    assert stepgen.MAX_L == (1 << 21) - 1
    h = 2
    words = [stepgen.step_word(1024, 3), stepgen.step_word(1, stepgen.MAX_L >> 12),
             stepgen.dir_word(1, 5)]
    total = sum(word_duration(w, h) for w in words)
    edges, pulls, _ = pioemu_run(PROG, total + 40, tx=words, isr=h)
    rises = [c for c, g, v in edges if g == STEP and v == 1]
    assert len(rises) == 1025 and pulls[1] - pulls[0] == word_duration(words[0], h)
    assert rises[1] - rises[0] == h + 3 + stepgen.STEP_OVERHEAD


def test_timing_class_uses_exact_cycle_counts():
    t = stepgen.Timing(125000000, 1000, 1000, 200)
    assert t.high_cycles == 125 and t.h == 123
    assert t.h + stepgen.HIGH_OVERHEAD == 125                    # 1 us high
    assert t.min_low + stepgen.LOW_OVERHEAD == 125               # 1 us low
    assert t.min_dwell + stepgen.DIR_SETUP_OVERHEAD == 25        # 200 ns setup, exactly


# ---- the engine against pioemu -----------------------------------------------------------

@pytest.mark.parametrize("h,seed,inline", [(0, 1, True), (3, 2, True), (40, 3, True),
                                           (3, 4, False)])
def test_engine_matches_pioemu_on_step_program(h, seed, inline):
    """inline=False: no fast path, no loop acceleration, every cycle through _step."""
    words = step_words(random.Random(seed), 40)
    total = sum(word_duration(w, h) for w in words) + 50
    ref, _, _ = pioemu_run(PROG, total, tx=words, isr=h)
    rig = Rig(PROG, isr=h)
    rig.e.inline = inline
    rig.e.tx.extend(words)
    assert rig.run(total) == ref


def test_engine_loop_acceleration_split_anywhere():
    """run_until targets falling inside delay loops give the same edges as one run."""
    h = 7
    words = step_words(random.Random(9), 30) + [stepgen.dir_word(1, 200),
                                                 stepgen.step_word(3, 150)]
    total = sum(word_duration(w, h) for w in words) + 20
    whole = Rig(PROG, isr=h)
    whole.e.tx.extend(words)
    ref = whole.run(total)
    rnd = random.Random(4)
    pieces = Rig(PROG, isr=h)
    pieces.e.tx.extend(words)
    targets = sorted(rnd.randrange(total * NS) for _ in range(300))
    assert pieces.run(total, targets) == ref
    assert (pieces.e.x, pieces.e.y, pieces.e.pc) == (whole.e.x, whole.e.y, whole.e.pc)


def test_engine_long_dwell_runs_in_one_go():
    rig = Rig(PROG, isr=2)
    d = stepgen.MAX_D
    rig.e.tx.extend([stepgen.dir_word(1, d), stepgen.step_word(2, 0)])
    total = d + 7 + 4 + 2 * 7 + 10
    edges = rig.run(total)
    assert edges[0] == (3, DIR, 1)
    assert [c for c, g, v in edges if g == STEP and v == 1] == [d + 11, d + 18]


def test_engine_stall_and_resume_match_pioemu():
    """Words arriving while the program is stalled on `pull`: resume on the next cycle."""
    h = 2
    feed = {1: [stepgen.step_word(2, 1)], 57: [stepgen.dir_word(1, 3)],
            90: [stepgen.step_word(1, 0), stepgen.step_word(2, 4)], 200: [stepgen.step_word(1, 0)],
            233: [stepgen.step_word(1, 1)]}
    ref, _, _ = pioemu_run(PROG, 300, isr=h, feed=feed)
    rig = Rig(PROG, isr=h)
    # pioemu appends the words after cycle c - 1 executed, so the pull sees them at cycle c.
    # The engine gets them at (c - 1) * 8 + 1 ns, or at exactly c * 8 ns after it already
    # ran (stalled) cycle c: either way the first cycle at or after the put is c.
    for i, c in enumerate(sorted(feed)):
        t = c * NS if i % 2 else (c - 1) * NS + 1
        rig.e.run_until(t)
        for w in feed[c]:
            rig.e.put(w, t)
    assert rig.run(300) == ref


def test_engine_stops_after_watched_write():
    """A watcher returning True stops run_until right after that cycle, at its time."""
    rig = Rig(PROG, isr=1)
    rig.e.tx.extend([stepgen.step_word(3, 0)] * 2)
    seen = []

    def watcher(g, v, t):
        seen.append(t)
        return v == 1 and len(seen) == 3         # stop at the second rise
    rig.k.watch(STEP, watcher)
    r = rig.e.run_until(10000 * NS)
    assert r == seen[-1] == (4 + 6) * NS          # P = H + L + 5 = 6
    assert rig.e.cyc == 4 + 6 + 1
    assert rig.e.run_until(10000 * NS) == 10000 * NS


@asm_pio(set_init=rp2.PIO.OUT_LOW, sideset_init=rp2.PIO.OUT_LOW)
def blinker():
    wrap_target()                                   # noqa: F821
    set(pins, 1).side(0)[3]                         # noqa: F821
    set(x, 5).side(1)                               # noqa: F821
    label("l")                                      # noqa: F821
    nop().side(0)[1]                                # noqa: F821
    jmp(x_dec, "l").side(1)[2]                      # noqa: F821
    set(y, 3).side(0)                               # noqa: F821
    label("m")                                      # noqa: F821
    jmp(y_dec, "m").side(1)[6]                      # noqa: F821
    set(pins, 0).side(0)[5]                         # noqa: F821
    wrap()                                          # noqa: F821


@asm_pio(out_init=(rp2.PIO.OUT_LOW,) * 2, sideset_init=rp2.PIO.OUT_LOW,
         out_shiftdir=rp2.PIO.SHIFT_RIGHT, autopull=True, pull_thresh=8)
def serialiser():
    out(pins, 2).side(0)[1]                         # noqa: F821
    nop().side(1)[1]                                # noqa: F821


@asm_pio(set_init=rp2.PIO.OUT_LOW)
def follower():
    wrap_target()                                   # noqa: F821
    wait(1, gpio, 5)                                # noqa: F821
    set(pins, 1)                                    # noqa: F821
    label("hi")                                     # noqa: F821
    jmp(pin, "hi")                                  # noqa: F821
    set(pins, 0)[2]                                 # noqa: F821
    wrap()                                          # noqa: F821


@asm_pio(in_shiftdir=rp2.PIO.SHIFT_LEFT)
def cruncher():
    set(x, 0x15)                                    # noqa: F821
    in_(x, 5)                                       # noqa: F821
    push()                                          # noqa: F821
    mov(y, invert(x))                               # noqa: F821
    in_(y, 3)                                       # noqa: F821
    in_(null, 2)                                    # noqa: F821
    push(noblock)                                   # noqa: F821
    mov(isr, invert(x))                             # noqa: F821
    push()                                          # noqa: F821
    jmp(x_not_y, "end")                             # noqa: F821
    set(x, 1)                                       # noqa: F821
    label("end")                                    # noqa: F821
    in_(x, 32)                                      # noqa: F821
    push()[3]                                       # noqa: F821


def test_engine_matches_pioemu_blinker_with_delays_and_sideset():
    ref, _, _ = pioemu_run(blinker, 400, set_base=7)
    assert ref
    assert Rig(blinker, set_base=7).run(400) == ref


def test_engine_matches_pioemu_autopull():
    words = [0x1B, 0xE4, 0x5A, 0xFF, 0x00, 0x93]
    ref, _, _ = pioemu_run(serialiser, 300, tx=words, out_base=10)
    rig = Rig(serialiser, out_base=10)
    rig.e.tx.extend(words)
    assert rig.run(300) == ref
    assert rig.e.tx == []


def test_engine_matches_pioemu_wait_and_jmp_pin():
    # the kernel changes an input at time T; the engine sees it from the first cycle after T
    def level(c):                   # the kernel's level after its events at cycle c's time
        return 1 if c % 37 >= 20 else 0
    ref, _, _ = pioemu_run(follower, 400, set_base=8, jmp_pin=5,
                           input_fn=lambda c: level(c - 1) << 5 if c else 0, pins=(5,),
                           out_dirs=1 << 8)
    rig = Rig(follower, set_base=8, jmp_pin=5)
    rig.k.gpio_ext[5] = level(0)
    for c in range(1, 400):
        if level(c) != level(c - 1):
            rig.e.run_until(c * NS)
            rig.k.gpio_ext[5] = level(c)
    edges = [e for e in rig.run(400) if e[1] != 5]
    assert len(ref) > 10 and edges == ref


def test_engine_matches_pioemu_in_push_mov_ops():
    _, _, ref_rx = pioemu_run(cruncher, 20)
    rig = Rig(cruncher)
    rig.run(20)
    assert rig.e.rx == ref_rx
    assert ref_rx[:3] == [0x15, 8, 0xFFFFFFEA]


def test_engine_mov_reverse_and_status():
    # pioemu ignores the bit-reverse operation: checked by hand
    rig = Rig(cruncher)
    rig.e.active = False
    rig.e.x = 0x15
    rig.e.exec_now(asm_pio_encode("mov(isr, reverse(x))", 0), 0)
    assert rig.e.isr == 0xA8000000
    rig.e.status_n = 1                               # all-ones while TX level < 1
    rig.e.exec_now(asm_pio_encode("mov(y, status)", 0), 0)
    assert rig.e.y == 0xFFFFFFFF


# ---- the rp2 shim ------------------------------------------------------------------------

@pytest.fixture
def kernel():
    k = rp2.K
    k.__init__()
    yield k
    for i in range(8):
        rp2.StateMachine(i).active(0)
    k.__init__()


def test_shim_firmware_stepgen_blocking_put(kernel):
    """StepGen on the rp2 shim: 30 words through the 8-deep FIFO with blocking put(); the
    step train equals pioemu's, and each put() returns at the cycle a slot was freed."""
    edges = []
    kernel.trace_fn = lambda t, g, v: edges.append((t, g, v))
    kernel.gpio_out.update({STEP: 0, DIR: 0})

    class En:
        def value(self, v):
            pass
    tm = stepgen.Timing(125000000, 100, 100, 20)
    sg = stepgen.StepGen(0, STEP, DIR, En(), 0, 125000000, tm)
    t0 = kernel.now
    words = step_words(random.Random(5), 30)
    returns = []
    for w in words:
        sg.push(w)
        returns.append(kernel.now)
    total = sum(word_duration(w, tm.h) for w in words) + 20
    kernel.advance_to(t0 + total * NS)
    ref, pulls, _ = pioemu_run(PROG, total, tx=words, isr=tm.h)
    mine = [((t - t0) // NS, g, v) for t, g, v in edges if t >= t0 and g in (STEP, DIR)]
    assert mine == [e for e in ref if e != (3, DIR, 0)]
    # the 9th put had to wait for the first pull after the FIFO filled, and so on
    assert returns[:9] == [t0] * 9
    for i in range(9, len(words)):
        assert returns[i] == t0 + pulls[i - 8] * NS


def test_shim_get_blocks_until_push(kernel):
    @asm_pio()
    def pusher():
        set(x, 9)                                    # noqa: F821
        label("w")                                   # noqa: F821
        jmp(x_dec, "w")[3]                           # noqa: F821
        in_(x, 4)                                    # noqa: F821
        push()                                       # noqa: F821
    sm = rp2.StateMachine(5, pusher, freq=1000000)
    sm.active(1)
    t0 = kernel.now
    assert sm.get() == 0xF                                      # shift left by default
    assert kernel.now == t0 + (1 + 10 * 4 + 1) * 1000          # push at cycle 42, 1 us/cycle
    with pytest.raises(RuntimeError):
        sm.active(0)
        sm.get()


def test_shim_exec_on_inactive_and_put_full_inactive(kernel):
    sm = rp2.StateMachine(1, PROG, sideset_base=STEP, out_base=DIR)
    sm.put(77)
    sm.exec("pull()")
    sm.exec("mov(isr, osr)")
    assert sm._eng.isr == 77 and sm.tx_fifo() == 0
    for i in range(8):
        sm.put(i)
    with pytest.raises(RuntimeError):
        sm.put(9)


# ---- MicroPython -------------------------------------------------------------------------

MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")


@pytest.mark.skipif(not os.path.exists(MICROPYTHON), reason="no micropython in .venv")
def test_stepgen_imports_and_runs_under_micropython():
    code = (
        "import stepgen, rp2\n"
        "from _vp_kernel import K\n"
        "class En:\n"
        "    def value(self, v): pass\n"
        "tm = stepgen.Timing(125000000, 1000, 1000, 200)\n"
        "sg = stepgen.StepGen(0, 2, 3, En(), 0, 125000000, tm)\n"
        "n = [0]\n"
        "def w(g, v, t):\n"
        "    n[0] += v\n"
        "K.watch(2, w)\n"
        "for i in range(20):\n"
        "    sg.push(stepgen.step_word(10, tm.min_low))\n"
        "K.advance_to(K.now + 10000000)\n"
        "print(n[0], stepgen.step_program.opcodes[8])\n"
    )
    env = dict(os.environ, MICROPYPATH=BOARD + ":" + FIRMWARE)
    r = subprocess.run([MICROPYTHON, "-c", code], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["200", str(0xB026)]


def test_shutter_line_opcodes_match_the_assembler():
    pio_shutter = _import_firmware("pio_shutter")
    for bits in range(4):
        assert pio_shutter.set_lines_opcode(bits) == asm_pio_encode("set(pins, %d)" % bits, 0)
