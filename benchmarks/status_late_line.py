"""4. Reads never wait on the line: status reads at 8 clients while the simulated motor answers
every request 300 ms late and a long move keeps the focuser's worker busy on the line.

Reads come from the state snapshot, so their latency must stay where it was without the fault
(benchmark 3's figures from the same run, or a baseline measured here when 3 did not run).
"""

from __future__ import annotations

import time

from .report import Outcome, Row, ms
from .rig import AlpacaClient, ServerOptions, ServerProcess, pty_focuser, wait_until
from .status_load import ENDPOINTS, P99_CLIENTS, SECONDS, measure

LATE_S = 0.3
TARGET_GROWTH = 1.20


def run(results: dict) -> Outcome:
    earlier = results.get("3", {}).get("details", {}).get("server", {}).get(str(P99_CLIENTS))
    with pty_focuser() as (motor, tty), ServerProcess(ServerOptions(port=tty)) as server, AlpacaClient(server.http_port) as client:
        baseline = {m: r.p99_ms for m, r in measure(server.http_port, P99_CLIENTS).items()} if earlier is None else \
            {m: earlier[m]["p99_ms"] for m in ENDPOINTS}
        motor.set_fault("late", delay=LATE_S)
        max_step = client.get("maxstep")
        client.put("move", Position=0 if client.get("position") > max_step / 2 else max_step)
        wait_until(lambda: motor.moving, 5, "the motor to start moving behind the late line")
        started = time.monotonic()
        late = measure(server.http_port, P99_CLIENTS)
        still_moving = motor.moving
        client.put("halt")
        motor.set_fault("late", on=False)
    outcome = Outcome(details={"late_s": LATE_S, "baseline_p99_ms": baseline, "late": {m: r.as_dict() for m, r in late.items()},
                               "moving_throughout": still_moving, "seconds": round(time.monotonic() - started, 1)})
    growth = {m: late[m].p99_ms / baseline[m] for m in ENDPOINTS}
    errors = sum(r.errors for r in late.values())
    outcome.rows.append(Row(
        "4", f"p99 with {P99_CLIENTS} clients, motor {LATE_S * 1000:.0f} ms late: position / ismoving / devicestate",
        " / ".join(ms(late[m].p99_ms) for m in ENDPOINTS) + (f", {errors} errors" if errors else ""),
        f"within {TARGET_GROWTH - 1:.0%} of 3", max(growth.values()) <= TARGET_GROWTH and not errors,
        "vs 3: " + " / ".join(f"{growth[m]:.2f}x" for m in ENDPOINTS)))
    return outcome
