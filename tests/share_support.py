"""A focuser on the simulated mount with its port shared (``share``), and the shared endpoint's
address for a mount program: ``shared_focuser`` yields a connected CelestronFocuser on the hub."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from conftest import free_port, wait_for
from mount_support import FAST, MountRig, running_mount

from alpaca_focuser.celestron.sharing import shared_status, stop_all
from alpaca_focuser.device import CelestronFocuser
from alpaca_focuser.settings import FocuserSettings


def tcp_share() -> tuple[str, int]:
    """A ``share`` value on a free loopback port, and that port."""
    port = free_port()
    return f"tcp:{port}", port


@contextlib.contextmanager
def shared_focuser(route: str, share: str, time_scale: float = 50, motor_options: dict[str, Any] | None = None,
                   **settings: Any) -> Iterator[MountRig]:
    """The focuser reached through the mount's hand controller (``route="hc"``), USB port
    (``"mount"``) or, with ``rtscts=True``, a cable on its AUX port; its port shared at ``share``."""
    with running_mount(time_scale, **(motor_options or {})) as mount:
        port = mount.hc_path if route == "hc" else mount.aux_url if settings.get("rtscts") else mount.usb_path
        focuser = CelestronFocuser(FocuserSettings(port=port, route=route, share=share, **{**FAST, **settings}))
        try:
            focuser.connect()
            yield MountRig(focuser, mount.motor, mount)
        finally:
            focuser.close()
            stop_all()


def share_status(rig: MountRig) -> dict[str, Any]:
    status = shared_status(rig.focuser.state.port)
    assert status is not None, "the focuser's port is not shared"
    return status


def settle(focuser: CelestronFocuser, timeout: float = 20) -> None:
    wait_for(lambda: not focuser.state.moving, timeout, "the move to end")


def move_exactly(rig: MountRig, target: int) -> None:
    """Move the focuser and check it landed on ``target`` exactly, as the motor itself says."""
    rig.focuser.move(target)
    settle(rig.focuser)
    assert rig.focuser.state.position == target
    assert rig.motor.position - rig.motor.limits[0] == target and not rig.motor.moving
