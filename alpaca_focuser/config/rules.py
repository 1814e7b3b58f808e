"""What a valid configuration is: one rule per key, with the limits of limits.py, and the
error a bad value raises."""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..limits import BACKLASH_STEPS_MAX, NETWORK_PORT_MAX, POSITION_MAX, PRESET_SLOTS
from ..passwords import hash_problem
from ..settings import ROUTE_NAMES, Direction, FocuserSettings, ServerSettings
from ..temperature.sources import SPEC_HELP, parse_spec

log = logging.getLogger(__name__)

log = logging.getLogger(__name__)

URL_SCHEMES = ("sim", "socket", "rfc2217", "loop", "spy", "hwgrep", "alt", "cp2110")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
RUN_TIME_FIELDS = ("name", "port", "route", "source", "rtscts", "baud", "settle_ms", "step_size_um", "reverse", "backlash_steps", "backlash_direction", "client_lease_s", "unique_id", "presets")
PRESET_KEYS = ("slot", "name", "position")
COEFFICIENT_MAX = 100_000.0  # steps per °C, far beyond any real telescope

KeyPath = tuple[str | int, ...]


class ConfigError(Exception):
    """A configuration file that cannot be read, validated or written; the message says what to do."""

    def __init__(self, message: str, *, path: Path | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


class _Invalid(ValueError):
    """A value outside its rule; the message completes "must be ..."."""


@dataclass(frozen=True)
class Rule:
    check: Callable[[Any], Any]


def _integer(low: int, high: int) -> Rule:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _Invalid(f"a whole number from {low} to {high}")
        return value

    return Rule(check)


def _number(low: float, high: float, unit: str) -> Rule:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not low <= value <= high:
            raise _Invalid(f"a number of {unit} from {low:g} to {high:g}")
        return float(value)

    return Rule(check)


def _positive_number(high: float, unit: str) -> Rule:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 < value <= high:
            raise _Invalid(f"a number of {unit} above 0 and at most {high:g} (leave the key out if unknown)")
        return float(value)

    return Rule(check)


def _boolean() -> Rule:
    def check(value: Any) -> bool:
        if not isinstance(value, bool):
            raise _Invalid("true or false (lowercase, without quotes)")
        return value

    return Rule(check)


def _text(*, allow_empty: bool = False, max_length: int = 200) -> Rule:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise _Invalid('text in double quotes, like "Celestron Focuser"')
        if not allow_empty and not value.strip():
            raise _Invalid("non-empty text")
        if len(value) > max_length:
            raise _Invalid(f"text of at most {max_length} characters")
        return value

    return Rule(check)


def _choice(values: tuple[str, ...], convert: Callable[[str], Any]) -> Rule:
    quoted = ", ".join(f'"{value}"' for value in values)

    def check(value: Any) -> Any:
        if isinstance(value, str):
            for allowed in values:
                if value.strip().lower() == allowed.lower():
                    return convert(allowed)
        raise _Invalid(f"one of {quoted}")

    return Rule(check)


_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


def _bind_address() -> Rule:
    def check(value: Any) -> str:
        if isinstance(value, str):
            try:
                ipaddress.ip_address(value)
                return value
            except ValueError:
                if _HOSTNAME.match(value):
                    return value
        raise _Invalid('an IP address or host name in quotes: "0.0.0.0" for every IPv4 interface, "::" for IPv6 too, "127.0.0.1" for this machine only')

    return Rule(check)


def _serial_port() -> Rule:
    hint = (
        'a serial port or pyserial URL in quotes: "auto" (find the focuser by its USB id), "/dev/ttyACM0", "COM5", '
        '"socket://HOST:PORT" (WiFi module or ser2net), "rfc2217://HOST:PORT" or "sim://" (the built-in simulator)'
    )

    def check(value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise _Invalid(hint)
        if "://" in value:
            parts = urlsplit(value)
            if parts.scheme not in URL_SCHEMES:
                known = ", ".join(f"{scheme}://" for scheme in URL_SCHEMES)
                raise _Invalid(f"a URL with a known scheme ({known}); {parts.scheme}:// is not one")
            if parts.scheme in ("socket", "rfc2217"):
                try:
                    port = parts.port
                except ValueError:
                    port = None
                if not parts.hostname or port is None or not 1 <= port <= NETWORK_PORT_MAX:
                    raise _Invalid(f"{parts.scheme}://HOST:PORT with a port from 1 to {NETWORK_PORT_MAX}, like {parts.scheme}://192.168.1.50:2000")
        return value

    return Rule(check)


def _aux_source() -> Rule:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0x01 <= value <= 0xFF or value == 0x12:
            raise _Invalid("an AUX device address from 0x01 to 0xFF other than the focuser's own 0x12: 0x20 (the usual one) or 0x22 when another program uses 0x20 on the same bus")
        return value

    return Rule(check)


def _temperature_source() -> Rule:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise _Invalid(SPEC_HELP)
        if not value.strip():
            return ""
        try:
            return parse_spec(value).text
        except ValueError as exc:
            raise _Invalid(str(exc)) from None

    return Rule(check)


def _password_hash() -> Rule:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise _Invalid('text in double quotes, as alpaca-focuser password prints it, or "" for no password')
        problem = hash_problem(value) if value else None
        if problem:
            raise _Invalid(f'{problem} (run alpaca-focuser password to make one), or "" for no password')
        return value

    return Rule(check)


SERVER_RULES: dict[str, Rule] = {
    "name": _text(),
    "location": _text(allow_empty=True),
    "bind": _bind_address(),
    "http_port": _integer(1, NETWORK_PORT_MAX),
    "discovery_port": _integer(1, NETWORK_PORT_MAX),
    "discovery": _boolean(),
    "mdns": _boolean(),
    "log_level": _choice(LOG_LEVELS, str),
    "threads": _integer(1, 256),
    "password_hash": _password_hash(),
    "password_for_api": _boolean(),
}

FOCUSER_RULES: dict[str, Rule] = {
    "name": _text(),
    "port": _serial_port(),
    "route": _choice(ROUTE_NAMES, str),
    "baud": _integer(1, 4_000_000),
    "source": _aux_source(),
    "rtscts": _boolean(),
    "reverse": _boolean(),
    "backlash_steps": _integer(0, BACKLASH_STEPS_MAX),
    "backlash_direction": _choice(tuple(d.value for d in Direction), Direction),
    "settle_ms": _integer(0, 60_000),
    "step_size_um": _positive_number(10_000, "micrometres per step"),
    "unique_id": _text(allow_empty=True),
    "poll_moving_ms": _integer(5, 5_000),
    "poll_min_ms": _integer(0, 5_000),
    "poll_idle_ms": _integer(50, 60_000),
    "poll_calibration_ms": _integer(50, 60_000),
    "reply_timeout_s": _number(0.05, 30, "seconds"),
    "grace_s": _number(0, 3600, "seconds"),
    "stall_s": _number(0.5, 600, "seconds"),
    "calibration_timeout_s": _number(10, 3600, "seconds"),
    "jog_timeout_s": _number(0.1, 60, "seconds"),
    "client_lease_s": _number(10, 86_400, "seconds"),
    "temperature": _temperature_source(),
    "tempcomp_steps_per_c": _number(-COEFFICIENT_MAX, COEFFICIENT_MAX, "focuser steps per °C"),
    "tempcomp_threshold_c": _number(0.01, 20, "°C"),
    "tempcomp_max_step": _integer(1, POSITION_MAX),
    "temperature_average_s": _number(0, 3600, "seconds"),
    "temperature_stale_s": _number(0.1, 86_400, "seconds"),
    "temperature_log_rest_s": _number(0.1, 86_400, "seconds"),
}

PRESET_RULES: dict[str, Rule] = {
    "slot": _integer(PRESET_SLOTS[0], PRESET_SLOTS[-1]),
    "name": _text(),
    "position": _integer(0, POSITION_MAX),
}


def check_focuser_setting(key: str, value: Any) -> Any:
    """``value`` checked and converted by the rule of the focuser setting ``key``, for settings
    changed at run time; a ValueError names the setting and says what it must be."""
    if key not in FOCUSER_RULES:
        raise ValueError(f"{key} is not a focuser setting; the settings are {', '.join(FOCUSER_RULES)}")
    try:
        return FOCUSER_RULES[key].check(value)
    except _Invalid as exc:
        raise ValueError(f"{key} is {_show(value)}, but it must be {exc}") from None


def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


assert set(SERVER_RULES) == set(_field_names(ServerSettings)), "every server setting needs a rule"
assert set(FOCUSER_RULES) | {"presets"} == set(_field_names(FocuserSettings)), "every focuser setting needs a rule"

def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (dict, list)):
        return "a table" if isinstance(value, dict) else "a list"
    return str(value)
