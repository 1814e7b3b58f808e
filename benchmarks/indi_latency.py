"""2. The same move-end latency for INDI's Celestron driver (Debian indi-bin), against the same
simulator in the same run: from the motor's logged stop to ABS_FOCUS_POSITION turning Ok.

The driver learns of the stop on its own poll (500 ms by default), so its figure is what an
INDI client such as Ekos waits at the end of every autofocus move.
"""

from __future__ import annotations

import shutil
import time

from .indi_driver import IndiDriver
from .move_latency import MOTOR_SPEED, move_lengths
from .report import Outcome, Row, ms
from .rig import BenchmarkError, pty_focuser, wait_until
from .stats import Summary

DRIVER = "indi_celestron_sct_focus"
MOVES = 20
CONNECT_TIMEOUT_S = 15.0


def run(results: dict) -> Outcome:
    executable = shutil.which(DRIVER)
    if executable is None:
        outcome = Outcome(notes=[f"{DRIVER} is not installed (Debian package indi-bin): INDI figures skipped"])
        outcome.rows.append(Row("2", "INDI move-end latency", "skipped: indi-bin not installed"))
        return outcome
    latencies: list[float] = []
    with pty_focuser() as (motor, path), IndiDriver(executable) as driver:
        driver.wait_for("CONNECTION", None, CONNECT_TIMEOUT_S)
        driver.set_text("DEVICE_PORT", "PORT", path)
        driver.wait_for("DEVICE_PORT", "Ok", CONNECT_TIMEOUT_S)
        driver.set_switch("CONNECTION", "CONNECT")
        driver.wait_for("CONNECTION", "Ok", CONNECT_TIMEOUT_S)
        driver.wait_for("ABS_FOCUS_POSITION", None, CONNECT_TIMEOUT_S)
        position = motor.position
        for length in move_lengths(MOVES):
            position += length
            time.sleep(0.3)
            driver.drain()
            before = len(motor.stops)
            driver.set_number("ABS_FOCUS_POSITION", "FOCUS_ABSOLUTE_POSITION", position)
            done = driver.wait_for("ABS_FOCUS_POSITION", "Ok", abs(length) / MOTOR_SPEED + 10, tags=("setNumberVector",))
            wait_until(lambda: len(motor.stops) > before, 2, "the motor's stop to be logged")
            stop = motor.stops[-1]
            if stop.position != position:
                raise BenchmarkError(f"INDI's move ended at {stop.position}, not {position}")
            latencies.append(done.time - stop.time)
    summary = Summary.of(latencies).scaled(1000)
    outcome = Outcome(details={"latency_ms": summary.as_dict(), "driver": executable, "moves": MOVES},
                      notes=["INDI: the driver runs with its XML on stdin/stdout, as indiserver runs it (no TCP listener)"])
    ours = results.get("1", {}).get("details", {}).get("latency_ms")
    ratio = f", {summary.p50 / ours['p50']:.0f}x ours at p50" if ours else ""
    outcome.rows.append(Row("2", f"INDI move-end latency, {MOVES} moves, p50 / p95",
                            f"{ms(summary.p50)} / {ms(summary.p95)} (max {ms(summary.max)})", "for comparison", None,
                            f"mean {ms(summary.mean)}{ratio}"))
    return outcome
