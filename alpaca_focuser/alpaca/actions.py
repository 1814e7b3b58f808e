"""Vendor actions reached through the Alpaca Action member.

Alpaca has no members for calibrating the Celestron motor, for backlash, presets, relative moves
or a manual jog, so they are offered as Actions: N.I.N.A. sequences, alpyca scripts and the control
page all reach them the same way. Each action is one row of a table (its name, how its
``Parameters`` text is read, what it asks of the device), so the list that SupportedActions shows,
the argument checks and the error messages cannot drift apart.

``Parameters`` arrives as text: absent or empty, a plain value (``2``, ``Visual``, ``-500``,
``true``) or a JSON object. Results are JSON text.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..device import Focuser
from ..errors import ActionNotImplemented, InvalidValue, NotConnected
from ..settings import Direction, Preset
from . import settings_actions
from .connection import ConnectionControl
from .protocol import ClientJsonRefused, decode_client_json, whole_number

if TYPE_CHECKING:
    from ..temperature.service import TemperatureService

PRESET_NAME_MAX = 200  # the configuration file refuses longer names


class _BadParameters(ValueError):
    """Parameters that do not fit the action; the message says what was wrong."""


@dataclass(frozen=True)
class Action:
    name: str  # as SupportedActions lists it; matched case-insensitively
    parse: Callable[[Any], Any]  # the decoded Parameters (None when absent) -> the handler's argument
    run: Callable[..., Any]  # (device, argument[, client]) -> a JSON-able result
    usage: str  # the accepted Parameters, shown when they are wrong
    needs_focuser: bool  # NotConnected while the focuser is disconnected
    for_client: bool = False  # ``run`` also gets the ClientID, kept in the move history


# --------------------------------------------------------------- reading Parameters


def _decode(text: str) -> Any:
    """JSON when the text is JSON, otherwise the plain word itself (so ``Visual`` needs no quotes)."""
    text = text.strip()
    if not text:
        return None
    try:
        return decode_client_json(text)
    except ClientJsonRefused as refused:
        raise _BadParameters(f"Parameters {refused}") from None
    except ValueError:
        return text


def _whole_number(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise _BadParameters(f"{what} must be a whole number, not {json.dumps(value)}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return whole_number(value.strip())
        except ValueError as error:
            raise _BadParameters(f"{what} must be a whole number, not {_show(value)} ({error})") from None
    raise _BadParameters(f"{what} must be a whole number, not {_show(value)}")


def _flag(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _BadParameters(f"{what} must be true or false, not {_show(value)}")


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _BadParameters(f"a preset name must be non-empty text, not {_show(value)}")
    if len(value) > PRESET_NAME_MAX:
        raise _BadParameters(f"a preset name may be at most {PRESET_NAME_MAX} characters long")
    return value.strip()


def _show(value: Any) -> str:
    if value is None:
        return "nothing"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _fields(value: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    """A JSON object's members by lower-case key; unknown keys are refused, not ignored."""
    if not isinstance(value, dict):
        raise _BadParameters(f"expected a JSON object, not {_show(value)}")
    fields = {str(key).lower(): item for key, item in value.items()}
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise _BadParameters(f"unknown key {', '.join(map(repr, unknown))}; the keys are {', '.join(allowed)}")
    return fields


def _one_value(value: Any, key: str) -> Any:
    """A plain value, or the same value given as ``{"key": value}``."""
    if isinstance(value, dict):
        fields = _fields(value, (key,))
        if key not in fields:
            raise _BadParameters(f'the object needs the key "{key}"')
        return fields[key]
    return value


def _no_parameters(value: Any) -> None:
    if value is not None and value != {}:
        raise _BadParameters(f"this action takes no parameters, but got {_show(value)}")


def _history_limit(value: Any) -> int | None:
    """How many of the newest moves to return: none for all that are kept, or a count."""
    if value is None or value == {}:
        return None
    limit = _whole_number(_one_value(value, "limit"), "limit")
    if limit < 1:
        raise _BadParameters(f"limit must be 1 or more, not {limit}")
    return limit


def _steps(value: Any) -> int:
    return _whole_number(_one_value(value, "steps"), "steps")


