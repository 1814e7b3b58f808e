"""The Alpaca UDP discovery responder (IPv4 broadcast and IPv6 multicast).

Clients send the 16 bytes ``alpacadiscovery1`` to every interface's broadcast address (IPv4) or to
the link-local group ff12::a1:9aca (IPv6) on the discovery port, and connect to the HTTP port we
send back by unicast, at the address our reply came from.

The IPv4 socket always listens on 0.0.0.0: a socket bound to one unicast address does not receive
directed broadcasts (192.168.1.255, 127.255.255.255) on every platform, and clients rely on them.
What the HTTP server's bind address changes is whom we answer, because a client connects to the
address our reply comes from and must find the HTTP server there:

* bound to 0.0.0.0 (or ""): everyone over IPv4. The HTTP server does not listen on IPv6 then, so
  IPv6 probes are not answered: a client told to connect over IPv6 would fail and show the device
  as offline;
* bound to ::: everyone over IPv4 and IPv6 (the HTTP server then listens dual-stack), and the IPv6
  group is joined on every interface that has IPv6;
* bound to loopback (127.0.0.1, ::1): only probes from loopback, so a LAN client is never told to
  connect to a server it cannot reach;
* bound to one LAN address: only probes from that address's subnet (the reply then leaves from
  that address, where the HTTP server listens), over that address's IP version, and the IPv6
  group is joined only on the interface that holds it.

Every socket is opened with SO_REUSEADDR and SO_REUSEPORT so several Alpaca servers on one machine
share the discovery port, as the Alpaca specification requires.
"""

from __future__ import annotations

import ipaddress
import logging
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import ifaddr

log = logging.getLogger(__name__)

DISCOVERY_PORT = 32227
DISCOVERY_MESSAGE = b"alpacadiscovery1"
IPV6_GROUP = "ff12::a1:9aca"
IPV4_ANY = ("", "0.0.0.0")
DUAL_STACK_ANY = "::"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class DiscoveryUnavailable(RuntimeError):
    """Discovery cannot run as configured; the message says why and what to do."""


def reply_payload(http_port: int) -> bytes:
    """The reply, compact: ConformU reports every space in it."""
    return b'{"AlpacaPort":%d}' % http_port


def is_probe(datagram: bytes) -> bool:
    """A probe *contains* the message: some clients pad it with invisible bytes."""
    return DISCOVERY_MESSAGE in datagram


def _address_of(ip: ifaddr.IP) -> IPAddress:
    return ipaddress.ip_address(ip.ip if isinstance(ip.ip, str) else ip.ip[0])


