"""mDNS advertisement, resolved by a second, independent Zeroconf instance, on loopback only."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest
from conftest import free_port
from zeroconf import ServiceInfo, Zeroconf

from alpaca_focuser.network.mdns import MdnsAdvertiser, instance_label

REGISTRATION_TIMEOUT_S = 20


@pytest.fixture
def browser() -> Iterator[Zeroconf]:
    zc = Zeroconf(interfaces=["127.0.0.1"])
    yield zc
    zc.close()


def resolve(zc: Zeroconf, service_type: str, name: str, timeout_ms: int = 3000) -> ServiceInfo | None:
    info = ServiceInfo(service_type, f"{name}.{service_type}")
    return info if info.request(zc, timeout_ms) else None


def test_the_server_and_its_setup_page_are_advertised_on_loopback(browser):
    name = f"Focuser test {uuid.uuid4().hex[:8]}"
    http_port = free_port()
    advertiser = MdnsAdvertiser(name, http_port, "127.0.0.1", devices=["focuser 0", "focuser 1"])
    advertiser.start()
    try:
        assert advertiser.wait(REGISTRATION_TIMEOUT_S)
        alpaca = resolve(browser, "_alpaca._tcp.local.", name)
        assert alpaca is not None, "the _alpaca._tcp service did not resolve"
        assert alpaca.port == http_port
        assert alpaca.parsed_addresses() == ["127.0.0.1"]
        assert alpaca.properties[b"api"] == b"/api/v1"
        assert alpaca.properties[b"setup"] == b"/setup"
        assert alpaca.properties[b"devices"] == b"2"
        setup = resolve(browser, "_http._tcp.local.", name)
        assert setup is not None, "the _http._tcp service did not resolve"
        assert setup.port == http_port
        assert setup.properties[b"path"] == b"/setup"
    finally:
        advertiser.stop()
        advertiser.stop()
    assert resolve(browser, "_alpaca._tcp.local.", name, timeout_ms=1000) is None, "withdrawn on stop"


def test_a_failing_advertisement_only_warns(caplog):
    """192.0.2.10 is on no interface of this machine, so Zeroconf cannot open its sockets."""
    caplog.set_level(logging.WARNING, logger="alpaca_focuser.mdns")
    advertiser = MdnsAdvertiser("Unreachable", free_port(), "192.0.2.10", devices=1)
    advertiser.start()
    try:
        assert advertiser.wait(REGISTRATION_TIMEOUT_S) is False
    finally:
        advertiser.stop()
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert any("mDNS advertisement on 192.0.2.10 failed" in text and "server runs on" in text for text in warnings)


def test_a_long_name_is_cut_to_a_valid_instance_label():
    label = instance_label("Télescope " * 20)
    assert len(label.encode()) <= 63
    assert label.startswith("Télescope Télescope")
