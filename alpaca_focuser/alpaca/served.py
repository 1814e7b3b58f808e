"""One device as the HTTP layer serves it: its Alpaca type and number, and its connection control."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..device import Focuser
from ..errors import NotConnected
from .connection import ConnectionControl

if TYPE_CHECKING:
    from ..temperature.service import TemperatureService


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
    def disconnected_reason(self) -> str:
        """Why the device is not connected, from the last failed Connect or the device itself."""
        failure = self.connection.last_failure
        return failure.message if failure else self.device.state.last_error

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
