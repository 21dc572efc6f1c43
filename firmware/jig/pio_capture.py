"""PIO program for the jig's edge capture (the word format and cycle accounting are in
capture.py). Written in MicroPython's PIO assembler DSL: the names below exist only while
@rp2.asm_pio runs the function, hence the file-wide checker setting.
"""
# pyright: reportUndefinedVariable=false
# ruff: noqa: F821

import rp2


@rp2.asm_pio(in_shiftdir=rp2.PIO.SHIFT_LEFT, fifo_join=rp2.PIO.JOIN_RX)
def edge_capture():
    wrap_target()
    label("loop")
    mov(osr, x)                 # 0  keep the loop counter
    mov(isr, null)              # 1
    in_(pins, 5)                # 2  sample (SAMPLE_OFFSET)
    mov(x, isr)                 # 3
    jmp(x_not_y, "change")      # 4
    mov(x, osr)                 # 5
    label("count")
    jmp(x_dec, "loop")          # 6  both ways lead back to the loop (wrap)
    wrap()
    label("change")
    mov(y, x)                   # 7  remember the new sample
    in_(osr, 27)                # 8  word = sample << 27 | counter
    push(noblock)               # 9
    mov(x, osr)                 # 10
    jmp("count")                # 11
