"""focusrig host tools: the `focusrig` command, the serial transport and the virtual Pico."""

import os

__version__ = "0.1.0"

#: repository root (host_tools/focusrig/__init__.py -> ../..)
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIRMWARE_DIR = os.path.join(REPO_ROOT, "firmware")
HARDWARE_DIR = os.path.join(REPO_ROOT, "hardware")
