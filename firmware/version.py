"""Firmware version, reported by the `version` command and the boot event."""

VERSION = "0.1.0"
PROTOCOL = 1
