"""PIO program for the shutter in hardware: while armed, a state machine watches the
full-press contact (S2, active low) and drives the camera's focus and shutter lines
itself, a few PIO cycles (tens of ns) after the contact closes; the CPU only arms it
(puts 1), disarms it (restart: back to waiting for a command), learns that it fired (a
word in its RX FIFO) and ends the pulse.

Pins: `in_base` = S2; `set_base` = the focus line, with the shutter line on the next
GPIO (set bit 0 = focus, bit 1 = shutter). The CPU drives both lines through this state
machine too (exec of a `set pins`), since the pins belong to the PIO once it owns them.
Written in the PIO assembler DSL: its names exist only while the decorator runs.
"""
# pyright: reportUndefinedVariable=false
# ruff: noqa: F821

from micropython import const

import rp2


@rp2.asm_pio(set_init=[rp2.PIO.OUT_LOW, rp2.PIO.OUT_LOW])
def shutter_program():
    # always enabled, never spinning: stalled on a command (pull) or on S2 (wait), so the
    # CPU's exec'd `set pins` take effect in every state; restart() disarms
    label("top")
    pull(block)             # 0  wait for a command: 1 = arm
    mov(x, osr)             # 1
    jmp(not_x, "top")       # 2
    wait(0, pin, 0)         # 3  armed: S2 (in_base, active low) closes
    set(pins, 3)            # 4  focus + shutter lines on  # type: ignore
    push(noblock)           # 5  tell the CPU
    jmp("top")              # 6  lines stay on until the CPU ends the pulse


SET_PINS = const(0xE000)    # SET, destination PINS, no delay/side-set (RP2040 datasheet 3.4.10)


def set_lines_opcode(bits):
    """The `set pins, bits` instruction the CPU executes on the state machine (encoded
    here: rp2.asm_pio_encode would run the Python assembler at every boot, ~10 ms each
    on a Pico; tests/test_pio.py checks the two agree)."""
    return SET_PINS | bits
