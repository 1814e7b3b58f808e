"""The device's settings form at ``/setup/v1/focuser/{n}/setup`` (ASCOM's meaning of "setup").

The page is drawn here with the settings in force, so it reads right before any script runs. Its
fields are the settings a client may change, as the settings schema declares them (label, help,
range), so a setting added there appears here. ``web/settings.js`` fills in the serial ports found
and saves through the ``SetSettings`` Action, which checks every value and answers every problem
at once; each is shown beside its field.
"""

from __future__ import annotations

from html import escape
from typing import Any

from ..celestron.routes import ROUTE_TITLES
from ..config import schema
from ..safe_text import html_text as text
from .served import ServedDevice
from .settings_actions import settings_now

CHOICE_TITLES = {"route": ROUTE_TITLES, "backlash_direction": {"none": "off", "in": "in", "out": "out"}}
OTHER_PORT = "other (a device path such as /dev/ttyUSB0 or COM7)…"


def _control(found: schema.Entry, value: Any) -> str:
    key, spec, base = found.name, found.spec, found.base
    common = f'id="field-{key}" name="{key}" data-setting="{key}"'
    if spec.rule == "port":
        return _port_choice(str(value))
    if spec.choices:
        titles = CHOICE_TITLES.get(key, {})
        options = "".join(
            f'<option value="{escape(choice)}"{" selected" if choice == value else ""}>{escape(choice)}'
            f'{": " + escape(titles[choice]) if choice in titles and titles[choice] != choice else ""}</option>'
            for choice in spec.choices
        )
        return f"<select {common}>{options}</select>"
    if base is bool:
        return f'<label><input {common} data-kind="flag" type="checkbox"{" checked" if value else ""}> {escape(spec.help)}</label>'
    if base in (int, float):
        shown = "" if value is None else text(value)
        step = "1" if base is int else "any"
        optional = ' data-optional="1"' if found.nullable else ""
        return (f'<input {common} data-kind="number"{optional} type="number" inputmode="decimal" min="{schema.number_text(spec.low)}" '
                f'max="{schema.number_text(spec.high)}" step="{step}" value="{shown}">')
    return f'<input {common} type="text" maxlength="{spec.max_length}" value="{text(value)}">'


def _field(found: schema.Entry, value: Any) -> str:
    note = "" if found.base is bool else found.spec.help
    hint = f'<p class="note">{escape(note[:1].upper() + note[1:])}.</p>' if note else ""
    return (
        f'<label class="field" for="field-{found.name}">{escape(found.spec.label)}</label>{_control(found, value)}{hint}'
        f'<p class="error" id="error-{found.name}" role="alert"></p>'
    )


def _port_choice(port: str) -> str:
    """The configured port selected; settings.js adds the ports found when it runs."""
    fixed = ["auto", "sim://"]
    options = [f'<option value="{text(port)}" selected>{text(port)}</option>'] if port not in fixed else []
    options += [f'<option value="{value}"{" selected" if value == port else ""}>{value}</option>' for value in fixed]
    options.append(f'<option value="">{OTHER_PORT}</option>')
    return (
        f'<select id="field-port" name="port" data-setting="port" data-kind="port">{"".join(options)}</select>'
        '<input id="field-port-other" type="text" placeholder="/dev/ttyUSB0" hidden aria-label="Other port">'
    )


def settings_form(served: ServedDevice) -> str:
    values = settings_now(served.device)
    fields = "".join(_field(found, values[found.name]) for found in schema.entries("focuser") if found.spec.client)
    return (
        '<form id="settings-form" class="settings card" novalidate>'
        f"<h2>Settings</h2>{fields}"
        '<div class="row"><button type="submit" class="primary">Save</button><span id="saved" class="note" role="status"></span></div>'
        '<p class="error" id="error-form" role="alert"></p>'
        '<div class="row" id="force-row" hidden><button id="force" type="button">Save anyway</button></div>'
        "</form>"
        '<section class="card"><h2>Connection</h2>'
        '<p id="connection-state">unknown</p>'
        '<div class="row"><button id="connect" type="button">Connect</button><button id="disconnect" type="button">Disconnect</button></div>'
        '<p class="error" id="error-connection" role="alert"></p>'
        "<p class=\"note\">A network port (socket://, rfc2217://) is set in the configuration file or on the command line, "
        "never from this page: see the README's security section.</p></section>"
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
