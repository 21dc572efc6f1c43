"""GPIO assignments. GENERATED from hardware/pinmap.json by `make pins`: do not edit.

ACTIVE_* is the electrical level that means pressed / asserted.
"""

from micropython import const

# inputs
SHUTTER_HALF = const(2)  # Shutter button first stage (S1, half press), to GND
ACTIVE_SHUTTER_HALF = const(0)
SHUTTER_FULL = const(3)  # Shutter button second stage (S2, full press), to GND
ACTIVE_SHUTTER_FULL = const(0)
AF_ON = const(4)  # AF-ON thumb button, to GND
ACTIVE_AF_ON = const(0)
JOG_NEAR = const(5)  # Optional manual-focus nudge towards near focus (direction from lens_cal), to GND
ACTIVE_JOG_NEAR = const(0)
JOG_FAR = const(6)  # Optional manual-focus nudge towards far focus (direction from lens_cal), to GND
ACTIVE_JOG_FAR = const(0)
HOME = const(7)  # Lens home / limit switch (normally open, closes to GND at the end stop)
ACTIVE_HOME = const(0)

# outputs
CAM_FOCUS = const(14)  # PC817 LED for the camera focus (half-press) line, via 330R
ACTIVE_CAM_FOCUS = const(1)
CAM_SHUTTER = const(15)  # PC817 LED for the camera shutter (release) line, via 330R
ACTIVE_CAM_SHUTTER = const(1)
STEP = const(16)  # Stepper driver STEP (PIO side-set pin)
ACTIVE_STEP = const(1)
DIR = const(17)  # Stepper driver DIR (PIO out pin, STEP+1); high = increasing steps (which way is nearer: lens_cal)
ACTIVE_DIR = const(1)
MOTOR_EN = const(18)  # Stepper driver ENABLE (active low; 10k pull-up to 3V3 keeps the driver off while the RP2040 resets)
ACTIVE_MOTOR_EN = const(0)
LED = const(25)  # On-board status LED
ACTIVE_LED = const(1)

# UARTs
LIDAR_UART = const(0)
LIDAR_TX = const(0)
LIDAR_RX = const(1)
LIDAR_BAUD = const(115200)

# every input, in the order the input handler numbers them
IN_SHUTTER_HALF = const(0)
IN_SHUTTER_FULL = const(1)
IN_AF_ON = const(2)
IN_JOG_NEAR = const(3)
IN_JOG_FAR = const(4)
IN_HOME = const(5)
INPUT_NAMES = ('shutter_half', 'shutter_full', 'af_on', 'jog_near', 'jog_far', 'home',)
INPUT_GPIOS = (2, 3, 4, 5, 6, 7,)
INPUT_ACTIVES = (0, 0, 0, 0, 0, 0,)
