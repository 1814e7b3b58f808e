"""The device's settings form at ``/setup/v1/focuser/{n}/setup`` (ASCOM's meaning of "setup").

The page is drawn here with the settings in force, so it reads right before any script runs;
``web/settings.js`` fills in the serial ports found and saves through the ``SetSettings`` Action,
which validates every value by the configuration file's rules before anything changes.
"""

from __future__ import annotations

from html import escape
from typing import Any

from ..celestron.routes import ROUTE_TITLES
from ..limits import BACKLASH_STEPS_MAX
from .served import ServedDevice
from .settings_actions import settings_now

DIRECTIONS = (("none", "none (off)"), ("in", "in"), ("out", "out"))


def _choice(key: str, chosen: str, choices: dict[str, str]) -> str:
    options = "".join(
        f'<option value="{escape(value)}"{" selected" if value == chosen else ""}>{escape(value)}: {escape(label)}</option>'
        for value, label in choices.items()
    )
    return f'<select id="field-{key}" name="{key}">{options}</select>'


def _field(key: str, label: str, control: str, note: str = "") -> str:
    hint = f'<p class="note">{note}</p>' if note else ""
    return (
        f'<label class="field" for="field-{key}">{escape(label)}</label>{control}{hint}'
        f'<p class="error" id="error-{key}" role="alert"></p>'
    )


def _number(key: str, value: Any, low: float, high: float, step: str = "1") -> str:
    shown = "" if value is None else escape(str(value))
    return f'<input id="field-{key}" name="{key}" type="number" inputmode="decimal" min="{low:g}" max="{high:g}" step="{step}" value="{shown}">'


def _port_choice(port: str) -> str:
    """The configured port selected; settings.js adds the ports found when it runs."""
    fixed = ["auto", "sim://"]
    options = [f'<option value="{escape(port)}" selected>{escape(port)}</option>'] if port not in fixed else []
    options += [f'<option value="{value}"{" selected" if value == port else ""}>{value}</option>' for value in fixed]
    options.append('<option value="">other (socket://HOST:PORT, rfc2217://HOST:PORT, a device path)…</option>')
    return f'<select id="field-port" name="port">{"".join(options)}</select>'


def settings_form(served: ServedDevice) -> str:
    values = settings_now(served.device)
    direction = values["backlash_direction"]
    direction_options = "".join(
        f'<option value="{value}"{" selected" if value == direction else ""}>{label}</option>' for value, label in DIRECTIONS
    )
    checked = " checked" if values["reverse"] else ""
    rtscts = " checked" if values["rtscts"] else ""
    fields = "".join([
        _field("name", "Name", f'<input id="field-name" name="name" type="text" maxlength="200" value="{escape(values["name"])}">'),
        _field("port", "Serial port", _port_choice(str(values["port"]))
               + '<input id="field-port-other" type="text" placeholder="socket://192.168.1.50:2000" hidden aria-label="Other port">',
               "The focuser's own port is marked. auto finds it by its USB id; sim:// is the built-in simulator."),
        _field("route", "Route", _choice("route", str(values["route"]), ROUTE_TITLES),
               "How the port reaches the focuser: its own USB port, the mount's AUX bus, or a hand controller."),
        _field("rtscts", "Handshake", f'<label><input id="field-rtscts" name="rtscts" type="checkbox"{rtscts}> RTS/CTS '
               "(a serial cable on the mount's AUX or PC port)</label>"),
        _field("baud", "Baud rate", _number("baud", values["baud"], 1, 4_000_000), "Leave empty for the usual speed of the route (9600 for the focuser's own USB port)."),
        _field("backlash_steps", "Backlash steps", _number("backlash_steps", values["backlash_steps"], 0, BACKLASH_STEPS_MAX)),
        _field("backlash_direction", "Backlash final approach",
               f'<select id="field-backlash_direction" name="backlash_direction">{direction_options}</select>'),
        _field("reverse", "Direction", f'<label><input id="field-reverse" name="reverse" type="checkbox"{checked}> Reverse (swap in and out)</label>'),
        _field("settle_ms", "Settle time (ms)", _number("settle_ms", values["settle_ms"], 0, 60_000), "Added to the end of every move."),
        _field("step_size_um", "Step size (µm)", _number("step_size_um", values["step_size_um"], 0, 10_000, "any"),
               "Leave empty if unknown."),
        _field("client_lease_s", "Client lease (s)", _number("client_lease_s", values["client_lease_s"], 10, 86_400, "any"),
               "A client that makes no request for this long no longer holds the focuser; when none is left, the motor is stopped and the port freed."),
    ])  # fmt: skip
    return (
        '<form id="settings-form" class="settings card" novalidate>'
        f"<h2>Settings</h2>{fields}"
        '<div class="row"><button type="submit" class="primary">Save</button><span id="saved" class="note" role="status"></span></div>'
        '<p class="error" id="error-form" role="alert"></p>'
        "</form>"
        '<section class="card"><h2>Connection</h2>'
        '<p id="connection-state">unknown</p>'
        '<div class="row"><button id="connect" type="button">Connect</button><button id="disconnect" type="button">Disconnect</button></div>'
        '<p class="error" id="error-connection" role="alert"></p></section>'
        '<section class="card"><h2>Clients</h2><p id="clients-summary" role="status">…</p>'
        '<div class="wide"><table class="status"><thead><tr><th>ClientID</th><th>State</th><th>Last request</th><th>Address</th>'
        '<th>Program</th></tr></thead><tbody id="clients-body"></tbody></table></div>'
        '<p class="note">A client that makes no request for the lease time no longer holds the focuser. '
        '"Disconnect everyone" ends every connection, stops any motion and frees the port.</p>'
        '<div class="row"><button id="disconnect-all" type="button">Disconnect everyone</button>'
        '<span id="clients-done" class="note" role="status"></span></div>'
        '<p class="error" id="error-clients" role="alert"></p></section>'
        f'<p><a href="/control/v1/{served.device_type}/{served.number}/">Control page</a> · <a href="/setup">All devices</a></p>'
    )
