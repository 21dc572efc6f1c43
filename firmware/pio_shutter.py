"""PIO program for the shutter in hardware: while armed, a state machine waits for the
full-press contact (S2, active low) and drives the camera's focus and shutter lines
itself, a few PIO cycles (tens of ns) after the contact closes; the CPU only arms it,
disarms it, learns that it fired (a word in its RX FIFO) and ends the pulse.

Pins: `in_base` = S2; `set_base` = the focus line, with the shutter line on the next
GPIO (set bit 0 = focus, bit 1 = shutter). The CPU drives both lines through this state
machine too (exec of a `set pins`), since the pins belong to the PIO once it owns them.
Written in the PIO assembler DSL (names exist only inside @rp2.asm_pio).
"""
# pyright: reportUndefinedVariable=false
# ruff: noqa: F821

import rp2


@rp2.asm_pio(set_init=[rp2.PIO.OUT_LOW, rp2.PIO.OUT_LOW])
def shutter_program():
    wait(0, pin, 0)         # 0  S2 closes (active low)
    set(pins, 3)            # 1  focus + shutter lines on  # type: ignore
    push(noblock)           # 2  tell the CPU
    label("hold")
    jmp("hold")             # 3  lines stay on until the CPU ends the pulse


def set_lines_opcode(bits):
    """The `set pins, bits` instruction the CPU executes on the state machine."""
    return rp2.asm_pio_encode("set(pins, %d)" % bits, 0)
