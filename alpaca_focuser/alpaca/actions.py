"""Vendor actions reached through the Alpaca Action member; none are offered yet."""

from __future__ import annotations

from ..device import Focuser
from ..errors import ActionNotImplemented

SUPPORTED_ACTIONS: list[str] = []


def run_action(device: Focuser, name: str, parameters: list[str]) -> str:
    raise ActionNotImplemented(f"{device.name} has no action {name!r}; SupportedActions lists the ones it has")
