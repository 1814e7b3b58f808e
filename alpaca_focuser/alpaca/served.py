"""One device as the HTTP layer serves it: its Alpaca type and number, and its connection control."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..device import Focuser
from ..device.line import unreachable
from ..errors import NotConnected
from .connection import ConnectionControl

if TYPE_CHECKING:
    from ..temperature.service import TemperatureService


SIMULATED = " (simulated)"


RETRYING = "The server keeps retrying in the background."


def not_connected_reason(device: Focuser, failure: str = "") -> str:
    """Why the focuser is not connected, in the words the log uses: the line's own error (often a
    bare "[Errno 2] ...") or a failed Connect's message, with what to check, and whether the server
    keeps trying."""
    state = device.state
    if state.connected or not (failure or state.last_error):
        return state.last_error
    reason = failure or unreachable(state.port, state.last_error)
    return f"{reason} {RETRYING}" if state.activity in ("connecting", "link lost") else reason


def is_simulated(device: Focuser) -> bool:
    """The built-in simulator (sim://): a client connected to it must not wonder why nothing turns."""
    return device.settings.port.startswith("sim://")


@dataclass(frozen=True)
class ServedDevice:
    device_type: str  # lower case, as in the API path
    number: int
    device: Focuser
    connection: ConnectionControl
    temperature: TemperatureService | None = None  # the temperature source and compensation, if configured

    @property
    def label(self) -> str:
        return f"{self.device_type} {self.number}"

    @property
    def simulated(self) -> bool:
        return is_simulated(self.device)

    @property
    def name(self) -> str:
        """The Name clients show: the configured name, marked when the focuser is simulated."""
        name = self.device.name
        return f"{name}{SIMULATED}" if self.simulated and "simulat" not in name.lower() else name

    @property
    def description(self) -> str:
        description = self.device.description
        return f"{description}{SIMULATED}" if self.simulated else description

    @property
    def disconnected_reason(self) -> str:
        """Why the device is not connected, from the last failed Connect or the device itself."""
        failure = self.connection.last_failure
        return not_connected_reason(self.device, failure.message if failure else "")

    def not_connected(self) -> NotConnected:
        reason = self.disconnected_reason
        because = f" ({reason})" if reason else ""
        return NotConnected(
            f"{self.device.name} ({self.label}) is not connected{because}. Connect it first: "
            f"PUT /api/v1/{self.device_type}/{self.number}/connect"
        )


def _lease_of(device: Focuser) -> Callable[[], float]:
    return lambda: device.settings.client_lease_s


def serve(device_type: str, devices: list[Focuser], temperatures: Sequence[TemperatureService | None] = ()) -> list[ServedDevice]:
    """Number the devices of one type from 0, in the order given, each with its temperature service."""
    return [
        ServedDevice(
            device_type, number, device, ConnectionControl(device, f"{device_type} {number}", lease_s=_lease_of(device)),
            temperatures[number] if number < len(temperatures) else None,
        )  # fmt: skip
        for number, device in enumerate(devices)
    ]
