"""The one resource behind every device member, and the catch-all for paths it does not know.

Order of checks, so protocol faults never reach the device: the path (type, number, member, in
lower case), the HTTP method, ClientID and ClientTransactionID, the member's typed parameters.
Only then is the device asked, and what it raises becomes ErrorNumber/ErrorMessage in an HTTP 200.

Methods follow the member table: OPTIONS answers 200 with an Allow header listing the member's
methods, HEAD is a GET without the body where GET is allowed, and any other method the member does
not take is a protocol fault (400, as Alpaca answers every protocol fault) with the same Allow list.
"""

from __future__ import annotations

import logging
from typing import Any

import falcon

from ..errors import AlpacaError
from .envelope import NO_VALUE, TransactionCounter, envelope, send_json, send_text
from .members import MEMBER_TABLES, Operation
from .observe import UNKNOWN, RequestCounts
from .protocol import (
    BadRequest,
    ClientIds,
    Fields,
    MethodNotAccepted,
    client_ids,
    form_fields,
    parse_device_number,
    parse_params,
    query_fields,
)
from .served import ServedDevice

log = logging.getLogger(__name__)

ALPACA_DEVICE_TYPES = (
    "camera", "covercalibrator", "dome", "filterwheel", "focuser",
    "observingconditions", "rotator", "safetymonitor", "switch", "telescope",
)  # fmt: skip
ALPACA_METHODS = ("GET", "PUT")
LEASE_HEADER = "Alpaca-Focuser-Lease"  # the server's own pages ask for a short lease: a closed tab lets go soon


def request_fields(req: falcon.Request, method: str) -> Fields:
    """GET parameters come from the query (any key casing), PUT ones from the form body (exact)."""
    if method == "GET":
        return query_fields(req.query_string)
    return form_fields(req.bounded_stream.read())


def requested_lease(req: falcon.Request) -> float | None:
    """The shorter lease a page asks for in LEASE_HEADER (seconds); anything unreadable is ignored."""
    text = req.get_header(LEASE_HEADER)
    if text is None or not text.isascii() or not text.isdigit() or len(text) > 6:
        return None
    return float(text)


def allowed_methods(methods: dict[str, Operation]) -> tuple[str, ...]:
    """What a member's Allow header lists: its methods, HEAD with GET, and OPTIONS."""
    return (*methods, *(("HEAD",) if "GET" in methods else ()), "OPTIONS")


