"""The one way this server calls other Alpaca servers: bounded in time, size and nesting.

The server reads a weather station's Temperature, a camera's CameraState and, for ``discover``,
other servers' management API. Whatever answers at those addresses may be slow, broken or not an
Alpaca device at all, so every call here has the same rules:

* a time limit for each step and for the whole answer (a server trickling bytes cannot hold the
  caller for ever);
* a size limit on the answer, far above any Alpaca reply;
* redirects are refused, never followed (a redirect could lead to any host, or to another service
  on this one), and environment proxies are never used: the device is reached at the address it
  was given;
* JSON nested deeper than an Alpaca reply is refused before it is parsed (deep nesting exhausts
  Python's recursion).

Every failure is an ``OutboundError`` whose message is one line a user can act on.
"""

from __future__ import annotations

import http.client
import itertools
import json
import time
import urllib.parse
from dataclasses import dataclass

from ..json_nesting import json_nesting
from ..safe_text import clipped

TIMEOUT_S = 3.0  # for each step of a request, and for the whole answer
REPLY_LIMIT = 16384  # bytes; an Alpaca reply is a few hundred
JSON_DEPTH_LIMIT = 4  # an Alpaca reply is one flat object; a little room for a vendor's extras
CLIENT_ID = 7217  # any fixed number identifies this server's requests in the other server's log
NOT_CONNECTED = 0x407


class OutboundError(Exception):
    """A call to another server failed; the message says what happened and what to check."""


class AlpacaRefused(OutboundError):
    """The device answered with an Alpaca error (ErrorNumber not 0)."""

    def __init__(self, message: str, number: int) -> None:
        super().__init__(message)
        self.number = number


@dataclass(frozen=True)
class Bounds:
    timeout_s: float = TIMEOUT_S
    reply_limit: int = REPLY_LIMIT


def json_too_deep(text: str, limit: int = JSON_DEPTH_LIMIT) -> bool:
    """Whether arrays and objects in ``text`` nest deeper than ``limit``, found without parsing it."""
    return json_nesting(text, limit) > limit


def request_json(
    host: str,
    port: int,
    method: str,
    path: str,
    *,
    what: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    bounds: Bounds = Bounds(),
) -> object:
    """One HTTP request answered with JSON, within ``bounds``; ``what`` names the server in messages."""
    address = f"[{host}]" if ":" in host else host
    url = f"http://{address}:{port}{path.split('?', 1)[0]}"
    deadline = time.monotonic() + bounds.timeout_s
    connection = http.client.HTTPConnection(host, port, timeout=bounds.timeout_s)
    try:
        connection.request(method, path, body=body, headers={"Accept": "application/json", **(headers or {})})
        response = connection.getresponse()
        data = _body(response, url, deadline, bounds)
    except TimeoutError:
        raise OutboundError(f"{url} did not answer within {bounds.timeout_s:g} s; check {what} and the network") from None
    except http.client.HTTPException as exc:
        raise OutboundError(f"{url} did not answer as a web server does ({type(exc).__name__}); is that the address of {what}?") from None
    except OSError as exc:
        raise OutboundError(f"cannot reach {what} at {url}: {exc.strerror or exc}; check that it runs and the address") from None
    finally:
        connection.close()
    if 300 <= response.status < 400:
        location = clipped(response.getheader("Location") or "nowhere", 120)
        raise OutboundError(
            f"{url} answered with a redirect (HTTP {response.status}) to {location}; redirects are not followed: give {what}'s own address"
        )
    text = data.decode("utf-8", errors="replace")
    if response.status != 200:
        raise OutboundError(f"{url} answered HTTP {response.status}: {clipped(text.strip(), 200) or response.reason}")
    if json_too_deep(text):
        raise OutboundError(f"{url} answered JSON nested deeper than any Alpaca reply; is that the address of {what}?")
    try:
        return json.loads(text)
    except ValueError:
        raise OutboundError(f"{url} did not answer Alpaca JSON; is that the address of {what}?") from None


def _body(response: http.client.HTTPResponse, url: str, deadline: float, bounds: Bounds) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := response.read1(4096):
        size += len(chunk)
        if size > bounds.reply_limit:
            raise OutboundError(f"{url} answered more than {bounds.reply_limit // 1024} KiB, far more than an Alpaca reply")
        if time.monotonic() > deadline:
            raise OutboundError(f"{url} took more than {bounds.timeout_s:g} s to answer; check the device and the network")
        chunks.append(chunk)
    return b"".join(chunks)


class AlpacaDevice:
    """One device on another Alpaca server, called with this server's ClientID."""

    def __init__(self, host: str, port: int, device_type: str, number: int, what: str, bounds: Bounds = Bounds()) -> None:
        self.host, self.port = host, port
        self.what = what
        self.bounds = bounds
        address = f"[{host}]" if ":" in host else host
        self.path = f"/api/v1/{device_type}/{number}"
        self.base = f"http://{address}:{port}{self.path}"
        self._transactions = itertools.count(1)

    def call(self, method: str, member: str, form: dict[str, str] | None = None) -> dict[str, object]:
        """The reply object of one member, errors in it left for the caller."""
        ids = {"ClientID": str(CLIENT_ID), "ClientTransactionID": str(next(self._transactions))}
        path = f"{self.path}/{member}"
        if method == "GET":
            reply = request_json(self.host, self.port, "GET", f"{path}?{urllib.parse.urlencode(ids)}", what=self.what, bounds=self.bounds)
        else:
            body = urllib.parse.urlencode({**(form or {}), **ids}).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            reply = request_json(self.host, self.port, method, path, what=self.what, body=body, headers=headers, bounds=self.bounds)
        if not isinstance(reply, dict):
            raise OutboundError(f"{self.base}/{member} did not answer an Alpaca reply object")
        return reply

    def check(self, reply: dict[str, object], member: str) -> None:
        """Raise AlpacaRefused when the reply carries an Alpaca error."""
        number = reply.get("ErrorNumber", 0)
        if number:
            message = clipped(str(reply.get("ErrorMessage") or "no message"), 200)
            code = f"0x{number:X}" if isinstance(number, int) else clipped(repr(number), 40)
            raise AlpacaRefused(f"{self.what} at {self.base} refused {member}: error {code} ({message})", number if isinstance(number, int) else -1)

    def value(self, member: str) -> object:
        """GET a member's Value; a device that says it is not connected is asked to connect once."""
        reply = self.call("GET", member)
        if reply.get("ErrorNumber") == NOT_CONNECTED:
            self.check(self.call("PUT", "connected", {"Connected": "True"}), "connected")
            reply = self.call("GET", member)
        self.check(reply, member)
        return reply.get("Value")
