"""Clients that come and go, through the real server: leases, who holds the focuser, freeing it, the
Connected rule, and a race between two HTTP clients, the worker and a line fault on real threads."""

from __future__ import annotations

import logging
import threading
from typing import Any

import requests
from conftest import wait_for
from server_support import RunningServer, running_server, sim_port

from alpaca_focuser.alpaca import connection
from alpaca_focuser.settings import FocuserSettings

NOT_CONNECTED = 0x407
LEASE_S = 1.0


def call(running: RunningServer, method: str, member: str, client: int, **fields: object) -> dict[str, Any]:
    if method == "GET":
        reply = requests.get(running.api(member), params={"ClientID": client, **fields}, timeout=10)
    else:
        reply = requests.put(running.api(member), data={"ClientID": client, **fields}, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()


def value(running: RunningServer, member: str, client: int) -> Any:
    body = call(running, "GET", member, client)
    assert body["ErrorNumber"] == 0, body
    return body["Value"]


def action(running: RunningServer, name: str, client: int = 99) -> Any:
    import json

    body = call(running, "PUT", "action", client, Action=name)
    assert body["ErrorNumber"] == 0, body
    return json.loads(body["Value"])


def connect(running: RunningServer, client: int) -> None:
    assert call(running, "PUT", "connect", client)["ErrorNumber"] == 0
    wait_for(lambda: value(running, "connected", client), what=f"client {client} to be connected")


def leased_server(lease_s: float = LEASE_S, time_scale: float = 5.0, **settings: object) -> Any:
    url, _ = sim_port(time_scale=time_scale)
    return running_server([FocuserSettings(name="Leased", port=url, client_lease_s=lease_s, **settings)])  # type: ignore[arg-type]


def test_a_client_that_vanishes_mid_move_lets_go_when_its_lease_lapses(caplog):
    with caplog.at_level(logging.INFO), leased_server() as running:
        connect(running, 5)
        far = value(running, "maxstep", 5)
        assert call(running, "PUT", "move", 5, Position=far)["ErrorNumber"] == 0
        wait_for(lambda: running.motor().moving, what="the move to start")
        # The client says nothing more: a crashed script.
        wait_for(lambda: not running.motor().moving, 10, "the motor to be stopped when the lease lapsed")
        assert running.motor().stops[-1].reason == "stopped"
        wait_for(lambda: running.focuser().state.activity == "off", 10, "the port to be released")
        assert "client 5" in caplog.text.lower() and "lapsed" in caplog.text


def test_a_lapsed_client_neither_blocks_the_last_disconnect_nor_the_client_limit(monkeypatch):
    monkeypatch.setattr(connection, "MAX_CLIENTS", 3)
    with leased_server() as running:
        for client in (1, 2, 3):
            connect(running, client)
        wait_for(lambda: not any(c["Connected"] for c in action(running, "Clients", 4) if c["ClientID"] in (1, 2, 3)), 10, "the leases to lapse")
        connect(running, 4)  # the three silent ones take no place in the limit
        assert call(running, "PUT", "move", 4, Position=value(running, "position", 4) + 3000)["ErrorNumber"] == 0
        assert call(running, "PUT", "disconnect", 4)["ErrorNumber"] == 0
        wait_for(lambda: running.focuser().state.activity == "off", 10, "the last client's disconnect to release the port")
        assert not running.motor().moving


def test_a_client_that_comes_back_after_a_release_finds_the_focuser_disconnected():
    with leased_server() as running:
        connect(running, 6)
        wait_for(lambda: running.focuser().state.activity == "off", 10, "the lapsed lease to release the port")
        assert value(running, "connected", 6) is False
        assert call(running, "GET", "position", 6)["ErrorNumber"] == NOT_CONNECTED
        connect(running, 6)
        assert isinstance(value(running, "position", 6), int)


def test_connected_reads_the_focusers_state_for_a_client_that_never_connected_and_false_after_a_disconnect():
    with leased_server(lease_s=300) as running:
        connect(running, 1)
        assert value(running, "connected", 2) is True  # never connected: the focuser's own state
        start = value(running, "position", 2)
        assert call(running, "PUT", "move", 2, Position=start + 200)["ErrorNumber"] == 0
        wait_for(lambda: not value(running, "ismoving", 2) and value(running, "position", 2) == start + 200, 20, "client 2's move")
        assert call(running, "PUT", "disconnect", 3)["ErrorNumber"] == 0
        assert value(running, "connected", 3) is False
        body = call(running, "PUT", "move", 3, Position=start)
        assert body["ErrorNumber"] == NOT_CONNECTED
        assert value(running, "connected", 1) is True


def test_a_client_that_never_connects_keeps_the_focuser_it_uses_when_another_leaves():
    with leased_server(lease_s=300) as running:
        start = value(running, "position", 8)  # the server connected the focuser at start
        assert call(running, "PUT", "move", 8, Position=start + 100)["ErrorNumber"] == 0  # like pyobs: no Connect
        connect(running, 9)
        assert call(running, "PUT", "disconnect", 9)["ErrorNumber"] == 0
        assert running.focuser().state.held
        assert value(running, "connected", 8) is True
        wait_for(lambda: value(running, "position", 8) == start + 100, 20, "client 8's move to land")


def test_clients_lists_who_holds_the_focuser_and_disconnect_all_frees_it():
    with leased_server(lease_s=300) as running:
        connect(running, 11)
        connect(running, 12)
        assert call(running, "PUT", "move", 11, Position=value(running, "maxstep", 11))["ErrorNumber"] == 0
        wait_for(lambda: running.motor().moving, what="the move to start")
        listed = {c["ClientID"]: c for c in action(running, "Clients", 13)}
        assert listed[11]["Connected"] and listed[12]["Connected"]
        assert listed[11]["Address"] == "127.0.0.1" and "python-requests" in listed[11]["UserAgent"]
        assert listed[11]["LastSeenS"] >= 0
        assert sorted(action(running, "DisconnectAll", 13)["Disconnected"]) == [11, 12]
        assert not running.motor().moving and running.motor().stops[-1].reason == "stopped"
        assert running.focuser().state.activity == "off"
        for client in (11, 12):
            assert value(running, "connected", client) is False
            assert call(running, "GET", "position", client)["ErrorNumber"] == NOT_CONNECTED


def test_the_last_disconnect_releases_the_port_while_connected_already_reads_false():
    with leased_server(lease_s=300, grace_s=0.3, reply_timeout_s=0.1) as running:
        connect(running, 21)
        running.motor().set_fault("silent")
        wait_for(lambda: not value(running, "connected", 21), 10, "Connected to read false past the grace period")
        assert call(running, "PUT", "disconnect", 21)["ErrorNumber"] == 0
        wait_for(lambda: running.focuser().state.activity == "off", 10, "the port to be released")
        running.motor().clear_faults()
        assert running.focuser().state.activity == "off", "nobody holds it, so it must stay released"


def test_two_clients_the_worker_and_a_line_fault_racing_leave_nothing_running():
    """Real threads: one client keeps moving the focuser, another keeps halting it, while the line
    drops and comes back; when both are done and the line is back, the last word was a Halt, so the
    motor stands and nothing queued before that Halt ever runs."""
    with leased_server(lease_s=300, reply_timeout_s=0.1, grace_s=30.0, time_scale=20.0) as running:
        connect(running, 31)
        connect(running, 32)
        top = value(running, "maxstep", 31)
        stop = threading.Event()
        errors: list[str] = []

        def mover() -> None:
            target = 0
            while not stop.is_set():
                target = top - target
                body = call(running, "PUT", "move", 31, Position=target)
                if body["ErrorNumber"] not in (0, NOT_CONNECTED):
                    errors.append(str(body))

        def halter() -> None:
            while not stop.is_set():
                body = call(running, "PUT", "halt", 32)
                if body["ErrorNumber"] not in (0, NOT_CONNECTED):
                    errors.append(str(body))

        threads = [threading.Thread(target=mover), threading.Thread(target=halter)]
        for thread in threads:
            thread.start()
        try:
            wait_for(lambda: running.motor().moving, 10, "a move to get through")
            running.motor().set_fault("silent")
            wait_for(lambda: running.focuser().state.activity == "link lost", 10, "the line to drop")
            running.motor().clear_faults()
            wait_for(lambda: running.focuser().state.reconnects >= 1, 10, "the line to come back")
        finally:
            stop.set()
            for thread in threads:
                thread.join(20)
        assert not errors, errors
        assert call(running, "PUT", "halt", 32)["ErrorNumber"] == 0
        wait_for(lambda: not value(running, "ismoving", 31), 10, "the last halt to be done")
        assert not running.motor().moving
        assert not running.focuser().state.stop_pending
        standing = running.motor().position
        assert running.focuser().state.raw_position == standing
        assert value(running, "position", 31) == running.focuser().state.position


def test_a_page_that_asks_for_a_short_lease_lets_go_when_it_stops_polling():
    """The pages send Alpaca-Focuser-Lease: a frozen or crashed tab (no pagehide) lets go after its
    own lease, not after the server's longer one."""
    from alpaca_focuser.alpaca.connection import LEASE_MIN_S

    with leased_server(lease_s=300) as running:
        short = {"Alpaca-Focuser-Lease": str(int(LEASE_MIN_S))}
        assert requests.put(running.api("connect"), data={"ClientID": 51}, headers=short, timeout=10).json()["ErrorNumber"] == 0
        wait_for(lambda: value(running, "connected", 51), what="the page to be connected")
        wait_for(lambda: running.focuser().state.activity == "off", LEASE_MIN_S + 10, "the page's short lease to lapse")
