"""TempComp waits for the camera: a small Alpaca camera on loopback whose CameraState the test
sets holds a due compensation move while it exposes and lets it run between frames; a camera that
hangs or vanishes is reported, compensation falls back to moving (or waits, when configured so),
and a client's Move never waits on it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from browser_support import expect, launched_browser, opened_page
from camera_support import DOWNLOADING, EXPOSING, IDLE, alpaca_camera
from conftest import wait_for
from server_support import RunningServer, running_server, sim_port
from temperature_support import write_temperature

from alpaca_focuser.config.temperature_spec import parse_camera
from alpaca_focuser.settings import FocuserSettings


def put(running: RunningServer, member: str, **data: Any) -> Any:
    response = requests.put(running.api(member), data={**data, "ClientID": 12, "ClientTransactionID": 1}, timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ErrorNumber"] == 0, body["ErrorMessage"]
    return body.get("Value")


def status(running: RunningServer) -> dict[str, Any]:
    return dict(json.loads(put(running, "action", Action="TemperatureStatus"))["tempcomp"])


def compensation_moves(running: RunningServer) -> list[dict[str, Any]]:
    return [move for move in json.loads(put(running, "action", Action="MoveHistory")) if move["reason"] == "tempcomp"]


@pytest.fixture
def temperature_file(tmp_path: Path) -> Path:
    path = tmp_path / "temperature"
    write_temperature(path, 10.0)
    return path


@contextmanager
def compensating(temperature_file: Path, camera: str, unreachable: str = "move") -> Iterator[RunningServer]:
    url, _ = sim_port(200)
    settings = FocuserSettings(
        name="Imaging", port=url, temperature=f"file:{temperature_file}", tempcomp_steps_per_c=100.0, tempcomp_threshold_c=0.5,
        temperature_average_s=0.1, temperature_stale_s=3600, camera=camera, camera_unreachable=unreachable,
    )  # fmt: skip
    with running_server([settings]) as running:
        put(running, "move", Position=20000)
        wait_for(lambda: not running.focuser().state.moving, what="the first move")
        put(running, "tempcomp", TempComp=True)
        wait_for(lambda: status(running)["anchor"] == {"celsius": 10.0, "position": 20000}, what="compensation to take its reference")
        yield running


def test_a_compensation_move_waits_for_the_frame_then_runs_between_frames(temperature_file: Path) -> None:
    with alpaca_camera(state=EXPOSING) as camera:
        with compensating(temperature_file, camera.address) as running:
            write_temperature(temperature_file, 10.7)  # due: 70 steps out
            wait_for(lambda: status(running)["state"] == "held: camera exposing", what="the move to be held")
            assert compensation_moves(running) == [] and running.focuser().state.position == 20000
            camera.camera.state = DOWNLOADING
            wait_for(lambda: status(running)["state"] == "held: camera downloading", what="the hold through the download")
            assert compensation_moves(running) == []
            camera.camera.state = IDLE
            move = wait_for(lambda: next(iter(compensation_moves(running)), None), what="the move between frames")
            assert (move["from"], move["to"]) == (20000, 20070)
            assert status(running)["camera"]["problem"] == ""
            assert any(request.startswith("GET /api/v1/camera/0/camerastate") for request in camera.camera.requests)


def test_the_temperature_page_shows_the_hold(temperature_file: Path) -> None:
    with alpaca_camera(state=EXPOSING) as camera, compensating(temperature_file, camera.address) as running, launched_browser() as chromium:
        write_temperature(temperature_file, 10.7)
        with opened_page(chromium) as page:
            page.goto(f"{running.url}/web/temperature.html?focuser=0")
            expect(page.locator("#tempcomp")).to_contain_text("on (held: camera exposing)")
            expect(page.locator("#camera")).to_have_text(f"{camera.address}: exposing")
            camera.camera.state = IDLE
            expect(page.locator("#camera")).to_have_text(f"{camera.address}: between frames")
            expect(page.locator("#tempcomp")).to_contain_text("on (following the temperature)")
        assert [move["to"] for move in compensation_moves(running)] == [20070]


def test_a_camera_that_hangs_is_reported_and_compensation_moves_anyway(temperature_file: Path) -> None:
    with alpaca_camera(state=EXPOSING, hang=True) as camera:
        with compensating(temperature_file, camera.address) as running:
            put(running, "move", Position=20500)  # a client's Move never waits on the camera
            wait_for(lambda: not running.focuser().state.moving and running.focuser().state.position == 20500, what="the client's move")
            wait_for(lambda: "did not answer within" in (status(running)["camera"] or {}).get("problem", ""), what="the hang to be reported")
            write_temperature(temperature_file, 10.7)
            move = wait_for(lambda: next(iter(compensation_moves(running)), None), what="the fallback move")
            assert (move["from"], move["to"]) == (20500, 20570)


def test_a_vanished_camera_holds_compensation_when_told_to_wait(temperature_file: Path) -> None:
    with alpaca_camera(state=IDLE) as camera:
        with compensating(temperature_file, camera.address, unreachable="wait") as running:
            wait_for(lambda: (status(running)["camera"] or {}).get("read"), what="the camera's first answer")
            camera.vanish()
            wait_for(lambda: (status(running)["camera"] or {}).get("problem"), what="the camera to be missed")
            write_temperature(temperature_file, 10.7)
            wait_for(lambda: status(running)["state"].startswith("held: the camera cannot be read (cannot reach the camera"), what="the hold")
            assert compensation_moves(running) == []
            put(running, "action", Action="SetSettings", Parameters=json.dumps({"settings": {"camera_unreachable": "move"}}))
            move = wait_for(lambda: next(iter(compensation_moves(running)), None), what="the move once falling back is allowed")
            assert move["to"] == 20070


@pytest.mark.parametrize("text", ["http://127.0.0.1:11111/camera/0", "alpaca://127.0.0.1/camera/0", "alpaca://127.0.0.1:11111/focuser/0",
                                  "alpaca://127.0.0.1:11111/camera/0?x=1", "alpaca://user:pw@127.0.0.1:11111/camera/0"])
def test_a_camera_address_must_be_an_alpaca_camera(text: str) -> None:
    with pytest.raises(ValueError, match="alpaca://HOST:PORT/camera/N"):
        parse_camera(text)


def test_a_client_gets_a_clear_error_for_a_bad_camera_address() -> None:
    with running_server() as running:
        response = requests.put(running.api("action"), data={"Action": "SetSettings", "Parameters": '{"settings": {"camera": "ftp://x"}}'}, timeout=10)
        body = response.json()
        assert response.status_code == 200 and body["ErrorNumber"] == 0x401 and "alpaca://HOST:PORT/camera/N" in body["ErrorMessage"]
