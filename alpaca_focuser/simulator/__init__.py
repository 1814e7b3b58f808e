"""A faithful software Celestron focus motor: the model, its AUX firmware, and three ways to reach
it (a pseudo-terminal, a TCP port like Celestron's WiFi module, and the in-process ``sim://`` URL).

Importing this package registers ``sim://`` with pyserial. The pty and TCP servers are imported on
first use, because the pty one needs a POSIX system and ``sim://`` must work everywhere.
"""

from __future__ import annotations

from typing import Any

import serial

from .motor import FocusMotor, StopEvent
from .responder import AuxResponder

if __name__ not in serial.protocol_handler_packages:
    serial.protocol_handler_packages.append(__name__)

__all__ = ["AuxResponder", "FocusMotor", "PtySimulator", "StopEvent", "TcpSimulator"]


def __getattr__(name: str) -> Any:
    if name == "PtySimulator":
        from .pty_server import PtySimulator

        return PtySimulator
    if name == "TcpSimulator":
        from .tcp_server import TcpSimulator

        return TcpSimulator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
