"""A small fake Alpaca focuser with one switch per defect, to prove the conformance checker can fail.

With every switch off it follows the Alpaca rules and must pass all three checker runs; each
switch breaks exactly one rule that ConformU enforces, or that clients in the field depend on.
Standard library only (http.server and a UDP discovery responder, in broken_discovery), loopback
only. Motion is a straight line in time, computed on demand, so there is no worker thread to manage.
"""

from __future__ import annotations

import datetime
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from broken_discovery import BrokenResponder

NOT_IMPLEMENTED, INVALID_VALUE, NOT_CONNECTED, INVALID_OPERATION, ACTION_NOT_IMPLEMENTED = 0x400, 0x401, 0x407, 0x40B, 0x40C
SETUP_PATHS = ("/setup", "/setup/v1/focuser/0/setup")
SETUP_PAGE = b"<!DOCTYPE html>\n<html><head><title>Broken focuser</title></head><body>Nothing to set up.</body></html>\n"
TRICKLE_INTERVAL = 0.5  # seconds between the bytes of a trickled reply
DEVICE_PATH = re.compile(r"^/api/v1/focuser/(?P<number>\d+)/(?P<member>[a-z]+)$")
MISCASED = {"Value": "value", "ClientTransactionID": "ClientTransactionId", "ServerTransactionID": "serverTransactionID",
            "ErrorNumber": "errorNumber", "ErrorMessage": "errorMessage"}


@dataclass(frozen=True)
class Defects:
    miscased_keys: bool = False  # JSON keys such as "value" and "errorNumber"
    no_content_type: bool = False  # replies without a Content-Type header
    rejects_out_of_range: bool = False  # Move outside 0..MaxStep gives InvalidValue instead of clamping
    echoes_miscased_put_id: bool = False  # a PUT's "clienttransactionid" is echoed as if it were ClientTransactionID
    unknown_member_200: bool = False  # an unknown member gets 200 with NotImplemented instead of 400
    is_moving_lies: bool = False  # IsMoving reads false while the focuser still moves
    blocking_move: bool = False  # Move returns only when the move has finished
    nonstandard_state_name: bool = False  # DeviceState calls IsMoving "Moving"
    server_transaction_zero: bool = False  # ServerTransactionID is always 0
    spaced_discovery_reply: bool = False  # {"AlpacaPort": N} with a space
    hangs: bool = False  # no HTTP request is ever answered
    trickles: bool = False  # every reply is sent one byte every half second
    halt_ignored: bool = False  # Halt answers OK, and the move goes on to its target
    long_description: bool = False  # Description longer than the 64 characters of a FITS header
    unknown_action_succeeds: bool = False  # an Action name the device does not have succeeds
    interface_version_3: bool = False  # InterfaceVersion 3 although every IFocuserV4 member is served
    null_error_message: bool = False  # ErrorMessage null instead of "" on success
    connect_twice_fails: bool = False  # Connect while connected gives InvalidOperation
    repeated_server_transaction: bool = False  # ServerTransactionID cycles through 1..5
    relative_position: bool = False  # a relative focuser still answers Position
    json_setup_pages: bool = False  # /setup and the device's setup page are served as JSON
    answers_garbage: bool = False  # discovery answers every datagram, not only the probe
    dies_after_garbage: bool = False  # discovery stops answering after a few bad datagrams
    unicast_only: bool = False  # discovery hears probes sent to 127.0.0.1, not the broadcast
    exclusive_port: bool = False  # discovery holds its port exclusively


class BadRequest(Exception):
    """A request the protocol rejects with HTTP 400."""


class AscomFault(Exception):
    def __init__(self, number: int, message: str) -> None:
        super().__init__(message)
        self.number = number
        self.message = message


@dataclass
class Motion:
    start: int
    target: int
    began: float = 0.0
    seconds: float = 0.0

    def position(self, now: float) -> int:
        if self.seconds <= 0 or now >= self.began + self.seconds:
            return self.target
        return round(self.start + (self.target - self.start) * (now - self.began) / self.seconds)

    def moving(self, now: float) -> bool:
        return now < self.began + self.seconds


