"""Who may change things: web pages of other sites are refused, the optional password keeps the
pages (and, if asked, the API) to those who know it, and Alpaca clients keep working throughout.
All over real HTTP to the running server, with the headers browsers send."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from alpaca.exceptions import AlpacaRequestException
from alpaca.focuser import Focuser
from server_support import RunningServer, running_server

from alpaca_focuser.config import ConfigError, parse_settings
from alpaca_focuser.passwords import MIN_ITERATIONS, hash_password, verify_password

PASSWORD = "focus-at-dusk"
HASH = hash_password(PASSWORD, iterations=MIN_ITERATIONS)  # the fewest accepted iterations keep the tests quick
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def running() -> Iterator[RunningServer]:
    with running_server() as server:
        yield server


def own_origin(running: RunningServer) -> str:
    return f"http://127.0.0.1:{running.port}"


def backlash(running: RunningServer) -> str:
    return requests.put(running.api("action"), data={"Action": "GetBacklash"}).json()["Value"]


def set_backlash(running: RunningServer, headers: dict[str, str], steps: int = 77, **options: object) -> requests.Response:
    data = {"Action": "SetBacklash", "Parameters": f'{{"steps": {steps}, "direction": "out"}}'}
    return requests.put(running.api("action"), data=data, headers={**FORM, **headers}, **options)  # type: ignore[arg-type]


# --------------------------------------------------------------------- other web sites


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "http://127.0.0.1:1"},  # same host, another port: another site for a browser
        {"Origin": "null"},  # a sandboxed page or a local file
        {"Referer": "http://evil.example/attack.html"},
    ],
)
def test_a_change_sent_by_another_sites_page_is_refused_and_changes_nothing(running: RunningServer, headers: dict[str, str]) -> None:
    before = backlash(running)
    response = set_backlash(running, headers)
    assert response.status_code == 403
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "another site" in response.text
    assert backlash(running) == before


def test_a_move_from_another_site_is_refused(running: RunningServer) -> None:
    response = requests.put(running.api("move"), data={"Position": "100"}, headers={"Origin": "http://evil.example"})
    assert response.status_code == 403


@pytest.mark.parametrize("header", ["Origin", "Referer"])
def test_a_change_sent_by_the_servers_own_page_is_accepted(running: RunningServer, header: str) -> None:
    value = own_origin(running) + ("/control/v1/focuser/0/" if header == "Referer" else "")
    response = set_backlash(running, {header: value}, steps=55)
    assert response.status_code == 200 and response.json()["ErrorNumber"] == 0
    assert '"steps": 55' in backlash(running)
    set_backlash(running, {header: value}, steps=0)


def test_alpaca_clients_send_no_origin_and_are_unaffected(running: RunningServer) -> None:
    focuser = Focuser(f"127.0.0.1:{running.port}", 0)
    assert focuser.Name == "Test Focuser 0 (simulated)"
    focuser.Halt()


def test_another_site_may_read_but_not_change(running: RunningServer) -> None:
    response = requests.get(running.api("position"), headers={"Origin": "http://evil.example"})
    assert response.status_code == 200


def test_a_page_reached_by_a_web_sites_name_cannot_change_anything(running: RunningServer) -> None:
    """DNS rebinding: the attacker's name points at the server, so Origin and Host agree."""
    host = f"focus.evil.example:{running.port}"
    response = set_backlash(running, {"Host": host, "Origin": f"http://{host}"})
    assert response.status_code == 403
    assert "not a name of the local network" in response.text


@pytest.mark.parametrize("name", ["telescope-pi.local", "astro", "localhost", "[::1]"])
def test_a_page_reached_by_a_local_name_may_change_settings(running: RunningServer, name: str) -> None:
    host = f"{name}:{running.port}"
    response = set_backlash(running, {"Host": host, "Origin": f"http://{host}"}, steps=0)
    assert response.status_code == 200, response.text


# ---------------------------------------------------------------------------- password


@pytest.fixture(scope="module")
def pages_locked() -> Iterator[RunningServer]:
    with running_server(password_hash=HASH) as server:
        yield server


@pytest.fixture(scope="module")
def all_locked() -> Iterator[RunningServer]:
    with running_server(password_hash=HASH, password_for_api=True) as server:
        yield server


