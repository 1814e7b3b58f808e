"""The Alpaca protocol rules over real HTTP: paths, parameter casing, IDs, the JSON envelope, and
ConformU's request variants (conformu-checks.md B.2-B.6), against a running server."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from conftest import wait_for
from server_support import RunningServer, running_server

TEST_CLIENT_ID = "123456"
TEST_TRANSACTION_ID = "67890"
BAD_PARAMETER_VALUE = "asduio6fghZZ"
COMMON_KEYS = {"ClientTransactionID", "ServerTransactionID", "ErrorNumber", "ErrorMessage"}
GET_MEMBERS = [
    "absolute", "connected", "connecting", "description", "devicestate", "driverinfo", "driverversion",
    "interfaceversion", "ismoving", "maxincrement", "maxstep", "name", "position", "stepsize",
    "supportedactions", "tempcomp", "tempcompavailable", "temperature",
]  # fmt: skip
BAD_ID_VARIANTS = [
    ({"ClientID": "", "ClientTransactionID": TEST_TRANSACTION_ID}, "ClientID"),
    ({"ClientID": "     ", "ClientTransactionID": TEST_TRANSACTION_ID}, "ClientID"),
    ({"ClientID": "-12345", "ClientTransactionID": TEST_TRANSACTION_ID}, "ClientID"),
    ({"ClientID": "NASDAQ", "ClientTransactionID": TEST_TRANSACTION_ID}, "ClientID"),
    ({"ClientID": TEST_CLIENT_ID, "ClientTransactionID": ""}, "ClientTransactionID"),
    ({"ClientID": TEST_CLIENT_ID, "ClientTransactionID": "     "}, "ClientTransactionID"),
    ({"ClientID": TEST_CLIENT_ID, "ClientTransactionID": "-67890"}, "ClientTransactionID"),
    ({"ClientID": TEST_CLIENT_ID, "ClientTransactionID": "qweqwe"}, "ClientTransactionID"),
    ({"ClientID": "4294967296", "ClientTransactionID": TEST_TRANSACTION_ID}, "ClientID"),
    ({"ClientID": TEST_CLIENT_ID, "ClientTransactionID": "1.5"}, "ClientTransactionID"),
]
GOOD_IDS = {"ClientID": TEST_CLIENT_ID, "ClientTransactionID": TEST_TRANSACTION_ID}


@pytest.fixture(scope="module")
def running() -> Iterator[RunningServer]:
    with running_server() as server:
        yield server


def check_envelope(response: requests.Response, *, has_value: bool) -> dict[str, Any]:
    """The rules every Alpaca 200 reply follows; returns the body."""
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].split(";")[0] == "application/json"
    body = response.json()
    expected = COMMON_KEYS | ({"Value"} if has_value else set())
    assert set(body) == expected
    assert isinstance(body["ServerTransactionID"], int) and body["ServerTransactionID"] >= 1
    assert isinstance(body["ErrorMessage"], str)
    if body["ErrorNumber"] == 0:
        assert body["ErrorMessage"] == ""
    else:
        assert 0x400 <= body["ErrorNumber"] <= 0xFFF and body["ErrorMessage"]
    return body


def check_plain_400(response: requests.Response, *words: str) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "Traceback" not in response.text
    for word in words:
        assert word in response.text


def current_position(running: RunningServer) -> int:
    return requests.get(running.api("position")).json()["Value"]


# ------------------------------------------------------------------------------- responses


@pytest.mark.parametrize("member", GET_MEMBERS)
def test_every_get_reply_is_a_complete_json_envelope_with_value(running: RunningServer, member: str) -> None:
    body = check_envelope(requests.get(running.api(member), params=GOOD_IDS), has_value=True)
    assert body["ClientTransactionID"] == int(TEST_TRANSACTION_ID)


def test_a_get_that_fails_still_carries_value(running: RunningServer) -> None:
    body = check_envelope(requests.get(running.api("temperature")), has_value=True)
    assert body["ErrorNumber"] == 0x400
    assert body["Value"] == 0.0


def test_a_put_without_result_has_no_value(running: RunningServer) -> None:
    check_envelope(requests.put(running.api("halt"), data=GOOD_IDS), has_value=False)


def test_missing_ids_echo_zero(running: RunningServer) -> None:
    body = check_envelope(requests.get(running.api("name")), has_value=True)
    assert body["ClientTransactionID"] == 0


def test_largest_transaction_id_is_echoed(running: RunningServer) -> None:
    body = check_envelope(requests.get(running.api("name"), params={"ClientTransactionID": "4294967295"}), has_value=True)
    assert body["ClientTransactionID"] == 4294967295


def test_server_transaction_ids_start_at_one() -> None:
    with running_server() as fresh:
        first = requests.get(fresh.api("name")).json()["ServerTransactionID"]
        second = requests.get(f"{fresh.url}/management/apiversions").json()["ServerTransactionID"]
    assert (first, second) == (1, 2)


def test_server_transaction_ids_are_unique_under_concurrency(running: RunningServer) -> None:
    seen: list[int] = []
    lock = threading.Lock()

    def client() -> None:
        with requests.Session() as session:
            numbers = [session.get(running.api("position")).json()["ServerTransactionID"] for _ in range(25)]
        with lock:
            seen.extend(numbers)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 200
    assert len(set(seen)) == 200


# ----------------------------------------------------------------------------------- paths

BAD_PATHS = [
    "/api/v1/FOCUSER/0/description",
    "/api/v1/Focuser/0/description",
    "/api/v1/focuser/0/Description",
    "/API/v1/focuser/0/description",
    "/api/V1/focuser/0/description",
    "/api/v2/focuser/0/description",
    "/api/v1/baddevicetype/0/description",
    "/api/v1/camera/0/description",
    "/api/v1/focuser/-1/description",
    "/api/v1/focuser/99999/description",
    "/api/v1/focuser/4294967296/description",
    "/api/v1/focuser/A/description",
    "/api/v1/focuser/1/description",
    "/api/v1/focuser/0/descrip",
    "/api/v1/focuser/0",
    "/api/v1/focuser/0/position/extra",
    "/api/v1/focuser/0/position/",
    "/management/v2/description",
    "/management/v1/nothing",
]


@pytest.mark.parametrize("path", BAD_PATHS)
def test_bad_paths_are_400_plain_text(running: RunningServer, path: str) -> None:
    check_plain_400(requests.get(running.url + path, params=GOOD_IDS))


def test_bad_path_messages_say_what_to_use(running: RunningServer) -> None:
    check_plain_400(requests.get(running.url + "/api/v1/FOCUSER/0/description"), "/api/v1/focuser/0/description")
    check_plain_400(requests.get(running.url + "/api/v1/focuser/7/position"), "focuser 7", "focuser 0..0")
    check_plain_400(requests.get(running.url + "/api/v1/focuser/0/descrip"), "descrip")


@pytest.mark.parametrize(("method", "member"), [("GET", "move"), ("GET", "halt"), ("PUT", "position"), ("POST", "position"), ("DELETE", "connected")])
def test_wrong_http_method_is_400_naming_the_right_one(running: RunningServer, method: str, member: str) -> None:
    response = requests.request(method, running.api(member), data={"Position": "1"} if method != "GET" else None)
    check_plain_400(response, method)


def test_other_paths_are_404_plain_text(running: RunningServer) -> None:
    response = requests.get(running.url + "/no/such/page")
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "/setup" in response.text


# ---------------------------------------------------------------------- ConformU GET variants


@pytest.mark.parametrize("member", ["connected", "description", "interfaceversion", "devicestate", "position", "tempcomp"])
@pytest.mark.parametrize(
    "params",
    [
        GOOD_IDS,
        {**GOOD_IDS, "ExtraParameter": "ExtraValue"},
        {"clientid": TEST_CLIENT_ID, "ClientTransactionID": TEST_TRANSACTION_ID},
        {"ClientID": TEST_CLIENT_ID, "clienttransactionid": TEST_TRANSACTION_ID},
        {"CLIENTID": TEST_CLIENT_ID, "CLIENTTRANSACTIONID": TEST_TRANSACTION_ID},
    ],
    ids=["good", "extra", "clientid-casing", "transactionid-casing", "upper-casing"],
)
def test_get_keys_match_in_any_casing_and_extras_are_ignored(running: RunningServer, member: str, params: dict[str, str]) -> None:
    body = check_envelope(requests.get(running.api(member), params=params), has_value=True)
    assert body["ClientTransactionID"] == 67890
    assert body["ErrorNumber"] == 0


@pytest.mark.parametrize(("params", "named"), BAD_ID_VARIANTS)
def test_get_with_malformed_ids_is_400(running: RunningServer, params: dict[str, str], named: str) -> None:
    check_plain_400(requests.get(running.api("position"), params=params), named)


# ---------------------------------------------------------------------- ConformU PUT variants


@pytest.mark.parametrize("member", ["halt", "connect", "disconnect"])
def test_put_without_parameters_variants(running: RunningServer, member: str) -> None:
    try:
        for data, echo in [
            (GOOD_IDS, 67890),
            ({**GOOD_IDS, "ExtraParameter": "ExtraValue"}, 67890),
            ({"clientid": TEST_CLIENT_ID, "ClientTransactionID": TEST_TRANSACTION_ID}, 67890),
            ({"ClientID": TEST_CLIENT_ID, "clienttransactionid": TEST_TRANSACTION_ID}, 0),
        ]:
            body = check_envelope(requests.put(running.api(member), data=data), has_value=False)
            assert (body["ClientTransactionID"], body["ErrorNumber"]) == (echo, 0), data
        for data, named in BAD_ID_VARIANTS:
            check_plain_400(requests.put(running.api(member), data=data), named)
    finally:
        for client in (0, TEST_CLIENT_ID):  # a client that disconnected gets NotConnected until it connects again
            requests.put(running.api("connect"), data={"ClientID": client})
        wait_for(lambda: running.focuser().state.connected, what="the focuser to connect again")


@pytest.mark.parametrize(("member", "name", "good"), [("tempcomp", "TempComp", "False"), ("move", "Position", None), ("connected", "Connected", "True")])
def test_put_with_one_parameter_variants(running: RunningServer, member: str, name: str, good: str | None) -> None:
    value = good if good is not None else str(current_position(running))

    def put(data: dict[str, str]) -> requests.Response:
        response = requests.put(running.api(member), data=data)
        wait_for(lambda: not requests.get(running.api("ismoving")).json()["Value"], what="the focuser to stop")
        return response

    for data, echo in [
        ({**GOOD_IDS, name: value}, 67890),
        ({**GOOD_IDS, name: value, "ExtraParameter": "ExtraValue"}, 67890),
        ({"clientid": TEST_CLIENT_ID, "ClientTransactionID": TEST_TRANSACTION_ID, name: value}, 67890),
        ({"ClientID": TEST_CLIENT_ID, "clienttransactionid": TEST_TRANSACTION_ID, name: value}, 0),
    ]:
        body = check_envelope(put(data), has_value=False)
        assert (body["ClientTransactionID"], body["ErrorNumber"]) == (echo, 0), data
    check_plain_400(put({**GOOD_IDS, name: BAD_PARAMETER_VALUE}), name, BAD_PARAMETER_VALUE)
    miscased = name.swapcase()
    check_plain_400(put({**GOOD_IDS, miscased: value}), f"Missing parameter {name}", miscased, "case-sensitive")
    check_plain_400(put(dict(GOOD_IDS)), f"Missing parameter {name}")
    for data, named in BAD_ID_VARIANTS:
        check_plain_400(put({**data, name: value}), named)


def test_parameter_order_does_not_matter(running: RunningServer) -> None:
    body = "ClientTransactionID=67890&Connected=True&ClientID=123456"
    response = requests.put(running.api("connected"), data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert check_envelope(response, has_value=False)["ClientTransactionID"] == 67890


@pytest.mark.parametrize("value", ["", "123456", "asdqwe", "1", "yes", " true"])
def test_connected_rejects_anything_but_true_or_false(running: RunningServer, value: str) -> None:
    check_plain_400(requests.put(running.api("connected"), data={"Connected": value}), "Connected", "true|false")


@pytest.mark.parametrize("value", ["true", "TRUE", "True", "tRuE"])
def test_booleans_in_any_casing(running: RunningServer, value: str) -> None:
    body = check_envelope(requests.put(running.api("connected"), data={"Connected": value}), has_value=False)
    assert body["ErrorNumber"] == 0


def test_malformed_tempcomp_is_400_even_without_compensation(running: RunningServer) -> None:
    check_plain_400(requests.put(running.api("tempcomp"), data={"TempComp": BAD_PARAMETER_VALUE}), "TempComp")


@pytest.mark.parametrize("value", ["1.5", "1e3", "", "abc", "2147483648", "-2147483649", "0x10"])
def test_unparseable_positions_are_400(running: RunningServer, value: str) -> None:
    check_plain_400(requests.put(running.api("move"), data={"Position": value}), "Position", "<integer>")


def test_put_parameters_come_from_the_body_only(running: RunningServer) -> None:
    check_plain_400(requests.put(running.api("move"), params={"Position": "10"}), "Missing parameter Position")


def test_a_body_that_is_not_utf8_is_400(running: RunningServer) -> None:
    response = requests.put(running.api("move"), data=b"Position=\xff\xfe", headers={"Content-Type": "application/x-www-form-urlencoded"})
    check_plain_400(response, "UTF-8")


# ------------------------------------------------------------------------- management API


def test_management_api(running: RunningServer) -> None:
    versions = check_envelope(requests.get(f"{running.url}/management/apiversions", params=GOOD_IDS), has_value=True)
    assert versions["Value"] == [1]
    assert versions["ClientTransactionID"] == 67890
    description = check_envelope(requests.get(f"{running.url}/management/v1/description"), has_value=True)["Value"]
    assert set(description) == {"ServerName", "Manufacturer", "ManufacturerVersion", "Location"}
    assert all(isinstance(text, str) and text for text in description.values())
    devices = check_envelope(requests.get(f"{running.url}/management/v1/configureddevices"), has_value=True)["Value"]
    assert devices == [{"DeviceName": "Test Focuser 0 (simulated)", "DeviceType": "Focuser", "DeviceNumber": 0, "UniqueID": running.focuser().unique_id}]
    assert devices[0]["UniqueID"]


def test_management_checks_ids_too(running: RunningServer) -> None:
    check_plain_400(requests.get(f"{running.url}/management/apiversions", params={"ClientTransactionID": "qweqwe"}), "ClientTransactionID")


# ----------------------------------------------------------------------- faults and logging


def test_internal_faults_are_500_plain_text_and_logged_with_traceback(running: RunningServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> None:
        raise ZeroDivisionError("a fault inside the server")

    monkeypatch.setattr(running.focuser(), "halt", broken)
    with caplog.at_level(logging.ERROR):
        response = requests.put(running.api("halt"))
    assert response.status_code == 500
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "Traceback" not in response.text and "ZeroDivisionError" not in response.text
    assert "server log" in response.text
    record = next(r for r in caplog.records if r.levelno == logging.ERROR and "/halt" in r.getMessage())
    assert record.exc_info is not None and record.exc_info[0] is ZeroDivisionError
    assert requests.get(running.api("position")).status_code == 200


def test_each_request_is_logged_at_debug_with_ids_member_and_result(running: RunningServer, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="alpaca_focuser.alpaca"):
        requests.get(running.api("maxstep"), params={"ClientID": "42", "ClientTransactionID": "4242"})
        requests.get(running.api("temperature"), params={"ClientID": "42", "ClientTransactionID": "4243"})
    max_step = running.focuser().state.max_step
    lines = [record.getMessage() for record in caplog.records]
    assert any("ClientID=42" in line and "ClientTransactionID=4242" in line and "maxstep" in line and str(max_step) in line for line in lines)
    assert any("ClientTransactionID=4243" in line and "temperature" in line and "0x400" in line for line in lines)


def test_slow_clients_do_not_block_status_reads(running: RunningServer) -> None:
    stalled = []
    try:
        for _ in range(20):
            sock = socket.create_connection(("127.0.0.1", running.port))
            sock.sendall(b"PUT /api/v1/focuser/0/halt HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nClient")
            stalled.append(sock)
        for _ in range(5):
            assert requests.get(running.api("position"), timeout=5).status_code == 200
    finally:
        for sock in stalled:
            sock.close()
