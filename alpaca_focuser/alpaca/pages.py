"""The Alpaca HTML setup pages: the server's at /setup and one per device.

They show what a user needs to check an installation at a glance: where the server listens,
which focusers it has, and for each one whether it is connected, and if not, why.
"""

from __future__ import annotations

import datetime

import falcon

from .. import __version__
from ..device import FocuserState
from ..safe_text import html_text
from .management import ServerInfo
from .protocol import BadRequest, parse_device_number
from .served import ServedDevice
from .setup_form import settings_form

NO_BREAK = "\u00a0"  # "(focuser 0)" stays on one line when a title wraps on a phone
SIMULATED_BADGE = '<span class="pill simulated" title="The built-in simulator (sim://): nothing real moves">simulated</span>'


def page(title: str, body: str, scripts: tuple[str, ...] = (), badge: str = "") -> str:
    """A page in the control page's look (web/style.css), sized for a phone as well as a desktop."""
    tags = "".join(f'<script src="/web/{name}"></script>' for name in scripts)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{html_text(title)}</title><link rel=\"stylesheet\" href=\"/web/style.css\">"
        "<link rel=\"icon\" href=\"/web/favicon.svg\" type=\"image/svg+xml\"></head>"
        f"<body><script src=\"/web/night.js\"></script><header class=\"bar\"><h1>{html_text(title)}</h1>{badge}"
        "<button id=\"night\" type=\"button\" aria-pressed=\"false\" title=\"Red night-vision mode\">Night</button></header>"
        f"<main class=\"page\">{body}</main>{tags}</body></html>\n"
    )


def rows(items: list[tuple[str, str]]) -> str:
    """A two-column table; the values are HTML already, the labels are escaped here."""
    return "<table class=\"status\">" + "".join(f"<tr><th>{html_text(label)}</th><td>{value}</td></tr>" for label, value in items) + "</table>"


def send_html(resp: falcon.Response, status: str, html: str) -> None:
    resp.status = status
    resp.content_type = falcon.MEDIA_HTML
    resp.text = html


class ServerSetupPage:
    def __init__(self, info: ServerInfo, devices: dict[str, list[ServedDevice]]) -> None:
        self._info = info
        self._devices = devices

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        info = self._info
        addresses = "<br>".join(html_text(address) for address in info.addresses()) or "none found"
        discovery = f"UDP port {info.discovery_port}" if info.discovery_port is not None else "off"
        server = rows([
            ("Server", html_text(info.name)),
            ("Location", html_text(info.location)),
            ("Version", f"alpaca-focuser {html_text(__version__)}"),
            ("Addresses", addresses),
            ("Alpaca discovery", html_text(discovery)),
            ("mDNS advertisement", "on" if info.mdns else "off"),
        ])  # fmt: skip
        listing = "".join(
            f"<tr><td>{html_text(served.label)}</td><td>{html_text(served.device.name)}{' ' + SIMULATED_BADGE if served.simulated else ''}</td>"
            f"<td>{connection_text(served)}</td>"
            f"<td><a href=\"/control/v1/{served.device_type}/{served.number}/\">control</a> · "
            f"<a href=\"/setup/v1/{served.device_type}/{served.number}/setup\">settings</a></td></tr>"
            for served_devices in self._devices.values()
            for served in served_devices
        )
        devices = (
            "<h2>Devices</h2><div id=\"devices\" data-live><table class=\"status\"><tr><th>Device</th><th>Name</th><th>State</th><th></th></tr>"
            f"{listing}</table></div>"
        )
        notes = (
            "<p>Each focuser's control page moves, jogs and calibrates it and keeps its presets; its settings page "
            "changes its port, backlash and direction. The server's own settings live in its configuration file; "
            "change them there and restart. "
            "Alpaca clients (N.I.N.A., ConformU, alpyca) find the server by discovery or at one of the "
            "addresses above.</p>"
        )
        send_html(resp, falcon.HTTP_200, page(info.name, server + devices + notes, ("live.js",)))


