"""1. Move-end latency: from the instant the motor stops to the instant an HTTP client learns it.

The simulator runs at real speed behind a real pty, and the server runs as its own process, as a
user runs it. The motor logs the exact instant each motion ends; a client polls IsMoving every
few milliseconds over one keep-alive connection, so the figure is what the server adds (its
poll of the motor, the snapshot, HTTP), not the client's own polling interval.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from alpaca_focuser.simulator import FocusMotor

from .report import Outcome, Row, ms
from .rig import AlpacaClient, BenchmarkError, ServerOptions, ServerProcess, pty_focuser, wait_until
from .stats import Summary

MOVES = 30
CLIENT_POLL_S = 0.002
TARGET_P50_MS = 8.0  # the physical limit is about 5 ms: half a round trip of waiting plus the final position read
TARGET_P95_MS = 12.0
EARLIER_LATENCY = "12.7 ms / 21.4 ms"  # p50 / p95 with a fixed 20 ms poll reading slew-done and Position
TARGET_MOVE_RETURN_MS = 1000.0  # ConformU: an async initiator such as Move returns within 1 s
MOTOR_SPEED = 300.0  # counts per second, GOTO_FAST


def move_lengths(count: int, seed: int = 7) -> list[int]:
    """Assorted signed move lengths (10 to 600 steps, both ways), the same in every run."""
    chooser = random.Random(seed)
    return [chooser.randint(10, 600) * (1 if index % 2 == 0 else -1) for index in range(count)]


@dataclass(frozen=True)
class MoveEnd:
    length: int
    latency_s: float  # motor stopped -> client told
    move_return_s: float  # PUT Move round trip


def timed_move(client: AlpacaClient, motor: FocusMotor, target: int, raw_target: int, length: int) -> MoveEnd:
    before = len(motor.stops)
    sent = time.monotonic()
    client.put("move", Position=target)
    returned = time.monotonic()
    deadline = returned + abs(target - client.get("position")) / MOTOR_SPEED + 10
    while client.get("ismoving"):
        if time.monotonic() > deadline:
            raise BenchmarkError(f"the move to {target} did not end in time")
        time.sleep(CLIENT_POLL_S)
    seen = time.monotonic()
    wait_until(lambda: len(motor.stops) > before, 2, "the motor's stop to be logged")
    stop = motor.stops[-1]
    if stop.position != raw_target:
        raise BenchmarkError(f"the motor stopped at {stop.position}, not at {raw_target}")
    return MoveEnd(length, seen - stop.time, returned - sent)


def run(_: dict) -> Outcome:
    ends: list[MoveEnd] = []
    pauses = random.Random(11)
    with pty_focuser() as (motor, path), ServerProcess(ServerOptions(port=path)) as server, AlpacaClient(server.http_port) as client:
        low, _ = motor.limits
        position = client.get("position")
        for length in move_lengths(MOVES):
            position += length
            ends.append(timed_move(client, motor, position, position + low, length))
            time.sleep(pauses.uniform(0.05, 0.4))  # so moves start at any phase of the idle poll
    latency = Summary.of([end.latency_s for end in ends]).scaled(1000)
    returns = Summary.of([end.move_return_s for end in ends]).scaled(1000)
    outcome = Outcome(details={"latency_ms": latency.as_dict(), "move_return_ms": returns.as_dict(),
                               "moves": [{"length": e.length, "latency_ms": round(e.latency_s * 1000, 2)} for e in ends]})
    outcome.rows.append(Row("1", f"move-end latency over HTTP, {MOVES} moves, p50 / p95",
                            f"{ms(latency.p50)} / {ms(latency.p95)} (max {ms(latency.max)})",
                            f"p50 <= {TARGET_P50_MS:g} ms, p95 <= {TARGET_P95_MS:g} ms",
                            latency.p50 <= TARGET_P50_MS and latency.p95 <= TARGET_P95_MS,
                            f"{EARLIER_LATENCY} when every poll waited 20 ms"))
    outcome.rows.append(Row("1", "Move returns, p50 / p99", f"{ms(returns.p50)} / {ms(returns.p99)}",
                            f"< {TARGET_MOVE_RETURN_MS:g} ms (ConformU)", returns.p99 < TARGET_MOVE_RETURN_MS))
    return outcome
