"""The Falcon application: the Alpaca device and management APIs, the setup pages, and /metrics
and /health for monitoring.

Errors that Falcon itself raises (no such page, method not allowed) and faults inside the server
are answered in plain text, never with Falcon's JSON error bodies or a Python traceback, because
Alpaca clients expect a text message with any non-200 status.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import falcon

from .control import add_control_routes
from .envelope import TransactionCounter, send_text
from .guard import RequestGuard
from .management import ServerInfo, add_management_routes
from .observe import HealthPage, MetricsPage, RequestCounts
from .pages import DeviceSetupPage, ServerSetupPage
from .resources import DeviceResource, api_sink
from .served import ServedDevice

log = logging.getLogger(__name__)

UNROUTED_API = re.compile(r"/(api|management)(/|$)", re.IGNORECASE)


def create_app(devices: dict[str, list[ServedDevice]], info: ServerInfo, guard: RequestGuard | None = None) -> falcon.App[falcon.Request, falcon.Response]:
    app = falcon.App(middleware=[guard or RequestGuard()])
    transactions = TransactionCounter()
    counts = RequestCounts()
    app.add_route("/api/v1/{device_type}/{device_number}/{member}", DeviceResource(devices, transactions, counts))
    app.add_route("/metrics", MetricsPage(devices.get("focuser", []), counts))
    app.add_route("/health", HealthPage(devices.get("focuser", [])))
    add_management_routes(app, info, devices, transactions)
    app.add_route("/", Redirect("/setup"))
    app.add_route("/favicon.ico", Redirect("/web/favicon.svg"))
    app.add_route("/setup", ServerSetupPage(info, devices))
    app.add_route("/setup/v1/{device_type}/{device_number}/setup", DeviceSetupPage(devices))
    add_control_routes(app, devices)
    app.add_sink(api_sink, UNROUTED_API)
    app.set_error_serializer(plain_text_error)
    app.add_error_handler(Exception, internal_error)
    return app


class Redirect:
    """A browser pointed at the bare address (or asking for the tab's icon) is sent where it is."""

    def __init__(self, location: str) -> None:
        self._location = location

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        raise falcon.HTTPFound(self._location)

    def on_head(self, req: falcon.Request, resp: falcon.Response) -> None:
        raise falcon.HTTPFound(self._location)


def plain_text_error(req: falcon.Request, resp: falcon.Response, error: falcon.HTTPError) -> None:
    message = error.title if not error.description else f"{error.title}: {error.description}"
    if error.status_code == 404:
        message += f". There is nothing at {req.path}; the Alpaca API is under /api/v1 and the setup page is /setup"
    resp.content_type = falcon.MEDIA_TEXT
    resp.text = message


def internal_error(req: falcon.Request, resp: falcon.Response, error: Exception, params: dict[str, Any]) -> None:
    log.error("Internal error while answering %s %s", req.method, req.path, exc_info=error)
    send_text(
        resp,
        falcon.HTTP_500,
        f"Internal server error while answering {req.method} {req.path}. "
        "The request was not completed; the server log has the details.",
    )
