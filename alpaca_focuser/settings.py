"""The settings the server and each focuser run with, as plain dataclasses.

``config.py`` reads them from and writes them to the TOML file; everything else only sees these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Direction(str, Enum):
    """A final approach direction. "out" means Alpaca Position grows (after ``reverse``)."""

    IN = "in"
    OUT = "out"
    NONE = "none"


@dataclass
class Preset:
    slot: int  # from 1
    name: str
    position: int  # raw device counts, so turning ``reverse`` on or off does not move it


@dataclass
class FocuserSettings:
    name: str = "Celestron Focuser"
    port: str = "sim://"
    baud: int = 9600
    reverse: bool = False
    backlash_steps: int = 0
    backlash_direction: Direction = Direction.NONE
    settle_ms: int = 0
    step_size_um: float | None = None
    unique_id: str = ""
    presets: list[Preset] = field(default_factory=list)
    poll_moving_ms: int = 20
    poll_idle_ms: int = 1500
    poll_calibration_ms: int = 500
    reply_timeout_s: float = 1.0
    grace_s: float = 10.0
    stall_s: float = 8.0
    calibration_timeout_s: float = 300.0
    jog_timeout_s: float = 2.0


@dataclass
class ServerSettings:
    name: str = "Alpaca Focuser Server"
    location: str = "Observatory"
    bind: str = "0.0.0.0"
    http_port: int = 11111
    discovery_port: int = 32227
    discovery: bool = True
    mdns: bool = True
    log_level: str = "INFO"
    threads: int = 16


@dataclass
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    focusers: list[FocuserSettings] = field(default_factory=lambda: [FocuserSettings()])
