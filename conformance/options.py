"""The knobs of a checker run; the defaults are ConformU's own."""

from __future__ import annotations

from dataclasses import dataclass

# ConformU's fixed limits (Globals, FocuserTester), not options of its command line.
FAST = 0.1  # seconds: the best-practice target for property reads
STANDARD = 1.0  # seconds: the target for methods; for Move it is a hard limit
MOVE_TOLERANCE = 2  # steps a move may end from its target (FocuserMoveTolerance)


@dataclass(frozen=True)
class CheckerOptions:
    timeout: float = 5.0  # the whole reply to every HTTP request (ConformU's connection-establish timeout)
    move_timeout: float = 60.0  # the longest wait for IsMoving to go false (ConformU FocuserTimeout)
    connect_timeout: float = 5.0  # the longest wait for Connecting to go false (ConnectDisconnectTimeout)
    discovery_port: int = 32227
    discovery_duration: float = 1.0  # how long replies are collected, and the management-call timeout
    broadcast: bool = False  # also probe 255.255.255.255, the whole local network
    total_timeout: float = 300.0  # the whole check, all runs together; what is left undone is reported

    def __post_init__(self) -> None:
        for name in ("timeout", "move_timeout", "connect_timeout", "discovery_duration", "total_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name.replace('_', ' ')} must be a positive number of seconds, not {getattr(self, name)}")
        if not 0 < self.discovery_port < 65536:
            raise ValueError(f"discovery port {self.discovery_port} is outside 1..65535")
