"""HTTP access to an Alpaca device, every request bounded by a deadline for its whole reply.

Two views of the same replies: the protocol run needs every raw detail (status, headers, exact key
casing), while the conformance run needs what the ASCOM .NET client that ConformU drives would make
of a reply: a value, or an exception. Both sit on one transport that gives up on a server that has
stopped answering, so a hung server costs a few timeouts, not one per check.

A socket timeout alone bounds each read, not the reply: a server that trickles one byte every half
second would never trip it. So a watchdog cuts the connection when the whole reply is late, and
every request also stops at the deadline of the whole check.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

NOT_IMPLEMENTED = 0x400
INVALID_VALUE = 0x401
CONSECUTIVE_FAILURES_BEFORE_GIVING_UP = 3
USER_AGENT = "alpaca-conformance/1.0"
URL_PATTERN = re.compile(r"^http://(?P<host>\[[0-9a-fA-F:.]+\]|[^/:?#]+)(?::(?P<port>\d+))?/api/v1/(?P<type>[a-z]+)/(?P<number>\d+)/?$")


@dataclass(frozen=True)
class DeviceUrl:
    """``http://HOST:PORT/api/v1/focuser/N``, the address ConformU is given."""

    host: str
    port: int
    device_type: str
    device_number: int

    @classmethod
    def parse(cls, url: str) -> DeviceUrl:
        match = URL_PATTERN.match(url.strip())
        if match is None:
            raise ValueError(
                f"{url!r} is not an Alpaca device URL; give it as http://HOST:PORT/api/v1/focuser/0 "
                "(lower case, http only, the device number last)"
            )
        if match["type"] != "focuser":
            raise ValueError(f"{url!r} names a {match['type']}; this checker only tests focusers (/api/v1/focuser/N)")
        port = int(match["port"] or 80)
        if not 0 < port < 65536:
            raise ValueError(f"port {port} in {url!r} is outside 1..65535")
        return cls(match["host"].strip("[]"), port, match["type"], int(match["number"]))

    @property
    def base_path(self) -> str:
        return f"/api/v1/{self.device_type}/{self.device_number}"

    def member_path(self, member: str) -> str:
        return f"{self.base_path}/{member}"

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.base_path}"


class OutOfTime(Exception):
    """The time allowed for the whole check ran out; what was being done is the message."""


@dataclass(frozen=True)
class Deadline:
    """The end of the whole check, so no server, however slow, can keep it running."""

    seconds: float
    ends: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(seconds, time.monotonic() + seconds)

    def remaining(self) -> float:
        return self.ends - time.monotonic()

    def check(self, doing: str) -> None:
        if self.remaining() <= 0:
            raise OutOfTime(doing)


NO_DEADLINE = Deadline(float("inf"), float("inf"))


class TransportFailure(Exception):
    """No HTTP reply at all: refused, reset, or no answer within the timeout."""


class ServerUnreachable(Exception):
    """The server failed to answer several requests in a row; the run cannot go on."""


@dataclass(frozen=True)
class Reply:
    method: str
    path: str
    params: tuple[tuple[str, str], ...]
    status: int
    content_type: str
    body: bytes
    elapsed: float

    @property
    def sent(self) -> str:
        """What was sent, in the form a person can paste into a browser or curl."""
        encoded = urllib.parse.urlencode(self.params)
        if self.method == "GET":
            return f"GET {self.path}" + (f"?{encoded}" if encoded else "")
        return f"{self.method} {self.path} with form body [{encoded}]"

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def excerpt(self, limit: int = 160) -> str:
        text = self.text.strip().replace("\n", " ")
        return text if len(text) <= limit else text[:limit] + "…"

    @property
    def is_json_type(self) -> bool:
        return self.content_type.split(";")[0].strip().lower() == "application/json"


