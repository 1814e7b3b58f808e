"""Sharing the mount's port: the server owns it, the focuser's link and one mount program use it
in turn (``PortHub``), and the mount program reaches it at a TCP port or a pseudo-terminal.

``shared_hub`` starts (or finds) the hub for a ``share`` endpoint; the hub lives until the server
stops (``stop_all``), whatever the focuser does: a mount program keeps its port while the focuser
reconnects or is released.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import serial

from .endpoints import Endpoint, endpoint_for
from .focuser_port import FocuserPort
from .framing import AuxFraming, Framing, NexStarFraming
from .hub import PortHub
from .spec import ShareSpec, parse_share, share_problem

log = logging.getLogger(__name__)
__all__ = ["PortHub", "ShareSpec", "focuser_opener", "parse_share", "release", "share_problem", "shared_hub", "shared_status", "stop_all"]

OPEN_WAIT_S = 2.0  # how long a new hub may take to open the port before the focuser's first try


@dataclass
class _Shared:
    hub: PortHub
    endpoint: Endpoint
    key: tuple[str, int, bool, str]


_shared: dict[str, _Shared] = {}
_lock = threading.Lock()


def shared_hub(url: str, *, spec: ShareSpec, hand_controller: bool, baud: int, rtscts: bool, turn_limit_s: float) -> PortHub:
    """The running hub that shares ``url`` at ``spec``; started, or restarted when the port or its
    protocol changed. Raises OSError when the endpoint cannot be made (a TCP port in use)."""
    framing: Framing = NexStarFraming() if hand_controller else AuxFraming()
    key = (url, baud, rtscts, framing.name)
    with _lock:
        found = _shared.get(spec.text)
        if found is not None and found.key == key:
            found.hub.turn_limit_s = turn_limit_s
            return found.hub
        moved = next((text for text, shared in _shared.items() if shared.key == key and text != spec.text and spec.text not in _shared), None)
        if moved is not None:
            return _move(moved, spec, turn_limit_s)
        _stop([text for text, shared in _shared.items() if text == spec.text or shared.hub.url == url])
        hub = PortHub(url, baud=baud, framing=framing, turn_limit_s=turn_limit_s, spec=spec, rtscts=rtscts).start()
        try:
            endpoint = endpoint_for(hub, spec).start()
        except OSError:
            hub.stop()
            raise
        _shared[spec.text] = _Shared(hub, endpoint, key)
    hub.wait_open(OPEN_WAIT_S)
    return hub


def _move(text: str, spec: ShareSpec, turn_limit_s: float) -> PortHub:
    """Under the lock: offer an already shared port at a new endpoint; the hub keeps the port, so
    the focuser's link on it goes on undisturbed. Raises OSError (the old endpoint stays) when the
    new one cannot be made."""
    shared = _shared[text]
    new_endpoint = endpoint_for(shared.hub, spec)
    shared.endpoint.stop()
    try:
        new_endpoint.start()
    except OSError:
        shared.endpoint = endpoint_for(shared.hub, shared.hub.spec).start()
        raise
    log.info("the mount's port %s is now shared at %s instead of %s", shared.hub.url, spec.where, shared.hub.spec.where)
    shared.hub.spec, shared.hub.turn_limit_s, shared.endpoint = spec, turn_limit_s, new_endpoint
    del _shared[text]
    _shared[spec.text] = shared
    return shared.hub


def focuser_opener(hub: PortHub) -> Callable[..., serial.Serial]:
    """An ``open_port`` stand-in that gives the focuser's link its side of ``hub``; the links use
    only what a pyserial port offers, which ``FocuserPort`` does."""

    def open_focuser_side(url: str, baud: int, timeout: float, *, rtscts: bool = False) -> serial.Serial:
        return cast(serial.Serial, FocuserPort(hub, port=url, baudrate=baud, timeout=timeout, write_timeout=timeout))

    return open_focuser_side


def shared_status(url: str) -> dict[str, Any] | None:
    """Who uses the shared port ``url``, for the pages; None when it is not shared."""
    with _lock:
        for found in _shared.values():
            if found.hub.url == url:
                return found.hub.status()
    return None


def release(url: str) -> None:
    """Stop sharing ``url``: the focuser now opens it directly (its ``share`` was emptied)."""
    with _lock:
        _stop([text for text, shared in _shared.items() if shared.hub.url == url])


def stop_all() -> None:
    with _lock:
        _stop(list(_shared))


def _stop(texts: list[str]) -> None:
    """Under the lock: close these endpoints and let their ports go."""
    for text in texts:
        shared = _shared.pop(text)
        shared.endpoint.stop()
        shared.hub.stop()
        log.info("the mount's port %s is no longer shared at %s", shared.hub.url, shared.hub.spec.where)
