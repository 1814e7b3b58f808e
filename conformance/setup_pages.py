"""The HTML setup pages, which ConformU never requests but users open from their clients.

N.I.N.A. and other clients have a button that opens the device's setup page in a browser, and
``/setup`` is the server's front page. The Alpaca management specification wants both as HTML; a
page served as JSON shows the user a wall of text. A wrong page is an ISSUE (beyond ConformU).
"""

from __future__ import annotations

from .client import Reply, ServerUnreachable, Transport, TransportFailure
from .discovery_probe import DiscoveryProbe

HTML_MARKERS = ("<!doctype html", "<html")


def looks_like_html(reply: Reply) -> bool:
    start = reply.text.lstrip()[:512].lower()
    return any(marker in start for marker in HTML_MARKERS)


def check_setup_pages(run: DiscoveryProbe) -> None:
    url = run.url
    transport = Transport(url.host, url.port, run.options.timeout, run.deadline)
    pages = (
        ("Setup page - Server", "/setup"),
        ("Setup page - Device", f"/setup/v1/{url.device_type}/{url.device_number}/setup"),
    )
    for test, path in pages:
        try:
            reply = transport.request("GET", path)
        except (TransportFailure, ServerUnreachable) as exc:
            run.log.error(test, str(exc))
            continue
        media = reply.content_type.split(";")[0].strip().lower()
        shown = f"GET {path} returned HTTP {reply.status} with {reply.content_type or 'no Content-Type header'}"
        if reply.status != 200:
            run.log.issue(test, f"{shown}: {reply.excerpt(80)}; the setup page must answer 200 with an HTML page")
        elif media != "text/html" or not looks_like_html(reply):
            run.log.issue(
                test,
                f"{shown}: {reply.excerpt(80)}; the setup page must be an HTML page (Content-Type text/html), because "
                "clients open it in the user's browser",
            )
        else:
            run.log.ok(test, f"GET {path} is an HTML page")
