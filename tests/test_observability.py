"""/metrics and /health through the real server: the Prometheus text (read back with
prometheus_client's own parser) agrees with what the Alpaca API says, /health follows the link
down and back up, and both are behind the password like the other pages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import wait_for
from prometheus_client.parser import text_string_to_metric_families
from server_support import RunningServer, running_server, sim_port
from temperature_support import write_temperature

from alpaca_focuser.passwords import MIN_ITERATIONS, hash_password
from alpaca_focuser.settings import FocuserSettings


def alpaca(running: RunningServer, method: str, member: str, number: int = 0, client: int = 5, **data: Any) -> Any:
    ids = {"ClientID": client, "ClientTransactionID": 1}
    if method == "GET":
        response = requests.get(running.api(member, number), params=ids, timeout=10)
    else:
        response = requests.put(running.api(member, number), data={**data, **ids}, timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ErrorNumber"] == 0, body["ErrorMessage"]
    return body.get("Value")


def scrape(running: RunningServer) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of /metrics by (name, labels)."""
    response = requests.get(f"{running.url}/metrics", timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def sample(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


@pytest.fixture
def temperature_file(tmp_path: Path) -> Path:
    path = tmp_path / "temperature"
    write_temperature(path, 7.25)
    return path


@pytest.fixture
def server(temperature_file: Path) -> Any:
    url, _ = sim_port(200)
    with_source = FocuserSettings(name="Warm", port=url, temperature=f"file:{temperature_file}", temperature_average_s=0.1, temperature_stale_s=3600)
    other, _ = sim_port(200)
    with running_server([with_source, FocuserSettings(name="Plain", port=other)]) as running:
        yield running


def test_metrics_agree_with_the_alpaca_api(server: RunningServer) -> None:
    alpaca(server, "PUT", "connect", client=5)
    alpaca(server, "PUT", "connect", client=6)
    alpaca(server, "PUT", "move", client=5, Position=12345)
    wait_for(lambda: not alpaca(server, "GET", "ismoving"), what="the move to end")
    wait_for(lambda: sample(scrape(server), "alpaca_focuser_temperature_celsius", focuser="0") is not None, what="a temperature")
    samples = scrape(server)
    info = json.loads(alpaca(server, "PUT", "action", Action="FocuserInfo"))
    for number in ("0", "1"):
        assert sample(samples, "alpaca_focuser_position", focuser=number) == alpaca(server, "GET", "position", int(number))
        assert sample(samples, "alpaca_focuser_moving", focuser=number) == int(alpaca(server, "GET", "ismoving", int(number)))
        assert sample(samples, "alpaca_focuser_link_up", focuser=number) == 1
    assert sample(samples, "alpaca_focuser_position", focuser="0") == 12345
    assert sample(samples, "alpaca_focuser_clients", focuser="0") == 2
    assert sample(samples, "alpaca_focuser_link_reconnects_total", focuser="0") == info["link"]["reconnects"] == 0
    assert sample(samples, "alpaca_focuser_aux_frames_total", focuser="0", direction="sent") > 0
    assert sample(samples, "alpaca_focuser_moves_total", focuser="0", reason="client") == 1
    assert sample(samples, "alpaca_focuser_moves_total", focuser="0", reason="preset") == 0
    assert sample(samples, "alpaca_focuser_temperature_celsius", focuser="0") == alpaca(server, "GET", "temperature") == 7.25
    assert sample(samples, "alpaca_focuser_temperature_celsius", focuser="1") is None  # no source, no temperature

    before = sample(scrape(server), "alpaca_focuser_http_requests_total", focuser="1", member="position", method="GET", status="200") or 0
    for _ in range(3):
        alpaca(server, "GET", "position", 1)
    requests.put(server.api("move", 1), data={"Position": "12345", "ClientID": 77}, timeout=10)  # 77 never connected: fine
    requests.put(server.api("move", 1), data={"Position": "far"}, timeout=10)  # 400
    requests.get(f"{server.url}/api/v1/focuser/9/made-up", timeout=10)  # 400, no new label values
    requests.put(server.api("tempcomp", 1), data={"TempComp": "true"}, timeout=10)  # NotImplemented 0x400
    samples = scrape(server)
    assert sample(samples, "alpaca_focuser_http_requests_total", focuser="1", member="position", method="GET", status="200") == before + 3
    assert sample(samples, "alpaca_focuser_http_requests_total", focuser="1", member="move", method="PUT", status="400") == 1
    assert sample(samples, "alpaca_focuser_http_requests_total", focuser="unknown", member="unknown", method="GET", status="400") == 1
    assert sample(samples, "alpaca_focuser_alpaca_errors_total", focuser="1", member="tempcomp", error="0x400") == 1


def test_health_follows_the_port_going_and_coming_back(server: RunningServer) -> None:
    response = requests.get(f"{server.url}/health", timeout=10)
    assert response.status_code == 200
    assert [(f["focuser"], f["ok"], f["link"], f["connected"]) for f in response.json()["focusers"]] == [(0, True, True, True), (1, True, True, True)]
    server.motor(1).set_fault("unplug")
    failing = wait_for(lambda: (r := requests.get(f"{server.url}/health", timeout=10)).status_code == 503 and r.json(), what="/health to fail")
    assert failing["status"] == "failing"
    assert failing["focusers"][1]["ok"] is False and failing["focusers"][1]["last_error"] and failing["focusers"][0]["ok"] is True
    samples = scrape(server)  # still answered at once, from memory
    assert sample(samples, "alpaca_focuser_link_up", focuser="1") == 0
    server.motor(1).set_fault("unplug", on=False)
    wait_for(lambda: requests.get(f"{server.url}/health", timeout=10).status_code == 200, timeout=30, what="/health to recover")
    assert sample(scrape(server), "alpaca_focuser_link_reconnects_total", focuser="1") == 1


def test_a_scrape_never_touches_the_serial_line() -> None:
    url, _ = sim_port(50)
    with running_server([FocuserSettings(name="Quiet", port=url, poll_idle_ms=60_000)]) as running:
        focuser = running.focuser()
        seen: list[object] = []

        def quiet() -> bool:  # the connect's reads and the first idle poll are over: the line stays silent
            seen.append(focuser.link_stats)
            return focuser.state.activity == "idle" and len(seen) > 20 and all(stats == seen[-1] for stats in seen[-20:])

        wait_for(quiet, interval=0.01, what="the line to fall quiet")
        before = focuser.link_stats
        for _ in range(20):
            scrape(running)
            assert requests.get(f"{running.url}/health", timeout=10).status_code == 200
        assert focuser.link_stats == before  # not one request more on the line


def test_a_released_focuser_is_healthy() -> None:
    with running_server() as running:
        alpaca(running, "PUT", "connect", client=3)
        alpaca(running, "PUT", "disconnect", client=3)  # the last client leaves: the port is released on purpose
        wait_for(lambda: running.focuser().state.activity == "off", what="the port to be released")
        response = requests.get(f"{running.url}/health", timeout=10)
        assert response.status_code == 200 and response.json()["focusers"][0]["link"] is False


def test_metrics_and_health_need_the_password_like_the_pages() -> None:
    with running_server(password_hash=hash_password("s3cret", MIN_ITERATIONS)) as running:
        for path in ("/metrics", "/health"):
            assert requests.get(f"{running.url}{path}", timeout=10).status_code == 401
            assert requests.get(f"{running.url}{path}", auth=("prometheus", "s3cret"), timeout=10).status_code == 200
