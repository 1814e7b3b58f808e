"""Which port names this server hands to pyserial, and which of them a network client may choose.

pyserial's ``serial_for_url`` acts on a URL while it parses it, before any byte is sent:
``spy://...?file=PATH`` opens PATH for writing (emptying it), ``socket://`` and ``rfc2217://``
connect out to any host, ``hwgrep://`` opens whatever port matches, and ``alt://`` picks another
implementation. So a port name is checked against an allow-list before it reaches pyserial:

* From the configuration file and the command line (the machine's owner): a device path or any
  other local name, ``auto``, ``sim://``, ``socket://HOST:PORT`` and ``rfc2217://HOST:PORT``.
* From a client at run time: only a device path (``/dev/...`` or ``COMn``), ``auto`` or
  ``sim://`` without a state file (the simulator writes that file).

Every other scheme is refused everywhere. ``open_port`` checks again, whoever calls it.
"""

from __future__ import annotations

import posixpath
import re
from urllib.parse import parse_qs

OPERATOR_SCHEMES = frozenset({"sim", "socket", "rfc2217"})  # the configuration file and the command line
CLIENT_SCHEMES = frozenset({"sim"})  # a client at run time
# What open_port opens at all: the above and the simulated mount's AUX cable, a port inside this
# process that only tests and the simulator make (a pty has no RTS/CTS lines to simulate it).
OPENABLE_SCHEMES = OPERATOR_SCHEMES | {"mountaux"}
NETWORK_SCHEMES = ("socket", "rfc2217")
NETWORK_PORT_MAX = 65535
SIM_OPTIONS_WRITING_FILES = ("state_file",)  # sim:// options a client may not set: they name a file to write

_WINDOWS_PORT = re.compile(r"^(\\\\\.\\)?COM[1-9][0-9]{0,2}$", re.IGNORECASE)
_HOST_PORT = re.compile(r"^\[?(?P<host>[A-Za-z0-9.:-]+?)\]?:(?P<port>[0-9]{1,5})$")

OPERATOR_FORM = (
    '"auto" (find the focuser by its USB id), a serial port like "/dev/ttyACM0" or "COM5", '
    '"socket://HOST:PORT" (a WiFi module or ser2net), "rfc2217://HOST:PORT" or "sim://" (the built-in simulator)'
)
CLIENT_FORM = (
    'a serial port like "/dev/ttyACM0" or "COM5", "auto" (find the focuser by its USB id) or "sim://" (the built-in '
    "simulator); socket:// and rfc2217:// ports may be set in the configuration file or on the command line"
)


def scheme_of(port: str) -> str | None:
    """The URL scheme as pyserial reads it (lower case, before ``://``), or None for a plain name."""
    if "://" not in port:
        return None
    return port.split("://", 1)[0].lower()


def port_problem(port: str, *, client: bool) -> str | None:
    """None when ``port`` may be used; otherwise what it must be, completing "it must be ...".

    ``client``: the port comes from a network client at run time, not from the machine's owner.
    """
    if not port.strip():
        return CLIENT_FORM if client else OPERATOR_FORM
    if any(ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F for char in port):
        return "a port name without control characters (such as a line break)"
    scheme = scheme_of(port)
    if scheme is None:
        if port == "auto" or not client:
            return None
        return None if is_device_path(port) else f"{CLIENT_FORM}; a client may name only a device under /dev or a COM port"
    allowed = CLIENT_SCHEMES if client else OPERATOR_SCHEMES
    if scheme not in allowed:
        return f"{CLIENT_FORM if client else OPERATOR_FORM}; {scheme}:// is not one of them"
    if scheme in NETWORK_SCHEMES:
        return _network_problem(port, scheme)
    if client and scheme == "sim":
        options = parse_qs(port.split("?", 1)[1] if "?" in port else "", keep_blank_values=True)
        writing = [key for key in options if key in SIM_OPTIONS_WRITING_FILES]
        if writing:
            return f"sim:// without {', '.join(writing)} (it names a file on the server; set it in the configuration file)"
    return None


def is_device_path(port: str) -> bool:
    """A serial device a client may name: a path under /dev (without ``..``) or a Windows COM port."""
    if _WINDOWS_PORT.match(port):
        return True
    if not port.startswith("/dev/") or "\\" in port:
        return False
    normal = posixpath.normpath(port)
    return normal.startswith("/dev/") and normal == port.rstrip("/") and ".." not in port.split("/")


def _network_problem(port: str, scheme: str) -> str | None:
    rest = port.split("://", 1)[1].split("?", 1)[0].rstrip("/")
    found = _HOST_PORT.match(rest)
    if found is None or not 1 <= int(found.group("port")) <= NETWORK_PORT_MAX:
        return f"{scheme}://HOST:PORT with a port from 1 to {NETWORK_PORT_MAX}, like {scheme}://192.168.1.50:2000"
    return None


def check_openable(url: str, schemes: frozenset[str] = OPENABLE_SCHEMES) -> None:
    """Raise ValueError unless ``url`` is a plain port name or uses one of ``schemes``: the last
    check before pyserial, so no caller can hand it a URL handler that writes files."""
    scheme = scheme_of(url)
    if scheme is not None and scheme not in schemes:
        allowed = ", ".join(f"{name}://" for name in sorted(schemes))
        raise ValueError(f"{scheme}:// ports are not opened by this server (it opens device paths and {allowed})")
    if any(ord(char) < 0x20 for char in url):
        raise ValueError("a port name with control characters is not opened")