class BrokenFocuser:
    """``with BrokenFocuser(Defects(...)) as server:`` serves ``server.url`` and answers discovery."""

    def __init__(
        self,
        defects: Defects = Defects(),
        *,
        max_step: int = 1000,
        move_seconds: float = 0.15,
        absolute: bool = True,
        temp_comp_available: bool = False,
    ) -> None:
        self.defects = defects
        self.max_step = max_step
        self.move_seconds = move_seconds
        self.absolute = absolute
        self.temp_comp_available = temp_comp_available
        self.connected = False
        self.temp_comp = False
        self.motion = Motion(max_step // 3, max_step // 3)
        self._lock = threading.Lock()
        self._transactions = 0
        self._stopping = threading.Event()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._responder = BrokenResponder(defects, lambda: self.http_port)
        self._thread = threading.Thread(target=self._http.serve_forever, args=(0.05,), daemon=True)

    @property
    def http_port(self) -> int:
        return self._http.server_address[1]

    @property
    def discovery_port(self) -> int:
        return self._responder.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/api/v1/focuser/0"

    def __enter__(self) -> BrokenFocuser:
        self._thread.start()
        self._responder.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)
        self._responder.stop()

    # --- HTTP --------------------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        focuser = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                focuser._serve(self, "GET")

            def do_PUT(self) -> None:
                focuser._serve(self, "PUT")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        if self.defects.hangs:
            self._stopping.wait(30)
            return
        split = urllib.parse.urlsplit(handler.path)
        if method == "GET" and split.path in SETUP_PATHS:
            if self.defects.json_setup_pages:
                self._send(handler, 200, "application/json", json.dumps({"Value": "Broken focuser setup"}).encode())
            else:
                self._send(handler, 200, "text/html; charset=utf-8", SETUP_PAGE)
            return
        length = int(handler.headers.get("Content-Length") or 0)
        form = handler.rfile.read(length).decode() if method == "PUT" else ""
        params = urllib.parse.parse_qsl(split.query if method == "GET" else form, keep_blank_values=True)
        try:
            body = self._answer(method, split.path, params)
        except BadRequest as exc:
            self._send(handler, 400, "text/plain", str(exc).encode())
            return
        self._send(handler, 200, "application/json", json.dumps(body).encode())

    def _send(self, handler: BaseHTTPRequestHandler, status: int, content_type: str, payload: bytes) -> None:
        if self.defects.trickles:
            self._trickle(handler, status, content_type, payload)
            return
        handler.send_response(status)
        if not self.defects.no_content_type:
            handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _trickle(self, handler: BaseHTTPRequestHandler, status: int, content_type: str, payload: bytes) -> None:
        """The whole reply, status line first, one byte at a time: each read succeeds, the reply never ends."""
        head = f"HTTP/1.1 {status} OK\r\nContent-Type: {content_type}\r\nContent-Length: {len(payload)}\r\n\r\n"
        for byte in head.encode() + payload:
            try:
                handler.wfile.write(bytes([byte]))
            except OSError:
                return  # the client gave up
            if self._stopping.wait(TRICKLE_INTERVAL):
                return

    def _answer(self, method: str, path: str, params: list[tuple[str, str]]) -> dict[str, Any]:
        def lookup(name: str) -> str | None:
            exact = method == "PUT" and not (self.defects.echoes_miscased_put_id and name == "ClientTransactionID")
            return next((v for k, v in params if (k == name if exact else k.lower() == name.lower())), None)

        transaction = 0
        for name in ("ClientID", "ClientTransactionID"):
            text = lookup(name)
            if text is not None and not (text.isascii() and text.isdigit() and int(text) <= 0xFFFFFFFF):
                raise BadRequest(f"{name} must be an unsigned 32-bit integer, not {text!r}")
            if name == "ClientTransactionID" and text is not None:
                transaction = int(text)
        if method == "GET" and path.startswith("/management/"):
            return self._envelope(transaction, self._management(path), True)
        match = DEVICE_PATH.match(path)
        if match is None or match["number"] != "0":
            raise BadRequest(f"no device at {path}")
        member = self._members().get((method, match["member"]))
        if member is None:
            if self.defects.unknown_member_200:
                return self._envelope(transaction, None, method == "GET", (NOT_IMPLEMENTED, f"{match['member']} is not implemented"))
            raise BadRequest(f"{method} {match['member']} is not a focuser member")
        try:
            with self._lock:
                value = member(lookup)
        except AscomFault as fault:
            return self._envelope(transaction, None, method == "GET", (fault.number, fault.message))
        return self._envelope(transaction, value, method == "GET")

    def _envelope(self, transaction: int, value: Any, with_value: bool, error: tuple[int, str] = (0, "")) -> dict[str, Any]:
        self._transactions += 1
        server_transaction = self._transactions % 5 + 1 if self.defects.repeated_server_transaction else self._transactions
        body: dict[str, Any] = {"Value": value} if with_value else {}
        body |= {
            "ClientTransactionID": transaction,
            "ServerTransactionID": 0 if self.defects.server_transaction_zero else server_transaction,
            "ErrorNumber": error[0],
            "ErrorMessage": None if self.defects.null_error_message and error[0] == 0 else error[1],
        }
        if self.defects.miscased_keys:
            body = {MISCASED[key]: item for key, item in body.items()}
        return body

    def _management(self, path: str) -> Any:
        if path == "/management/apiversions":
            return [1]
        if path == "/management/v1/description":
            return {"ServerName": "Broken focuser", "Manufacturer": "Tests", "ManufacturerVersion": "1.0", "Location": "Loopback"}
        if path == "/management/v1/configureddevices":
            return [{"DeviceName": "Broken focuser", "DeviceType": "Focuser", "DeviceNumber": 0, "UniqueID": "0b0e5c1a-test"}]
        raise BadRequest(f"no management member at {path}")

    # --- the focuser -----------------------------------------------------------------------------

    def _members(self) -> dict[tuple[str, str], Callable[[Callable[[str], str | None]], Any]]:
        constant = lambda value: lambda _: value  # noqa: E731
        return {
            ("GET", "interfaceversion"): constant(3 if self.defects.interface_version_3 else 4),
            ("GET", "connected"): lambda _: self.connected,
            ("GET", "connecting"): constant(False),
            ("PUT", "connected"): lambda get: setattr(self, "connected", parse_bool(get, "Connected")),
            ("PUT", "connect"): lambda _: self._connect(),
            ("PUT", "disconnect"): lambda _: setattr(self, "connected", False),
            ("GET", "description"): constant(self._description()),
            ("GET", "driverinfo"): constant("Test fixture"),
            ("GET", "driverversion"): constant("1.0"),
            ("GET", "name"): constant("Broken focuser"),
            ("GET", "supportedactions"): constant([]),
            ("PUT", "action"): self._action,
            ("GET", "devicestate"): lambda _: self._device_state(),
            ("GET", "absolute"): constant(self.absolute),
            ("GET", "ismoving"): lambda _: self._is_moving(),
            ("GET", "maxstep"): constant(self.max_step),
            ("GET", "maxincrement"): constant(self.max_step),
            ("GET", "position"): lambda _: self._position(),
            ("GET", "stepsize"): constant(5.0),
            ("GET", "tempcompavailable"): constant(self.temp_comp_available),
            ("GET", "tempcomp"): lambda _: self.temp_comp,
            ("PUT", "tempcomp"): self._set_temp_comp,
            ("GET", "temperature"): constant(12.5),
            ("PUT", "halt"): lambda _: self._halt(),
            ("PUT", "move"): self._move,
        }

    def _description(self) -> str:
        if self.defects.long_description:
            return "A deliberately configurable test focuser, with a description far too long for a FITS header"
        return "A deliberately configurable test focuser"

    def _connect(self) -> None:
        if self.connected and self.defects.connect_twice_fails:
            raise AscomFault(INVALID_OPERATION, "the focuser is already connected")
        self.connected = True

    def _action(self, get: Callable[[str], str | None]) -> str:
        name, parameters = get("Action"), get("Parameters")
        if name is None or parameters is None:
            raise BadRequest("Action and Parameters are both required")
        if self.defects.unknown_action_succeeds:
            return ""
        raise AscomFault(ACTION_NOT_IMPLEMENTED, f"this focuser has no action {name!r}")

    def _is_moving(self) -> bool:
        return self.motion.moving(time.monotonic()) and not self.defects.is_moving_lies

    def _position(self) -> int:
        if not self.absolute and not self.defects.relative_position:
            raise AscomFault(NOT_IMPLEMENTED, "a relative focuser has no Position")
        return self.motion.position(time.monotonic())

    def _device_state(self) -> list[dict[str, Any]]:
        state: list[dict[str, Any]] = [
            {"Name": "Moving" if self.defects.nonstandard_state_name else "IsMoving", "Value": self._is_moving()},
            {"Name": "Temperature", "Value": 12.5},
            {"Name": "TimeStamp", "Value": datetime.datetime.now().isoformat(timespec="milliseconds")},
        ]
        if self.absolute:
            state.insert(1, {"Name": "Position", "Value": self._position()})
        return state

    def _set_temp_comp(self, get: Callable[[str], str | None]) -> None:
        value = parse_bool(get, "TempComp")
        if value and not self.temp_comp_available:
            raise AscomFault(NOT_IMPLEMENTED, "this focuser has no temperature compensation")
        self.temp_comp = value

    def _halt(self) -> None:
        if not self.connected:
            raise AscomFault(NOT_CONNECTED, "not connected")
        if self.defects.halt_ignored:
            return
        here = self.motion.position(time.monotonic())
        self.motion = Motion(here, here)

    def _move(self, get: Callable[[str], str | None]) -> None:
        text = get("Position")
        if text is None:
            raise BadRequest("Position is missing (form keys are case-sensitive)")
        try:
            requested = int(text)
        except ValueError:
            raise BadRequest(f"Position must be an integer, not {text!r}") from None
        if not self.connected:
            raise AscomFault(NOT_CONNECTED, "not connected")
        now = time.monotonic()
        here = self.motion.position(now)
        target = requested if self.absolute else here + requested
        if self.defects.rejects_out_of_range and not 0 <= target <= self.max_step:
            raise AscomFault(INVALID_VALUE, f"{target} is outside 0..{self.max_step}")
        target = min(max(target, 0), self.max_step)
        self.motion = Motion(here, target, now, self.move_seconds if target != here else 0.0)
        if self.defects.blocking_move:
            time.sleep(self.motion.seconds)


def parse_bool(get: Callable[[str], str | None], name: str) -> bool:
    text = get(name)
    if text is None or text.lower() not in ("true", "false"):
        raise BadRequest(f"{name} must be True or False, not {text!r}")
    return text.lower() == "true"