class DeviceSetupPage:
    def __init__(self, devices: dict[str, list[ServedDevice]]) -> None:
        self._devices = devices

    def on_get(self, req: falcon.Request, resp: falcon.Response, device_type: str, device_number: str) -> None:
        served = find_served(self._devices, device_type, device_number)
        if served is None:
            send_no_such_device(resp, falcon.HTTP_403, device_type, device_number, "/setup", "the server page")
            return
        body = settings_form(served) + f'<h2>Status</h2><div id="device-status" data-live>{device_rows(served)}</div><p><a href="/setup">All devices</a></p>'
        badge = SIMULATED_BADGE if served.simulated else ""
        send_html(resp, falcon.HTTP_200, page(f"{served.device.name} ({served.label.replace(' ', NO_BREAK)})", body, ("alpaca.js", "settings.js", "clients.js", "live.js"), badge))


def find_served(devices: dict[str, list[ServedDevice]], device_type: str, device_number: str) -> ServedDevice | None:
    """The device a page's address names, or None when the server has no such device."""
    served = devices.get(device_type, [])
    try:
        number = parse_device_number(device_number)
    except BadRequest:
        return None
    return served[number] if number < len(served) else None


def send_no_such_device(resp: falcon.Response, status: str, device_type: str, device_number: str, listing: str, listing_name: str) -> None:
    message = (
        f"<p>This server has no {html_text(device_type)} {html_text(device_number)}. "
        f"The devices it has are listed on <a href=\"{listing}\">{html_text(listing_name)}</a>.</p>"
    )
    send_html(resp, status, page("No such device", message))


def connection_text(served: ServedDevice) -> str:
    state = served.device.state
    if served.connection.connecting:
        return "connecting…"
    if state.connected:
        return "<span class=\"good state\">connected</span>"
    reason = served.disconnected_reason
    return "<span class=\"bad state\">not connected</span>" + (f": {html_text(reason)}" if reason else "")


def device_rows(served: ServedDevice) -> str:
    state: FocuserState = served.device.state
    failure = served.connection.last_failure
    items = [
        ("Connection", connection_text(served)),
        ("Port", html_text(state.port)),
        ("Firmware", html_text(state.firmware) or "not read yet"),
        ("Position", f"{state.position} (device count {state.raw_position})" if state.connected else "unknown (not connected)"),
        ("Moving", ("yes" if state.moving else "no") if state.connected else "unknown (not connected)"),
        ("Limits", limits_text(state)),
        ("Calibration", calibration_text(state)),
        ("Step size", f"{served.device.step_size_um} µm" if served.device.step_size_um else "not set, so StepSize answers not implemented (set Step size above)"),
        ("UniqueID", html_text(served.device.unique_id)),
        *temperature_rows(served),
    ]
    if failure is not None:
        when = datetime.datetime.fromtimestamp(failure.at).strftime("%Y-%m-%d %H:%M:%S")
        items.append(("Last failed Connect", f"<span class=\"bad\">{html_text(when)}: {html_text(served.disconnected_reason)}</span>"))
    elif state.last_error:
        problem = served.disconnected_reason if not state.connected else state.last_error
        items.append(("Last problem", f"<span class=\"bad\">{html_text(problem)}</span>"))
    return rows(items)


def temperature_rows(served: ServedDevice) -> list[tuple[str, str]]:
    """The temperature source's health and compensation, with the page of the focus log."""
    service = served.temperature
    if service is None:
        return [("Temperature", "no source (the temperature setting)")]
    health = service.health()
    reading = html_text(health.message) if health.ok else f'<span class="bad">{html_text(health.status)}: {html_text(health.message)}</span>'
    compensation = service.status()["tempcomp"]
    coefficient = f"{compensation['steps_per_c']} steps per °C" if compensation["available"] else "no coefficient yet"
    page_link = f'<a href="/web/temperature.html?focuser={served.number}">focus log and coefficient</a>'
    return [
        ("Temperature", f"{reading} ({html_text(health.source)})"),
        ("Temperature compensation", f"{html_text(compensation['state'])}; {html_text(coefficient)}; {page_link}"),
    ]


def limits_text(state: FocuserState) -> str:
    if not state.calibrated:
        return "unknown until the focuser is calibrated"
    return f"device counts {state.low_limit} to {state.high_limit}; MaxStep {state.max_step}"


def calibration_text(state: FocuserState) -> str:
    status = state.calibration
    if status.running:
        return f"running for {status.elapsed_s:.0f} s: {html_text(status.message)}"
    text = "calibrated" if status.calibrated else "<span class=\"bad\">not calibrated</span>"
    return text + (f" ({html_text(status.message)})" if status.message else "")
