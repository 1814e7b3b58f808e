"""The Alpaca Management API: which API versions, what this server is, which devices it has."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import falcon

from .. import __version__
from .envelope import TransactionCounter, envelope, send_json, send_text
from .protocol import BadRequest, client_ids, query_fields
from .served import ServedDevice

log = logging.getLogger(__name__)

MANUFACTURER = "alpaca-focuser project"
ALPACA_TYPE_NAMES = {"focuser": "Focuser"}


@dataclass
class ServerInfo:
    """What the management API and the setup pages say about the server; filled in at start."""

    name: str
    location: str
    bind: str = "127.0.0.1"
    http_port: int = 0
    discovery_port: int | None = None  # None when discovery is off
    mdns: bool = False
    addresses: Callable[[], list[str]] = field(default=lambda: [])

    def description(self) -> dict[str, str]:
        return {
            "ServerName": self.name or "Alpaca Focuser Server",
            "Manufacturer": MANUFACTURER,
            "ManufacturerVersion": __version__,
            "Location": self.location or "Not set",
        }


def configured_devices(devices: dict[str, list[ServedDevice]]) -> list[dict[str, Any]]:
    return [
        {
            "DeviceName": served.name,
            "DeviceType": ALPACA_TYPE_NAMES[device_type],
            "DeviceNumber": served.number,
            "UniqueID": served.device.unique_id,
        }
        for device_type, served_devices in devices.items()
        for served in served_devices
    ]


class ManagementResource:
    """One management GET; ``answer`` gives its Value."""

    def __init__(self, answer: Callable[[], Any], transactions: TransactionCounter) -> None:
        self._answer = answer
        self._transactions = transactions

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        try:
            ids = client_ids(query_fields(req.query_string))
        except BadRequest as problem:
            send_text(resp, falcon.HTTP_400, str(problem))
            return
        send_json(resp, envelope(ids.transaction_id, self._transactions.next(), self._answer()))
        log.debug("ClientID=%d ClientTransactionID=%d GET %s", ids.client_id, ids.transaction_id, req.path)


def add_management_routes(app: falcon.App[Any, Any], info: ServerInfo, devices: dict[str, list[ServedDevice]], transactions: TransactionCounter) -> None:
    app.add_route("/management/apiversions", ManagementResource(lambda: [1], transactions))
    app.add_route("/management/v1/description", ManagementResource(info.description, transactions))
    app.add_route("/management/v1/configureddevices", ManagementResource(lambda: configured_devices(devices), transactions))
