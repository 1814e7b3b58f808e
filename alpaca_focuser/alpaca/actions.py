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
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..celestron.sharing import shared_status
from ..device import Focuser
from ..errors import ActionNotImplemented, InvalidValue, NotConnected
from ..settings import Direction, Preset
from . import action_params as params
from . import settings_actions
from .connection import ConnectionControl
from .served import is_simulated, not_connected_reason

if TYPE_CHECKING:
    from ..temperature.service import TemperatureService


@dataclass(frozen=True)
class Action:
    name: str  # as SupportedActions lists it; matched case-insensitively
    parse: Callable[[Any], Any]  # the decoded Parameters (None when absent) -> the handler's argument
    run: Callable[..., Any]  # (device, argument[, client]) -> a JSON-able result
    usage: str  # the accepted Parameters, shown when they are wrong
    needs_focuser: bool  # NotConnected while the focuser is disconnected
    for_client: bool = False  # ``run`` also gets the ClientID, kept in the move history


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


def _save_preset(device: Focuser, wanted: params.PresetToSave) -> dict[str, Any]:
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
        "simulated": is_simulated(device),
        "not_connected_reason": not_connected_reason(device),
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
        "share": shared_status(state.port) if state.port else None,
    }


NONE = "none (leave Parameters out, or send it empty)"
HISTORY_USAGE = 'none for every move kept, or how many of the newest: 20 or {"limit": 20}'
PRESET_KEY = 'a slot number like 2, a name like Visual, or {"slot": 2} / {"name": "Visual"}'

ACTIONS: tuple[Action, ...] = (
    Action("Calibrate", params.no_parameters, _calibrate, NONE, True, for_client=True),
    Action("AbortCalibration", params.no_parameters, _abort_calibration, NONE, True),
    Action("CalibrationStatus", params.no_parameters, lambda device, _: _calibration(device), NONE, True),
    Action("GetBacklash", params.no_parameters, lambda device, _: _backlash_now(device), NONE, False),
    Action("SetBacklash", params.backlash_changes, _set_backlash,
           '{"steps": 200, "direction": "out"} (steps 0 to 65535; direction "in", "out" or "none"; either key may be left out to keep its value)', False),
    Action("Presets", params.no_parameters, lambda device, _: [_preset(p) for p in device.presets()], NONE, False),
    Action("SavePreset", params.preset_to_save, _save_preset,
           'a slot number like 2, a name like Visual, or {"slot": 2, "name": "Visual", "position": 12000} (position defaults to the current one)', True),
    Action("GotoPreset", params.preset_key, lambda device, key, client: _preset(device.goto_preset(key, client=client)), PRESET_KEY, True, for_client=True),
    Action("DeletePreset", params.preset_key, lambda device, key: _preset(device.delete_preset(key)), PRESET_KEY, False),
    Action("MoveRelative", params.steps, _move_relative, 'signed steps like -500 or {"steps": -500} (positive moves out, Position grows)', True, for_client=True),
    Action("Jog", params.rate, _jog, 'a signed rate from -9 to 9 like 5 or {"rate": 5} (positive runs out; 0 stops); renew it within a couple of seconds to keep it running', True, for_client=True),
    Action("GetReverse", params.no_parameters, lambda device, _: {"reverse": device.reverse}, NONE, False),
    Action("SetReverse", params.reverse_flag, _set_reverse, 'true, false or {"reverse": true}', False),
    Action("FocuserInfo", params.no_parameters, _focuser_info, NONE, False),
    Action("MoveHistory", params.history_limit, lambda device, limit: device.history.recent(limit), HISTORY_USAGE, False),
    Action("Ports", params.no_parameters, lambda device, _: settings_actions.ports(device), NONE, False),
    Action("Settings", params.no_parameters, lambda device, _: settings_actions.settings_now(device), NONE, False),
    Action("SetSettings", settings_actions.parse_changes, settings_actions.set_settings, settings_actions.USAGE, False),
)


@dataclass(frozen=True)
class TemperatureAction:
    """An action on the focuser's temperature service, offered only when it has a temperature source."""

    name: str
    parse: Callable[[Any], Any]
    run: Callable[[TemperatureService, Any], Any]
    usage: str


TEMPERATURE_ACTIONS: tuple[TemperatureAction, ...] = (
    TemperatureAction("TemperatureStatus", params.no_parameters, lambda service, _: service.status(), NONE),
    TemperatureAction("TemperatureLog", params.no_parameters, lambda service, _: service.log_points(), NONE),
    TemperatureAction("TemperatureFit", params.no_parameters, lambda service, _: service.fit().as_dict(), NONE),
    TemperatureAction("TemperatureApply", params.coefficient, lambda service, value: service.apply(value),
                      'none to use the fitted coefficient, or steps per °C like 25.5 or {"steps_per_c": 25.5}; it is saved in the configuration'),
    TemperatureAction("TemperatureClearLog", params.no_parameters, lambda service, _: service.clear_log(), NONE),
    TemperatureAction("TemperatureDropPoints", params.point_ids, lambda service, ids: service.drop_points(ids),
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
        return parse(params.decode(parameters[0]) if parameters else None)
    except params.BadParameters as exc:
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
        _argument(on_connections[0], params.no_parameters, NONE, parameters)
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
