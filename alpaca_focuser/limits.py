"""Limits written once: the configuration, the device model, the actions, the command line and
the simulator all check against these, so a value accepted in one place is never refused in another."""

from __future__ import annotations

import argparse
from collections.abc import Callable

POSITION_MAX = 0xFFFFFF  # device counts are 24-bit on the wire
PRESET_SLOTS = range(1, 21)  # preset slot numbers a user can save into
BACKLASH_STEPS_MAX = 65535
NETWORK_PORT_MAX = 65535  # TCP and UDP port numbers


def port_number(low: int = 1) -> Callable[[str], int]:
    """An argparse type for a TCP or UDP port from ``low`` to NETWORK_PORT_MAX, ASCII digits only."""

    def parse(text: str) -> int:
        if not (text.isascii() and text.isdigit()) or not low <= int(text) <= NETWORK_PORT_MAX:
            raise argparse.ArgumentTypeError(f"{text!r} is not a port number from {low} to {NETWORK_PORT_MAX}")
        return int(text)

    return parse