def test_the_pages_ask_for_the_password(pages_locked: RunningServer) -> None:
    response = requests.get(f"{pages_locked.url}/setup")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    assert "password" in response.text


def test_a_wrong_password_is_refused_and_the_right_one_accepted(pages_locked: RunningServer) -> None:
    page = f"{pages_locked.url}/setup/v1/focuser/0/setup"
    assert requests.get(page, auth=("observer", "not-the-password")).status_code == 401
    assert requests.get(page, auth=("observer", PASSWORD)).status_code == 200
    assert requests.get(page, auth=("anyone", PASSWORD)).status_code == 200


def test_with_a_page_password_alpaca_clients_still_work_without_it(pages_locked: RunningServer) -> None:
    focuser = Focuser(f"127.0.0.1:{pages_locked.port}", 0)
    assert focuser.Connected
    focuser.Move(focuser.Position)


def test_with_a_page_password_a_browser_change_to_the_api_needs_it(pages_locked: RunningServer) -> None:
    origin = {"Origin": own_origin(pages_locked)}
    assert set_backlash(pages_locked, origin, steps=0).status_code == 401
    assert set_backlash(pages_locked, origin, steps=0, auth=("x", "wrong")).status_code == 401
    assert set_backlash(pages_locked, origin, steps=0, auth=("x", PASSWORD)).status_code == 200


def test_with_a_password_a_page_reached_by_any_name_may_change_settings(pages_locked: RunningServer) -> None:
    host = f"focus.example.org:{pages_locked.port}"
    response = set_backlash(pages_locked, {"Host": host, "Origin": f"http://{host}"}, steps=0, auth=("x", PASSWORD))
    assert response.status_code == 200


def test_with_the_api_locked_every_request_needs_the_password(all_locked: RunningServer) -> None:
    assert requests.get(all_locked.api("position")).status_code == 401
    assert requests.get(f"{all_locked.url}/management/v1/configureddevices").status_code == 401
    assert requests.get(all_locked.api("position"), auth=("x", "wrong")).status_code == 401
    assert requests.get(all_locked.api("position"), auth=("x", PASSWORD)).status_code == 200


def test_alpyca_works_with_the_password_and_fails_without(all_locked: RunningServer) -> None:
    focuser = Focuser(f"observer:{PASSWORD}@127.0.0.1:{all_locked.port}", 0)
    assert focuser.Connected
    focuser.Move(focuser.Position)
    with pytest.raises(AlpacaRequestException) as refused:
        Focuser(f"127.0.0.1:{all_locked.port}", 0).Position
    assert refused.value.number == 401 and "password" in refused.value.message


# ------------------------------------------------------------ making and keeping the hash


def test_the_password_command_prints_a_line_the_configuration_accepts() -> None:
    made = subprocess.run(
        [sys.executable, "-m", "alpaca_focuser", "password", "--stdin"], input=PASSWORD + "\n", capture_output=True, text=True, timeout=60
    )
    assert made.returncode == 0, made.stderr
    line = made.stdout.strip()
    assert line.startswith('password_hash = "pbkdf2_sha256$') and PASSWORD not in line
    assert "[server]" in made.stderr
    settings = parse_settings(f'[server]\n{line}\n\n[[focuser]]\nport = "sim://"\n', Path("config.toml"))
    assert verify_password(PASSWORD, settings.server.password_hash)
    assert not verify_password(PASSWORD + "x", settings.server.password_hash)


def test_the_password_command_refuses_a_short_password() -> None:
    made = subprocess.run(
        [sys.executable, "-m", "alpaca_focuser", "password", "--stdin"], input="short\n", capture_output=True, text=True, timeout=60
    )
    assert made.returncode == 1 and "at least 8 characters" in made.stderr and not made.stdout


def test_a_password_typed_into_the_configuration_is_refused_with_its_line() -> None:
    with pytest.raises(ConfigError) as error:
        parse_settings('[server]\nname = "x"\npassword_hash = "secret123"\n\n[[focuser]]\nport = "sim://"\n', Path("config.toml"))
    assert "line 3" in str(error.value) and "alpaca-focuser password" in str(error.value)