class Transport:
    """One short HTTP/1.1 connection per request, so a broken reply cannot poison the next one."""

    def __init__(self, host: str, port: int, timeout: float, deadline: Deadline = NO_DEADLINE) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.deadline = deadline
        self._failures_in_a_row = 0

    def request(
        self, method: str, path: str, params: list[tuple[str, str]] | tuple[tuple[str, str], ...] = (), *, counted: bool = True
    ) -> Reply:
        """Send one request; ``counted=False`` for probes whose failure says nothing about the server."""
        sent = f"{method} {path}"
        self.deadline.check(sent)
        if self._failures_in_a_row >= CONSECUTIVE_FAILURES_BEFORE_GIVING_UP:
            raise ServerUnreachable(
                f"{self.host}:{self.port} did not answer {self._failures_in_a_row} requests in a row "
                f"(timeout {self.timeout:g} s each); the remaining checks of this run were skipped"
            )
        params = tuple(params)
        encoded = urllib.parse.urlencode(params)
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        target, body = path, None
        if method == "GET":
            target = f"{path}?{encoded}" if encoded else path
        else:
            body = encoded.encode("ascii")
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        limit = min(self.timeout, self.deadline.remaining())
        start = time.monotonic()
        connection = http.client.HTTPConnection(self.host, self.port, timeout=limit)
        watchdog = Watchdog(connection, limit)
        try:
            connection.connect()
            if watchdog.expired:
                raise TimeoutError
            connection.request(method, target, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            status, content_type = response.status, response.getheader("Content-Type", "")
            if watchdog.expired:
                raise TimeoutError
        except (OSError, http.client.HTTPException) as exc:
            if self.deadline.remaining() <= 0:
                raise OutOfTime(sent) from exc
            if counted:
                self._failures_in_a_row += 1
            reason = f"no complete reply within the {self.timeout:g} s request timeout" if watchdog.expired else (
                describe_transport_failure(exc, self.timeout)
            )
            raise TransportFailure(f"{sent}: {reason}") from exc
        finally:
            watchdog.cancel()
            connection.close()
        if counted:
            self._failures_in_a_row = 0
        return Reply(method, path, params, status, content_type, data, time.monotonic() - start)


class Watchdog:
    """Cuts a connection whose whole reply has not arrived in time; a blocked read then returns."""

    def __init__(self, connection: http.client.HTTPConnection, seconds: float) -> None:
        self._connection = connection
        self._fired = threading.Event()
        self._timer = threading.Timer(max(seconds, 0.0), self._cut)
        self._timer.daemon = True
        self._timer.start()

    @property
    def expired(self) -> bool:
        return self._fired.is_set()

    def _cut(self) -> None:
        self._fired.set()
        sock = self._connection.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cancel(self) -> None:
        self._timer.cancel()


def poll_pauses(first: float = 0.01, longest: float = 0.1) -> Iterator[float]:
    """Pauses between polls: short at first, so a quick move is seen at once, then ten reads a second at most."""
    pause = first
    while True:
        yield pause
        pause = min(pause * 2, longest)


def describe_transport_failure(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f"no reply within the {timeout:g} s request timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "the connection was refused (is the server running on this port?)"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "the server closed the connection without replying"
    return f"{type(exc).__name__}: {exc}"


def parse_uint32(text: str) -> int | None:
    """The value .NET's uint.TryParse would read, or None where it fails (ConformU then expects 0)."""
    stripped = text.strip()
    if stripped.startswith("+"):
        stripped = stripped[1:]
    if not stripped.isascii() or not stripped.isdigit():
        return None
    value = int(stripped)
    return value if value <= 0xFFFFFFFF else None


class AscomError(Exception):
    """A reply with a non-zero ErrorNumber: what the ASCOM client raises as an ASCOM exception."""

    def __init__(self, number: int, message: str, sent: str) -> None:
        super().__init__(f"{sent} returned error 0x{number:X} ({number}): {message}")
        self.number = number
        self.message = message
        self.sent = sent


class ReplyFault(Exception):
    """A reply the ASCOM client cannot use: wrong status, wrong content type, broken JSON, wrong keys."""


CALL_FAILURES = (AscomError, ReplyFault, TransportFailure)  # what a client call can fail with, short of the run ending

JSON_KINDS: dict[type, str] = {bool: "a JSON boolean", int: "a JSON integer", float: "a JSON number", str: "a JSON string", list: "a JSON array"}


def has_json_kind(value: Any, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, kind)


class AscomClient:
    """Calls device members the way the ASCOM .NET client does (ClientID 1, case-sensitive keys).

    It is stricter in one place: a GET reply without an exact-cased ``Value`` is a fault here,
    where the .NET client would silently read a default value and hide the defect.
    """

    def __init__(self, transport: Transport, url: DeviceUrl) -> None:
        self.transport = transport
        self.url = url
        self._transaction = 0
        self.last_elapsed = 0.0

    def get(self, member: str, kind: type) -> Any:
        reply = self._send("GET", member, [])
        body = self._envelope(reply)
        if "Value" not in body:
            raise ReplyFault(
                f"{reply.sent} returned no 'Value' key (JSON keys are case-sensitive; keys were {sorted(body)}): "
                f"{reply.excerpt()}"
            )
        value = body["Value"]
        if not has_json_kind(value, kind):
            raise ReplyFault(f"{reply.sent} returned Value {json.dumps(value)}, which is not {JSON_KINDS[kind]}")
        return value

    def put(self, member: str, **params: Any) -> None:
        pairs = [(name, format_value(value)) for name, value in params.items()]
        self._envelope(self._send("PUT", member, pairs))

    def _send(self, method: str, member: str, params: list[tuple[str, str]]) -> Reply:
        self._transaction += 1
        ids = [("ClientID", "1"), ("ClientTransactionID", str(self._transaction))]
        reply = self.transport.request(method, self.url.member_path(member), ids + params)
        self.last_elapsed = reply.elapsed
        return reply

    @staticmethod
    def _envelope(reply: Reply) -> dict[str, Any]:
        if not 200 <= reply.status < 300:
            raise ReplyFault(f"{reply.sent} returned HTTP {reply.status} (expected 200): {reply.excerpt()}")
        if not reply.is_json_type:
            shown = reply.content_type or "no Content-Type header"
            raise ReplyFault(f"{reply.sent} returned HTTP {reply.status} with {shown}; Alpaca replies must be application/json")
        if not reply.body.strip():
            raise ReplyFault(f"{reply.sent} returned an empty body")
        try:
            body = json.loads(reply.body)
        except ValueError as exc:
            raise ReplyFault(f"{reply.sent} returned a body that is not valid JSON ({exc}): {reply.excerpt()}") from None
        if not isinstance(body, dict):
            raise ReplyFault(f"{reply.sent} returned JSON that is not an object: {reply.excerpt()}")
        number = body.get("ErrorNumber", 0)
        if not has_json_kind(number, int):
            raise ReplyFault(f"{reply.sent} returned ErrorNumber {json.dumps(number)}, which is not an integer")
        if number != 0:
            message = body.get("ErrorMessage")
            raise AscomError(number, message if isinstance(message, str) else "", reply.sent)
        return body


def format_value(value: Any) -> str:
    """Form values as .NET writes them: booleans as True/False."""
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)
