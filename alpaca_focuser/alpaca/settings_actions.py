"""The connection and user settings as vendor Actions: ``Ports``, ``Settings`` and ``SetSettings``.

The settings form and the control page are ordinary Alpaca clients, so what they need beyond the
standard members comes through Actions that any client (a script, curl) can use too. What a client
may change, and what each value must be, comes from the settings schema (config/schema.py), as a
client sends it: every value is checked first, and every problem is answered at once, one
``FIELD: problem`` line each, with nothing changed. Then the device tries and saves the change as
one transaction (a new port is tried before it is saved, unless ``force``).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from enum import Enum
from typing import Any

from ..celestron.usb_probe import STABLE_PORT, list_ports
from ..config import schema
from ..device import Focuser
from ..errors import InvalidValue
from ..safe_text import escape_controls
from ..settings import share_route_problem

SPECIAL_PORTS = (
    ("auto", "find the focuser by its USB id 15A2:A50F at every connect"),
    ("sim://", "the built-in simulated focuser, to try the server without hardware"),
)
TRANSACTION_KEYS = ("settings", "force")


def _usage() -> str:
    nullable = [found.name for found in schema.entries("focuser") if found.spec.client and found.nullable]
    return (
        '{"port": "/dev/ttyACM0", "backlash_steps": 120}, or {"settings": {...}, "force": true} to save a port even when it '
        f"cannot be reached now; the settings are {', '.join(schema.client_settings())} ({' and '.join(nullable)} may be null: "
        "the route's usual speed, an unknown step size)"
    )


USAGE = _usage()


@dataclass(frozen=True)
class SettingsChange:
    """What SetSettings was asked: checked values by setting name, and whether to force a port."""

    settings: dict[str, Any]
    force: bool = False


def settings_now(device: Focuser) -> dict[str, Any]:
    """The settings a client may change, as they are in force (and saved)."""
    saved = device.settings
    return {name: _plain(getattr(saved, name)) for name in schema.client_settings()}


def parse_changes(value: Any) -> SettingsChange:
    """SetSettings' Parameters: the settings object, or ``{"settings": {...}, "force": true}``.

    Raises InvalidValue whose message is a first line, then one ``FIELD: problem`` line for every
    bad field, which the settings form places next to each field.
    """
    if not isinstance(value, dict) or not value:
        raise InvalidValue(f"SetSettings: expected a JSON object of settings, like {USAGE}. Nothing was changed.")
    keys = {str(key).strip().lower(): item for key, item in value.items()}
    force: Any = False
    if "settings" in keys:
        unknown = sorted(set(keys) - set(TRANSACTION_KEYS))
        force = keys.get("force", False)
        value = keys["settings"]
        if unknown or not isinstance(force, bool) or not isinstance(value, dict) or not value:
            raise InvalidValue(f'SetSettings: with "settings", give only "settings" (a JSON object) and "force" (true or false), like {USAGE}. '
                               "Nothing was changed.")
    problems: list[str] = []
    changes: dict[str, Any] = {}
    for key, item in value.items():
        name = str(key).strip().lower()
        if name in schema.client_settings():
            changes[name] = item.strip() if isinstance(item, str) else item
        elif name in schema.names("focuser") or name == "presets":
            problems.append(f"{name}: may be changed only in the configuration file, not by a client")
        else:
            problems.append(f"{escape_controls(str(key))[:40]}: not a setting; the settings a client may change are {', '.join(schema.client_settings())}")
    try:
        checked = schema.check("focuser", changes, schema.CLIENT)
    except schema.SettingsRefused as refused:
        problems += [problem.for_client() for problem in refused.problems]
    if problems:
        count = "a setting is" if len(problems) == 1 else f"{len(problems)} settings are"
        raise InvalidValue(f"SetSettings: Nothing was changed, because {count} not accepted:\n" + "\n".join(problems))
    return SettingsChange(checked, force)


def set_settings(device: Focuser, change: SettingsChange) -> dict[str, Any]:
    """Apply only what differs, so saving an unchanged form never reconnects the focuser.

    The device tries a changed port before it saves anything; it raises an Alpaca error that says
    what failed and keeps the working connection, unless ``force`` asks it to save the port anyway.
    """
    current = settings_now(device)
    merged = dataclasses.replace(device.settings, **change.settings)
    problem = share_route_problem(merged)
    if problem:
        raise InvalidValue(f"SetSettings: Nothing was changed, because a setting is not accepted:\nshare: {problem}")
    different = {key: value for key, value in change.settings.items() if current.get(key) != _plain(value)}
    note = device.configure(force=change.force, **different) if different else ""
    result = settings_now(device)
    if note:
        result["note"] = note
    return result


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _same_port(a: str, b: str) -> bool:
    if "://" in a or "://" in b:
        return a == b
    return os.path.realpath(a) == os.path.realpath(b)


def ports(device: Focuser) -> dict[str, Any]:
    """The serial ports found, the focuser's marked, plus the configured port when it is not a
    local device the system lists (a pty, a by-id link, a URL)."""
    state = device.state
    configured = str(settings_now(device)["port"])
    in_use = state.port if state.connected else ""
    listed: list[dict[str, Any]] = []
    for info in list_ports():
        answering = bool(in_use) and _same_port(info.device, in_use)
        listed.append({
            "port": info.stable_path or info.device,
            "device": info.device,
            "description": info.description,
            "usb_id": info.usb_id,
            "focuser": answering or info.is_celestron_id,
            "connected": answering,
        })  # fmt: skip
    if configured != "auto" and "://" not in configured and not any(_same_port(item["device"], configured) for item in listed):
        answering = bool(in_use) and _same_port(configured, in_use)
        listed.append({
            "port": configured,
            "device": os.path.realpath(configured),
            "description": "the configured port",
            "usb_id": None,
            "focuser": answering,
            "connected": answering,
        })  # fmt: skip
    special = list(SPECIAL_PORTS)
    if os.path.exists(STABLE_PORT) and not any(item["port"] == STABLE_PORT for item in listed):
        special.insert(0, (STABLE_PORT, "the focuser's stable name from the udev rule, the same after every replug"))
    return {
        "configured": configured,
        "in_use": in_use,
        "ports": listed,
        "special": [{"port": port, "description": text} for port, text in special],
    }