@dataclass
class ReplyLimiter:
    """A token bucket per source address, so the responder cannot be used to flood someone.

    A legitimate client sends a handful of probes per search; ``burst`` covers that, and ``rate``
    replies per second refill the bucket.
    """

    rate: float = 10.0
    burst: float = 30.0
    clock: Callable[[], float] = time.monotonic
    max_sources: int = 1024
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def allow(self, source: str) -> bool:
        now = self.clock()
        tokens, last = self._buckets.get(source, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if source not in self._buckets and len(self._buckets) >= self.max_sources:
            self._forget_idle(now)
        allowed = tokens >= 1.0
        self._buckets[source] = (tokens - 1.0 if allowed else tokens, now)
        return allowed

    def _forget_idle(self, now: float) -> None:
        refill_time = self.burst / self.rate
        self._buckets = {src: (t, last) for src, (t, last) in self._buckets.items() if now - last < refill_time}
        if len(self._buckets) >= self.max_sources:
            self._buckets.clear()


@dataclass(frozen=True)
class SourcePolicy:
    """Whom the responder answers, derived from the HTTP server's bind address (see module doc)."""

    bound: IPAddress | None  # None: every address of the IP versions below
    versions: frozenset[int]

    @classmethod
    def for_bind(cls, bind: str) -> SourcePolicy:
        """Host names (``localhost``) become the address the HTTP server will listen on."""
        if bind in IPV4_ANY:
            return cls(None, frozenset({4}))
        if bind == DUAL_STACK_ANY:
            return cls(None, frozenset({4, 6}))
        try:
            address = ipaddress.ip_address(bind)
        except ValueError:
            try:
                address = ipaddress.ip_address(socket.getaddrinfo(bind, None, type=socket.SOCK_DGRAM)[0][4][0])
            except OSError as error:
                raise DiscoveryUnavailable(
                    f"cannot resolve the bind address {bind!r} ({error}); use an IP address such as 0.0.0.0, "
                    "127.0.0.1 or ::"
                ) from error
        return cls(address, frozenset({address.version}))

    def describe(self) -> str:
        return "every address" if self.bound is None else str(self.bound)

    def serves(self, version: int) -> bool:
        return version in self.versions

    def allows(self, source: str) -> bool:
        if self.bound is None:
            return True
        sender = ipaddress.ip_address(source.split("%", 1)[0])
        if self.bound.is_loopback:
            return sender.is_loopback
        return sender == self.bound or any(sender in network for network in self._networks())

    def ipv6_interfaces(self) -> list[tuple[str, int]]:
        """(name, index) of the interfaces where the IPv6 group is joined."""
        found = []
        for adapter in ifaddr.get_adapters():
            addresses = [_address_of(ip) for ip in adapter.ips]
            has_ipv6 = any(address.version == 6 for address in addresses)
            holds_bound = self.bound is None or self.bound in addresses
            if adapter.index is not None and has_ipv6 and holds_bound:
                found.append((adapter.nice_name, adapter.index))
        return found

    def _networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [
            ipaddress.ip_network(f"{_address_of(ip)}/{ip.network_prefix}", strict=False)
            for adapter in ifaddr.get_adapters()
            for ip in adapter.ips
            if _address_of(ip) == self.bound
        ]


def _shared_udp_socket(family: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if hasattr(socket, "SO_REUSEPORT"):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return sock


def _port_error(port: int, family: str, error: OSError) -> DiscoveryUnavailable:
    return DiscoveryUnavailable(
        f"cannot listen for Alpaca discovery on UDP port {port} ({family}): {error.strerror}. Another program "
        "holds the port without sharing it: stop it, or choose another discovery_port in the [server] table "
        "(clients must then search on that port too), or set discovery = false"
    )


class DiscoveryResponder:
    """Answers Alpaca discovery probes with ``{"AlpacaPort":<http_port>}`` until stopped."""

    def __init__(self, http_port: int, port: int = DISCOVERY_PORT, bind: str = "0.0.0.0", ipv6: bool = True,
                 limiter: ReplyLimiter | None = None) -> None:
        self.http_port = http_port
        self.port = port
        self.policy = SourcePolicy.for_bind(bind)
        self.ipv6 = ipv6
        self.limiter = limiter if limiter is not None else ReplyLimiter()
        self._payload = reply_payload(http_port)
        self._sockets: list[socket.socket] = []
        self._wake_read: socket.socket | None = None
        self._wake_write: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            sockets = self._open_sockets()
            self._sockets = sockets
            self._stopping.clear()
            self._wake_read, self._wake_write = socket.socketpair()
            self._thread = threading.Thread(target=self._serve, name="alpaca-discovery", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is None:
                return
            self._stopping.set()
            assert self._wake_write is not None
            self._wake_write.send(b"x")
            thread.join()
            for sock in [*self._sockets, self._wake_read, self._wake_write]:
                if sock is not None:
                    sock.close()
            self._sockets = []
            self._wake_read = self._wake_write = None
            log.info("Alpaca discovery stopped on UDP port %d", self.port)

    def _open_sockets(self) -> list[socket.socket]:
        sockets = []
        if self.policy.serves(4):
            sockets.append(self._open_ipv4())
        if self.ipv6 and self.policy.serves(6):
            ipv6_socket = self._open_ipv6(required=not sockets)
            if ipv6_socket is not None:
                sockets.append(ipv6_socket)
        elif self.ipv6:
            log.info("IPv6 discovery is off: the server listens on IPv4 only (bind %s); bind to :: to serve "
                     "IPv6 clients too", self.policy.bound or "0.0.0.0")
        if not sockets:
            raise DiscoveryUnavailable(
                f"Alpaca discovery has nothing to listen on: the server is bound to the IPv6 address "
                f"{self.policy.bound} and IPv6 discovery is off; turn it on or bind to ::"
            )
        return sockets

    def _open_ipv4(self) -> socket.socket:
        sock = _shared_udp_socket(socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        try:
            sock.bind(("0.0.0.0", self.port))
        except OSError as error:
            sock.close()
            raise _port_error(self.port, "IPv4", error) from error
        log.info("Alpaca discovery listening on UDP 0.0.0.0:%d (IPv4), answering probes for %s with HTTP port %d",
                 self.port, self.policy.describe(), self.http_port)
        return sock

    def _open_ipv6(self, required: bool) -> socket.socket | None:
        sock = None
        try:
            if not socket.has_ipv6:
                raise OSError(0, "this Python has no IPv6 support")
            sock = _shared_udp_socket(socket.AF_INET6)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(("::", self.port))
        except OSError as error:
            if sock is not None:
                sock.close()
            if required:
                raise _port_error(self.port, "IPv6", error) from error
            log.info("IPv6 discovery is unavailable (%s); Alpaca discovery answers over IPv4 only", error.strerror)
            return None
        group = socket.inet_pton(socket.AF_INET6, IPV6_GROUP)
        joined = []
        for name, index in self.policy.ipv6_interfaces():
            try:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, group + struct.pack("@I", index))
                joined.append(name)
            except OSError as error:
                log.debug("cannot join %s on interface %s: %s", IPV6_GROUP, name, error.strerror)
        where = ", ".join(joined) if joined else "no interface, so unicast probes only"
        log.info("Alpaca discovery listening on UDP [::]:%d (IPv6, group %s on %s), answering probes for %s",
                 self.port, IPV6_GROUP, where, self.policy.describe())
        return sock

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            assert self._wake_read is not None
            selector.register(self._wake_read, selectors.EVENT_READ)
            for sock in self._sockets:
                selector.register(sock, selectors.EVENT_READ)
            while not self._stopping.is_set():
                for key, _ in selector.select():
                    if key.fileobj is self._wake_read:
                        continue
                    try:
                        self._answer_one(key.fileobj)  # type: ignore[arg-type]
                    except Exception:  # the responder must outlive any one bad datagram
                        log.exception("unexpected error while answering a discovery probe; still listening")

    def _answer_one(self, sock: socket.socket) -> None:
        try:
            datagram, sender = sock.recvfrom(1024)
        except OSError as error:
            log.debug("discovery receive failed: %s", error)
            return
        source = sender[0]
        if not is_probe(datagram):
            log.debug("ignored a datagram from %s that is not an Alpaca discovery probe: %r", source, datagram[:64])
            return
        if not self.policy.allows(source):
            log.debug("ignored a discovery probe from %s: the server is bound to %s", source, self.policy.describe())
            return
        if not self.limiter.allow(source):
            log.debug("ignored a discovery probe from %s: too many probes from that address", source)
            return
        try:
            sock.sendto(self._payload, sender)
        except OSError as error:
            log.debug("cannot answer the discovery probe from %s: %s", source, error)
            return
        log.debug("answered a discovery probe from %s with HTTP port %d", source, self.http_port)
