"""What callers hand the worker: intents in Alpaca terms, stamped with the focuser they were checked
against.

A caller checks a request against the published snapshot and hands over an order; it never builds
a job nor converts a position to device counts. The worker turns an order into a job from the
limits it holds at that moment, and refuses an order whose stamp no longer matches the focuser on
the line (a reconnect found another focuser, or a calibration changed the limits), so a move
checked against old limits can never be sent to a new focuser.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field

from ..settings import FocuserSettings
from .states import Identity


@dataclass(frozen=True)
class MoveOrder:
    target: int  # Alpaca position, clamped by the caller for display and again by the worker
    identity: Identity | None
    kind: str = "moving"
    reason: str = "client"  # why, for the move history: client, preset or tempcomp
    client: int = 0  # the ClientID that asked; 0 for the server's own moves


@dataclass(frozen=True)
class JogOrder:
    """A jog, or the renewal of the one running at the same rate (the dead-man's button held)."""

    rate: int  # signed, Alpaca terms: positive runs outward
    at: float  # when the client renewed it (the device's monotonic clock)
    identity: Identity | None
    kind: str = "jogging"
    target: None = None
    reason: str = "jog"
    client: int = 0


@dataclass(frozen=True)
class CalibrateOrder:
    identity: Identity | None
    kind: str = "calibrating"
    target: None = None
    reason: str = "calibration"
    client: int = 0


Order = MoveOrder | JogOrder | CalibrateOrder


@dataclass(eq=False)
class Probe:
    """Try a port before its settings are saved: the worker opens it, asks for the firmware version
    and closes it again; ``done`` gets the version or the line fault."""

    settings: FocuserSettings
    done: Future[str] = field(default_factory=Future)


@dataclass
class Orders:
    """What callers asked for since the worker last looked, taken in one piece under their lock."""

    wanted: bool = False
    order: Order | None = None
    stop: str | None = None  # why a stop is asked for
    closing: bool = False
    relink: bool = False  # the port's settings were changed and saved: reopen the line with them
    probes: list[Probe] = field(default_factory=list)