def _rate(value: Any) -> int:
    return _whole_number(_one_value(value, "rate"), "rate")


def _reverse_flag(value: Any) -> bool:
    return _flag(_one_value(value, "reverse"), "reverse")


def _backlash(value: Any) -> dict[str, Any]:
    fields = _fields(value, ("steps", "direction"))
    if not fields:
        raise _BadParameters("give steps, direction or both")
    changes: dict[str, Any] = {}
    if "steps" in fields:
        changes["steps"] = _whole_number(fields["steps"], "steps")
    if "direction" in fields:
        direction = fields["direction"]
        choices = [d.value for d in Direction]
        if not isinstance(direction, str) or direction.strip().lower() not in choices:
            raise _BadParameters(f'direction must be "in", "out" or "none", not {_show(direction)}')
        changes["direction"] = Direction(direction.strip().lower())
    return changes


def _preset_key(value: Any) -> int | str:
    """A slot number or a preset name, plain or as {"slot": n} / {"name": "..."}."""
    if isinstance(value, dict):
        fields = _fields(value, ("slot", "name"))
        if len(fields) != 1:
            raise _BadParameters('give either "slot" or "name"')
        return _whole_number(fields["slot"], "slot") if "slot" in fields else _name(fields["name"])
    if value is None:
        raise _BadParameters("a preset slot or name is needed")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _whole_number(value, "slot")
    if isinstance(value, str):
        return _name(value)
    raise _BadParameters(f"a preset is named by its slot number or its name, not {_show(value)}")


@dataclass(frozen=True)
class _PresetToSave:
    slot: int | None
    name: str | None
    position: int | None


def _preset_to_save(value: Any) -> _PresetToSave:
    if not isinstance(value, dict):
        key = _preset_key(value)
        return _PresetToSave(key, None, None) if isinstance(key, int) else _PresetToSave(None, key, None)
    fields = _fields(value, ("slot", "name", "position"))
    if fields.get("slot") is None and fields.get("name") is None:
        raise _BadParameters('give "slot", "name" or both')
    slot = _whole_number(fields["slot"], "slot") if fields.get("slot") is not None else None
    name = _name(fields["name"]) if fields.get("name") is not None else None
    position = _whole_number(fields["position"], "position") if fields.get("position") is not None else None
    return _PresetToSave(slot, name, position)


# ------------------------------------------------------------------- the actions


def _preset(preset: Preset) -> dict[str, Any]:
    return {"slot": preset.slot, "name": preset.name, "position": preset.position}


def _calibration(device: Focuser) -> dict[str, Any]:
    status = dataclasses.asdict(device.state.calibration)
    status["elapsed_s"] = round(status["elapsed_s"], 1)
    return status


def _backlash_now(device: Focuser) -> dict[str, Any]:
    steps, direction = device.backlash
    return {"steps": steps, "direction": Direction(direction).value}


def _calibrate(device: Focuser, _: None, client: int) -> dict[str, Any]:
    device.start_calibration(client=client)
    return _calibration(device)


def _abort_calibration(device: Focuser, _: None) -> dict[str, Any]:
    device.abort_calibration()
    return _calibration(device)


def _set_backlash(device: Focuser, changes: dict[str, Any]) -> dict[str, Any]:
    steps, direction = device.backlash
    device.set_backlash(changes.get("steps", steps), changes.get("direction", Direction(direction)))
    return _backlash_now(device)


def _save_preset(device: Focuser, wanted: _PresetToSave) -> dict[str, Any]:
    return _preset(device.save_preset(wanted.slot, wanted.name, wanted.position))


def _move_relative(device: Focuser, steps: int, client: int) -> dict[str, Any]:
    device.move_relative(steps, client=client)
    return {"target": device.state.target}


def _jog(device: Focuser, rate: int, client: int) -> dict[str, Any]:
    device.jog(rate, client=client)
    return {"rate": rate}


def _set_reverse(device: Focuser, reverse: bool) -> dict[str, Any]:
    device.set_reverse(reverse)
    return {"reverse": device.reverse}


