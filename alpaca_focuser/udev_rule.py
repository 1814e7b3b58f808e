"""The udev rule that names the focuser's own USB port /dev/celestron_focuser: where it lives and
what it says. Here, below both, because `alpaca-focuser udev` writes it and the doctor looks for it."""

from __future__ import annotations

from pathlib import Path

from .celestron.usb_probe import CELESTRON_USB_ID, STABLE_PORT

RULE_PATH = Path("/etc/udev/rules.d/99-celestron-focuser.rules")
STABLE_NAME = STABLE_PORT.removeprefix("/dev/")


def rule_text() -> str:
    vendor, product = (part.lower() for part in CELESTRON_USB_ID.split(":"))
    return (
        "# Written by 'alpaca-focuser udev install'; 'alpaca-focuser udev uninstall' removes it.\n"
        f"# The Celestron Focus Motor's own USB port (USB id {CELESTRON_USB_ID.upper()}) also appears as {STABLE_PORT},\n"
        "# whatever /dev/ttyACM number it gets, and members of the dialout group may use it.\n"
        f'SUBSYSTEM=="tty", ATTRS{{idVendor}}=="{vendor}", ATTRS{{idProduct}}=="{product}", '
        f'SYMLINK+="{STABLE_NAME}", GROUP="dialout", MODE="0660"\n'
    )
