"""The control page and the static files of the pages (``alpaca_focuser/web``).

The control page is plain HTML and JavaScript shipped inside the package: it reads its device
number from its own address and talks to the server through the Alpaca API and the vendor Actions,
like any other client. Nothing is fetched from the internet, because a dark site has no network.
"""

from __future__ import annotations

import mimetypes
from html import escape
from importlib import resources

import falcon

from .pages import find_served, page, send_html, send_no_such_device
from .served import ServedDevice

PACKAGE = "alpaca_focuser"  # the files are in its web/ folder (package data, see pyproject.toml)
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}

# The control page links the temperature page when it is installed (the script shows the link
# only for a focuser with a temperature source); without the page the link is left out.
TEMPERATURE_LINK = b'<a id="temperature-link" href="/web/temperature.html" hidden>Temperature</a>'


def web_file(name: str) -> bytes | None:
    """A file of the web folder by its plain name, or None (no sub-folders, no ``..``)."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    resource = resources.files(PACKAGE).joinpath("web", name)
    if not resource.is_file():
        return None
    return resource.read_bytes()


def control_path(served: ServedDevice) -> str:
    return f"/control/v1/{served.device_type}/{served.number}/"


class StaticFile:
    """``/web/{name}``: the pages' scripts, style sheet and pictures."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        data = web_file(name)
        if data is None:
            resp.status = falcon.HTTP_404
            resp.content_type = falcon.MEDIA_TEXT
            resp.text = f"There is no file {name!r} among the pages' files. The control page is at /control."
            return
        suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
        resp.content_type = CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
        resp.cache_control = ["no-cache"]  # a new version of the server must not run old scripts
        resp.data = data

    def on_head(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        self.on_get(req, resp, name)
        resp.data = b""


class ControlPage:
    """``/control/v1/focuser/{n}/``: the live control page of one device."""

    def __init__(self, devices: dict[str, list[ServedDevice]]) -> None:
        self._devices = devices

    def on_get(self, req: falcon.Request, resp: falcon.Response, device_type: str, device_number: str) -> None:
        served = find_served(self._devices, device_type, device_number)
        if served is None:
            send_no_such_device(resp, falcon.HTTP_404, device_type, device_number, "/control", "the control page")
            return
        if not req.path.endswith("/"):
            raise falcon.HTTPMovedPermanently(control_path(served))
        html = web_file("control.html")
        assert html is not None, "the control page is missing from the package"
        if web_file("temperature.html") is None:
            html = html.replace(TEMPERATURE_LINK, b"")
        resp.content_type = CONTENT_TYPES[".html"]
        resp.cache_control = ["no-cache"]
        resp.data = html


class DevicePicker:
    """``/control``: straight to the only focuser, or a list to pick one from."""

    def __init__(self, devices: dict[str, list[ServedDevice]]) -> None:
        self._devices = devices

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        served = [device for devices in self._devices.values() for device in devices]
        if len(served) == 1:
            raise falcon.HTTPSeeOther(control_path(served[0]))
        items = "".join(
            f'<li><a class="device" href="{control_path(device)}">{escape(device.device.name)}</a> ({escape(device.label)})</li>'
            for device in served
        )
        body = f"<ul>{items}</ul>" if items else "<p>This server has no devices.</p>"
        send_html(resp, falcon.HTTP_200, page("Choose a focuser", body + '<p><a href="/setup">Server page</a></p>'))


def add_control_routes(app: falcon.App[falcon.Request, falcon.Response], devices: dict[str, list[ServedDevice]]) -> None:
    picker = DevicePicker(devices)
    control = ControlPage(devices)
    app.add_route("/control", picker)
    app.add_route("/control/v1/{device_type}/{device_number}", control)
    app.add_route("/control/v1/{device_type}/{device_number}/", control)
    app.add_route("/web/{name}", StaticFile())