def _focuser_info(device: Focuser, _: None) -> dict[str, Any]:
    state = device.state
    stats = getattr(device, "link_stats", None)
    return {
        "name": device.name,
        "connected": state.connected,
        "activity": state.activity,
        "firmware": state.firmware,
        "position": state.position,
        "raw_position": state.raw_position,
        "raw_limits": {"low": state.low_limit, "high": state.high_limit},
        "max_step": state.max_step,
        "port": state.port,
        "calibrated": state.calibrated,
        "reverse": device.reverse,
        "link": {
            "ok": state.link_ok,
            "last_error": state.last_error,
            "reconnects": getattr(device, "reconnects", None),
            "traffic": dataclasses.asdict(stats) if stats is not None else None,
        },
    }


NONE = "none (leave Parameters out, or send it empty)"
HISTORY_USAGE = 'none for every move kept, or how many of the newest: 20 or {"limit": 20}'
PRESET_KEY = 'a slot number like 2, a name like Visual, or {"slot": 2} / {"name": "Visual"}'

ACTIONS: tuple[Action, ...] = (
    Action("Calibrate", _no_parameters, _calibrate, NONE, True, for_client=True),
    Action("AbortCalibration", _no_parameters, _abort_calibration, NONE, True),
    Action("CalibrationStatus", _no_parameters, lambda device, _: _calibration(device), NONE, True),
    Action("GetBacklash", _no_parameters, lambda device, _: _backlash_now(device), NONE, False),
    Action("SetBacklash", _backlash, _set_backlash,
           '{"steps": 200, "direction": "out"} (steps 0 to 65535; direction "in", "out" or "none"; either key may be left out to keep its value)', False),
    Action("Presets", _no_parameters, lambda device, _: [_preset(p) for p in device.presets()], NONE, False),
    Action("SavePreset", _preset_to_save, _save_preset,
           'a slot number like 2, a name like Visual, or {"slot": 2, "name": "Visual", "position": 12000} (position defaults to the current one)', True),
    Action("GotoPreset", _preset_key, lambda device, key, client: _preset(device.goto_preset(key, client=client)), PRESET_KEY, True, for_client=True),
    Action("DeletePreset", _preset_key, lambda device, key: _preset(device.delete_preset(key)), PRESET_KEY, False),
    Action("MoveRelative", _steps, _move_relative, 'signed steps like -500 or {"steps": -500} (positive moves out, Position grows)', True, for_client=True),
    Action("Jog", _rate, _jog, 'a signed rate from -9 to 9 like 5 or {"rate": 5} (positive runs out; 0 stops); renew it within a couple of seconds to keep it running', True, for_client=True),
    Action("GetReverse", _no_parameters, lambda device, _: {"reverse": device.reverse}, NONE, False),
    Action("SetReverse", _reverse_flag, _set_reverse, 'true, false or {"reverse": true}', False),
    Action("FocuserInfo", _no_parameters, _focuser_info, NONE, False),
    Action("MoveHistory", _history_limit, lambda device, limit: device.history.recent(limit), HISTORY_USAGE, False),
    Action("Ports", _no_parameters, lambda device, _: settings_actions.ports(device), NONE, False),
    Action("Settings", _no_parameters, lambda device, _: settings_actions.settings_now(device), NONE, False),
    Action("SetSettings", settings_actions.parse_changes, settings_actions.set_settings, settings_actions.USAGE, False),
)



@dataclass(frozen=True)
class TemperatureAction:
    """An action on the focuser's temperature service, offered only when it has a temperature source."""

    name: str
    parse: Callable[[Any], Any]
    run: Callable[[TemperatureService, Any], Any]
    usage: str


