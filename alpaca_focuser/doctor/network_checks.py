"""The network side: an address other computers can reach, the HTTP and discovery ports free or
held by this server, a firewall that would drop discovery, and the server's answer to its own
discovery probe. Traffic goes only to this computer's own addresses."""

from __future__ import annotations

import errno
import ipaddress
import shutil
import socket
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass

from ..network.client import Target
from ..network.client import probe as discovery_probe
from ..server import local_address
from ..settings import ServerSettings
from . import Finding, note, ok, problem

HTTP_TIMEOUT_S = 2.0
SERVER_HEADER = "alpaca-focuser/"


@dataclass(frozen=True)
class PortOwner:
    """Who is on a port: nobody (free), this server, or another program (with what it said)."""

    free: bool
    this_server: bool
    detail: str = ""


def _url_host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def is_loopback_only(bind: str) -> bool:
    if bind == "localhost":
        return True
    try:
        return ipaddress.ip_address(bind).is_loopback
    except ValueError:
        return False


def check_bind(server: ServerSettings) -> Finding:
    if is_loopback_only(server.bind):
        return problem(f'bind = "{server.bind}" serves this computer only: N.I.N.A. on another computer cannot reach it, and discovery cannot answer it. Set bind = "0.0.0.0" in [server] (or run with --bind 0.0.0.0)')
    return ok(f'bind = "{server.bind}": other computers can reach the server')


def _family(address: str) -> int:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def http_owner(server: ServerSettings) -> PortOwner:
    """Try to bind the HTTP port as the server would; when taken, ask what answers there."""
    address = "0.0.0.0" if server.bind == "" else server.bind
    with socket.socket(_family(address), socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, server.http_port))
            return PortOwner(free=True, this_server=False)
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                return PortOwner(free=False, this_server=False, detail=f"cannot be used: {error.strerror}")
    url = f"http://{_url_host(local_address(server.bind))}:{server.http_port}/management/v1/description"
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as reply:
            header = reply.headers.get("Server", "")
    except urllib.error.HTTPError as error:
        header = error.headers.get("Server", "")
    except (OSError, ValueError) as error:
        return PortOwner(free=False, this_server=False, detail=f"a program that does not answer HTTP there ({error})")
    if header.startswith(SERVER_HEADER):
        return PortOwner(free=False, this_server=True, detail=header)
    return PortOwner(free=False, this_server=False, detail=f"a web server that calls itself {header!r}" if header else "a web server that does not name itself")


def check_http_port(server: ServerSettings, owner: PortOwner) -> Finding:
    port = server.http_port
    if owner.free:
        return ok(f"HTTP port {port} is free for the server (it is not running now)")
    if owner.this_server:
        return ok(f"HTTP port {port}: the alpaca-focuser server is running there ({owner.detail})")
    if owner.detail.startswith("cannot be used"):
        return problem(f"HTTP port {port} on {server.bind} {owner.detail}. Ports below 1024 need privileges, and bind must be an address of this computer, 0.0.0.0 or ::")
    return problem(f"HTTP port {port} is held by another program, {owner.detail}. Stop it, or choose another http_port in [server]; 'sudo ss -ltnp sport = :{port}' names it")


def discovery_port_taken(server: ServerSettings) -> bool | None:
    """True when a program holds the discovery port without sharing it (so the server cannot
    answer there), False when it can be shared, None when it cannot be tried."""
    address = "0.0.0.0" if server.bind in ("", "0.0.0.0", "::") else server.bind
    with socket.socket(_family(address), socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.bind((address, server.discovery_port))
        except OSError as error:
            return True if error.errno == errno.EADDRINUSE else None
    return False


def check_discovery(server: ServerSettings, running: bool, timeout: float) -> list[Finding]:
    port = server.discovery_port
    if not server.discovery:
        return [note(f"Alpaca discovery is off (discovery = false): clients find the server only by its address, port {server.http_port}")]
    findings: list[Finding] = []
    answers = []
    if running:
        host = local_address(server.bind)
        answers = discovery_probe([Target(host, _family(host), host)], port, timeout)
    ours = [answer for answer in answers if answer.alpaca_port == server.http_port]
    if ours:
        findings.append(ok(f"the server answers its own discovery probe on {local_address(server.bind)} (UDP {port}, pointing clients to HTTP port {server.http_port})"))
    elif running:
        findings.append(problem(f"the server runs but does not answer discovery on {local_address(server.bind)}, UDP {port}: its log says why ('Alpaca discovery is not running: ...'); journalctl -u alpaca-focuser shows the log of the service"))
    else:
        findings.append(problem("the server is not running, so nothing answers discovery: start it (sudo systemctl start alpaca-focuser for the service, or alpaca-focuser) and run the doctor again"))
    if discovery_port_taken(server):
        findings.append(problem(f"UDP port {port} (discovery) is held by a program that does not share it, so the server cannot answer there; 'sudo ss -ulpn sport = :{port}' names it"))
    return findings


def check_firewalls(server: ServerSettings) -> list[Finding]:
    ufw, firewalld = shutil.which("ufw"), shutil.which("firewall-cmd")
    if ufw is None and firewalld is None:
        return [ok("no ufw or firewalld firewall is installed to drop discovery")]
    findings = []
    if ufw is not None:
        findings.append(_check_ufw(ufw, server))
    if firewalld is not None:
        findings.append(_check_firewalld(firewalld, server))
    return findings


def _run(command: list[str]) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None


def _check_ufw(ufw: str, server: ServerSettings) -> Finding:
    result = _run([ufw, "status"])
    if result is None or result.returncode != 0:
        return note("ufw is installed but its rules could not be read (they need root): run 'sudo alpaca-focuser doctor' to check them")
    if "Status: active" not in result.stdout:
        return ok("ufw is installed but not active")
    allowed = [line for line in result.stdout.splitlines() if "ALLOW" in line]

    def allows(port: int, protocol: str) -> bool:
        return any(line.split()[0] in (str(port), f"{port}/{protocol}") for line in allowed if line.split())

    missing = [f"sudo ufw allow {port}/{protocol}" for port, protocol in ((server.discovery_port, "udp"), (server.http_port, "tcp")) if not allows(port, protocol)]
    if not missing:
        return ok(f"ufw is active and allows UDP {server.discovery_port} (discovery) and TCP {server.http_port} (the API)")
    return problem(f"ufw is active and drops what clients send to the server: run {' and '.join(missing)}")


def _check_firewalld(firewall_cmd: str, server: ServerSettings) -> Finding:
    state = _run([firewall_cmd, "--state"])
    if state is None or state.stdout.strip() != "running":
        return ok("firewalld is installed but not running")
    listed = _run([firewall_cmd, "--list-ports"])
    ports = listed.stdout.split() if listed is not None and listed.returncode == 0 else []
    wanted = [f"{server.discovery_port}/udp", f"{server.http_port}/tcp"]
    missing = [port for port in wanted if port not in ports]
    if not missing:
        return ok(f"firewalld is running and allows {' and '.join(wanted)}")
    adds = " ".join(f"--add-port={port}" for port in missing)
    return problem(f"firewalld is running and drops {' and '.join(missing)}: run sudo firewall-cmd --permanent {adds} && sudo firewall-cmd --reload")
