"""1. Move-end latency: from the instant the motor stops to the instant an HTTP client learns it.

The simulator runs at real speed behind a real pty, and the server runs as its own process, as a
user runs it. The motor logs the exact instant each motion ends; a client polls IsMoving every
few milliseconds over one keep-alive connection, so the figure is what the server adds (its
poll of the motor, the snapshot, HTTP), not the client's own polling interval.

Twice: against the simulator answering at once, and answering in 2 ms, as a real motor does
(its USB bridge and controller loop). The second is what a user feels; the first shows what
the server itself adds.
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
REPLY_DELAY_S = 0.002  # how long the realistic simulated motor takes to answer


@dataclass(frozen=True)
class Motor:
    """One simulated motor the moves run against, with the targets and earlier figures for it."""

    title: str
    reply_delay_s: float
    target_p50_ms: float
    target_p95_ms: float
    earlier: str  # p50 / p95 before, in words


MOTORS = (
    # The limit is a few round trips of the pty plus HTTP.
    Motor("a motor answering at once", 0.0, 8.0, 12.0, "12.7 ms / 21.4 ms when every poll waited 20 ms"),
    # The limit is about 5 ms: waiting for the next slew-done reply, then one position read (2 ms each).
    Motor("a motor answering in 2 ms", REPLY_DELAY_S, 6.0, 9.0,
          "7.4 ms / 10.6 ms here (8.4-9.0 ms / 9.9-10.7 ms on another 2 ms motor model) when slew-done and "
          "Position were read in pairs"),
)
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


def moves_against(reply_delay_s: float) -> list[MoveEnd]:
    ends: list[MoveEnd] = []
    pauses = random.Random(11)
    with (pty_focuser(reply_delay_s) as (motor, path), ServerProcess(ServerOptions(port=path)) as server,
          AlpacaClient(server.http_port) as client):
        low, _ = motor.limits
        position = client.get("position")
        for length in move_lengths(MOVES):
            position += length
            ends.append(timed_move(client, motor, position, position + low, length))
            time.sleep(pauses.uniform(0.05, 0.4))  # so moves start at any phase of the idle poll
    return ends


def run(_: dict) -> Outcome:
    outcome = Outcome()
    returns: list[float] = []
    for motor in MOTORS:
        ends = moves_against(motor.reply_delay_s)
        returns += [end.move_return_s for end in ends]
        latency = Summary.of([end.latency_s for end in ends]).scaled(1000)
        key = "latency_ms" if motor.reply_delay_s == 0 else f"latency_ms_reply_{motor.reply_delay_s * 1000:g}ms"
        outcome.details[key] = latency.as_dict()
        outcome.details[f"moves_{key}"] = [{"length": e.length, "latency_ms": round(e.latency_s * 1000, 2)} for e in ends]
        outcome.rows.append(Row("1", f"move-end latency over HTTP, {MOVES} moves, {motor.title}, p50 / p95",
                                f"{ms(latency.p50)} / {ms(latency.p95)} (max {ms(latency.max)})",
                                f"p50 <= {motor.target_p50_ms:g} ms, p95 <= {motor.target_p95_ms:g} ms",
                                latency.p50 <= motor.target_p50_ms and latency.p95 <= motor.target_p95_ms,
                                f"before: {motor.earlier}"))
    summary = Summary.of(returns).scaled(1000)
    outcome.details["move_return_ms"] = summary.as_dict()
    outcome.rows.append(Row("1", "Move returns, p50 / p99", f"{ms(summary.p50)} / {ms(summary.p99)}",
                            f"< {TARGET_MOVE_RETURN_MS:g} ms (ConformU)", summary.p99 < TARGET_MOVE_RETURN_MS))
    return outcome
