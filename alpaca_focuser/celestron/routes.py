"""The ways to reach a focuser, each giving a link with one interface: ``request`` a command, get
its parsed reply or an ``AuxError``.

The device model calls ``open_link`` and never learns which route it is on; adding a route means
a new link class here, not a change there. The routes:

* ``usb``: the focuser's own USB port, a line to the focuser alone (``AuxLink``).
* ``mount``: the mount's AUX bus, through the mount's USB port, a cable on its AUX or PC port, or
  its WiFi on TCP 2000. Every frame is relayed to every port, so our own frames come back and other
  devices talk on the same line (``BusLink``).
* ``hc``: a NexStar hand controller's pass-through on its serial port (``HandControllerLink``).

With ``share``, the port of a ``mount`` or ``hc`` route is opened by a hub (``sharing/``) that
offers it to a mount program as well; the link runs unchanged on its side of the hub.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import serial

from .commands import DeviceId, Request
from .faults import LinkClosed, NoReply
from .link import DEFAULT_BAUD, AuxLink, LinkStats
from .port_names import OPENABLE_SCHEMES, check_openable
from .serial_lines import open_port

T = TypeVar("T")
SHARE_NEEDS_MOUNT = 'share needs route = "mount" or "hc": the focuser\'s own USB port has no mount on it to share'

USB, MOUNT, HAND_CONTROLLER = "usb", "mount", "hc"
ROUTE_BAUDS = {USB: DEFAULT_BAUD, MOUNT: 19200, HAND_CONTROLLER: 9600}
ROUTE_TITLES = {
    USB: "the focuser's own USB port",
    MOUNT: "the mount's AUX bus (its USB port, an AUX/PC-port cable, or WiFi)",
    HAND_CONTROLLER: "a hand controller's pass-through",
}


class Link(Protocol):
    """What the device model needs of a link; ``request`` raises ``AuxError`` on any failure."""

    url: str

    @property
    def stats(self) -> LinkStats: ...

    def open(self) -> None: ...

    def close(self) -> None: ...

    def request(self, request: Request[T]) -> T: ...


@dataclass(frozen=True)
class Route:
    """Where and how to reach one focuser, from its configuration."""

    port: str  # a pyserial URL, or "auto"
    baud: int | None = None  # None: the route's own speed (ROUTE_BAUDS)
    reply_timeout_s: float = 1.0
    route: str = USB
    source: int = DeviceId.APP  # our AUX address; 0x22 when another program already uses 0x20
    rtscts: bool = False  # raise RTS and wait for CTS around each write (a mount's AUX/PC port)
    schemes: frozenset[str] = OPENABLE_SCHEMES  # the URL schemes this port may use (CLIENT_SCHEMES for a client's port)
    share: str = ""  # where a mount program reaches the same port (sharing/spec.py); "" not shared

    def __post_init__(self) -> None:
        if self.route not in ROUTE_BAUDS:
            raise ValueError(f"unknown route {self.route!r}; choose one of {', '.join(ROUTE_BAUDS)}")
        if self.share and self.route == USB:
            raise ValueError(SHARE_NEEDS_MOUNT)
        if self.share and self.port == "auto":
            raise ValueError("share needs the port's own name, not auto")

    @property
    def speed(self) -> int:
        """The baud to open the port with: the configured one, else the route's own."""
        return self.baud if self.baud is not None else ROUTE_BAUDS[self.route]


def open_link(route: Route) -> Link:
    """A link to the focuser, open; raises ``AuxError`` when the port cannot be found or opened,
    or when it uses a URL scheme outside ``route.schemes`` (then nothing is opened)."""
    url = route.port
    try:
        check_openable(url, route.schemes)
    except ValueError as exc:
        raise LinkClosed(f"cannot open {url}: {exc}") from None
    if url == "auto":
        from .usb_probe import PortNotFound, find_focuser

        try:
            url = find_focuser(baud=route.speed, route=route.route)
        except PortNotFound as exc:
            raise NoReply(str(exc)) from exc
    opener, rtscts = _opener(url, route)
    link: Link
    if route.route == MOUNT:
        from .bus_link import BusLink

        link = BusLink(url, baud=route.speed, source=route.source, timeout=route.reply_timeout_s, rtscts=rtscts, opener=opener)
    elif route.route == HAND_CONTROLLER:
        from .hc_link import HandControllerLink

        link = HandControllerLink(url, baud=route.speed, timeout=route.reply_timeout_s, opener=opener)
    else:
        link = AuxLink(url, baud=route.speed, source=route.source, timeout=route.reply_timeout_s)
    link.open()
    return link


def _opener(url: str, route: Route) -> tuple[Callable[..., serial.Serial], bool]:
    """How the link opens its port, and whether it does the RTS/CTS handshake itself: directly,
    or, with ``share``, on its side of the hub that owns the port (the hub does the handshake)."""
    from .sharing import focuser_opener, parse_share, release, shared_hub

    if not route.share:
        release(url)  # a port shared until now is the focuser's alone again
        return open_port, route.rtscts
    from .hc_link import HC_REPLY_TIMEOUT_S

    spec = parse_share(route.share)
    assert spec is not None
    hand_controller = route.route == HAND_CONTROLLER
    turn_limit_s = max(route.reply_timeout_s, HC_REPLY_TIMEOUT_S) if hand_controller else route.reply_timeout_s
    try:
        hub = shared_hub(url, spec=spec, hand_controller=hand_controller, baud=route.speed, rtscts=route.rtscts, turn_limit_s=turn_limit_s)
    except OSError as exc:
        raise LinkClosed(str(exc)) from exc
    return focuser_opener(hub), False
