"""Jig GPIO assignments. GENERATED from hardware/jig_wiring.json by
`python -m focusrig.jigpins --write`: do not edit.

DRIVE: DUT button input -> jig GPIO (open drain). CAPTURE_*: the DUT outputs on
consecutive jig GPIOs from CAPTURE_BASE, bit i of a sample = CAPTURE_NAMES[i].
"""

DRIVE = {
    'shutter_half': 2,
    'shutter_full': 3,
    'af_on': 4,
    'jog_near': 5,
    'jog_far': 6,
    'home': 7,
}
DRIVE_NAMES = ('shutter_half', 'shutter_full', 'af_on', 'jog_near', 'jog_far', 'home',)
CAPTURE_BASE = 10
CAPTURE_COUNT = 5
CAPTURE_NAMES = ('cam_focus', 'cam_shutter', 'step', 'dir', 'motor_en',)
RESET_GPIO = 20
UART_ID = 0
UART_TX = 0
UART_RX = 1
UART_BAUD = 115200
