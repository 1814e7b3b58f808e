"""``alpaca-focuser discover``: list the Alpaca servers that answer discovery, with their devices.

It does what an Alpaca client does (N.I.N.A.'s device chooser, ConformU's discovery page), so a
user can check from any machine that the server is reachable before blaming the client: probe
every interface's broadcast address and the IPv6 group, then ask each server that answered for its
description and configured devices over HTTP.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import selectors
import socket
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import ifaddr

from alpaca_focuser.limits import NETWORK_PORT_MAX, port_number
from alpaca_focuser.network.outbound import Bounds, OutboundError, request_json
from alpaca_focuser.network.responder import DISCOVERY_MESSAGE, DISCOVERY_PORT, IPV6_GROUP

log = logging.getLogger(__name__)

LIMITED_BROADCAST = "255.255.255.255"
HTTP_TIMEOUT_S = 2.0
RESEND_FRACTION = 1 / 3  # a second round of probes, in case the first datagram was lost


@dataclass(frozen=True)
class Target:
    """Where one probe goes. ``scope_id`` picks the interface for the IPv6 link-local group."""

    label: str
    family: int
    host: str
    scope_id: int = 0

    def sockaddr(self, port: int) -> tuple[str, int] | tuple[str, int, int, int]:
        if self.family == socket.AF_INET6:
            return (self.host, port, 0, self.scope_id)
        return (self.host, port)


@dataclass(frozen=True)
class Answer:
    """One server's reply to a probe: the address it answered from and its HTTP port."""

    host: str
    alpaca_port: int

    @property
    def base_url(self) -> str:
        host = self.host
        if ":" in host:
            host = "[" + host.replace("%", "%25") + "]"
        return f"http://{host}:{self.alpaca_port}"


@dataclass(frozen=True)
class Device:
    device_type: str
    number: int
    name: str
    unique_id: str


@dataclass
class Found:
    """A server, reached at one or more addresses (the same server answers on every interface)."""

    answers: list[Answer]
    description: dict[str, str] = field(default_factory=dict)
    devices: list[Device] = field(default_factory=list)
    error: str = ""

    @property
    def urls(self) -> list[str]:
        return [answer.base_url for answer in self.answers]


class TargetError(ValueError):
    """A --target or --interface the user gave cannot be used; the message says why."""


def parse_target(text: str) -> Target:
    """An address or host name from the command line (``127.0.0.1``, ``::1``, ``fe80::1%eth0``)."""
    try:
        infos = socket.getaddrinfo(text, None, type=socket.SOCK_DGRAM)
    except OSError as error:
        raise TargetError(f"cannot use --target {text!r}: {error}. Give an IP address such as 127.0.0.1, "
                          "192.168.1.255 or ::1, or a host name that resolves") from error
    family, _, _, _, sockaddr = next((info for info in infos if info[0] == socket.AF_INET), infos[0])
    scope_id = int(sockaddr[3]) if family == socket.AF_INET6 and len(sockaddr) == 4 else 0
    return Target(text, family, str(sockaddr[0]).split("%", 1)[0], scope_id)


def interface_targets(names: Sequence[str] | None = None) -> list[Target]:
    """The broadcast address and the IPv6 group of every interface, or only of the named ones."""
    adapters = ifaddr.get_adapters()
    if names:
        known = {adapter.nice_name for adapter in adapters} | {adapter.name for adapter in adapters}
        unknown = [name for name in names if name not in known]
        if unknown:
            raise TargetError(f"no network interface named {', '.join(unknown)}; this machine has "
                              f"{', '.join(sorted(adapter.nice_name for adapter in adapters))}")
        adapters = [adapter for adapter in adapters if adapter.nice_name in names or adapter.name in names]
    targets: list[Target] = []
    for adapter in adapters:
        has_ipv6 = False
        for ip in adapter.ips:
            if isinstance(ip.ip, str):
                network = ipaddress.IPv4Network(f"{ip.ip}/{ip.network_prefix}", strict=False)
                broadcast = str(network.broadcast_address)
                targets.append(Target(f"{broadcast} ({adapter.nice_name})", socket.AF_INET, broadcast))
            else:
                has_ipv6 = True
        if has_ipv6 and adapter.index is not None:
            targets.append(Target(f"{IPV6_GROUP}%{adapter.nice_name}", socket.AF_INET6, IPV6_GROUP, adapter.index))
    if not names:
        targets.append(Target(LIMITED_BROADCAST, socket.AF_INET, LIMITED_BROADCAST))
    return list(dict.fromkeys(targets))


