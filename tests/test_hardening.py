"""Hostile and careless input over real HTTP: each row of the hardening issue's table gets the
answer a client should get (a 4xx text message or an Alpaca error), never a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests
from server_support import RunningServer, running_server

from alpaca_focuser.alpaca.protocol import BadRequest, parse_device_number

HUGE_NUMBER = "9" * 5000  # past Python's 4300-digit integer-string limit
INVALID_VALUE = 0x401


@pytest.fixture(scope="module")
def running() -> Iterator[RunningServer]:
    with running_server() as server:
        yield server


def check_400(response: requests.Response, *words: str) -> None:
    assert response.status_code == 400, response.text[:300]
    assert response.headers["Content-Type"].startswith("text/plain")
    assert len(response.text) < 1000, "the huge value must not be echoed back whole"
    for word in words:
        assert word in response.text


def action(running: RunningServer, name: str, parameters: str) -> dict:
    response = requests.put(running.api("action"), data={"Action": name, "Parameters": parameters})
    assert response.status_code == 200, response.text[:300]
    return response.json()


# ------------------------------------------------------ row 1: numbers of thousands of digits


@pytest.mark.parametrize("name", ["ClientTransactionID", "ClientID"])
def test_a_huge_id_in_the_query_is_a_400_that_says_why(running: RunningServer, name: str) -> None:
    check_400(requests.get(running.api("position"), params={name: HUGE_NUMBER}), name, "longer than 10 digits")


def test_a_huge_id_in_a_put_form_is_a_400(running: RunningServer) -> None:
    check_400(requests.put(running.api("halt"), data={"ClientTransactionID": HUGE_NUMBER}), "ClientTransactionID", "longer than 10 digits")


def test_a_huge_device_number_is_a_400(running: RunningServer) -> None:
    check_400(requests.get(f"{running.url}/api/v1/focuser/{HUGE_NUMBER}/position"), "Device number", "longer than 10 digits")


def test_a_huge_move_position_is_a_400(running: RunningServer) -> None:
    check_400(requests.put(running.api("move"), data={"Position": HUGE_NUMBER}), "Position", "longer than 10 digits")


@pytest.mark.parametrize(
    ("parameters", "reason"),
    [
        (HUGE_NUMBER, "5000 characters long"),
        ("9" * 4000, "more than 18 digits"),
        ('{"steps": ' + "9" * 4000 + "}", "more than 18 digits"),
        ('{"steps": "' + "9" * 4000 + '"}', "longer than 18 digits"),
        ("1e400", "more than 18 digits"),
        ("²", "must be a whole number"),
    ],
)
def test_a_huge_number_in_action_parameters_is_invalid_value(running: RunningServer, parameters: str, reason: str) -> None:
    body = action(running, "MoveRelative", parameters)
    assert body["ErrorNumber"] == INVALID_VALUE
    assert body["ErrorMessage"].startswith("MoveRelative: ") and reason in body["ErrorMessage"]
    assert len(body["ErrorMessage"]) < 500


def test_the_largest_transaction_id_still_works(running: RunningServer) -> None:
    response = requests.get(running.api("position"), params={"ClientTransactionID": "0004294967295"[-10:]})
    assert response.json()["ClientTransactionID"] == 4294967295


# -------------------------------------------------------------- row 2: deeply nested JSON


@pytest.mark.parametrize("nested", ["[" * 1000 + "]" * 1000, '{"a":' * 300 + "1" + "}" * 300])
def test_deeply_nested_action_parameters_are_invalid_value(running: RunningServer, nested: str) -> None:
    body = action(running, "SetBacklash", nested)
    assert body["ErrorNumber"] == INVALID_VALUE
    assert "SetBacklash" in body["ErrorMessage"] and "levels deep" in body["ErrorMessage"]


def test_brackets_inside_strings_do_not_count_as_nesting(running: RunningServer) -> None:
    body = action(running, "SavePreset", json.dumps({"slot": 3, "name": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}))
    assert body["ErrorNumber"] == 0, body["ErrorMessage"]
    action(running, "DeletePreset", "3")


def test_over_long_action_parameters_are_invalid_value(running: RunningServer) -> None:
    body = action(running, "SetBacklash", json.dumps({"steps": 1, "direction": "in" + " " * 5000}))
    assert body["ErrorNumber"] == INVALID_VALUE
    assert "at most 4096" in body["ErrorMessage"]


def test_ordinary_action_parameters_still_work(running: RunningServer) -> None:
    body = action(running, "SetBacklash", '{"steps": 120, "direction": "out"}')
    assert body["ErrorNumber"] == 0, body["ErrorMessage"]
    assert json.loads(body["Value"]) == {"steps": 120, "direction": "out"}
    action(running, "SetBacklash", '{"steps": 0, "direction": "none"}')


# -------------------------------------------------- row 3: digits that are not 0-9, and row 8: 00


@pytest.mark.parametrize("number", ["²", "①", "٣", "0x1", "+0", "-0", " 0", ""])
def test_a_device_number_that_is_not_ascii_digits_is_refused_on_every_path(running: RunningServer, number: str) -> None:
    if number:
        check_400(requests.get(f"{running.url}/api/v1/focuser/{number}/position"), "Device number")
    setup = requests.get(f"{running.url}/setup/v1/focuser/{number}/setup")
    assert setup.status_code in (403, 404), setup.text[:300]
    assert "Traceback" not in setup.text


def test_00_is_device_0_on_the_api_and_the_setup_page_alike(running: RunningServer) -> None:
    api = requests.get(f"{running.url}/api/v1/focuser/00/name")
    assert api.status_code == 200 and api.json()["Value"] == "Test Focuser 0 (simulated)"
    setup = requests.get(f"{running.url}/setup/v1/focuser/00/setup")
    assert setup.status_code == 200 and "Test Focuser 0" in setup.text


def test_the_api_and_the_pages_share_one_device_number_rule() -> None:
    assert parse_device_number("00") == 0
    assert parse_device_number("4294967295") == 4294967295
    for bad in ("²", "①", "٣", "4294967296", HUGE_NUMBER, "-1", "1 "):
        with pytest.raises(BadRequest):
            parse_device_number(bad)


# ------------------------------------------------------------- row 6: OPTIONS, HEAD, TRACE


@pytest.mark.parametrize(
    ("member", "allowed"),
    [("position", "GET, HEAD, OPTIONS"), ("move", "PUT, OPTIONS"), ("connected", "GET, PUT, HEAD, OPTIONS")],
)
def test_options_lists_exactly_the_methods_the_member_takes(running: RunningServer, member: str, allowed: str) -> None:
    response = requests.options(running.api(member))
    assert response.status_code == 200
    assert response.headers["Allow"] == allowed
    assert response.text == ""


@pytest.mark.parametrize(("method", "member"), [("POST", "move"), ("DELETE", "position"), ("PATCH", "connected"), ("TRACE", "position"), ("GET", "move")])
def test_a_method_the_member_does_not_take_is_a_400_with_its_allow_list(running: RunningServer, method: str, member: str) -> None:
    response = requests.request(method, running.api(member))
    check_400(response, "is not used for")
    assert response.headers["Allow"] == requests.options(running.api(member)).headers["Allow"]


def test_head_on_a_get_member_is_its_get_without_a_body(running: RunningServer) -> None:
    head = requests.head(running.api("name"))
    get = requests.get(running.api("name"))
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Type"] == get.headers["Content-Type"]


def test_head_on_a_put_member_is_refused_like_other_methods(running: RunningServer) -> None:
    response = requests.head(running.api("move"))
    assert response.status_code == 400
    assert response.headers["Allow"] == "PUT, OPTIONS"


def test_options_on_a_path_that_is_no_member_is_a_400(running: RunningServer) -> None:
    check_400(requests.options(f"{running.url}/api/v1/focuser/0/warpdrive"), "warpdrive")
    check_400(requests.options(f"{running.url}/api/v1/focuser/7/position"), "no focuser 7")
