"""Move history through the real server on the simulated focuser: each kind of move (a client's
Move, a preset, a jog, temperature compensation, a hand controller's) is recorded with its reason,
the ClientID that asked, where it went, and how it ended; and finished moves go to a rotating file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import wait_for
from device_support import make_bench
from server_support import RunningServer, running_server, sim_port
from temperature_support import write_temperature

from alpaca_focuser.device.history import FILE_LIMIT, MoveHistory
from alpaca_focuser.settings import FocuserSettings


def put(running: RunningServer, member: str, client: int, **data: Any) -> Any:
    response = requests.put(running.api(member), data={**data, "ClientID": client, "ClientTransactionID": 1}, timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ErrorNumber"] == 0, body["ErrorMessage"]
    return body.get("Value")


def history(running: RunningServer, parameters: str = "") -> list[dict[str, Any]]:
    text = put(running, "action", 1, Action="MoveHistory", Parameters=parameters)
    return json.loads(text)


def standing(running: RunningServer) -> None:
    wait_for(lambda: not running.focuser().state.moving, what="the focuser to stand")


def newest_ended(running: RunningServer, timeout: float = 10.0) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        moves = history(running)
        return moves[0] if moves and moves[0]["ended"] != "running" else None

    return wait_for(ended, timeout=timeout, what="the newest move to end")


@pytest.fixture
def temperature_file(tmp_path: Path) -> Path:
    path = tmp_path / "temperature"
    write_temperature(path, 10.0)
    return path


@pytest.fixture
def server(temperature_file: Path) -> Any:
    url, _ = sim_port(200)
    settings = FocuserSettings(
        name="History Focuser", port=url, temperature=f"file:{temperature_file}", tempcomp_steps_per_c=100.0,
        tempcomp_threshold_c=0.5, temperature_average_s=0.1, temperature_stale_s=3600,
    )  # fmt: skip
    with running_server([settings]) as running:
        yield running


def test_each_kind_of_move_is_recorded_with_its_reason_client_and_ending(server: RunningServer, temperature_file: Path) -> None:
    put(server, "move", 41, Position=20000)
    standing(server)
    move = newest_ended(server)
    assert (move["reason"], move["ClientID"], move["to"], move["ended"]) == ("client", 41, 20000, "landed")
    assert move["temperature"] == pytest.approx(10.0) and move["seconds"] >= 0 and move["started"].endswith("+00:00")

    put(server, "action", 42, Action="SavePreset", Parameters='{"slot": 1, "name": "Visual", "position": 21000}')
    put(server, "action", 42, Action="GotoPreset", Parameters="Visual")
    standing(server)
    move = newest_ended(server)
    assert (move["reason"], move["ClientID"], move["from"], move["to"], move["ended"]) == ("preset", 42, 20000, 21000, "landed")

    put(server, "action", 43, Action="Jog", Parameters="5")
    wait_for(lambda: server.focuser().state.position > 21000, what="the jog to turn the motor")
    put(server, "action", 43, Action="Jog", Parameters="0")
    standing(server)
    move = newest_ended(server)
    assert (move["reason"], move["ClientID"], move["from"], move["ended"]) == ("jog", 43, 21000, "halted")
    assert move["to"] > 21000 and "Jog 0" in move["message"]

    put(server, "tempcomp", 44, TempComp=True)
    before = server.focuser().state.position
    service = server.server.temperatures[0]
    assert service is not None
    wait_for(lambda: service.status()["tempcomp"]["anchor"] is not None, what="compensation to take its reference")
    write_temperature(temperature_file, 10.7)  # past the 0.5 °C threshold: 70 steps out
    move = wait_for(lambda: next((m for m in history(server)[:1] if m["reason"] == "tempcomp" and m["ended"] != "running"), None), what="the compensation move")
    put(server, "tempcomp", 44, TempComp=False)
    assert (move["reason"], move["ClientID"], move["from"], move["to"], move["ended"]) == ("tempcomp", 0, before, before + 70, "landed")
    assert move["temperature"] is not None and move["temperature"] > 10.0

    server.motor().external_move(server.motor().position + 400)  # the hand controller's buttons
    move = wait_for(lambda: next((m for m in history(server)[:1] if m["reason"] == "external" and m["ended"] == "landed"), None), what="the external move to settle")
    assert move["ClientID"] == 0 and move["to"] == server.focuser().state.position and move["from"] < move["to"]

    reasons = [m["reason"] for m in history(server)]
    assert reasons[:1] == ["external"] and {"client", "preset", "jog", "tempcomp"} <= set(reasons)
    assert [m["reason"] for m in history(server, "2")] == reasons[:2]


def test_a_halted_move_and_a_stalled_one_say_how_they_ended(server: RunningServer) -> None:
    put(server, "move", 7, Position=30000)
    wait_for(lambda: server.focuser().state.position > server.focuser().state.max_step // 100, what="the move to start")
    put(server, "halt", 7)
    assert newest_ended(server)["ended"] == "halted"
    server.motor().set_fault("stall")
    put(server, "move", 7, Position=server.focuser().state.position + 3000)
    move = newest_ended(server, timeout=30)
    server.motor().set_fault("stall", on=False)
    assert (move["ended"], move["ClientID"]) == ("stalled", 7)


def test_a_jog_cut_off_by_a_lost_link_says_so(server: RunningServer) -> None:
    put(server, "move", 9, Position=20000)
    standing(server)
    put(server, "action", 9, Action="Jog", Parameters="3")
    wait_for(lambda: server.focuser().state.position > 20000, what="the jog to turn the motor")
    server.motor().set_fault("unplug")
    wait_for(lambda: server.focuser().state.activity == "link lost", what="the link to drop")
    server.motor().set_fault("unplug", on=False)
    move = newest_ended(server, timeout=30)
    assert (move["reason"], move["ClientID"], move["ended"]) == ("jog", 9, "link lost")


def test_bad_parameters_get_a_clear_error(server: RunningServer) -> None:
    response = requests.put(server.api("action"), data={"Action": "MoveHistory", "Parameters": "-3"}, timeout=10)
    body = response.json()
    assert response.status_code == 200 and body["ErrorNumber"] == 0x401 and "limit must be 1 or more" in body["ErrorMessage"]


def test_finished_moves_are_appended_to_a_file_that_is_rotated(tmp_path: Path) -> None:
    path = tmp_path / "moves.jsonl"
    moves = MoveHistory(path, length=3)
    for number in range(5):
        moves.began("client", number, 0, 100, now=1.0, mono=float(number), reconnects=0)
        moves.finished(False, False, "", None, 100, mono=number + 0.5, reconnects=0)
    assert [m["ClientID"] for m in moves.recent()] == [4, 3, 2]  # bounded, newest first
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["ClientID"] for line in lines] == [0, 1, 2, 3, 4] and lines[0]["seconds"] == 0.5
    path.write_text("x" * (FILE_LIMIT + 1))
    moves.began("client", 9, 0, 100, now=1.0, mono=0.0, reconnects=0)
    moves.finished(True, False, "The motor stalled at position 50", None, 50, mono=1.0, reconnects=0)
    assert (tmp_path / "moves.jsonl.1").stat().st_size == FILE_LIMIT + 1
    assert json.loads(path.read_text())["ended"] == "stalled"


def test_the_history_outlives_a_restart_and_a_damaged_line(tmp_path: Path) -> None:
    path = tmp_path / "moves.jsonl"
    moves = MoveHistory(path, length=3)
    for number in (1, 2):
        moves.began("preset", number, 0, 100, now=1.0, mono=0.0, reconnects=0)
        moves.finished(False, False, "", None, 100, mono=1.0, reconnects=0)
    with path.open("a") as file:
        file.write("not json\n[1, 2]\n")
    again = MoveHistory(path, length=3)
    assert [(m["ClientID"], m["reason"], m["ended"]) for m in again.recent()] == [(2, "preset", "landed"), (1, "preset", "landed")]
    assert again.counts() == {}  # moves_total counts this run's moves only
    again.began("jog", 3, 0, None, now=2.0, mono=0.0, reconnects=0)
    again.began("jog", 4, 0, None, now=2.0, mono=0.0, reconnects=0)
    assert [m["ClientID"] for m in again.recent()] == [4, 3, 2]
    assert [m["ClientID"] for m in again.recent(1)] == [4]



def test_on_the_fake_clock_a_failed_calibration_a_replaced_move_and_a_halted_one_end_as_they_did() -> None:
    bench = make_bench(calibration_timeout_s=10.0)
    focuser = bench.focuser
    focuser.start_calibration(client=21)
    bench.settle(60)  # the calibration takes longer than it may: aborted as failed
    bench.motor.clear_faults()
    focuser.start_calibration(client=21)
    bench.run_until(lambda: bench.motor.calibrating, what="the second calibration to run")
    focuser.halt()
    calibrated = make_bench()
    focuser = calibrated.focuser
    focuser.move(9000, client=22)
    calibrated.until_running()
    focuser.move(2000, client=23)  # a new Move replaces the one under way
    calibrated.settle()
    bench.settle()
    moves = bench.focuser.history.recent() + focuser.history.recent()
    assert [(m["reason"], m["ClientID"], m["ended"]) for m in moves] == [
        ("calibration", 21, "halted"), ("calibration", 21, "failed"), ("client", 23, "landed"), ("client", 22, "replaced"),
    ]
    assert "did not finish within 10 s" in moves[1]["message"] and moves[0]["message"] == "Calibration aborted: Halt."
    assert moves[2]["to"] == moves[2]["end"] == 2000 and moves[3]["target"] == 9000
