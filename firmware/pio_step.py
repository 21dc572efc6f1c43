"""PIO program for the step generator (see stepgen.py for the word format and the cycle
accounting it relies on; tests/test_pio.py checks both cycle by cycle).

Written in MicroPython's PIO assembler DSL: the names below (pull, out, jmp ...) exist
only while @rp2.asm_pio runs the function, hence the file-wide checker setting.
"""
# pyright: reportUndefinedVariable=false
# ruff: noqa: F821

from micropython import const
import rp2

N_BITS = const(10)      # a step word's count field: n - 1, 1..1024 steps (stepgen.py)


@rp2.asm_pio(sideset_init=rp2.PIO.OUT_LOW, out_init=rp2.PIO.OUT_LOW,
             out_shiftdir=rp2.PIO.SHIFT_RIGHT, autopull=False,
             fifo_join=rp2.PIO.JOIN_TX)
def step_program():
    wrap_target()
    label("top")                        #
    pull(block)             .side(0)    # 0  OSR <- next word
    out(x, 1)               .side(0)    # 1  x = word kind
    jmp(not_x, "steps")     .side(0)    # 2
    out(pins, 1)            .side(0)    # 3  dir word: DIR <- bit 1
    mov(x, osr)             .side(0)    # 4  x = dwell count D
    label("dwell")                      #
    jmp(x_dec, "dwell")     .side(0)    # 5  D + 1 cycles
    jmp("top")              .side(0)    # 6
    label("steps")                      #
    out(y, N_BITS)          .side(0)    # 7  y = n - 1; OSR = L
    label("step")                       #
    mov(x, isr)             .side(1)    # 8  STEP high; x = H
    label("high")                       #
    jmp(x_dec, "high")      .side(1)    # 9  H + 1 cycles
    mov(x, osr)             .side(0)    # 10 STEP low; x = L
    label("low")                        #
    jmp(x_dec, "low")       .side(0)    # 11 L + 1 cycles
    jmp(y_dec, "step")      .side(0)    # 12 next step of this word
    wrap()                              #
