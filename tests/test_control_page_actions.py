"""The Actions the settings form uses (Ports, Settings, SetSettings), over real HTTP as any client
would send them: every value is checked by the configuration's rules before anything changes."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from test_actions import saved_focuser, server_from_config, write_config

INVALID_VALUE = 0x401


def put_action(url: str, name: str, parameters: Any = None) -> dict[str, Any]:
    text = "" if parameters is None else parameters if isinstance(parameters, str) else json.dumps(parameters)
    return requests.put(f"{url}/api/v1/focuser/0/action", data={"Action": name, "Parameters": text}, timeout=5).json()


def value(body: dict[str, Any]) -> Any:
    assert body["ErrorNumber"] == 0, body["ErrorMessage"]
    return json.loads(body["Value"])


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"settle_ms": 300, "reverse": "yes"}, "reverse: \"yes\" is not accepted; it must be true or false"),
        ({"settle_ms": -1}, "settle_ms: -1 is not accepted; it must be a whole number from 0 to 60000"),
        ({"settle_ms": 300, "backlash_direction": "up"}, 'backlash_direction: "up" is not accepted; it must be one of "in", "out", "none"'),
        ({"settle_ms": 300, "port": "socket://telescope:2000"}, "socket:// and rfc2217:// ports may be set in the configuration file or on the command line"),
        ({"settle_ms": 300, "name": "   "}, "name: \"\" is not accepted; it must be non-empty text"),
        ({"settle_ms": 300, "unique_id": "x"}, "unique_id: may be changed only in the configuration file"),
        ({"settle_ms": 300, "route": "bus"}, 'route: "bus" is not accepted; it must be one of "usb", "mount", "hc"'),
        ({}, "expected a JSON object of settings"),
        ("120", "expected a JSON object of settings"),
    ],
)
def test_a_bad_setting_is_refused_by_name_and_nothing_changes(tmp_path, changes, named):
    config_path = write_config(tmp_path)
    with server_from_config(config_path) as server:
        before_file = config_path.read_bytes()
        before = value(put_action(server.url, "Settings"))
        body = put_action(server.url, "SetSettings", changes)  # a good settle_ms beside a bad value is not applied either
        assert body["ErrorNumber"] == INVALID_VALUE
        assert named in body["ErrorMessage"]
        assert "Nothing was changed" in body["ErrorMessage"]
        assert value(put_action(server.url, "Settings")) == before
        assert config_path.read_bytes() == before_file


def test_settings_round_trip_and_null_removes_the_step_size_from_the_file(tmp_path):
    config_path = write_config(tmp_path)
    with server_from_config(config_path) as server:
        saved = value(put_action(server.url, "SetSettings", {"Step_Size_UM": 3.75, "settle_ms": 40, "backlash_direction": "OUT", "name": "  Edge 8  "}))
        assert (saved["step_size_um"], saved["settle_ms"], saved["backlash_direction"], saved["name"]) == (3.75, 40, "out", "Edge 8")
        assert saved_focuser(config_path)["step_size_um"] == 3.75
        assert requests.get(f"{server.url}/api/v1/focuser/0/stepsize", timeout=5).json()["Value"] == 3.75
        cleared = value(put_action(server.url, "SetSettings", {"step_size_um": None}))
        assert cleared["step_size_um"] is None
        assert "step_size_um" not in saved_focuser(config_path)
        assert value(put_action(server.url, "Settings")) == cleared


def test_ports_lists_the_special_choices_and_the_configured_port(tmp_path):
    config_path = write_config(tmp_path)
    with server_from_config(config_path) as server:
        found = value(put_action(server.url, "Ports"))
        assert found["configured"] == saved_focuser(config_path)["port"]
        assert [choice["port"] for choice in found["special"]] == ["auto", "sim://"]
        assert all({"port", "device", "description", "usb_id", "focuser", "connected"} <= set(port) for port in found["ports"])


def test_a_route_that_cannot_reach_the_focuser_changes_nothing_and_says_why(tmp_path):
    config_path = write_config(tmp_path)
    with server_from_config(config_path) as server:
        before = saved_focuser(config_path)
        body = put_action(server.url, "SetSettings", {"route": "mount", "rtscts": True})
        assert body["ErrorNumber"] == 0x407, body  # the simulator has no modem lines to handshake with
        assert "Nothing was changed" in body["ErrorMessage"]
        assert "no RTS/CTS lines" in body["ErrorMessage"] and "set rtscts = false" in body["ErrorMessage"]
        assert saved_focuser(config_path) == before
        assert value(put_action(server.url, "Settings"))["route"] == "usb"
        assert value(put_action(server.url, "FocuserInfo"))["connected"], "the working connection was dropped"
        assert "rtscts" not in saved_focuser(config_path) or saved_focuser(config_path)["rtscts"] is False
