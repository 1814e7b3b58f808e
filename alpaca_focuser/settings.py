"""The settings the server and each focuser run with, declared once.

Each field of ``ServerSettings`` and ``FocuserSettings`` is one setting: its type, default, range,
help text, whether a client may change it at run time and whether a change needs the port. The
configuration file, the command line, the ``Settings``/``SetSettings`` actions, the settings form
and the README's table are all made from these declarations (``config/schema.py`` reads them), so
adding a setting is one entry here. Everything outside ``config/`` only sees plain dataclasses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any, TypeVar

from .limits import BACKLASH_STEPS_MAX, NETWORK_PORT_MAX, POSITION_MAX

T = TypeVar("T")


class Direction(str, Enum):
    """A final approach direction. "out" means Alpaca Position grows (after ``reverse``)."""

    IN = "in"
    OUT = "out"
    NONE = "none"


ROUTE_NAMES = ("usb", "mount", "hc")  # the ways to reach a focuser; see celestron/routes.py
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
COEFFICIENT_MAX = 100_000.0  # steps per °C, far beyond any real telescope


@dataclass(frozen=True)
class Spec:
    """What a setting is, beyond its type and default."""

    help: str  # one line for a person: what it does, and when to change it
    low: float | None = None  # the range of a number, both ends included (but see above_low)
    high: float | None = None
    unit: str = ""  # of a number, for messages and the README
    above_low: bool = False  # the number must be greater than ``low``, not equal to it
    choices: tuple[str, ...] = ()  # the values of a word, matched in any case
    rule: str = ""  # a check of its own in config/schema.py: port, aux_address, bind_address, ...
    allow_empty: bool = False  # text that may be ""
    max_length: int = 200  # of text
    client: bool = False  # a client may change it at run time (SetSettings and the settings form)
    needs_port: bool = False  # a change reopens the port (the focuser reconnects)
    label: str = ""  # on the settings form, for a setting a client may change


def setting(default: T, help: str, **spec: Any) -> T:
    """A dataclass field with its Spec; typed as its default so the dataclass stays plainly typed."""
    found: T = field(default=default, metadata={"spec": Spec(help, **spec)})
    return found


def listed(factory: Callable[[], T], help: str, **spec: Any) -> T:
    found: T = field(default_factory=factory, metadata={"spec": Spec(help, **spec)})
    return found


@dataclass
class Preset:
    slot: int  # from 1
    name: str
    position: int  # raw device counts, so turning ``reverse`` on or off does not move it


@dataclass
class FocuserSettings:
    name: str = setting("Celestron Focuser", "the device name clients show", client=True, label="Name")
    port: str = setting("sim://", "where the focuser is: a serial port (/dev/ttyACM0, COM5), auto (found by its USB id), "
                        "socket://HOST:PORT, rfc2217://HOST:PORT or sim:// (the built-in simulator)",
                        rule="port", client=True, needs_port=True, label="Serial port")
    route: str = setting("usb", "how the port reaches the focuser: usb (its own USB socket), mount (the mount's AUX bus) or hc "
                         "(a hand controller's pass-through)", choices=ROUTE_NAMES, client=True, needs_port=True, label="Route")
    baud: int | None = setting(None, "serial speed; left out, the route's own (9600 for usb and hc, 19200 for mount)",
                               low=1, high=4_000_000, unit="baud", client=True, needs_port=True, label="Baud rate")
    source: int = setting(0x20, "this server's AUX address on a shared bus: 0x20, or 0x22 when another program uses 0x20",
                          rule="aux_address", needs_port=True)
    share: str = setting("", 'offer the mount\'s port to a mount program as well, with route mount or hc: "tcp:PORT" (this computer '
                         'only; 2000 as the WiFi module), "tcp:HOST:PORT", "pty:PATH" (a serial port at PATH) or "" (not shared)',
                         rule="share", allow_empty=True, client=True, needs_port=True, label="Share with a mount program")
    rtscts: bool = setting(False, "the RTS/CTS half-duplex handshake of a cable on a mount's AUX or PC port",
                           client=True, needs_port=True, label="Handshake")
    reverse: bool = setting(False, "swap in and out: Position grows when the raw count falls", client=True, label="Direction")
    backlash_steps: int = setting(0, "backlash overshoot done by the server (0: off)", low=0, high=BACKLASH_STEPS_MAX, unit="steps",
                                  client=True, label="Backlash steps")
    backlash_direction: Direction = setting(Direction.NONE, "the final approach direction of every move: in, out or none (off)",
                                            choices=tuple(d.value for d in Direction), client=True, label="Backlash final approach")
    settle_ms: int = setting(0, "extra time after the motor stops before a move counts as done", low=0, high=60_000,
                             unit="milliseconds", client=True, label="Settle time (ms)")
    step_size_um: float | None = setting(None, "the size of one step, reported as StepSize; left out, StepSize answers "
                                         "not implemented, which some clients (pyobs-alpaca) cannot take: measure how far the drawtube "
                                         "or mirror travels over the whole range, in µm, and divide it by MaxStep", low=0,
                                         high=10_000, above_low=True, unit="micrometres per step", client=True, label="Step size (µm)")
    unique_id: str = setting("", "the Alpaca UniqueID; generated and saved on the first start", allow_empty=True)
    presets: list[Preset] = listed(list, "named positions in raw device counts; saved from the control page and the preset actions")
    poll_moving_ms: int = setting(20, "the poll interval while a move runs", low=5, high=5_000, unit="milliseconds")
    poll_min_ms: int = setting(0, "the shortest gap between polls: raise it on a slow or shared line", low=0, high=5_000,
                               unit="milliseconds")
    poll_idle_ms: int = setting(1500, "the poll interval while idle (also notices hand-controller moves and a dead link)",
                                low=50, high=60_000, unit="milliseconds")
    poll_calibration_ms: int = setting(500, "the poll interval during calibration", low=50, high=60_000, unit="milliseconds")
    reply_timeout_s: float = setting(1.0, "how long to wait for one reply from the focuser", low=0.05, high=30, unit="seconds")
    grace_s: float = setting(10.0, "how long the last state is served after the link is lost", low=0, high=3600, unit="seconds")
    stall_s: float = setting(8.0, "how long a move may go without a change of position before it is a stall", low=0.5, high=600,
                             unit="seconds")
    calibration_timeout_s: float = setting(300.0, "how long a calibration may take before it is aborted", low=10, high=3600,
                                           unit="seconds")
    jog_timeout_s: float = setting(2.0, "how long a jog runs without being renewed", low=0.1, high=60, unit="seconds")
    client_lease_s: float = setting(300.0, "a client that makes no request for this long no longer holds the focuser; when none is "
                                    "left, the motor is stopped and the port released", low=10, high=86_400, unit="seconds",
                                    client=True, label="Client lease (s)")
    temperature: str = setting("", "a temperature source: w1, w1:SENSOR, alpaca://HOST:PORT/observingconditions/N or file:/PATH "
                               '("": none)', rule="temperature_source", allow_empty=True)
    tempcomp_steps_per_c: float | None = setting(None, "temperature compensation in steps per °C; positive moves out as it warms",
                                                 low=-COEFFICIENT_MAX, high=COEFFICIENT_MAX, unit="focuser steps per °C")
    tempcomp_threshold_c: float = setting(0.5, "compensate once the temperature has changed by more than this", low=0.01, high=20,
                                          unit="°C")
    temperature_average_s: float = setting(60.0, "readings are averaged over this window", low=0, high=3600, unit="seconds")
    temperature_stale_s: float = setting(120.0, "no new reading for this long: Temperature is an error and compensation pauses",
                                         low=0.1, high=86_400, unit="seconds")
    temperature_log_rest_s: float = setting(180.0, "a rest this long after a client's move is a point of the focus log",
                                            low=0.1, high=86_400, unit="seconds")
    tempcomp_max_step: int = setting(200, "the largest single temperature-compensation move", low=1, high=POSITION_MAX, unit="steps")
    camera: str = setting("", "the imaging camera compensation waits for, alpaca://HOST:PORT/camera/N: a compensation move waits while "
                          'it waits, exposes, reads or downloads, and runs between frames ("": none)', rule="camera_address", allow_empty=True,
                          client=True, label="Camera (TempComp waits for its frames)")
    camera_unreachable: str = setting("move", "what compensation does while the camera cannot be read: move (when due, as without a "
                                      "camera) or wait (until the camera answers)", choices=("move", "wait"), client=True,
                                      label="Camera unreachable: compensation")


@dataclass
class ServerSettings:
    name: str = setting("Alpaca Focuser Server", "shown to clients in discovery and on the setup page")
    location: str = setting("Observatory", "where the server is (Alpaca Location)", allow_empty=True)
    bind: str = setting("0.0.0.0", "the address to listen on: 0.0.0.0 every IPv4 interface, :: IPv6 too, 127.0.0.1 this computer only",
                        rule="bind_address")
    http_port: int = setting(11111, "the TCP port of the Alpaca API and the pages", low=1, high=NETWORK_PORT_MAX)
    discovery_port: int = setting(32227, "the UDP port of Alpaca discovery", low=1, high=NETWORK_PORT_MAX)
    discovery: bool = setting(True, "answer Alpaca discovery")
    mdns: bool = setting(True, "advertise the server on mDNS/Bonjour")
    log_level: str = setting("INFO", "how much the log says", choices=LOG_LEVELS)
    log_format: str = setting("text", "how the log is written: text (a line of words per record) or json (one JSON object per line, "
                              "requests with ClientID, ClientTransactionID and ServerTransactionID as fields, for log collectors)",
                              choices=("text", "json"))
    threads: int = setting(16, "HTTP worker threads: requests served at the same time", low=1, high=256)
    password_hash: str = setting("", "the password for the pages, as alpaca-focuser password prints it (\"\": none)",
                                 rule="password_hash", allow_empty=True, max_length=1000)
    password_for_api: bool = setting(False, "the password is needed for the Alpaca API too")


@dataclass
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    focusers: list[FocuserSettings] = field(default_factory=lambda: [FocuserSettings()])


def client_settings() -> tuple[str, ...]:
    """The focuser settings a client may change at run time, in their declared order."""
    return tuple(item.name for item in fields(FocuserSettings) if "spec" in item.metadata and item.metadata["spec"].client)


def port_settings() -> tuple[str, ...]:
    """The focuser settings whose change reopens the port (the focuser reconnects)."""
    return tuple(item.name for item in fields(FocuserSettings) if "spec" in item.metadata and item.metadata["spec"].needs_port)


def share_route_problem(focuser: FocuserSettings) -> str | None:
    """Sharing needs a mount behind the port: None when ``share`` fits ``route``."""
    if focuser.share and focuser.route not in ("mount", "hc"):
        return 'share needs route = "mount" or "hc": the focuser\'s own USB port has no mount on it to share'
    if focuser.share and focuser.port == "auto":
        return "share needs the port's own name, not auto: finding the focuser asks every serial port, the shared one included"
    return None


def file_stem(unique_id: str) -> str:
    """A focuser's UniqueID as part of a file name, so a file beside the configuration stays with
    its telescope when the [[focuser]] tables are reordered."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", unique_id) or "focuser"
