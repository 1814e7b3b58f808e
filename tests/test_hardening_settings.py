"""SetSettings through the real server, against the ways a client could misuse it: a port URL that
writes a file or connects out, text that would forge log lines or break a reply, values no
parser expects. Every refusal changes nothing: no file, no setting, no connection."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import free_port
from test_actions import saved_focuser, server_from_config, write_config
from test_control_page_actions import INVALID_VALUE, put_action, value

from alpaca_focuser.config import ConfigFile

CONFIG_OR_COMMAND_LINE = "socket:// and rfc2217:// ports may be set in the configuration file or on the command line"


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_config(tmp_path)


def test_a_spy_url_leaves_the_file_intact_and_the_configuration_unchanged(config_path, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my observing notes\n", encoding="utf-8")
    with server_from_config(config_path) as server:
        before_file, before = config_path.read_bytes(), value(put_action(server.url, "Settings"))
        body = put_action(server.url, "SetSettings", {"port": f"spy:///x?file={notes}"})
        assert body["ErrorNumber"] == INVALID_VALUE
        assert body["ErrorMessage"].startswith("SetSettings: Nothing was changed")
        assert CONFIG_OR_COMMAND_LINE in body["ErrorMessage"]
        assert value(put_action(server.url, "Settings")) == before
    assert notes.read_text(encoding="utf-8") == "my observing notes\n"
    assert config_path.read_bytes() == before_file


@pytest.mark.parametrize("port", ["loop://", "socket://127.0.0.1:2000", "rfc2217://127.0.0.1:2217", "alt:///dev/ttyACM0?class=Serial",
                                  "hwgrep://.*", "cp2110://0001:0002:00", "SPY:///dev/ttyACM0", "sim://x?state_file=/tmp/focuser-state"])
def test_a_client_cannot_set_a_url_port(config_path, port):
    with server_from_config(config_path) as server:
        before_file = config_path.read_bytes()
        body = put_action(server.url, "SetSettings", {"settings": {"port": port}, "force": True})
        assert body["ErrorNumber"] == INVALID_VALUE
        assert body["ErrorMessage"].splitlines()[1].startswith("port: ")
    assert config_path.read_bytes() == before_file


def test_a_network_port_is_accepted_from_the_configuration_file(config_path):
    text = config_path.read_text(encoding="utf-8")
    start = text.index('port = "sim://')
    end = text.index("\n", start)
    config_path.write_text(text[:start] + f'port = "socket://127.0.0.1:{free_port()}"' + text[end:], encoding="utf-8")
    assert ConfigFile.load(config_path).settings.focusers[0].port.startswith("socket://127.0.0.1:")


def test_a_client_may_set_a_device_path_auto_and_the_simulator(config_path):
    with server_from_config(config_path) as server:
        port = saved_focuser(config_path)["port"]
        for good in ("/dev/ttyNO-SUCH-PORT", "auto"):  # accepted as values; the focuser is not found there
            assert put_action(server.url, "SetSettings", {"port": good})["ErrorNumber"] != INVALID_VALUE
        assert value(put_action(server.url, "SetSettings", {"port": port}))["port"] == port
    assert saved_focuser(config_path)["port"] == port


@pytest.mark.parametrize(
    "parameters",
    [
        '{"name": "\\ud800"}',
        '{"name": "a\\u0000b"}',
        '{"port": "\\udfff"}',
        '{"\\ud800": 1}',
        json.dumps({"name": "x" * 3000}),
        '{"name": {"a": {"b": [1, 2, {"c": null}]}}}',
        '{"settle_ms": 1e999}',
        '{"settle_ms": -1e999}',
        '{"settle_ms": NaN}',
        '{"backlash_steps": 123456789012345678901234567890}',
        '{"settings": {"name": "\\ud800"}, "force": "\\ud800"}',
        '{"settings": "\\ud800"}',
        "\ud800",
        "[1, 2]",
    ],
)
def test_no_value_gets_http_500(config_path, parameters):
    with server_from_config(config_path) as server:
        before_file = config_path.read_bytes()
        reply = requests.put(
            f"{server.url}/api/v1/focuser/0/action",
            data={"Action": "SetSettings", "Parameters": parameters.encode("utf-8", "surrogatepass")},
            timeout=5,
        )
        assert reply.status_code in (200, 400), reply.status_code
        if reply.status_code == 400:
            assert reply.text.strip()
        else:
            body = reply.json()
            assert body["ErrorNumber"] == INVALID_VALUE
            assert body["ErrorMessage"].startswith("SetSettings: ")
            reply.content.decode("utf-8")  # valid UTF-8 throughout
    assert config_path.read_bytes() == before_file


def test_a_line_break_in_a_name_never_starts_a_line_in_the_log(config_path, caplog):
    caplog.set_level(logging.DEBUG)
    forged = "Garden\n2026-12-01 21:00:00 INFO alpaca_focuser.server: FORGED"
    with server_from_config(config_path) as server:
        body = put_action(server.url, "SetSettings", {"name": forged})
        assert body["ErrorNumber"] == INVALID_VALUE
        assert "Garden\\n2026" in body["ErrorMessage"]
        logging.getLogger("alpaca_focuser.device").info("Renamed to %s", forged)
    messages = [record.getMessage() for record in caplog.records]
    assert any("Garden\\n2026" in message for message in messages)
    assert not any("\nFORGED" in message or "\n2026" in message for message in messages)
    assert saved_focuser(config_path)["name"] != forged


def test_every_bad_field_is_answered_at_once_and_nothing_changes(config_path):
    with server_from_config(config_path) as server:
        before = value(put_action(server.url, "Settings"))
        changes: dict[str, Any] = {"name": "", "port": "loop://", "backlash_steps": 70000, "settle_ms": "soon", "step_size_um": 0,
                                   "reverse": "yes", "unique_id": "mine", "colour": "red", "baud": 9600}
        body = put_action(server.url, "SetSettings", changes)
        assert body["ErrorNumber"] == INVALID_VALUE
        first, *lines = body["ErrorMessage"].splitlines()
        assert first == "SetSettings: Nothing was changed, because 8 settings are not accepted:"
        assert sorted(line.split(":", 1)[0] for line in lines) == sorted(["name", "port", "backlash_steps", "settle_ms", "step_size_um", "reverse",
                                                                            "unique_id", "colour"])
        assert value(put_action(server.url, "Settings")) == before


def test_a_port_that_does_not_answer_changes_nothing_and_force_saves_it(config_path):
    with server_from_config(config_path) as server:
        before = config_path.read_bytes()
        refused = put_action(server.url, "SetSettings", {"port": "/dev/ttyNO-SUCH-PORT"})
        assert refused["ErrorNumber"] == 0x407, refused
        assert "Nothing was changed" in refused["ErrorMessage"] and "/dev/ttyNO-SUCH-PORT" in refused["ErrorMessage"]
        assert config_path.read_bytes() == before
        assert value(put_action(server.url, "FocuserInfo"))["connected"], "the working connection was dropped"
        saved = value(put_action(server.url, "SetSettings", {"settings": {"port": "/dev/ttyNO-SUCH-PORT"}, "force": True}))
        assert saved["port"] == "/dev/ttyNO-SUCH-PORT"
        assert "cannot be reached on /dev/ttyNO-SUCH-PORT" in saved["note"]
        assert "/dev/ttyNO-SUCH-PORT" in config_path.read_text()
        bad = put_action(server.url, "SetSettings", {"settings": {"settle_ms": 140}, "force": "yes"})
        assert bad["ErrorNumber"] == INVALID_VALUE
