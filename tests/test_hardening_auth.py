"""Guessing the password costs the guesser, not the other clients: a verified credential is
remembered, wrong tries from an address make it wait longer and longer (answered at once, without
hashing), and only one hash runs at a time, so a flood of wrong guesses leaves a polling client
served. The rules on a fake clock first, then over real HTTP to the running server, with the flood
sent from 127.0.0.2 and the clients on 127.0.0.1."""

from __future__ import annotations

import base64
import http.client
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import requests
from conftest import wait_for
from server_support import RunningServer, running_server

from alpaca_focuser.alpaca import logins
from alpaca_focuser.alpaca.logins import BACKOFF_FIRST_S, BACKOFF_MAX_S, FREE_TRIES, LoginCheck, Verdict
from alpaca_focuser.passwords import MIN_ITERATIONS, hash_password

PASSWORD = "focus-at-dusk"
HASH = hash_password(PASSWORD, iterations=MIN_ITERATIONS)  # the fewest accepted iterations keep the tests quick
ATTACKER = "127.0.0.2"
FLOOD_THREADS = 8
FLOOD_REQUESTS = 300  # per thread at most; the flood also stops when the polling client is done
POLLS = 60


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


RIGHT = basic("observer", PASSWORD)
WRONG = basic("observer", "not-the-password")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every password LoginCheck hashes, in order."""
    hashed: list[str] = []
    real = logins.verify_password

    def counting(password: str, stored: str) -> bool:
        hashed.append(password)
        return real(password, stored)

    monkeypatch.setattr(logins, "verify_password", counting)
    return hashed


# --------------------------------------------------------------------- the rules, on a fake clock


def test_a_verified_credential_is_remembered_and_not_hashed_again(hashes: list[str]) -> None:
    check = LoginCheck(HASH)
    assert check.check(RIGHT, "127.0.0.1").verdict is Verdict.ACCEPTED
    for _ in range(5):
        assert check.check(RIGHT, "127.0.0.1").verdict is Verdict.ACCEPTED
    assert hashes == [PASSWORD]


def test_a_changed_or_wrong_credential_is_not_taken_for_a_remembered_one(hashes: list[str]) -> None:
    check = LoginCheck(HASH)
    assert check.check(RIGHT, "127.0.0.1").verdict is Verdict.ACCEPTED
    assert check.check(basic("observer", PASSWORD + "!"), "127.0.0.1").verdict is Verdict.WRONG
    assert check.check(RIGHT + "x", "127.0.0.1").verdict is Verdict.WRONG  # not Base64 any more: refused unhashed
    assert check.check(None, "127.0.0.1").verdict is Verdict.MISSING
    assert LoginCheck(hash_password("another-password", iterations=MIN_ITERATIONS)).check(RIGHT, "127.0.0.1").verdict is Verdict.WRONG


def test_wrong_tries_make_the_address_wait_longer_each_time_without_hashing(hashes: list[str]) -> None:
    clock = FakeClock()
    check = LoginCheck(HASH, clock=clock)
    for _ in range(FREE_TRIES - 1):
        assert check.check(WRONG, ATTACKER) == logins.LoginResult(Verdict.WRONG, 0, len(hashes))
    wait = BACKOFF_FIRST_S
    for _ in range(8):
        result = check.check(WRONG, ATTACKER)
        assert result.verdict is Verdict.WRONG and result.retry_after_s == wait
        hashed = len(hashes)
        refused = check.check(WRONG, ATTACKER)
        assert refused.verdict is Verdict.BACKING_OFF and refused.retry_after_s == wait
        assert check.check(RIGHT, ATTACKER).verdict is Verdict.BACKING_OFF  # not even the right one is hashed while it waits
        assert len(hashes) == hashed
        clock.now += wait - 0.1
        assert check.check(WRONG, ATTACKER).verdict is Verdict.BACKING_OFF
        clock.now += 0.1
        wait = min(wait * 2, BACKOFF_MAX_S)
    assert check.check(RIGHT, ATTACKER).verdict is Verdict.ACCEPTED  # its turn came: the right one is taken
    assert check.check(WRONG, ATTACKER).verdict is Verdict.WRONG  # and the count starts afresh
    assert check.check(WRONG, ATTACKER).retry_after_s == 0


def test_one_address_waiting_does_not_hold_up_another_or_a_remembered_credential(hashes: list[str]) -> None:
    clock = FakeClock()
    check = LoginCheck(HASH, clock=clock)
    assert check.check(RIGHT, "127.0.0.1").verdict is Verdict.ACCEPTED
    for _ in range(FREE_TRIES + 1):
        check.check(WRONG, "127.0.0.1")
    assert check.check(WRONG, "127.0.0.1").verdict is Verdict.BACKING_OFF
    assert check.check(RIGHT, "127.0.0.1").verdict is Verdict.ACCEPTED  # remembered: costs nothing, so never refused
    assert check.check(basic("other", PASSWORD), "127.0.0.3").verdict is Verdict.ACCEPTED


@contextmanager
def hashing_held(monkeypatch: pytest.MonkeyPatch, check: LoginCheck, address: str) -> Iterator[None]:
    """A check from ``address`` that stays in its hash until the block ends; other checks are
    hashed at once (with the real password check)."""
    started, release = threading.Event(), threading.Event()
    real = logins.verify_password

    def held(password: str, stored: str) -> bool:
        if threading.current_thread() is not holder:
            return real(password, stored)
        started.set()
        release.wait(10)
        return False

    monkeypatch.setattr(logins, "verify_password", held)
    holder = threading.Thread(target=check.check, args=(WRONG, address))
    holder.start()
    try:
        assert started.wait(10)
        yield
    finally:
        release.set()
        holder.join(10)


def test_a_check_that_finds_the_hashing_slot_taken_is_answered_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    check = LoginCheck(HASH)
    with hashing_held(monkeypatch, check, "127.0.0.3"):
        busy = check.check(RIGHT, "127.0.0.4")
        assert busy.verdict is Verdict.BUSY and busy.retry_after_s >= 1
        # Refused once, it is a suspect now: its next try waits for the suspects' slot, which is free.
        assert check.check(RIGHT, "127.0.0.4").verdict is Verdict.ACCEPTED


def test_guesses_from_addresses_with_wrong_tries_never_keep_a_newcomer_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    check = LoginCheck(HASH)
    assert check.check(WRONG, ATTACKER).verdict is Verdict.WRONG
    with hashing_held(monkeypatch, check, ATTACKER):
        assert check.check(WRONG, "127.0.0.3").verdict is Verdict.WRONG  # 127.0.0.3 sent none before: it has its own slot
        assert check.check(WRONG, "127.0.0.3").verdict is Verdict.BUSY  # now it has, so it waits its turn with ATTACKER
        assert check.check(RIGHT, "127.0.0.4").verdict is Verdict.ACCEPTED


# ------------------------------------------------------------------------------- real HTTP


@pytest.fixture(scope="module")
def locked() -> Iterator[RunningServer]:
    with running_server(password_hash=HASH, password_for_api=True) as server:
        yield server


def from_attacker(port: int) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(ATTACKER, 0))


def flood(port: int, stop: threading.Event, answers: list[tuple[int, str | None, str]]) -> None:
    """Wrong guesses on one keep-alive connection from ATTACKER, as fast as they are answered."""
    connection = from_attacker(port)
    try:
        for _ in range(FLOOD_REQUESTS):
            if stop.is_set():
                return
            connection.request("GET", "/api/v1/focuser/0/position", headers={"Authorization": WRONG})
            response = connection.getresponse()
            answers.append((response.status, response.getheader("Retry-After"), response.read().decode()))
    finally:
        connection.close()


def during_flood(port: int, action: Callable[[], None]) -> list[tuple[int, str | None, str]]:
    stop = threading.Event()
    answers: list[tuple[int, str | None, str]] = []
    threads = [threading.Thread(target=flood, args=(port, stop, answers), daemon=True) for _ in range(FLOOD_THREADS)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: any(status == 429 for status, _, _ in answers), what="the flood to be answered with back-off")
        action()
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    return answers


def test_a_flood_of_wrong_guesses_is_answered_with_back_off_and_a_polling_client_is_served(locked: RunningServer) -> None:
    polled: list[int] = []

    def poll() -> None:
        with requests.Session() as client:
            client.auth = ("observer", PASSWORD)
            for _ in range(POLLS):
                response = client.get(locked.api("position"), timeout=10)
                assert response.status_code == 200 and response.json()["ErrorNumber"] == 0, response.text
                polled.append(response.status_code)

    started = time.monotonic()
    answers = during_flood(locked.port, poll)
    print(f"{len(polled)} polls served while {len(answers)} wrong guesses were answered in {time.monotonic() - started:.1f} s")
    assert polled == [200] * POLLS
    statuses = {status for status, _, _ in answers}
    assert statuses <= {401, 429, 503}, statuses
    backing_off = [(retry, text) for status, retry, text in answers if status == 429]
    assert backing_off and all(retry is not None and int(retry) >= 1 for retry, _ in backing_off)
    assert all("Too many wrong passwords from 127.0.0.2" in text for _, text in backing_off)
    hashed = sum(1 for status, _, _ in answers if status == 401)
    assert hashed < len(answers) / 4, f"{hashed} of {len(answers)} guesses were hashed"


def test_the_right_password_is_taken_during_a_flood(locked: RunningServer) -> None:
    """A credential never seen before needs a hash: it may be told once that the server is busy
    hashing (503, try again), but it is taken as soon as it gets its turn."""
    answers: list[int] = []

    def log_in() -> None:
        def attempt() -> bool:
            status = requests.get(locked.api("position"), auth=(f"newcomer-{len(answers)}", PASSWORD), timeout=10).status_code
            answers.append(status)
            return status == 200

        wait_for(attempt, what="the right password to be taken", interval=0.05)

    during_flood(locked.port, log_in)
    assert answers[-1] == 200 and set(answers[:-1]) <= {503}, answers


def test_a_remembered_credential_works_and_a_changed_one_does_not(locked: RunningServer) -> None:
    with requests.Session() as client:
        client.auth = ("remembered", PASSWORD)
        for _ in range(3):
            assert client.get(locked.api("position"), timeout=10).status_code == 200
        client.auth = ("remembered", PASSWORD + "-changed")
        refused = client.get(locked.api("position"), timeout=10)
        assert refused.status_code == 401 and "password" in refused.text
        client.auth = ("remembered", PASSWORD)
        assert client.get(locked.api("position"), timeout=10).status_code == 200
