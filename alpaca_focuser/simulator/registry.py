"""The in-process simulated motors by name, so every ``sim://NAME`` port in a process reaches the
same motor: closing and reopening the port finds it where it was, as with real hardware."""

from __future__ import annotations

import threading
from typing import Any

from .motor import FocusMotor

DEFAULT_NAME = "default"

_motors: dict[str, FocusMotor] = {}
_lock = threading.Lock()


def motor(name: str = DEFAULT_NAME, **options: Any) -> FocusMotor:
    """The motor called ``name``, made with ``options`` (FocusMotor arguments) on first use.

    Options given for a motor that already exists are ignored: a device does not change when a
    second program opens it.
    """
    with _lock:
        found = _motors.get(name)
        if found is None:
            found = _motors[name] = FocusMotor(**options)
        return found


def remove(name: str) -> None:
    """Forget a motor, so the next open makes a new one (a test starting from a clean device)."""
    with _lock:
        found = _motors.pop(name, None)
    if found is not None:
        found.save()