def _coefficient(value: Any) -> float | None:
    """None (use the fit) or a coefficient in steps per °C, plain or as {"steps_per_c": x}."""
    if value is None or value == {}:
        return None
    value = _one_value(value, "steps_per_c")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise _BadParameters(f"the coefficient must be a number of steps per °C, not {_show(value)}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _BadParameters(f"the coefficient must be a number of steps per °C, not {_show(value)}")
    return float(value)


def _point_ids(value: Any) -> list[int]:
    if isinstance(value, dict):
        value = _one_value(value, "ids")
    items = value if isinstance(value, list) else [value]
    if not items or value is None:
        raise _BadParameters("give the ids of the points to drop")
    return [_whole_number(item, "a point id") for item in items]


TEMPERATURE_ACTIONS: tuple[TemperatureAction, ...] = (
    TemperatureAction("TemperatureStatus", _no_parameters, lambda service, _: service.status(), NONE),
    TemperatureAction("TemperatureLog", _no_parameters, lambda service, _: service.log_points(), NONE),
    TemperatureAction("TemperatureFit", _no_parameters, lambda service, _: service.fit().as_dict(), NONE),
    TemperatureAction("TemperatureApply", _coefficient, lambda service, value: service.apply(value),
                      'none to use the fitted coefficient, or steps per °C like 25.5 or {"steps_per_c": 25.5}; it is saved in the configuration'),
    TemperatureAction("TemperatureClearLog", _no_parameters, lambda service, _: service.clear_log(), NONE),
    TemperatureAction("TemperatureDropPoints", _point_ids, lambda service, ids: service.drop_points(ids),
                      'point ids from TemperatureLog, like 7, [7, 9] or {"ids": [7, 9]}'),
)

# Who holds the focuser, and a way to free it: on the connections, not the device.
CONNECTION_ACTIONS: dict[str, tuple[str, Callable[[ConnectionControl], Any]]] = {
    "clients": ("Clients", lambda connection: connection.listing()),
    "disconnectall": ("DisconnectAll", lambda connection: {"Disconnected": connection.disconnect_all()}),
}

_BY_NAME: dict[str, Action] = {action.name.lower(): action for action in ACTIONS}
_TEMPERATURE_BY_NAME: dict[str, TemperatureAction] = {action.name.lower(): action for action in TEMPERATURE_ACTIONS}
SUPPORTED_ACTIONS: list[str] = [action.name for action in ACTIONS] + [name for name, _ in CONNECTION_ACTIONS.values()]


def supported_actions(has_temperature: bool) -> list[str]:
    return SUPPORTED_ACTIONS + [action.name for action in TEMPERATURE_ACTIONS] if has_temperature else list(SUPPORTED_ACTIONS)


def _argument(name: str, parse: Callable[[Any], Any], usage: str, parameters: list[str]) -> Any:
    if len(parameters) > 1:
        raise InvalidValue(f"{name}: Parameters was sent {len(parameters)} times; send it once. Expected Parameters: {usage}.")
    try:
        return parse(_decode(parameters[0]) if parameters else None)
    except _BadParameters as exc:
        raise InvalidValue(f"{name}: {exc}. Expected Parameters: {usage}.") from None


def run_action(
    device: Focuser,
    name: str,
    parameters: list[str],
    temperature: TemperatureService | None = None,
    *,
    connection: ConnectionControl,
    client: int,
) -> str:
    """Run the action ``name`` with every value of the ``Parameters`` field; returns JSON text."""
    on_connections = CONNECTION_ACTIONS.get(name.strip().lower())
    if on_connections is not None:
        _argument(on_connections[0], _no_parameters, NONE, parameters)
        return json.dumps(on_connections[1](connection))
    special = _TEMPERATURE_BY_NAME.get(name.strip().lower())
    if special is not None:
        if temperature is None:
            raise ActionNotImplemented(
                f"{special.name} needs a temperature source, and {device.name} has none: set temperature for this focuser in the configuration file."
            )
        return json.dumps(special.run(temperature, _argument(special.name, special.parse, special.usage, parameters)))
    action = _BY_NAME.get(name.strip().lower())
    if action is None:
        known = ", ".join(supported_actions(temperature is not None))
        raise ActionNotImplemented(f"{device.name} has no action {name!r}. Its actions are: {known}.")
    argument = _argument(action.name, action.parse, action.usage, parameters)
    state = device.state
    if action.needs_focuser and not connection.connected(client):
        reason = f" ({state.last_error})" if state.last_error else ""
        raise NotConnected(f"{action.name} needs the focuser, but {device.name} is not connected{reason}. Connect it first.")
    return json.dumps(action.run(device, argument, client) if action.for_client else action.run(device, argument))
