"""The settings schema as the single source: the README's tables, the settings form, the template,
the command line and the port rules all follow from it."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest
import requests
from server_support import running_server

from alpaca_focuser.celestron.faults import LinkClosed
from alpaca_focuser.celestron.port_names import check_openable, port_problem
from alpaca_focuser.celestron.routes import Route, open_link
from alpaca_focuser.celestron.serial_lines import open_port
from alpaca_focuser.celestron.usb_probe import identify, probe
from alpaca_focuser.cli import serve
from alpaca_focuser.config import schema, settings_table

ROOT = Path(__file__).resolve().parent.parent
REFUSED_EVERYWHERE = ["spy:///x?file=/tmp/notes.txt", "loop://", "alt:///dev/ttyACM0?class=PosixPollSerial", "hwgrep://.*", "cp2110://0001:0002:00"]
NETWORK = ["socket://127.0.0.1:2000", "rfc2217://192.168.1.50:4000"]


def test_the_readme_tables_are_made_from_the_schema():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert settings_table.replaced(text) == text, "README.md is out of date: run python -m alpaca_focuser.config.settings_table"
    for table in ("server", "focuser"):
        for name in schema.names(table):
            assert f"| `{name}` |" in text


def test_the_template_lists_every_setting():
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    for table in ("server", "focuser"):
        for name in schema.names(table):
            assert re.search(rf"^(# )?{name} = ", text, re.MULTILINE), f"config.toml does not show {name}"


def test_the_form_shows_every_setting_a_client_may_change_and_no_other():
    with running_server() as running:
        page = requests.get(f"{running.url}/setup/v1/focuser/0/setup", timeout=5).text
    shown = re.findall(r'data-setting="(\w+)"', page)
    assert shown == list(schema.client_settings())
    assert "port" in shown and "route" in shown and "rtscts" in shown


def test_client_settings_and_port_settings_come_from_the_declarations():
    assert schema.client_settings() == ("name", "port", "route", "baud", "share", "rtscts", "reverse", "backlash_steps", "backlash_direction", "settle_ms",
                                        "step_size_um", "client_lease_s", "camera", "camera_unreachable")
    assert schema.port_settings() == ("port", "route", "baud", "source", "share", "rtscts")
    assert schema.entry("focuser", "tempcomp_max_step").default == 200
    assert not schema.entry("focuser", "tempcomp_max_step").spec.client


@pytest.mark.parametrize("port", REFUSED_EVERYWHERE)
def test_url_handlers_that_reach_beyond_a_serial_port_are_refused_everywhere(port):
    assert port_problem(port, client=False)
    assert port_problem(port, client=True)
    with pytest.raises(ValueError, match="not opened by this server"):
        check_openable(port)


@pytest.mark.parametrize("port", NETWORK)
def test_network_ports_come_from_the_owner_only(port):
    assert port_problem(port, client=False) is None
    assert "may be set in the configuration file or on the command line" in (port_problem(port, client=True) or "")


@pytest.mark.parametrize(("port", "allowed"), [
    ("/dev/ttyACM0", True), ("/dev/serial/by-id/usb-Celestron-if00", True), ("COM5", True), ("auto", True), ("sim://", True),
    ("sim://bench?time_scale=10", True), ("/dev/../home/pi/notes.txt", False), ("/home/pi/notes.txt", False), ("dev/ttyACM0", False),
    ("sim://x?state_file=/home/pi/notes.txt", False), ("/dev/ttyACM0\nforged", False), ("", False),
])  # fmt: skip
def test_what_a_client_may_name_as_a_port(port, allowed):
    assert (port_problem(port, client=True) is None) == allowed


def test_a_route_refuses_a_scheme_it_does_not_allow_before_opening_anything(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("keep me", encoding="utf-8")
    with pytest.raises(LinkClosed, match="spy:// ports are not opened"):
        open_link(Route(f"spy:///x?file={notes}"))
    with pytest.raises(LinkClosed, match="socket:// ports are not opened"):
        open_link(Route("socket://127.0.0.1:9", schemes=frozenset({"sim"})))
    assert notes.read_text(encoding="utf-8") == "keep me"


def test_every_opening_of_a_port_checks_its_scheme(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("keep me", encoding="utf-8")
    spy = f"spy:///x?file={notes}"
    assert "not opened by this server" in probe(spy, timeout=0.1).reason
    assert "not opened by this server" in identify(spy, timeout=0.1).description
    with pytest.raises(ValueError, match="not opened by this server"):
        open_port(spy, 9600, 0.1)
    assert notes.read_text(encoding="utf-8") == "keep me"


def test_the_command_line_checks_by_the_schema():
    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    args = parser.parse_args(["--port", "socket://127.0.0.1:2000", "--route", "Mount", "--log-level", "debug"])
    assert (args.port, args.route, args.log_level) == (["socket://127.0.0.1:2000"], "mount", "DEBUG")
    for bad in (["--port", "spy:///x?file=/tmp/a"], ["--port", "loop://"], ["--route", "wifi"], ["--bind", "not an address"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


def test_every_problem_is_reported_at_once_with_what_the_value_must_be():
    with pytest.raises(schema.SettingsRefused) as refused:
        schema.check("focuser", {"backlash_steps": 70000, "name": "", "settle_ms": 1.5, "route": "wifi", "reverse": 1}, schema.CLIENT)
    lines = [problem.for_client() for problem in refused.value.problems]
    assert lines == [
        'name: "" is not accepted; it must be non-empty text of at most 200 characters, without control characters',
        'route: "wifi" is not accepted; it must be one of "usb", "mount", "hc"',
        "reverse: 1 is not accepted; it must be true or false",
        "backlash_steps: 70000 is not accepted; it must be a whole number from 0 to 65535 (steps)",
        "settle_ms: 1.5 is not accepted; it must be a whole number from 0 to 60000 (milliseconds)",
    ]
