"""The ``share`` setting: where the server offers the mount's port to a mount program.

``tcp:PORT`` listens on this computer only (127.0.0.1), ``tcp:HOST:PORT`` on the address given,
``pty:PATH`` makes PATH a serial port the mount driver opens like the real one. The endpoint is
the machine owner's choice: it opens a door onto the mount, so a network client may set only
``tcp:PORT`` (this computer only) or switch sharing off with ``""``.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from dataclasses import dataclass

LOOPBACK = "127.0.0.1"
PORT_MAX = 65535
SHARE_FORM = (
    '"tcp:PORT" (a TCP port on this computer only, 2000 as Celestron\'s WiFi module uses), "tcp:HOST:PORT" (listen on that '
    'address), "pty:PATH" (a serial port at PATH, such as /tmp/mount) or "" (not shared)'
)
CLIENT_SHARE_FORM = '"tcp:PORT" (this computer only) or "" (not shared); a host or a pty path is set in the configuration file'

_HOST = re.compile(r"^[A-Za-z0-9.:-]{1,253}$")


@dataclass(frozen=True)
class ShareSpec:
    kind: str  # "tcp" or "pty"
    host: str = LOOPBACK
    port: int = 0
    path: str = ""

    @property
    def text(self) -> str:
        if self.kind == "pty":
            return f"pty:{self.path}"
        return f"tcp:{self.port}" if self.host == LOOPBACK else f"tcp:{self.host}:{self.port}"

    @property
    def where(self) -> str:
        """The endpoint in words for the log and the pages."""
        return self.path if self.kind == "pty" else f"TCP {self.host}:{self.port}"


def parse_share(text: str) -> ShareSpec | None:
    """The endpoint ``text`` names, or None for ""; raises ValueError saying what it must be."""
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in text):
        raise ValueError(f"{SHARE_FORM}, without control characters")
    text = text.strip()
    if not text:
        return None
    kind, _, rest = text.partition(":")
    kind = kind.lower()
    if kind == "pty":
        return ShareSpec("pty", path=_pty_path(rest))
    if kind == "tcp":
        host, _, port = rest.rpartition(":")
        host = host.strip("[]") or LOOPBACK
        return ShareSpec("tcp", host=_host(host), port=_port(port))
    raise ValueError(SHARE_FORM)


def share_problem(text: str, *, client: bool) -> str | None:
    """None when ``text`` may be used as ``share``; otherwise what it must be."""
    try:
        spec = parse_share(text)
    except ValueError as exc:
        return str(exc)
    if client and spec is not None and (spec.kind != "tcp" or spec.host != LOOPBACK):
        return CLIENT_SHARE_FORM
    return None


def _port(text: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 5 or not 1 <= int(text) <= PORT_MAX:
        raise ValueError(f"tcp:PORT or tcp:HOST:PORT with a port from 1 to {PORT_MAX}, like tcp:2000")
    return int(text)


def _host(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        if not _HOST.match(text):
            raise ValueError(f"tcp:HOST:PORT with an IP address or a host name, like tcp:{LOOPBACK}:2000") from None
    return text


def _pty_path(text: str) -> str:
    if not text.startswith("/") or text.endswith("/") or posixpath.normpath(text) != text:
        raise ValueError("pty:PATH with an absolute path to a new file, like pty:/tmp/mount")
    return text
