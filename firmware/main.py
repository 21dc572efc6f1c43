"""focusrig firmware entry point (runs at power-up).

Safe boot: hold AF-ON and the full shutter press while powering up to skip the firmware
and stay at the REPL (rp2 has no safe-boot pin of its own).
"""

import app

app.main()
