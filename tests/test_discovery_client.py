"""``alpaca-focuser discover`` against a real responder and a real HTTP management API on loopback."""

from __future__ import annotations

import argparse
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import free_port
from server_support import running_server
from temperature_support import weather_station
from test_discovery import run_in_net_namespace

from alpaca_focuser.network import client
from alpaca_focuser.network.client import Answer, Device, Found
from alpaca_focuser.network.responder import DiscoveryResponder

DESCRIPTION = {"ServerName": "Dome Pi", "Manufacturer": "Test Maker", "ManufacturerVersion": "9.8",
               "Location": "Backyard"}
DEVICES = [
    {"DeviceName": "Main focuser", "DeviceType": "Focuser", "DeviceNumber": 0, "UniqueID": "5f1c0a9e-0001"},
    {"DeviceName": "Guide focuser", "DeviceType": "Focuser", "DeviceNumber": 1, "UniqueID": "5f1c0a9e-0002"},
]


class ManagementHandler(BaseHTTPRequestHandler):
    """The two management endpoints the discovery client reads, with the Alpaca envelope."""

    values = {"/management/v1/description": DESCRIPTION, "/management/v1/configureddevices": DEVICES}

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        value = self.values.get(self.path.split("?", 1)[0])
        if value is None:
            self.send_error(404)
            return
        body = json.dumps({"Value": value, "ClientTransactionID": 0, "ServerTransactionID": 1,
                           "ErrorNumber": 0, "ErrorMessage": ""}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class ManagementServer:
    def __init__(self) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), ManagementHandler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ManagementServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def http_server() -> Iterator[ManagementServer]:
    with ManagementServer() as server:
        yield server


@pytest.fixture
def discovery_port() -> int:
    return free_port(socket.SOCK_DGRAM)


@pytest.fixture
def responder(http_server: ManagementServer, discovery_port: int) -> Iterator[DiscoveryResponder]:
    server = DiscoveryResponder(http_port=http_server.port, port=discovery_port, bind="127.0.0.1")
    server.start()
    yield server
    server.stop()


def run_discover(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    client.add_arguments(parser)
    return client.run(parser.parse_args(list(argv)))


def test_discover_reads_the_servers_description_and_devices(responder, http_server, discovery_port):
    servers = client.discover(["127.0.0.1", "127.255.255.255"], port=discovery_port, timeout=0.5)
    assert len(servers) == 1, "two probes reaching one server give one entry"
    server = servers[0]
    assert server.error == ""
    assert server.urls == [f"http://127.0.0.1:{http_server.port}"]
    assert server.description == DESCRIPTION
    assert server.devices == [Device(d["DeviceType"], d["DeviceNumber"], d["DeviceName"], d["UniqueID"])
                              for d in DEVICES]


def test_the_command_prints_each_device(responder, http_server, discovery_port, capsys):
    assert run_discover("--target", "127.0.0.1", "--port", str(discovery_port), "--timeout", "0.5") == 0
    out = capsys.readouterr().out
    assert f"Dome Pi at http://127.0.0.1:{http_server.port}" in out
    assert "Test Maker 9.8, location: Backyard" in out
    assert "Focuser 0: Main focuser (unique id 5f1c0a9e-0001)" in out
    assert "Focuser 1: Guide focuser (unique id 5f1c0a9e-0002)" in out


def test_discover_lists_the_real_servers_focusers(discovery_port, capsys):
    with running_server(focusers=2, discovery=True, discovery_port=discovery_port, name="Pier Pi") as running:
        assert run_discover("--target", "127.0.0.1", "--port", str(discovery_port), "--timeout", "0.5") == 0
        url, settings = running.url, running.server.settings.focusers
    out = capsys.readouterr().out
    assert f"Pier Pi at {url}" in out
    for number, focuser in enumerate(settings):
        assert f"Focuser {number}: {focuser.name} (simulated) (unique id {focuser.unique_id})" in out


def test_nothing_found_exits_1_and_says_what_to_check(discovery_port, capsys):
    assert run_discover("--target", "127.0.0.1", "--port", str(discovery_port), "--timeout", "0.3") == 1
    out = capsys.readouterr().out
    assert f"No Alpaca server answered discovery on UDP port {discovery_port}" in out
    assert "probes sent to 127.0.0.1" in out
    assert f"firewall on the server may block UDP port {discovery_port}" in out
    assert "another subnet" in out and "--target" in out


def test_a_server_whose_management_api_fails_is_still_listed_with_the_reason(discovery_port, capsys):
    closed_http_port = free_port()
    server = DiscoveryResponder(http_port=closed_http_port, port=discovery_port, bind="127.0.0.1")
    server.start()
    try:
        assert run_discover("--target", "127.0.0.1", "--port", str(discovery_port), "--timeout", "0.5") == 0
    finally:
        server.stop()
    out = capsys.readouterr().out
    assert f"http://127.0.0.1:{closed_http_port} answered discovery but not its management API" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["--target", "no-such-host.invalid"], "cannot use --target 'no-such-host.invalid'"),
    (["--interface", "no-such-interface0"], "no network interface named no-such-interface0; this machine has"),
])
def test_a_bad_target_or_interface_is_refused_before_probing(argv, message, capsys):
    assert run_discover(*argv) == 2
    assert message in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["--timeout", "0"], "must be more than 0 seconds"),
    (["--port", "70000"], "is not a port number from 1 to 65535"),
])
def test_bad_options_are_explained(argv, message, capsys):
    with pytest.raises(SystemExit):
        run_discover(*argv)
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(("datagram", "port"), [
    (b'{"AlpacaPort":11111}', 11111),
    (b'{"AlpacaPort": 4567, "Extra": true}', 4567),
    (b'{"alpacaport":11111}', None),
    (b'{"AlpacaPort":true}', None),
    (b'{"AlpacaPort":0}', None),
    (b'{"AlpacaPort":"11111"}', None),
    (b"[11111]", None),
    (b"\xff\xfe", None),
    (b"alpacadiscovery1", None),
])
def test_only_a_valid_discovery_reply_counts(datagram, port):
    assert client.parse_reply(datagram) == port


