"""Limits on the server's TCP connections, so that slow or greedy clients cannot lock others out.

waitress serves at most ``connection_limit`` connections and closes one only after it has been
silent for ``channel_timeout``: a connection that trickles a byte every few seconds is never
silent, so a few hundred of them used to lock every other client out for as long as they went on.
waitress has no deadline of its own for a request to arrive, so this module adds two rules
through waitress's channel class (the object that owns one connection), installed on the server
by install():

* **A request must arrive whole within REQUEST_DEADLINE_S of its first byte** (its request line,
  headers and the short body an Alpaca request has). A slower one is answered 408 and its
  connection closed. Keep-alive connections waiting between requests are not affected: those that
  stay silent are closed by waitress after ``channel_timeout``.
* **One address may hold only a share of the connections** (a quarter of ``connection_limit``).
  Further connections from it are answered 429 and closed at once, so the rest stay free for
  everyone else.

Both are checked in waitress's own loop thread, which calls every channel's ``readable()`` at
least once a second, so the deadline is kept to within about a second.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from waitress.channel import HTTPChannel

from .guard import QuietLog

log = logging.getLogger(__name__)

REQUEST_DEADLINE_S = 10.0  # an Alpaca request is a few hundred bytes: it arrives in milliseconds
SHARE_DIVISOR = 4  # one address may hold connection_limit // SHARE_DIVISOR connections
REFUSED_RETRY_AFTER_S = 5


class SocketGuard:
    """Counts each address's connections and says when one must be refused; thread-safe."""

    def __init__(self, connection_limit: int, deadline_s: float = REQUEST_DEADLINE_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.connection_limit = connection_limit
        self.per_address = max(1, connection_limit // SHARE_DIVISOR)
        self.deadline_s = deadline_s
        self.clock = clock
        self._held: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._log = QuietLog(log, "connections refused or closed")

    def admit(self, address: str) -> bool:
        """Count a new connection from ``address``, unless it already holds its share."""
        with self._lock:
            if self._held[address] >= self.per_address:
                refused = True
            else:
                self._held[address] += 1
                refused = False
        if refused:
            self._log.note(
                logging.WARNING,
                "Refused a connection from %s: it already holds %d, the most one address may have (a quarter of the %d the "
                "server serves at once). A program there opens connections and neither uses nor closes them.",
                address, self.per_address, self.connection_limit,
            )  # fmt: skip
        return not refused

    def release(self, address: str) -> None:
        with self._lock:
            self._held[address] -= 1
            if self._held[address] <= 0:
                del self._held[address]

    def held(self, address: str) -> int:
        """How many connections ``address`` holds now."""
        with self._lock:
            return self._held[address]

    def too_slow(self, address: str, received: int, age_s: float) -> None:
        self._log.note(
            logging.WARNING,
            "Closed a connection from %s: its request had not arrived whole %.0f s after it began (%d bytes came). A client "
            "this slow is stuck, or is trying to tie up the server.",
            address, age_s, received,
        )  # fmt: skip


class GuardedChannel(HTTPChannel):  # type: ignore[misc]
    """waitress's channel with the two rules of this module; made by waitress for each accepted
    connection, with the SocketGuard bound in by install()."""

    def __init__(self, guard: SocketGuard, server: Any, sock: Any, addr: Any, adj: Any, map: Any = None) -> None:
        self._guard = guard
        self._source = str(addr[0]) if isinstance(addr, tuple) and addr else str(addr)
        self._counted = False
        self._request_started = 0.0
        self._request_bytes = 0
        super().__init__(server, sock, addr, adj, map)
        if guard.admit(self._source):
            self._counted = True
        else:
            self._answer_and_close(
                "429 Too Many Requests",
                f"{self._source} already has {guard.per_address} connections open to this server, the most one address may "
                "have. Close some (or let idle ones time out) and try again.",
                retry_after_s=REFUSED_RETRY_AFTER_S,
            )

    def received(self, data: bytes) -> bool:
        if self.request is None and data:  # the first bytes of a new request
            self._request_started = self._guard.clock()
            self._request_bytes = 0
        self._request_bytes += len(data)
        return bool(super().received(data))

    def readable(self) -> bool:
        # Only while no request of this connection is being served: a request read ahead while the
        # application works on the previous one waits on the server, not on the client.
        if self.request is not None and not self.requests and not (self.will_close or self.close_when_flushed):
            age = self._guard.clock() - self._request_started
            if age > self._guard.deadline_s:
                self._guard.too_slow(self._source, self._request_bytes, age)
                self._answer_and_close(
                    "408 Request Timeout",
                    f"The request did not arrive whole within {self._guard.deadline_s:g} s of its first byte, so the server "
                    "closed the connection. Send each request in one go.",
                )
        return bool(super().readable())

    def del_channel(self, map: Any = None) -> None:
        super().del_channel(map)
        if self._counted:
            self._counted = False
            self._guard.release(self._source)

    def _answer_and_close(self, status: str, message: str, retry_after_s: int | None = None) -> None:
        """Queue a short plain-text answer; waitress sends it and then closes the connection."""
        body = message.encode("utf-8")
        retry = f"Retry-After: {retry_after_s}\r\n" if retry_after_s else ""
        head = f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n{retry}Connection: close\r\n\r\n"
        data = head.encode("ascii") + body
        with self.outbuf_lock:
            self.outbufs[-1].append(data)
            self.current_outbuf_count += len(data)
            self.total_outbufs_len += len(data)
        self.close_when_flushed = True


def install(server: Any) -> SocketGuard:
    """Make waitress's ``server`` (from waitress.create_server, before it runs) open every new
    connection through GuardedChannel; the SocketGuard it returns holds the per-address counts."""
    guard = SocketGuard(int(server.adj.connection_limit))
    server.channel_class = functools.partial(GuardedChannel, guard)
    return guard
