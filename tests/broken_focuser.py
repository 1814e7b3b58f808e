"""A small fake Alpaca focuser with one switch per defect, to prove the conformance checker can fail.

With every switch off it follows the Alpaca rules and must pass all three checker runs; each
switch breaks exactly one rule that ConformU enforces. Standard library only (http.server and a
UDP discovery responder), loopback only. Motion is a straight line in time, computed on demand,
so there is no worker thread to manage.
"""

from __future__ import annotations

import datetime
import json
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

NOT_IMPLEMENTED, INVALID_VALUE, NOT_CONNECTED = 0x400, 0x401, 0x407
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
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp.bind(("127.0.0.1", 0))
        self._udp.settimeout(0.1)
        self._threads = [
            threading.Thread(target=self._http.serve_forever, args=(0.05,), daemon=True),
            threading.Thread(target=self._answer_discovery, daemon=True),
        ]

    @property
    def http_port(self) -> int:
        return self._http.server_address[1]

    @property
    def discovery_port(self) -> int:
        return self._udp.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/api/v1/focuser/0"

    def __enter__(self) -> BrokenFocuser:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._http.shutdown()
        self._http.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._udp.close()

    # --- discovery -------------------------------------------------------------------------------

    def _answer_discovery(self) -> None:
        while not self._stopping.is_set():
            try:
                data, sender = self._udp.recvfrom(1024)
            except TimeoutError:
                continue
            except OSError:
                return
            if b"alpacadiscovery1" in data:
                separator = ": " if self.defects.spaced_discovery_reply else ":"
                self._udp.sendto(f'{{"AlpacaPort"{separator}{self.http_port}}}'.encode(), sender)

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
        handler.send_response(status)
        if not self.defects.no_content_type:
            handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

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
        body: dict[str, Any] = {"Value": value} if with_value else {}
        body |= {
            "ClientTransactionID": transaction,
            "ServerTransactionID": 0 if self.defects.server_transaction_zero else self._transactions,
            "ErrorNumber": error[0],
            "ErrorMessage": error[1],
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
            ("GET", "interfaceversion"): constant(4),
            ("GET", "connected"): lambda _: self.connected,
            ("GET", "connecting"): constant(False),
            ("PUT", "connected"): lambda get: setattr(self, "connected", parse_bool(get, "Connected")),
            ("PUT", "connect"): lambda _: setattr(self, "connected", True),
            ("PUT", "disconnect"): lambda _: setattr(self, "connected", False),
            ("GET", "description"): constant("A deliberately configurable test focuser"),
            ("GET", "driverinfo"): constant("Test fixture"),
            ("GET", "driverversion"): constant("1.0"),
            ("GET", "name"): constant("Broken focuser"),
            ("GET", "supportedactions"): constant([]),
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

    def _is_moving(self) -> bool:
        return self.motion.moving(time.monotonic()) and not self.defects.is_moving_lies

    def _position(self) -> int:
        if not self.absolute:
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
