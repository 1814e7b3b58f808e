"""A simulated mount with the focuser on its AUX bus, and our device model reaching it by a route.

``ROUTES`` names the ways in: the mount's USB port (a pty), its WiFi module (TCP), a cable on its
AUX port (with the RTS/CTS handshake) and a hand controller's pass-through (a pty). ``focuser_through_mount`` yields a connected CelestronFocuser.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from alpaca_focuser.device import CelestronFocuser
from alpaca_focuser.settings import FocuserSettings
from alpaca_focuser.simulator import FocusMotor
from alpaca_focuser.simulator.mount import SimulatedMount

ROUTES = ["mount-usb", "wifi", "aux-port", "hc"]
FAST = dict(stall_s=1.0, grace_s=3.0, reply_timeout_s=0.5, jog_timeout_s=0.5)


@dataclass
class MountRig:
    focuser: CelestronFocuser
    motor: FocusMotor
    mount: SimulatedMount


@contextlib.contextmanager
def running_mount(time_scale: float = 50, **motor_options: Any) -> Iterator[SimulatedMount]:
    motor = FocusMotor(time_scale=time_scale, **motor_options)
    with tempfile.TemporaryDirectory(prefix="mount-sim-") as folder, SimulatedMount(motor, folder, hc_timeout_s=0.3) as mount:
        yield mount


def route_settings(mount: SimulatedMount, way: str, **settings: Any) -> FocuserSettings:
    """Settings that reach the mount's focuser the ``way`` named (one of ROUTES)."""
    doors = {"mount-usb": (mount.usb_path, "mount"), "wifi": (mount.wifi_url, "mount"), "aux-port": (mount.aux_url, "mount"), "hc": (mount.hc_path, "hc")}
    port, route = doors[way]
    return FocuserSettings(port=port, route=route, rtscts=way == "aux-port", **{**FAST, **settings})


@contextlib.contextmanager
def focuser_through_mount(way: str, time_scale: float = 50, motor_options: dict[str, Any] | None = None, **settings: Any) -> Iterator[MountRig]:
    with running_mount(time_scale, **(motor_options or {})) as mount:
        chosen = route_settings(mount, way, **settings)
        focuser = CelestronFocuser(chosen)
        try:
            focuser.connect()
            yield MountRig(focuser, mount.motor, mount)
        finally:
            focuser.close()
