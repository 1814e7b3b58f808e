"""The JSON log: the server run as users run it, with log_format = "json", writes one JSON object
per line, and each request's line carries its ClientID, ClientTransactionID and the
ServerTransactionID of its reply."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import requests
from conftest import wait_for
from server_support import sim_port
from temperature_support import server_process

from alpaca_focuser.log_format import JsonLines


def test_every_line_is_json_and_a_request_carries_its_ids(tmp_path: Path) -> None:
    port, _ = sim_port(50)
    config = tmp_path / "config.toml"
    config.write_text(f'[server]\nlog_level = "DEBUG"\nlog_format = "json"\n\n[[focuser]]\nport = "{port}"\n')
    with server_process(config) as running:
        reply = requests.put(
            f"http://127.0.0.1:{running.port}/api/v1/focuser/0/action",
            data={"Action": "FocuserInfo", "ClientID": 4242, "ClientTransactionID": 17}, timeout=10,
        ).json()

        def request_line() -> dict[str, object] | None:
            lines = [json.loads(line) for line in running.log.read_text().splitlines() if line.strip()]
            return next((line for line in lines if line.get("ClientID") == 4242), None)

        line = wait_for(request_line, what="the request's log line")
    assert (line["ClientTransactionID"], line["ServerTransactionID"]) == (17, reply["ServerTransactionID"])
    assert (line["member"], line["method"], line["device"], line["level"]) == ("action", "PUT", "focuser 0", "DEBUG")
    assert line["time"].endswith("+00:00") and "ServerTransactionID=" in line["message"]


def test_client_text_cannot_break_a_line() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "name %s", ("evil\n{\"level\": \"ERROR\"}\ud800",), None)
    text = JsonLines().format(record)
    assert "\n" not in text and json.loads(text)["message"].startswith("name evil")
