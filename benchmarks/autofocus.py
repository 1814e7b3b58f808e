"""5. Autofocus overhead: what a client's autofocus run costs on top of the motor's own travel.

Nine points 500 steps apart, each reached with a 200-step backlash overshoot done by the server,
and for each point: Move, poll IsMoving until false, read Position, all over HTTP. The total is
compared with the motor's running time as the simulator logged it over the same run. The same
run with N.I.N.A.'s 1 s IsMoving polling is printed for information: there the client's own
polling, not the server, sets the overhead.
"""

from __future__ import annotations

import time

from alpaca_focuser.simulator import FocusMotor
from alpaca_focuser.simulator.motor import DEFAULT_LOW_STOP

from .report import Outcome, Row
from .rig import AlpacaClient, BenchmarkError, ServerOptions, ServerProcess, pty_focuser

POINTS = 9
STEP = 500
BACKLASH = 200
CLIENT_POLL_S = 0.05
NINA_POLL_S = 1.0
START = 14000  # Alpaca position of the first run's start; the second run continues from its end
TARGET_RATIO = 1.05


def autofocus_run(client: AlpacaClient, motor: FocusMotor, poll_s: float) -> dict[str, float]:
    start = client.get("position")
    motor_before = motor.run_time
    began = time.monotonic()
    for point in range(1, POINTS + 1):
        target = start + point * STEP
        client.put("move", Position=target)
        deadline = time.monotonic() + 60
        while client.get("ismoving"):
            if time.monotonic() > deadline:
                raise BenchmarkError(f"the autofocus move to {target} did not end within 60 s")
            time.sleep(poll_s)
        reached = client.get("position")
        if reached != target:
            raise BenchmarkError(f"autofocus point {point}: Position is {reached}, not {target}")
    total = time.monotonic() - began
    motor_time = motor.run_time - motor_before
    return {"total_s": round(total, 3), "motor_s": round(motor_time, 3), "ratio": round(total / motor_time, 4),
            "overhead_per_point_ms": round((total - motor_time) / POINTS * 1000, 1)}


def run(_: dict) -> Outcome:
    with (
        pty_focuser(position=DEFAULT_LOW_STOP + START) as (motor, tty),
        ServerProcess(ServerOptions(port=tty, backlash_steps=BACKLASH, backlash_direction="in")) as server,
        AlpacaClient(server.http_port) as client,
    ):
        ours = autofocus_run(client, motor, CLIENT_POLL_S)
        nina = autofocus_run(client, motor, NINA_POLL_S)
        stops = len(motor.stops)
    outcome = Outcome(details={"poll_50ms": ours, "poll_1s_nina": nina, "points": POINTS, "step": STEP,
                               "backlash": BACKLASH, "motor_stops": stops})
    outcome.rows.append(Row("5", f"autofocus {POINTS} x {STEP} steps, {BACKLASH}-step backlash, IsMoving every 50 ms",
                            f"{ours['total_s']:.2f} s for {ours['motor_s']:.2f} s of motor time = {ours['ratio']:.3f}x "
                            f"(+{ours['overhead_per_point_ms']:.0f} ms/point)",
                            f"<= {TARGET_RATIO:g}x motor time", ours["ratio"] <= TARGET_RATIO))
    outcome.rows.append(Row("5", "the same with N.I.N.A.'s 1 s IsMoving polling",
                            f"{nina['total_s']:.2f} s = {nina['ratio']:.3f}x (+{nina['overhead_per_point_ms']:.0f} ms/point)",
                            "for information"))
    return outcome
