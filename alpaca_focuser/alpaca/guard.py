"""Checks every request passes before it is routed: size limits, where it came from, the password.

Alpaca itself has no security: any program on the network may move the focuser. What this guard
adds is what a server on a home network needs anyway:

* **Size limits.** No Alpaca request needs more than a few hundred bytes, so a body over
  BODY_LIMIT is answered 413 and a query string over QUERY_LIMIT 414, before anything is read or
  parsed; a careless or hostile client cannot make the server hold megabytes.
* **Other web sites.** A page on another site can make the browser of someone on this network
  send requests here. Browsers mark such requests with an ``Origin`` (or ``Referer``) header, so a
  request that changes something (any method but GET, HEAD and OPTIONS) and names another
  host:port than the one it was sent to is refused. A page that reaches the server through DNS
  rebinding (a web site's own name made to point at this server) passes that test, so such
  browser requests must also address the server by a name of the local network (an IP address, a
  ``.local`` name, a name without dots...) unless a password is set. Alpaca clients send no
  ``Origin``, so they are never affected.
* **Waiting requests.** A synchronous PUT Connected holds a server thread while the device
  connects or disconnects; only WAITING_LIMIT may wait at once (others get 429), so a client
  repeating it cannot take every thread from the clients that poll.
* **An optional password** (HTTP Basic, any user name). When ``password_hash`` is set in
  [server], the setup and control pages need it, and so does any change a browser sends to the
  API; with ``password_for_api = true`` every request needs it, Alpaca clients' included (the ASCOM
  client libraries and alpyca can send it). Guessing it is made slow for the guesser and cheap for
  the server (see logins.py): wrong tries from an address are answered 429 for a growing time.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import falcon

from .envelope import send_text
from .logins import LoginCheck, Verdict

log = logging.getLogger(__name__)

BODY_LIMIT = 8 * 1024  # bytes; the longest Alpaca request (an Action's Parameters) needs far less
QUERY_LIMIT = 8 * 1024  # characters of the query string
# waitress's own limits, applied before the application sees a request (its defaults: 1 GiB bodies,
# 256 KiB headers, 100 connections, idle ones kept 120 s, so 100 idle sockets locked everyone out).
SERVER_LIMITS: dict[str, int | bool] = {
    "max_request_body_size": 64 * 1024,  # larger bodies are refused (413) from their Content-Length, unread
    "max_request_header_size": 16 * 1024,  # request line and headers: QUERY_LIMIT plus a browser's headers
    "connection_limit": 500,  # open connections; an Alpaca client keeps one, a browser six
    "channel_timeout": 30,  # seconds a connection may stay idle or stalled; clients reconnect at once
    "cleanup_interval": 5,  # seconds between checks for such connections
    "asyncore_use_poll": True,  # poll(), not select(), which fails past 1024 file descriptors
}
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")  # methods that change nothing
REALM = "alpaca-focuser"
LOCAL_SUFFIXES = (".local", ".lan", ".home", ".home.arpa", ".internal", ".localdomain", ".localhost")
# A synchronous PUT Connected waits for the device (up to 30 s for a focuser that does not answer),
# holding one of waitress's threads; so few may wait at once, and the other threads stay free.
WAITING_LIMIT = 4
WAITING_PATH = re.compile(r"/api/v1/[^/]+/[^/]+/connected")
LOG_INTERVAL_S = 10.0  # refused requests are logged at most once per this time


@dataclass(frozen=True)
class GuardSettings:
    password_hash: str = ""  # empty: no password
    password_for_api: bool = False  # the password is needed for the Alpaca API too


class RequestGuard:
    """Falcon middleware: answers a request itself (and stops it) when a check fails."""

    def __init__(self, settings: GuardSettings | None = None) -> None:
        self.settings = settings or GuardSettings()
        self._logins = LoginCheck(self.settings.password_hash)
        self._host_names = {socket.gethostname().lower()}
        self._log = QuietLog()
        self._waiting = threading.BoundedSemaphore(WAITING_LIMIT)

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        refusal = self._size_refusal(req) or self._origin_refusal(req)
        if refusal is not None:
            status, message = refusal
            self._log.note(logging.WARNING, "Refused %s %s from %s: %s", req.method, req.path, req.remote_addr, message)
            _stop(resp, status, message)
            return
        if self._needs_password(req) and not self._password_given(req, resp):
            return
        if req.method == "PUT" and WAITING_PATH.fullmatch(req.path):
            if not self._waiting.acquire(blocking=False):
                self._log.note(logging.WARNING, "Refused %s %s from %s: %d requests already wait on devices", req.method, req.path, req.remote_addr, WAITING_LIMIT)
                resp.set_header("Retry-After", "5")
                _stop(
                    resp,
                    falcon.HTTP_429,
                    f"{WAITING_LIMIT} requests are already waiting for a device to connect or disconnect. Send this one again "
                    "when they are done, or use Connect and Disconnect, which return at once.",
                )
                return
            req.context.holds_waiting_slot = True

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource: object, req_succeeded: bool) -> None:
        if getattr(req.context, "holds_waiting_slot", False):
            self._waiting.release()

    # ----------------------------------------------------------------------------- size

    @staticmethod
    def _size_refusal(req: falcon.Request) -> tuple[str, str] | None:
        if len(req.query_string) > QUERY_LIMIT:
            return falcon.HTTP_414, (
                f"The query string is {len(req.query_string)} characters long; this server accepts at most {QUERY_LIMIT}. "
                "Alpaca requests need only a few short parameters."
            )
        length = req.content_length or 0
        if length > BODY_LIMIT:
            return falcon.HTTP_413, (
                f"The request body is {length} bytes long; this server accepts at most {BODY_LIMIT}. "
                "Alpaca requests need only a few short form fields."
            )
        return None

    # --------------------------------------------------------------------------- origin

    def _origin_refusal(self, req: falcon.Request) -> tuple[str, str] | None:
        if req.method in SAFE_METHODS:
            return None
        header, source = "Origin", req.get_header("Origin")
        if source is None:
            header, source = "Referer", req.get_header("Referer")
        if source is None:
            return None  # not sent by a web page: an Alpaca client, curl, a script
        host = req.get_header("Host") or ""
        if _host_port(source, from_url=True) != _host_port(host, from_url=False) or _host_port(host, from_url=False) is None:
            return falcon.HTTP_403, (
                f"Refused: this change was sent by a web page of another site ({header}: {source[:100]}), not by this "
                "server's own pages. Open the control page from this server's address instead."
            )
        if not self.settings.password_hash and not self._local_name(host):
            return falcon.HTTP_403, (
                f"Refused: the page that sent this change reached the server by the name {host[:100]!r}, which is not a "
                "name of the local network (a web site's name made to point here can be used to attack it). Open the "
                "page by the server's IP address or its .local name, or set a password (alpaca-focuser password)."
            )
        return None

    def _local_name(self, host: str) -> bool:
        found = _host_port(host, from_url=False)
        if found is None:
            return False
        name = found[0]
        try:
            ipaddress.ip_address(name)
            return True
        except ValueError:
            pass
        return "." not in name or name.endswith(LOCAL_SUFFIXES) or name in self._host_names

    # ------------------------------------------------------------------------- password

    def _needs_password(self, req: falcon.Request) -> bool:
        if not self.settings.password_hash:
            return False
        if self.settings.password_for_api:
            return True
        path = req.path.lower()
        if not path.startswith(("/api/", "/management/")) and path not in ("/api", "/management"):
            return True  # the setup and control pages
        # A change sent to the API by a browser (the control page's own requests): same password.
        return req.method not in SAFE_METHODS and (req.get_header("Origin") or req.get_header("Referer")) is not None

    def _password_given(self, req: falcon.Request, resp: falcon.Response) -> bool:
        """Whether the request carries the password; when not, the answer is set and says why."""
        address = req.remote_addr or "an unknown address"
        result = self._logins.check(req.get_header("Authorization"), address)
        if result.verdict is Verdict.ACCEPTED:
            return True
        if result.verdict is Verdict.BACKING_OFF:
            resp.set_header("Retry-After", str(result.retry_after_s))
            _stop(
                resp,
                falcon.HTTP_429,
                f"Too many wrong passwords from {address}: the next one is checked in {result.retry_after_s} s. "
                "Wait, then give the right password (with any user name).",
            )
            return False
        if result.verdict is Verdict.BUSY:
            resp.set_header("Retry-After", str(result.retry_after_s))
            _stop(resp, falcon.HTTP_503, "The server is busy checking other passwords right now; send this request again in a second.")
            return False
        if result.verdict is Verdict.WRONG:
            waits = f"; it must wait {result.retry_after_s} s before the next try is checked" if result.retry_after_s else ""
            self._log.note(
                logging.WARNING if result.retry_after_s else logging.INFO,
                "Wrong or unreadable password from %s for %s %s (%d in a row%s)",
                address, req.method, req.path, result.wrong_in_a_row, waits,
            )  # fmt: skip
        resp.set_header("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"')
        _stop(
            resp,
            falcon.HTTP_401,
            "This server is protected by a password: give it (with any user name) when the browser asks, or "
            "set it in your Alpaca client's connection settings (user name and password).",
        )
        return False


class QuietLog:
    """At most one line per LOG_INTERVAL_S, saying how many more were left out, so a client that
    sends thousands of bad requests cannot fill the disk with the server's log."""

    def __init__(self, logger: logging.Logger = log, what: str = "refused requests") -> None:
        self._logger = logger
        self._what = what
        self._lock = threading.Lock()
        self._last = -LOG_INTERVAL_S
        self._skipped = 0

    def note(self, level: int, message: str, *args: object) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last < LOG_INTERVAL_S:
                self._skipped += 1
                return
            skipped, self._skipped, self._last = self._skipped, 0, now
        if skipped:
            message += f" (and {skipped} more {self._what} in the last {LOG_INTERVAL_S:g} s, not logged)"
        self._logger.log(level, message, *args)


def _stop(resp: falcon.Response, status: str, message: str) -> None:
    send_text(resp, status, message)
    resp.complete = True  # Falcon skips routing and the resource


def _host_port(text: str, from_url: bool) -> tuple[str, int] | None:
    """(lower-case host, port) of an Origin/Referer URL or a Host header; None when unreadable.

    A missing port is the scheme's default, so ``Origin: http://pi`` matches ``Host: pi:80``.
    """
    if not text or text == "null":
        return None
    try:
        parts = urlsplit(text if from_url else f"http://{text}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return None
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    return parts.hostname.lower(), port
