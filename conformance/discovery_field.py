"""Discovery checks that go beyond ConformU: how the responder behaves, not just what it replies.

ConformU's diagnostics judge the reply to one broadcast. Responders fail in the field in ways that
reply never shows: answering datagrams that are not probes (so anything on the network can make
them talk), dying after a few bad datagrams, hearing only probes sent to their own address (clients
broadcast), and holding the discovery port exclusively so that a second Alpaca server on the same
machine cannot start. Each is an ISSUE; conformance/README.md lists them.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import select
import socket

from .client import has_json_kind
from .discovery_probe import DiscoveryProbe, Replies

LOOPBACK_BROADCAST = "127.255.255.255"  # the broadcast address of 127.0.0.0/8: it never leaves the machine
NETWORK_BROADCAST = "255.255.255.255"
GARBAGE = (
    b"",
    b"alpacadiscovery",
    b"alpacadiscovery2",
    b"ALPACADISCOVERY1",
    b"alpacadiscover1",
    b'{"AlpacaPort":11111}',
    b"\xff\xfe\x00\x01" * 16,
    bytes(range(256)),
)
LATE_REPLY_GRACE = 0.1  # seconds: replies to the garbage, sent before the probe, arrive before its reply


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def is_local(address: str, family: int) -> bool:
    """Whether this machine owns the address: only then can it be bound."""
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((address, 0))
        except OSError:
            return False
    return True


def broadcast_target(run: DiscoveryProbe, address: str, family: int) -> str | None:
    """Where the broadcast probe goes: the whole network only when asked, otherwise loopback only."""
    if run.options.broadcast:
        return NETWORK_BROADCAST
    if family == socket.AF_INET and is_loopback(address):
        return LOOPBACK_BROADCAST
    return None


def reply_port(data: bytes) -> int | None:
    try:
        body = json.loads(data)
    except ValueError:
        return None
    port = body.get("AlpacaPort") if isinstance(body, dict) else None
    return port if has_json_kind(port, int) else None


def from_server_under_test(run: DiscoveryProbe, address: str, data: bytes, sender: tuple[str, int]) -> bool:
    same_host = sender[0] == address or (is_loopback(address) and is_loopback(sender[0]))
    return same_host and reply_port(data) == run.url.port


def check_broadcast(run: DiscoveryProbe, address: str, target: str, replies: Replies) -> None:
    """Clients broadcast their probe; a responder that hears only its own address is never found."""
    test = "Discovery - Broadcast"
    if any(from_server_under_test(run, address, data, sender) for data, sender in replies):
        run.log.ok(test, f"The probe broadcast to {target} was answered, as clients need")
        return
    run.log.issue(
        test,
        f"The server answered the probe sent to {address}, but not the same probe broadcast to {target} within "
        f"{run.options.discovery_duration:g} s. Clients (ConformU, N.I.N.A., alpyca) broadcast, so they never find it: "
        "listen on 0.0.0.0 (any address) for the discovery port, not on one address",
    )


def check_garbage(run: DiscoveryProbe, address: str, family: int) -> None:
    """Datagrams that are not probes get no reply, and the responder still answers the next probe."""
    senders: list[tuple[bytes, socket.socket]] = []
    try:
        for datagram in GARBAGE:
            sock = socket.socket(family, socket.SOCK_DGRAM)
            senders.append((datagram, sock))
            sock.sendto(datagram, (address, run.options.discovery_port))
        replies = run.probe(address, until=lambda data, sender: from_server_under_test(run, address, data, sender))
        readable = select.select([sock for _, sock in senders], [], [], LATE_REPLY_GRACE)[0]
        answered = [(datagram, sock.recv(65535)) for datagram, sock in senders if sock in readable]
    except OSError as exc:
        run.log.error("Discovery - Not a probe", f"cannot send datagrams to {address} port {run.options.discovery_port}: {exc}")
        return
    finally:
        for _, sock in senders:
            sock.close()
    if answered:
        shown = "; ".join(f"{datagram[:24]!r} got {reply[:60]!r}" for datagram, reply in answered)
        run.log.issue(
            "Discovery - Not a probe",
            f"The responder answered {len(answered)} of {len(GARBAGE)} datagrams that are not the probe "
            f"'alpacadiscovery1' ({shown}); anything else must get no reply at all",
        )
    else:
        run.log.ok("Discovery - Not a probe", f"{len(GARBAGE)} datagrams that are not the probe got no reply")
    if replies is None:
        return
    if any(from_server_under_test(run, address, data, sender) for data, sender in replies):
        run.log.ok("Discovery - After bad datagrams", "The responder still answered a probe after the bad datagrams")
    else:
        run.log.issue(
            "Discovery - After bad datagrams",
            f"The responder answered a probe before, but after {len(GARBAGE)} datagrams that are not probes it no longer "
            f"answered one within {run.options.discovery_duration:g} s: a bad datagram must never stop it",
        )


def check_port_sharing(run: DiscoveryProbe, address: str, family: int) -> None:
    """Another Alpaca server on the same machine must be able to open the discovery port too."""
    test = "Discovery - Port sharing"
    port = run.options.discovery_port
    if not is_local(address, family):
        run.log.info(test, f"Not checked: {address} is another machine, and only a server on this one can be tried")
        return
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                run.log.info(test, f"Not checked: opening UDP port {port} here failed ({exc})")
                return
            run.log.issue(
                test,
                f"The responder holds UDP port {port} exclusively: a second Alpaca server on this machine cannot open it "
                f"({exc}). Open the discovery socket shared, with SO_REUSEADDR (and SO_REUSEPORT on Linux and macOS), "
                "as the Alpaca discovery specification requires",
            )
            return
    run.log.ok(test, f"A second server could open UDP port {port} alongside the responder (the port is shared)")
