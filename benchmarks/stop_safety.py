"""11. Stops that nothing may delay: how long Halt takes while a settings save is slow (1 s of
disk), and how soon a server killed in the middle of a jog stops the motor when it starts again.

The first runs the device in-process on the built-in simulator with a save that sleeps; the
second runs the server as its own process on a simulated focuser behind a pseudo-terminal, kills
it with SIGKILL while it jogs, starts it again and times the stop.
"""

from __future__ import annotations

import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

from alpaca_focuser.device import CelestronFocuser
from alpaca_focuser.settings import FocuserSettings
from alpaca_focuser.simulator import FocusMotor
from alpaca_focuser.simulator.pty_server import PtySimulator

from .report import Outcome, Row, ms
from .rig import free_port, wait_until

HALTS = 5
SAVE_S = 1.0
TARGET_HALT_MS = 100.0
RESTARTS = 3
TARGET_RESTART_S = 3.0


def halt_during_slow_save() -> list[float]:
    def slow_save(_: FocuserSettings) -> None:
        time.sleep(SAVE_S)

    focuser = CelestronFocuser(FocuserSettings(port=f"sim://bench-{uuid.uuid4().hex[:8]}?time_scale=5"), slow_save)
    took: list[float] = []
    try:
        focuser.connect()
        for round_ in range(HALTS):
            focuser.move(focuser.state.max_step if round_ % 2 == 0 else 0)
            saver = threading.Thread(target=focuser.configure, kwargs={"settle_ms": round_ + 1})
            saver.start()
            time.sleep(0.2)  # the save is under way
            started = time.perf_counter()
            focuser.halt()
            took.append((time.perf_counter() - started) * 1000)
            saver.join()
    finally:
        focuser.close()
    return took


def restart_after_kill(folder: Path) -> float:
    motor = FocusMotor(time_scale=5)
    with PtySimulator(motor, folder / "focuser") as simulator:
        port = free_port()
        config = folder / "config.toml"
        config.write_text(
            f'[server]\nbind = "127.0.0.1"\nhttp_port = {port}\ndiscovery = false\nmdns = false\n\n'
            f'[[focuser]]\nname = "Bench"\nport = "{simulator.path}"\njog_timeout_s = 60.0\n'
        )
        command = [sys.executable, "-m", "alpaca_focuser", "serve", "--config", str(config)]
        api = f"http://127.0.0.1:{port}/api/v1/focuser/0"
        first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: _answers(api), 20, "the server to answer")
            requests.put(f"{api}/action", data={"ClientID": 1, "Action": "Jog", "Parameters": "-9"}, timeout=5)
            wait_until(lambda: motor.moving, 10, "the jog to run")
        finally:
            first.kill()
            first.wait()
        started = time.perf_counter()
        second = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: not motor.moving, 30, "the restarted server to stop the motor")
            return time.perf_counter() - started
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(20)


def _answers(api: str) -> bool:
    try:
        return bool(requests.get(f"{api}/connected", timeout=2).json()["Value"])
    except requests.RequestException:
        return False


def run(_: dict) -> Outcome:
    halts = halt_during_slow_save()
    restarts: list[float] = []
    for _attempt in range(RESTARTS):
        with tempfile.TemporaryDirectory(prefix="bench-restart-") as folder:
            restarts.append(restart_after_kill(Path(folder)))
    worst_halt = max(halts)
    worst_restart = max(restarts)
    outcome = Outcome(details={"halt_ms": [round(t, 1) for t in halts], "restart_stop_s": [round(t, 2) for t in restarts]})
    outcome.rows.append(Row("11", f"Halt while a {SAVE_S:g} s settings save runs (median / worst of {HALTS})",
                            f"{ms(statistics.median(halts))} / {ms(worst_halt)}", f"<= {TARGET_HALT_MS:g} ms", worst_halt <= TARGET_HALT_MS))
    outcome.rows.append(Row("11", f"server killed mid-jog, started again: start to motor stopped (worst of {RESTARTS})",
                            f"{worst_restart:.2f} s", f"<= {TARGET_RESTART_S:g} s", worst_restart <= TARGET_RESTART_S))
    outcome.notes.append("Halt is timed in-process on the built-in simulator; the restart runs the server as its own process "
                         "on a simulated focuser behind a pseudo-terminal, killed with SIGKILL while it jogs at rate 9.")
    return outcome
