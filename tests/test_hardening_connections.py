"""Stalled and trickling connections cannot lock anyone out: a request that does not arrive whole
within the deadline is answered 408 and closed, even when its client keeps sending a byte now and
then, and one address may hold only a share of the server's connections. The greedy client is
127.0.0.2, the one that must stay served 127.0.0.1; all real sockets to the running server."""

from __future__ import annotations

import contextlib
import http.client
import logging
import socket
import threading
from collections.abc import Iterator

import pytest
import requests
from conftest import wait_for
from server_support import RunningServer, running_server

from alpaca_focuser.alpaca.guard import SERVER_LIMITS
from alpaca_focuser.alpaca.socket_guard import REQUEST_DEADLINE_S

GREEDY = "127.0.0.2"
SHORT_DEADLINE_S = 1.5  # the tests' deadline, so they need not wait the real one
TRICKLERS = 20
TRICKLE_EVERY_S = 0.3  # well inside waitress's silence timeout: only the deadline can close them
TRICKLE_LIMIT_S = 30.0
HEAD = b"GET /api/v1/focuser/0/position HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: "


@pytest.fixture
def running() -> Iterator[RunningServer]:
    with running_server() as server:
        assert server.server.socket_guard is not None
        server.server.socket_guard.deadline_s = SHORT_DEADLINE_S
        yield server


def greedy_connection(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(GREEDY, 0))


def held(running: RunningServer, address: str = GREEDY) -> int:
    guard = running.server.socket_guard
    assert guard is not None
    return guard.held(address)


def trickle(sock: socket.socket, answers: list[bytes]) -> None:
    """Send a request's start, then one byte every TRICKLE_EVERY_S, until the server answers and
    closes (or TRICKLE_LIMIT_S passes); keep what it answered."""
    answer = b""
    with contextlib.suppress(OSError):
        sock.sendall(HEAD)
        sock.settimeout(TRICKLE_EVERY_S)
        for _ in range(int(TRICKLE_LIMIT_S / TRICKLE_EVERY_S)):
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                sock.sendall(b"x")  # still sending: waitress alone would never call it silent
                continue
            if not chunk:
                break
            answer += chunk
    answers.append(answer)


def test_trickling_requests_are_closed_after_the_deadline_and_others_are_served_meanwhile(running: RunningServer) -> None:
    keep_alive = http.client.HTTPConnection("127.0.0.1", running.port, timeout=10)
    keep_alive.request("GET", "/api/v1/focuser/0/position")
    assert keep_alive.getresponse().read()
    sockets = [greedy_connection(running.port) for _ in range(TRICKLERS)]
    answers: list[bytes] = []
    tricklers = [threading.Thread(target=trickle, args=(sock, answers), daemon=True) for sock in sockets]
    try:
        for thread in tricklers:
            thread.start()
        with requests.Session() as client:

            def served_until_all_are_closed() -> bool:
                response = client.get(running.api("position"), timeout=5)
                assert response.status_code == 200 and response.json()["ErrorNumber"] == 0
                return len(answers) == TRICKLERS

            wait_for(served_until_all_are_closed, timeout=TRICKLE_LIMIT_S, what="the trickling connections to be closed", interval=0.05)
        for thread in tricklers:
            thread.join(TRICKLE_LIMIT_S)
    finally:
        for sock in sockets:
            sock.close()
    assert len(answers) == TRICKLERS
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        assert b"text/plain" in answer and b"did not arrive whole within 1.5 s" in answer
    wait_for(lambda: held(running) == 0, what="the closed connections to be forgotten")
    keep_alive.request("GET", "/api/v1/focuser/0/ismoving")  # idle between requests, past the deadline: kept
    assert keep_alive.getresponse().status == 200
    keep_alive.close()


def test_a_request_that_stalls_without_a_further_byte_is_closed_too(running: RunningServer) -> None:
    with greedy_connection(running.port) as sock:
        sock.sendall(HEAD)
        sock.settimeout(10)
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408 ")


def test_a_slow_but_whole_request_within_the_deadline_is_answered(running: RunningServer) -> None:
    with greedy_connection(running.port) as sock:
        sock.sendall(HEAD)
        sock.sendall(b"x\r\n\r\n")
        sock.settimeout(10)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200 ")


def test_one_address_holds_at_most_its_share_and_the_rest_are_refused_with_a_message(
    running: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    share = int(SERVER_LIMITS["connection_limit"]) // 4
    attempts = int(SERVER_LIMITS["connection_limit"])  # as many as the server serves at once, all from one address
    sockets: list[socket.socket] = []
    refusals: list[bytes] = []
    try:
        with caplog.at_level(logging.WARNING, logger="alpaca_focuser.alpaca.socket_guard"):
            for _ in range(share):
                sockets.append(greedy_connection(running.port))
            wait_for(lambda: held(running) == share, what=f"{share} connections from {GREEDY} to be held")
            for _ in range(attempts - share):
                with greedy_connection(running.port) as refused:
                    answer = b""
                    while chunk := refused.recv(4096):
                        answer += chunk
                    refusals.append(answer)
        assert held(running) == share
        with requests.Session() as client:  # another address is served as if nothing happened
            for _ in range(5):
                assert client.get(running.api("position"), timeout=5).status_code == 200
        assert len(refusals) == attempts - share
        for answer in refusals:
            assert answer.startswith(b"HTTP/1.1 429 ") and b"Retry-After: " in answer
            assert f"{GREEDY} already has {share} connections open".encode() in answer
        logged = [record.getMessage() for record in caplog.records if "Refused a connection from 127.0.0.2" in record.getMessage()]
        assert 1 <= len(logged) <= 2, logged  # said once, with how many more were left out, not once per refusal
        sockets.pop().close()  # once it closes one, it may open one again
        wait_for(lambda: held(running) == share - 1, what="a closed connection to be forgotten")
        with greedy_connection(running.port) as again:
            again.sendall(b"GET /api/v1/focuser/0/position HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert again.recv(4096).startswith(b"HTTP/1.1 200 ")
    finally:
        for sock in sockets:
            sock.close()


def test_the_deadline_and_the_share_leave_room_for_real_clients() -> None:
    assert 5 <= REQUEST_DEADLINE_S <= 15  # a request is a few hundred bytes; a stuck client is let go soon
    assert int(SERVER_LIMITS["connection_limit"]) // 4 > 110 + 2  # test_hardening_limits' 110 and its two clients fit one address
