"""The connection and user settings as vendor Actions: ``Ports``, ``Settings`` and ``SetSettings``.

The settings form and the control page are ordinary Alpaca clients, so what they need beyond the
standard members comes through Actions that any client (a script, curl) can use too. Values are
checked by the configuration file's own rules before the device is asked to save them, so a bad
value is refused with a message naming the field, and nothing changes.
"""

from __future__ import annotations

import os
from typing import Any

from ..celestron.usb_probe import STABLE_PORT, list_ports
from ..config import check_focuser_setting
from ..device import Focuser
from ..errors import InvalidValue
from ..settings import Direction

EDITABLE = ("name", "port", "route", "rtscts", "baud", "reverse", "backlash_steps", "backlash_direction", "settle_ms", "step_size_um", "client_lease_s")
NULLABLE = ("baud", "step_size_um")  # null: the route's usual baud rate; an unknown step size
SPECIAL_PORTS = (
    ("auto", "find the focuser by its USB id 15A2:A50F at every connect"),
    ("sim://", "the built-in simulated focuser, to try the server without hardware"),
)


def settings_now(device: Focuser) -> dict[str, Any]:
    """The editable settings as they are in force (and saved)."""
    saved = getattr(device, "settings", None)
    steps, direction = device.backlash
    return {
        "name": device.name,
        "port": getattr(saved, "port", device.state.port),
        "route": getattr(saved, "route", "usb"),
        "rtscts": getattr(saved, "rtscts", False),
        "baud": getattr(saved, "baud", None),
        "reverse": device.reverse,
        "backlash_steps": steps,
        "backlash_direction": Direction(direction).value,
        "settle_ms": getattr(saved, "settle_ms", None),
        "step_size_um": device.step_size_um,
        "client_lease_s": getattr(saved, "client_lease_s", None),
    }


def parse_changes(value: Any) -> dict[str, Any]:
    """A JSON object of settings to change, each checked by the configuration's rule.

    ``baud`` and ``step_size_um`` may be null (the route's usual baud rate; unknown). Raises
    InvalidValue naming the first bad field, in the form ``SetSettings: FIELD is ..., but it must
    be ...`` that the settings form places next to the field.
    """
    if not isinstance(value, dict) or not value:
        raise InvalidValue(f'SetSettings: expected a JSON object of settings like {{"backlash_steps": 120}}; the settings are {", ".join(EDITABLE)}. Nothing was changed.')
    changes: dict[str, Any] = {}
    for key, item in value.items():
        field = str(key).strip().lower()
        if field not in EDITABLE:
            raise InvalidValue(f"SetSettings: {key} is not a setting that can be changed here; the settings are {', '.join(EDITABLE)}. Nothing was changed.")
        if field in NULLABLE and item is None:
            changes[field] = None
            continue
        if field in ("name", "port") and isinstance(item, str):
            item = item.strip()
        try:
            changes[field] = check_focuser_setting(field, item)
        except ValueError as exc:
            raise InvalidValue(f"SetSettings: {exc}. Nothing was changed.") from None
    return changes


def set_settings(device: Focuser, changes: dict[str, Any]) -> dict[str, Any]:
    """Apply only what differs, so saving an unchanged form never reconnects the focuser."""
    current = settings_now(device)
    different = {key: value for key, value in changes.items() if current.get(key) != _plain(value)}
    note = device.configure(**different) if different else ""
    result = settings_now(device)
    if note:
        result["note"] = note
    return result


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Direction) else value


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
