"""The settings the server and each focuser run with, as plain dataclasses.

``config.py`` reads them from and writes them to the TOML file; everything else only sees these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum


class Direction(str, Enum):
    """A final approach direction. "out" means Alpaca Position grows (after ``reverse``)."""

    IN = "in"
    OUT = "out"
    NONE = "none"


ROUTE_NAMES = ("usb", "mount", "hc")  # the ways to reach a focuser; see celestron/routes.py


@dataclass
class Preset:
    slot: int  # from 1
    name: str
    position: int  # raw device counts, so turning ``reverse`` on or off does not move it


@dataclass
class FocuserSettings:
    name: str = "Celestron Focuser"
    port: str = "sim://"
    route: str = "usb"  # "usb" (the focuser's own port), "mount" (the mount's AUX bus) or "hc" (a hand controller)
    baud: int | None = None  # None: the route's own speed (9600 for usb and hc, 19200 for mount)
    source: int = 0x20  # this server's AUX address on a shared bus
    rtscts: bool = False  # the half-duplex RTS/CTS handshake of a mount's AUX/PC port
    reverse: bool = False
    backlash_steps: int = 0
    backlash_direction: Direction = Direction.NONE
    settle_ms: int = 0
    step_size_um: float | None = None
    unique_id: str = ""
    presets: list[Preset] = field(default_factory=list)
    poll_moving_ms: int = 20
    poll_min_ms: int = 0  # the shortest gap between polls: raise it on a slow or shared line
    poll_idle_ms: int = 1500
    poll_calibration_ms: int = 500
    reply_timeout_s: float = 1.0
    grace_s: float = 10.0
    stall_s: float = 8.0
    calibration_timeout_s: float = 300.0
    jog_timeout_s: float = 2.0
    client_lease_s: float = 300.0  # a client silent this long no longer holds the focuser
    temperature: str = ""  # a temperature source (see temperature/sources.py); "" for none
    tempcomp_steps_per_c: float | None = None  # compensation coefficient; positive moves out as it warms
    tempcomp_threshold_c: float = 0.5
    tempcomp_max_step: int = 200  # the longest single compensation move, in steps
    temperature_average_s: float = 60.0
    temperature_stale_s: float = 120.0
    temperature_log_rest_s: float = 180.0  # rest after a client's move before it is a focus log point


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
    password_hash: str = ""  # HTTP password for the pages (made by `alpaca-focuser password`); empty: none
    password_for_api: bool = False  # the password is needed for the Alpaca API too


@dataclass
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    focusers: list[FocuserSettings] = field(default_factory=lambda: [FocuserSettings()])


def file_stem(unique_id: str) -> str:
    """A focuser's UniqueID as part of a file name, so a file beside the configuration stays with
    its telescope when the [[focuser]] tables are reordered."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", unique_id) or "focuser"