def parse_reply(datagram: bytes) -> int | None:
    """The HTTP port in a discovery reply, or None when it is not a valid one."""
    try:
        reply = json.loads(datagram.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    port = reply.get("AlpacaPort") if isinstance(reply, dict) else None
    if isinstance(port, int) and not isinstance(port, bool) and 0 < port <= NETWORK_PORT_MAX:
        return port
    return None


def _open_probe_socket(family: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_DGRAM)
    if family == socket.AF_INET:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.bind(("0.0.0.0", 0))
    else:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(("::", 0))
    sock.setblocking(False)
    return sock


def _send_probes(sockets: dict[int, socket.socket], targets: Sequence[Target], port: int) -> int:
    sent = 0
    for target in targets:
        try:
            sockets[target.family].sendto(DISCOVERY_MESSAGE, target.sockaddr(port))
            sent += 1
        except OSError as error:
            log.info("could not send a discovery probe to %s: %s", target.label, error.strerror or error)
    return sent


def probe(targets: Sequence[Target], port: int = DISCOVERY_PORT, timeout: float = 2.0) -> list[Answer]:
    """Send the probes, then collect replies until ``timeout``; each server appears once per address."""
    sockets = {family: _open_probe_socket(family) for family in {target.family for target in targets}}
    answers: dict[Answer, None] = {}
    try:
        with selectors.DefaultSelector() as selector:
            for sock in sockets.values():
                selector.register(sock, selectors.EVENT_READ)
            start = time.monotonic()
            deadline = start + timeout
            resend_at: float | None = start + timeout * RESEND_FRACTION
            _send_probes(sockets, targets, port)
            while (now := time.monotonic()) < deadline:
                if resend_at is not None and now >= resend_at:
                    _send_probes(sockets, targets, port)
                    resend_at = None
                wake = min(deadline, resend_at) if resend_at is not None else deadline
                for key, _ in selector.select(max(0.0, wake - now)):
                    _collect(key.fileobj, answers)  # type: ignore[arg-type]
    finally:
        for sock in sockets.values():
            sock.close()
    return list(answers)


def _collect(sock: socket.socket, answers: dict[Answer, None]) -> None:
    while True:
        try:
            datagram, sender = sock.recvfrom(1024)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            log.debug("receive failed: %s", error)
            return
        alpaca_port = parse_reply(datagram)
        if alpaca_port is None:
            log.info("ignored a reply from %s that is not an Alpaca discovery reply: %r", sender[0], datagram[:64])
            continue
        answers.setdefault(Answer(sender[0], alpaca_port), None)


def _get_value(answer: Answer, path: str, timeout: float) -> object:
    """GET a management endpoint through the bounded outbound client and return its ``Value``.
    The Host header carries no IPv6 scope, which some servers reject."""
    host = answer.host.split("%", 1)[0]
    host_header = f"[{host}]:{answer.alpaca_port}" if ":" in host else f"{host}:{answer.alpaca_port}"
    envelope = request_json(answer.host, answer.alpaca_port, "GET", path, what="an Alpaca server", headers={"Host": host_header}, bounds=Bounds(timeout_s=timeout))
    if not isinstance(envelope, dict) or "Value" not in envelope:
        raise ValueError(f"{path} answered JSON without a Value")
    return envelope["Value"]


def describe(answer: Answer, timeout: float = HTTP_TIMEOUT_S) -> Found:
    """Ask a server for its description and devices; a failure is kept in ``error``, not raised."""
    found = Found([answer])
    try:
        description = _get_value(answer, "/management/v1/description", timeout)
        if isinstance(description, dict):
            found.description = {str(key): str(value) for key, value in description.items()}
        devices = _get_value(answer, "/management/v1/configureddevices", timeout)
        for entry in devices if isinstance(devices, list) else []:
            if isinstance(entry, dict):
                found.devices.append(Device(str(entry.get("DeviceType", "?")), int(entry.get("DeviceNumber", -1)),
                                            str(entry.get("DeviceName", "")), str(entry.get("UniqueID", ""))))
    except (OutboundError, ValueError, TypeError) as error:
        found.error = f"{answer.base_url} answered discovery but not its management API: {error}"
    return found


def merge_same_servers(servers: list[Found]) -> list[Found]:
    """One entry per server: replies from several interfaces carry the same device unique ids."""
    merged: dict[frozenset[str], Found] = {}
    result = []
    for server in servers:
        ids = frozenset(device.unique_id for device in server.devices if device.unique_id)
        if ids and ids in merged:
            merged[ids].answers.extend(server.answers)
            continue
        if ids:
            merged[ids] = server
        result.append(server)
    return result


def discover(targets: Sequence[str | Target] | None = None, port: int = DISCOVERY_PORT, timeout: float = 2.0,
             http_timeout: float = HTTP_TIMEOUT_S) -> list[Found]:
    """Probe ``targets`` (every interface when None) and describe each server that answers."""
    resolved = interface_targets() if targets is None else [
        target if isinstance(target, Target) else parse_target(target) for target in targets
    ]
    answers = probe(resolved, port, timeout)
    if not answers:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(answers))) as pool:
        servers = list(pool.map(lambda answer: describe(answer, http_timeout), answers))
    return merge_same_servers(servers)


