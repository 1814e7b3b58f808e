"""Settings changed through actions live in the configuration file: across restarts, with the
user's comments, never half-written, and never changed in the running server when saving fails."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import tomllib
from pathlib import Path

import pytest
import requests
from alpaca import management
from alpaca.exceptions import DriverException
from conftest import free_port, wait_for
from test_actions import action, connected_client, saved_focuser, server_from_config, settle, write_config

from alpaca_focuser.config import ConfigFile


def comment_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("#")]


def unique_id(port: int) -> str:
    return management.configureddevices(f"127.0.0.1:{port}")[0]["UniqueID"]


def test_settings_survive_a_restart(tmp_path):
    config_path = write_config(tmp_path)
    with server_from_config(config_path) as server:
        focuser = connected_client(server)
        first_id = unique_id(server.http_port)
        action(focuser, "SetBacklash", '{"steps": 350, "direction": "in"}')
        action(focuser, "SavePreset", '{"slot": 2, "name": "Visual", "position": 12000}')
        action(focuser, "SavePreset", '{"slot": 5, "name": "Bahtinov", "position": 15000}')
        action(focuser, "SetReverse", "true")
        presets = action(focuser, "Presets")
    with server_from_config(config_path) as server:
        focuser = connected_client(server)
        assert action(focuser, "GetBacklash") == {"steps": 350, "direction": "in"}
        assert action(focuser, "GetReverse") == {"reverse": True}
        assert action(focuser, "Presets") == presets
        assert [p["name"] for p in presets] == ["Visual", "Bahtinov"]
        assert unique_id(server.http_port) == first_id
        action(focuser, "GotoPreset", "Visual")
        settle(focuser)
        assert focuser.Position == presets[0]["position"] == focuser.MaxStep - 12000  # saved before reverse was set
    assert saved_focuser(config_path)["unique_id"] == first_id


def test_saving_keeps_the_comments_and_layout(tmp_path):
    config_path = write_config(tmp_path)
    original = config_path.read_text(encoding="utf-8")
    with server_from_config(config_path) as server:
        focuser = connected_client(server)
        action(focuser, "SetBacklash", '{"steps": 120, "direction": "out"}')
        action(focuser, "SavePreset", "Visual")
        action(focuser, "SavePreset", '{"slot": 3, "name": "Far", "position": 30000}')
        action(focuser, "DeletePreset", "Visual")
        action(focuser, "SetReverse", "true")
    saved = config_path.read_text(encoding="utf-8")
    assert comment_lines(saved) == comment_lines(original)
    assert saved.index("[server]") < saved.index("[[focuser]]") < saved.index("backlash_steps = 120") < saved.index("jog_timeout_s")
    changed = {"reverse", "backlash_steps", "backlash_direction", "unique_id", "presets"}
    untouched = [line for line in original.splitlines() if line.split("=")[0].strip() not in changed and not line.startswith(("{", " "))]
    assert all(line in saved.splitlines() for line in untouched)


def test_a_read_only_config_fails_the_change_and_keeps_the_old_value(tmp_path):
    config_path = write_config(tmp_path)
    with server_from_config(config_path) as server:
        focuser = connected_client(server)
        action(focuser, "SetBacklash", '{"steps": 100, "direction": "out"}')
        position = focuser.Position
        before = config_path.read_bytes()
        config_path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)  # refused even for root: the server checks the mode
        try:
            with pytest.raises(DriverException, match="read-only") as raised:
                focuser.Action("SetBacklash", '{"steps": 400, "direction": "in"}')
            assert "was not changed" in str(raised.value)
            assert action(focuser, "GetBacklash") == {"steps": 100, "direction": "out"}
            with pytest.raises(DriverException, match="read-only"):
                focuser.Action("SetReverse", "true")
            assert action(focuser, "GetReverse") == {"reverse": False}
            assert focuser.Position == position
            with pytest.raises(DriverException, match="read-only"):
                focuser.Action("SavePreset", "Visual")
            assert action(focuser, "Presets") == []
            assert config_path.read_bytes() == before
        finally:
            config_path.chmod(stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)
        assert action(focuser, "SetBacklash", '{"steps": 400}') == {"steps": 400, "direction": "out"}
        assert saved_focuser(config_path)["backlash_steps"] == 400


class _SaveLoop(threading.Thread):
    """Sends SetBacklash 1, 2, 3, ... one after another until the server goes away."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.acknowledged = 0
        self.failure = ""

    def run(self) -> None:
        with requests.Session() as session:
            steps = self.acknowledged + 1
            while True:
                try:
                    reply = session.put(self.url, data={"Action": "SetBacklash", "Parameters": json.dumps({"steps": steps})}, timeout=10).json()
                except requests.RequestException:
                    return
                if reply["ErrorNumber"] != 0:
                    self.failure = reply["ErrorMessage"]
                    return
                self.acknowledged = steps
                steps += 1


def _start_server_process(config_path: Path, port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "alpaca_focuser", "serve", "--config", str(config_path), "--http-port", str(port),
               "--bind", "127.0.0.1", "--no-discovery", "--no-mdns", "--log-level", "WARNING"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}/api/v1/focuser/0"

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the server exited early: {process.stderr.read().decode(errors='replace')}")
        try:
            return requests.get(f"{base}/connected", timeout=1).json()["Value"] is True
        except requests.RequestException:
            return False

    wait_for(ready, 20, "the server process to serve a connected focuser", interval=0.05)
    return process


@pytest.mark.parametrize("kill_after", [3, 20, 60])
def test_a_server_killed_while_saving_leaves_the_old_or_the_new_file(tmp_path, kill_after):
    config_path = write_config(tmp_path)
    ConfigFile.load(config_path)  # gives the focuser its UniqueID now, so each save only changes backlash
    port = free_port()
    process = _start_server_process(config_path, port)
    try:
        saves = _SaveLoop(f"http://127.0.0.1:{port}/api/v1/focuser/0/action")
        saves.start()
        wait_for(lambda: saves.acknowledged >= kill_after or saves.failure, 20, f"{kill_after} saves")
        assert not saves.failure, saves.failure
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        saves.join(10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        process.stderr.close()
    last = saves.acknowledged
    text = config_path.read_text(encoding="utf-8")
    saved = tomllib.loads(text)["focuser"][0]["backlash_steps"]
    assert saved in (last, last + 1), f"the file holds {saved}; the last acknowledged save was {last}"
    assert ConfigFile.load(config_path).settings.focusers[0].backlash_steps == saved
    assert "# Backlash compensation done by the server" in text
