"""The ways to reach a focuser, each giving a link with one interface: ``request`` a command, get
its parsed reply or an ``AuxError``.

The device model calls ``open_link`` and never learns which route it is on; adding a route (the
mount's AUX bus, a hand controller's pass-through) means a new link class here, not a change there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeVar

from .commands import Request
from .link import AuxLink, LinkStats, NoReply

T = TypeVar("T")


class Link(Protocol):
    """What the device model needs of a link; ``request`` raises ``AuxError`` on any failure."""

    url: str
    stats: LinkStats

    def open(self) -> None: ...

    def close(self) -> None: ...

    def request(self, request: Request[T]) -> T: ...


@dataclass(frozen=True)
class Route:
    """Where and how to reach one focuser, from its configuration."""

    port: str  # a pyserial URL, or "auto"
    baud: int
    reply_timeout_s: float


def open_link(route: Route) -> Link:
    """A link to the focuser, open; raises ``AuxError`` when the port cannot be found or opened."""
    url = route.port
    if url == "auto":
        from .port_finder import PortNotFound, find_focuser

        try:
            url = find_focuser(baud=route.baud)
        except PortNotFound as exc:
            raise NoReply(str(exc)) from exc
    link = AuxLink(url, baud=route.baud, timeout=route.reply_timeout_s)
    link.open()
    return link