def format_server(server: Found) -> str:
    name = server.description.get("ServerName") or "Alpaca server"
    lines = [f"{name} at {server.urls[0]}"]
    if len(server.urls) > 1:
        lines.append(f"  also at {', '.join(server.urls[1:])}")
    if server.error:
        lines.append(f"  {server.error}")
        return "\n".join(lines)
    maker = server.description.get("Manufacturer", "")
    version = server.description.get("ManufacturerVersion", "")
    location = server.description.get("Location", "")
    lines.append(f"  {maker} {version}".rstrip() + (f", location: {location}" if location else ""))
    lines.append(f"  setup page: {server.urls[0]}/setup")
    if not server.devices:
        lines.append("  no configured devices")
    for device in server.devices:
        lines.append(f"  {device.device_type} {device.number}: {device.name} (unique id {device.unique_id})")
    return "\n".join(lines)


def nothing_found_message(targets: Sequence[Target], port: int, timeout: float) -> str:
    sent_to = ", ".join(target.label for target in targets)
    return "\n".join([
        f"No Alpaca server answered discovery on UDP port {port} within {timeout:g} s (probes sent to {sent_to}).",
        "  - Is the server running, with discovery on and the same discovery port (--port)?",
        f"  - A firewall on the server may block UDP port {port}: allow it (for example `ufw allow {port}/udp`,",
        "    or allow the program in Windows Defender Firewall).",
        "  - Discovery does not cross routers: for a server on another subnet or VLAN, give its address,",
        "    for example --target 192.168.2.20; for a server on this machine, --target 127.0.0.1.",
        "  - On a slow network or WiFi, try a longer --timeout.",
    ])


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, not {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=port_number(1), default=DISCOVERY_PORT,
                        help=f"the UDP discovery port (default {DISCOVERY_PORT})")
    parser.add_argument("--timeout", type=_positive_float, default=2.0,
                        help="seconds to wait for replies (default 2)")
    parser.add_argument("--target", action="append", default=[], metavar="ADDR",
                        help="send the probe only to this address (repeatable), for example 127.0.0.1, "
                             "192.168.1.255 or ::1")
    parser.add_argument("--interface", action="append", default=[], metavar="NAME",
                        help="probe only on this network interface (repeatable), for example eth0 or wlan0")
    parser.add_argument("--verbose", action="store_true", help="log every probe that could not be sent")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    try:
        targets = [parse_target(text) for text in args.target]
        if args.interface or not targets:
            targets += interface_targets(args.interface or None)
    except TargetError as error:
        print(f"alpaca-focuser discover: {error}")
        return 2
    servers = discover(targets, args.port, args.timeout)
    if not servers:
        print(nothing_found_message(targets, args.port, args.timeout))
        return 1
    print(f"Found {len(servers)} Alpaca server{'s' if len(servers) != 1 else ''}:\n")
    print("\n\n".join(format_server(server) for server in servers))
    return 0
