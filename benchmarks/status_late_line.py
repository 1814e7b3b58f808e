"""4. Reads never wait on the line: status reads at 8 clients while the simulated motor answers
every request 300 ms late and a long move keeps the focuser's worker waiting on the line.

Reads come from the state snapshot, so their latency must stay where it is without the fault.
The two conditions are taken in turn in 2 s slices on the same server (benchmark 3's conditions:
idle, prompt motor; then: moving, motor 300 ms late), so the comparison is made in the same
moments of a shared machine.
"""

from __future__ import annotations

from alpaca_focuser.simulator import FocusMotor

from .load import interleaved
from .report import Outcome, Row, ms
from .rig import AlpacaClient, ServerOptions, ServerProcess, pty_focuser, wait_until
from .status_load import ENDPOINTS, P99_CLIENTS, ROUNDS, SECONDS, path

LATE_S = 0.3
TARGET_GROWTH = 1.20
HALT_TIMEOUT_S = 10.0


def run(_: dict) -> Outcome:
    moving_throughout = True
    with pty_focuser() as (motor, tty), ServerProcess(ServerOptions(port=tty)) as server, AlpacaClient(server.http_port) as client:
        max_step = client.get("maxstep")

        def prompt_and_idle() -> None:
            if motor.moving:
                client.put("halt")
                wait_until(lambda: not client.get("ismoving"), HALT_TIMEOUT_S, "the halt to end the move", 0.02)
            motor.set_fault("late", on=False)

        def late_and_moving() -> None:
            nonlocal moving_throughout
            motor.set_fault("late", delay=LATE_S)
            client.put("move", Position=0 if client.get("position") > max_step / 2 else max_step)
            moving_throughout = moving_throughout and _starts(motor)

        loads: dict[str, tuple[int, str]] = {}
        before = {}
        for member in ENDPOINTS:
            loads[member], before[member] = (server.http_port, path(member)), prompt_and_idle
            loads[f"{member} late"], before[f"{member} late"] = (server.http_port, path(member)), late_and_moving
        figures = interleaved(loads, P99_CLIENTS, SECONDS, ROUNDS, before)
        prompt_and_idle()
    outcome = Outcome(details={"late_s": LATE_S, "results": {name: r.as_dict() for name, r in figures.items()},
                               "moving_during_late_slices": moving_throughout})
    growth = {m: figures[f"{m} late"].p99_ms / figures[m].p99_ms for m in ENDPOINTS}
    errors = sum(r.errors for r in figures.values())
    outcome.rows.append(Row(
        "4", f"p99 with {P99_CLIENTS} clients, motor {LATE_S * 1000:.0f} ms late, moving: position / ismoving / devicestate",
        " / ".join(ms(figures[f"{m} late"].p99_ms) for m in ENDPOINTS) + (f", {errors} errors" if errors else ""),
        f"within {TARGET_GROWTH - 1:.0%} of 3's", max(growth.values()) <= TARGET_GROWTH and not errors,
        "without the fault " + " / ".join(ms(figures[m].p99_ms) for m in ENDPOINTS) + "; "
        + " / ".join(f"{growth[m]:.2f}x" for m in ENDPOINTS)))
    return outcome


def _starts(motor: FocusMotor) -> bool:
    try:
        wait_until(lambda: motor.moving, 5, "the motor to start behind the late line")
    except Exception:
        return False
    return True