class DeviceResource:
    """Serves ``/api/v1/{device_type}/{device_number}/{member}`` from the member tables."""

    def __init__(self, devices: dict[str, list[ServedDevice]], transactions: TransactionCounter, counts: RequestCounts | None = None) -> None:
        self._devices = devices
        self._transactions = transactions
        self._counts = counts or RequestCounts()
        # Every well-formed path, looked up in one step; anything else goes through _resolve,
        # which says what is wrong with it.
        self._routes = {
            (kind, str(served.number), member, method): (served, operation)
            for kind, served_devices in devices.items()
            for served in served_devices
            for member, methods in MEMBER_TABLES[kind].items()
            for method, operation in methods.items()
        }

    def on_get(self, req: falcon.Request, resp: falcon.Response, device_type: str, device_number: str, member: str) -> None:
        self._handle(req, resp, device_type, device_number, member, req.method)

    on_put = on_post = on_delete = on_patch = on_trace = on_connect = on_get

    def on_head(self, req: falcon.Request, resp: falcon.Response, device_type: str, device_number: str, member: str) -> None:
        """A GET whose body Falcon leaves out, where GET is allowed; refused like any other method elsewhere."""
        methods = self._member_methods(resp, device_type, device_number, member)
        if methods:
            self._handle(req, resp, device_type, device_number, member, "GET" if "GET" in methods else "HEAD")

    def on_options(self, req: falcon.Request, resp: falcon.Response, device_type: str, device_number: str, member: str) -> None:
        methods = self._member_methods(resp, device_type, device_number, member)
        if methods:
            resp.set_header("Allow", ", ".join(allowed_methods(methods)))
            send_text(resp, falcon.HTTP_200, "")

    def _member_methods(self, resp: falcon.Response, device_type: str, device_number: str, member: str) -> dict[str, Operation]:
        """The member's methods; {} after answering 400 when the path names no member."""
        try:
            return self._find_member(device_type, device_number, member)[1]
        except BadRequest as problem:
            send_text(resp, falcon.HTTP_400, str(problem))
            return {}

    def _handle(self, req: falcon.Request, resp: falcon.Response, device_type: str, device_number: str, member: str, method: str) -> None:
        try:
            route = self._routes.get((device_type, device_number, member, method))
            served, operation = route or self._resolve(method, device_type, device_number, member)
            fields = request_fields(req, method)
            ids = client_ids(fields)
            args = parse_params(operation.params, fields, method, member)
        except BadRequest as problem:
            log.debug("%s %s -> 400 %s", req.method, req.path, problem)
            self._counts.count(*self._labels(device_type, device_number, member), method, 400)
            send_text(resp, falcon.HTTP_400, str(problem))
            if isinstance(problem, MethodNotAccepted):
                resp.set_header("Allow", ", ".join(problem.allowed))
            return
        if operation.per_client:
            args["client"] = ids.client_id
        served.connection.seen(
            ids.client_id,
            uses=operation.needs_connection and method == "PUT",
            address=req.remote_addr or "",
            agent=req.user_agent or "",
            lease_s=requested_lease(req),
        )
        value, error = self._call(served, operation, args, ids.client_id)
        body = envelope(ids.transaction_id, self._transactions.next(), value, error)
        send_json(resp, body)
        self._counts.count(str(served.number), member, method, 200, error.number if error is not None else None)
        self._log(req, ids, served, member, body, error)

    def _labels(self, device_type: str, device_number: str, member: str) -> tuple[str, str]:
        """The focuser and member a refused request names, or "unknown": a client's made-up path
        must not grow the metrics without end."""
        known = [str(served.number) for served in self._devices.get(device_type, [])]
        return (device_number if device_number in known else UNKNOWN), (member if member in MEMBER_TABLES.get(device_type, {}) else UNKNOWN)

    def _resolve(self, method: str, device_type: str, device_number: str, member: str) -> tuple[ServedDevice, Operation]:
        served, methods = self._find_member(device_type, device_number, member)
        operation = methods.get(method)
        if operation is None:
            allowed = " or ".join(methods)
            raise MethodNotAccepted(
                f"{method} is not used for {member}: send {allowed} /api/v1/{device_type}/{device_number}/{member} "
                "(Alpaca reads with GET and changes with PUT)",
                allowed_methods(methods),
            )
        return served, operation

    def _find_member(self, device_type: str, device_number: str, member: str) -> tuple[ServedDevice, dict[str, Operation]]:
        path = f"/api/v1/{device_type}/{device_number}/{member}"
        if path != path.lower():
            raise BadRequest(f"Alpaca paths are all lower case: use {path.lower()}")
        if device_type not in ALPACA_DEVICE_TYPES:
            raise BadRequest(f"{device_type!r} is not an Alpaca device type; this server serves {self._served_list()}")
        devices = self._devices.get(device_type, [])
        number = parse_device_number(device_number)
        if number >= len(devices):
            raise BadRequest(f"There is no {device_type} {number} on this server; it serves {self._served_list()}")
        methods = MEMBER_TABLES[device_type].get(member)
        if methods is None:
            raise BadRequest(f"{member!r} is not a {device_type} member: see /api/v1/{device_type}/{number}/<member> in the Alpaca API")
        return devices[number], methods

    def _served_list(self) -> str:
        served = [f"{kind} 0..{len(devices) - 1}" for kind, devices in self._devices.items() if devices]
        return ", ".join(served) if served else "no devices"

    @staticmethod
    def _call(served: ServedDevice, operation: Operation, args: dict[str, Any], client: int) -> tuple[Any, AlpacaError | None]:
        try:
            if operation.needs_connection and not served.connection.connected(client):
                raise served.not_connected()
            value = operation.call(served, **args)
        except AlpacaError as error:
            return operation.empty, error
        return (value if operation.empty is not NO_VALUE else NO_VALUE), None

    @staticmethod
    def _log(req: falcon.Request, ids: ClientIds, served: ServedDevice, member: str, body: dict[str, Any], error: AlpacaError | None) -> None:
        """Every request at DEBUG, its ids also as fields for the JSON log (log_format.py)."""
        if not log.isEnabledFor(logging.DEBUG):
            return
        if error is not None:
            result = f"error 0x{error.number:X} {error.message}"
        else:
            result = repr(body["Value"]) if "Value" in body else "done"
        fields = {
            "ClientID": ids.client_id, "ClientTransactionID": ids.transaction_id, "ServerTransactionID": body["ServerTransactionID"],
            "device": served.label, "member": member, "method": req.method, "result": result, "address": req.remote_addr or "",
        }  # fmt: skip
        log.debug(
            "ClientID=%d ClientTransactionID=%d %s %s %s -> %s (ServerTransactionID=%d)",
            ids.client_id, ids.transaction_id, req.method, served.label, member, result, body["ServerTransactionID"], extra=fields,
        )  # fmt: skip


def api_sink(req: falcon.Request, resp: falcon.Response, **_: Any) -> None:
    """Anything under /api (or /management) that no route matched: 400 text/plain, as Alpaca asks."""
    hint = "/api/v1/{device_type}/{device_number}/{member}, all lower case"
    if req.path.lower().startswith("/management"):
        hint = "/management/apiversions, /management/v1/description or /management/v1/configureddevices"
    log.debug("%s %s -> 400 unknown path", req.method, req.path)
    send_text(resp, falcon.HTTP_400, f"Unknown Alpaca path {req.path}: use {hint}")
