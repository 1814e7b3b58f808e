"""The motion-safety rules with real parts: the simulator on a pseudo-terminal, pyserial, the real
waitress server over HTTP and the server as its own process. One test per way a user was found to
leave the motor running."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from conftest import free_port, wait_for
from server_support import RunningServer, running_server
from sim_support import running_pty_simulator

from alpaca_focuser.celestron import commands
from alpaca_focuser.celestron.faults import LinkClosed
from alpaca_focuser.celestron.link import AuxLink
from alpaca_focuser.device import CelestronFocuser
from alpaca_focuser.settings import FocuserSettings
from alpaca_focuser.simulator import FocusMotor
from alpaca_focuser.simulator.pty_server import PtySimulator

QUICK = {"reply_timeout_s": 0.25, "poll_idle_ms": 200, "grace_s": 10.0, "stall_s": 2.0, "jog_timeout_s": 30.0}


@contextmanager
def server_on_pty(time_scale: float = 20, **settings: object) -> Iterator[tuple[RunningServer, FocusMotor]]:
    with running_pty_simulator(time_scale) as (motor, path):
        focuser = FocuserSettings(name="Safety", port=path, **{**QUICK, **settings})  # type: ignore[arg-type]
        with running_server([focuser]) as running:
            yield running, motor


def serve_command(folder: Path, focuser_port: str) -> tuple[int, list[str]]:
    """A configuration on loopback whose jog runs for a minute unless stopped, and the command that
    serves it as its own process; the HTTP port chosen."""
    port = free_port()
    config = folder / "config.toml"
    config.write_text(
        f'[server]\nbind = "127.0.0.1"\nhttp_port = {port}\ndiscovery = false\nmdns = false\n\n'
        f'[[focuser]]\nname = "Safety"\nport = "{focuser_port}"\njog_timeout_s = 60.0\n'
    )
    return port, [sys.executable, "-m", "alpaca_focuser", "serve", "--config", str(config)]


def put(running: RunningServer, member: str, client: int, **fields: object) -> dict:
    reply = requests.put(running.api(member), data={"ClientID": client, "ClientTransactionID": 1, **fields}, timeout=10)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["ErrorNumber"] == 0, body
    return body


def get(running: RunningServer, member: str, client: int) -> object:
    body = requests.get(running.api(member), params={"ClientID": client}, timeout=10).json()
    assert body["ErrorNumber"] == 0, body
    return body["Value"]


def connect(running: RunningServer, client: int) -> None:
    put(running, "connect", client)
    wait_for(lambda: get(running, "connected", client), what=f"client {client} to be connected")


@pytest.mark.parametrize("how", ["jog", "move"])
def test_the_last_clients_disconnect_stops_the_motor(how):
    with server_on_pty() as (running, motor):
        connect(running, 7)
        if how == "jog":
            put(running, "action", 7, Action="Jog", Parameters="9")
        else:
            put(running, "move", 7, Position=int(get(running, "maxstep", 7)))
        wait_for(lambda: motor.moving, what="the motor to run")
        put(running, "disconnect", 7)
        wait_for(lambda: not get(running, "connected", 7), what="the disconnect")
        wait_for(lambda: not motor.moving, 5, "the motor to be stopped by the disconnect")
        assert motor.stops[-1].reason == "stopped"


def test_one_clients_disconnect_leaves_another_clients_focuser_connected_and_moving():
    with server_on_pty(time_scale=5) as (running, motor):
        connect(running, 1)  # N.I.N.A., focusing
        connect(running, 2)  # a script
        target = int(get(running, "position", 1)) + 3000
        put(running, "move", 1, Position=target)
        put(running, "disconnect", 2)
        assert get(running, "connected", 1) is True
        assert get(running, "connected", 2) is False
        wait_for(lambda: not get(running, "ismoving", 1), 30, "client 1's move to end")
        assert get(running, "position", 1) == target
        assert motor.stops[-1].reason == "arrived"


def test_sigterm_mid_jog_stops_the_motor_before_the_server_exits(tmp_path):
    with running_pty_simulator(20) as (motor, path):
        port, command = serve_command(tmp_path, path)
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            api = f"http://127.0.0.1:{port}/api/v1/focuser/0"

            def answers() -> bool:
                try:
                    return requests.put(f"{api}/connect", data={"ClientID": 3}, timeout=2).status_code == 200
                except requests.ConnectionError:
                    return False

            wait_for(answers, 20, "the server to answer")
            wait_for(lambda: requests.get(f"{api}/connected", params={"ClientID": 3}, timeout=2).json()["Value"], what="connection")
            reply = requests.put(f"{api}/action", data={"ClientID": 3, "Action": "Jog", "Parameters": "-9"}, timeout=5).json()
            assert reply["ErrorNumber"] == 0, reply
            wait_for(lambda: motor.moving, what="the jog to run")
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        assert process.returncode == 0, stderr
        assert not motor.moving, "the server exited with the motor running"
        assert motor.stops[-1].reason == "stopped"
        assert "the motor was seen standing before exit" in stderr


def test_halt_during_a_silent_line_reaches_the_motor_when_the_line_comes_back():
    with running_pty_simulator(5) as (motor, path):
        focuser = CelestronFocuser(FocuserSettings(port=path, **QUICK))  # type: ignore[arg-type]
        try:
            focuser.connect()
            focuser.move(focuser.state.max_step)
            wait_for(lambda: motor.moving, what="the move to start")
            motor.set_fault("silent")
            wait_for(lambda: not focuser.state.link_ok, 5, "the silence to be noticed")
            focuser.halt()
            assert focuser.state.moving and focuser.state.stop_pending, "a stop that did not reach the motor is pending"
            assert motor.moving
            motor.set_fault("silent", on=False)
            wait_for(lambda: not focuser.state.moving, 10, "the pending stop to be delivered")
            assert not motor.moving
            assert motor.stops[-1].reason == "stopped"
            assert focuser.state.raw_position == motor.position
        finally:
            focuser.close()


def test_a_stuck_calibration_stopped_by_the_stall_timeout_leaves_moves_refused():
    with running_pty_simulator(50) as (motor, path):
        motor.set_fault("stuck_calibration", at=0.2)
        focuser = CelestronFocuser(FocuserSettings(port=path, **{**QUICK, "stall_s": 1.0}))  # type: ignore[arg-type]
        try:
            focuser.connect()
            focuser.start_calibration()
            wait_for(lambda: not focuser.state.moving, 20, "the stuck calibration to be aborted")
            state = focuser.state
            assert not state.calibrated and not motor.calibrated
            assert "no progress" in state.calibration.message
            from alpaca_focuser.errors import InvalidOperation

            with pytest.raises(InvalidOperation, match="not calibrated"):
                focuser.move(100)
        finally:
            focuser.close()


def test_another_focuser_on_the_same_port_name_gets_no_move():
    with tempfile.TemporaryDirectory(prefix="focuser-sim-") as folder:
        path = Path(folder) / "focuser"
        first = FocusMotor(time_scale=5)
        focuser = CelestronFocuser(FocuserSettings(port=str(path), **{**QUICK, "reply_timeout_s": 0.1}))  # type: ignore[arg-type]
        try:
            with PtySimulator(first, path):
                focuser.connect()
                focuser.move(focuser.state.max_step)
                wait_for(lambda: first.moving, what="the move to start")
            other = FocusMotor(time_scale=5, low_stop=5000, high_stop=20000, position=12000)
            with PtySimulator(other, path):
                wait_for(lambda: focuser.state.link_ok and not focuser.state.moving, 20, "the reconnect to settle")
                assert "different focuser" in focuser.state.last_error
                assert other.position == 12000 and not other.stops, "the other focuser must not be moved"
                assert focuser.state.max_step == 15000
        finally:
            focuser.close()


def test_a_port_that_vanishes_mid_exchange_is_a_lost_link():
    master, slave = pty.openpty()
    link = AuxLink(os.ttyname(slave), timeout=0.2)
    link.open()
    os.close(master)
    try:
        with pytest.raises(LinkClosed, match="link lost"):
            link.request(commands.get_position())
        assert not link.is_open
    finally:
        link.close()
        os.close(slave)


def test_late_replies_during_a_move_neither_repeat_the_goto_nor_freeze_the_position():
    with running_pty_simulator(2) as (motor, path):
        focuser = CelestronFocuser(FocuserSettings(port=path, **{**QUICK, "reply_timeout_s": 0.2}))  # type: ignore[arg-type]
        try:
            focuser.connect()
            target = focuser.state.position + 3000
            motor.set_fault("late", delay=0.7)
            focuser.move(target)
            wait_for(lambda: motor.moving, 30, "the move to start")
            seen = set()
            wait_for(lambda: seen.add(focuser.state.position) or not focuser.state.moving, 60, "the move to end")
            assert focuser.state.position == target
            assert len(seen) > 2, "Position must follow the motor while replies are late"
            assert [stop.reason for stop in motor.stops] == ["arrived"], "one goto, one arrival"
        finally:
            motor.clear_faults()
            focuser.close()


def test_a_server_killed_mid_jog_stops_the_motor_as_soon_as_it_starts_again(tmp_path):
    """SIGKILL leaves no dead-man running: only the next start can stop the motor, and does, first
    thing, because the killed run had noted its jog beside the configuration file."""
    with running_pty_simulator(5) as (motor, path):  # about 12 s to the hard stop: a loaded machine starts Python slowly
        port, command = serve_command(tmp_path, path)
        api = f"http://127.0.0.1:{port}/api/v1/focuser/0"

        def answers() -> bool:
            try:
                return bool(requests.get(f"{api}/connected", params={"ClientID": 3}, timeout=2).json()["Value"])
            except requests.ConnectionError:
                return False

        first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(answers, 20, "the server to answer")
            reply = requests.put(f"{api}/action", data={"ClientID": 3, "Action": "Jog", "Parameters": "-9"}, timeout=5).json()
            assert reply["ErrorNumber"] == 0, reply
            wait_for(lambda: motor.moving, what="the jog to run")
        finally:
            first.kill()
            first.wait()
        assert motor.moving, "the motor must still run after the kill, or this proves nothing"
        second = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_for(lambda: not motor.moving, 20, "the restarted server to stop the motor")
            assert motor.stops[-1].reason == "stopped", "the motor ran into its hard stop"
        finally:
            second.send_signal(signal.SIGTERM)
            _, stderr = second.communicate(timeout=20)
        assert "previous run of the server ended while the focuser was jogging" in stderr, stderr
