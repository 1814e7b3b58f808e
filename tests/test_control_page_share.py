"""The control page in a real browser (headless Chromium) names who uses the shared mount port:
nobody, then the mount program that connected, then nobody again when it left."""

from __future__ import annotations

import socket
from typing import Any

from browser_support import chromium_fixture, desktop_page_fixture, expect  # noqa: F401
from mount_support import FAST, running_mount
from server_support import running_server
from share_support import tcp_share

from alpaca_focuser.settings import FocuserSettings


def test_the_control_page_shows_who_uses_the_shared_port(desktop_page: Any) -> None:
    share, port = tcp_share()
    with running_mount(50) as mount, running_server([FocuserSettings(name="Shared", port=mount.hc_path, route="hc", share=share,
                                                                     **FAST)]) as running:
        page = desktop_page
        page.goto(f"{running.url}/control/v1/focuser/0/")
        line = page.locator("#info-share")
        expect(line).to_have_text(f"at TCP 127.0.0.1:{port}: no mount program connected", timeout=15_000)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as program:
            program.sendall(b"V")
            assert program.recv(3)
            expect(line).to_have_text(f"at TCP 127.0.0.1:{port}: used by 127.0.0.1:{program.getsockname()[1]} over TCP",
                                      timeout=15_000)
        expect(line).to_have_text(f"at TCP 127.0.0.1:{port}: no mount program connected", timeout=15_000)