def test_loopback_interface_targets_its_broadcast_address_only():
    labels = [target.label for target in client.interface_targets(["lo"])]
    assert "127.255.255.255 (lo)" in labels
    assert "255.255.255.255" not in labels


def test_one_server_answering_on_two_addresses_is_listed_once():
    devices = [Device("Focuser", 0, "F", "uid-1")]
    v4 = Found([Answer("127.0.0.1", 11111)], devices=list(devices))
    v6 = Found([Answer("::1", 11111)], devices=list(devices))
    other = Found([Answer("127.0.0.2", 22222)], devices=[Device("Focuser", 0, "G", "uid-2")])
    merged = client.merge_same_servers([v4, v6, other])
    assert [server.urls for server in merged] == [
        ["http://127.0.0.1:11111", "http://[::1]:11111"], ["http://127.0.0.2:22222"]]


def test_discover_without_a_target_finds_the_server_through_loopback_broadcast():
    """Probes every interface, so it runs in a network namespace with nothing but loopback."""
    result = run_in_net_namespace("""
        import argparse
        from alpaca_focuser.network import client
        from alpaca_focuser.network.responder import DiscoveryResponder
        from test_discovery_client import ManagementServer
        with ManagementServer() as http_server:
            responder = DiscoveryResponder(http_port=http_server.port)
            responder.start()
            try:
                parser = argparse.ArgumentParser()
                client.add_arguments(parser)
                code = client.run(parser.parse_args(["--timeout", "1"]))
            finally:
                responder.stop()
            print(f"exit {code} port {http_server.port}")
    """)
    last_line = result.stdout.strip().splitlines()[-1]
    port = last_line.split()[-1]
    assert last_line.startswith("exit 0 ")
    assert f"Dome Pi at http://127.0.0.1:{port}" in result.stdout
    assert "Focuser 1: Guide focuser (unique id 5f1c0a9e-0002)" in result.stdout


@pytest.mark.parametrize(
    "options, says",
    [
        ({"redirect": "http://127.0.0.1:9/management/v1/description"}, "redirects are not followed"),
        ({"body": b'{"Value": ' + b"[" * 100 + b"]" * 100 + b"}"}, "JSON nested deeper than any Alpaca reply"),
        ({"body": b" " * 20_000 + b"{}"}, "more than 16 KiB"),
    ],
)
def test_a_server_that_answers_strangely_is_reported_not_followed(options: dict[str, object], says: str) -> None:
    """The management API is read through the bounded outbound client, as the temperature source is."""
    with weather_station(**options) as (station, port):
        found = client.describe(Answer("127.0.0.1", port), timeout=2.0)
    assert found.error is not None and says in found.error and "\n" not in found.error
    assert len(station.requests) == 1  # asked once, and nothing followed
