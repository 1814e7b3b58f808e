"""3. Status reads under load: GET Position, IsMoving and DeviceState from 1, 8 and 32 concurrent
keep-alive clients, 10 s each, against the server and, in the same run, against a bare Falcon +
waitress app that returns a constant reply (the ceiling of the stack).

The server runs as its own process on a real pty to a simulated motor at real speed, idle.
"""

from __future__ import annotations

from .load import LoadResult, load_client, run_load
from .report import Outcome, Row, ms
from .rig import FOCUSER, BareAppProcess, ServerOptions, ServerProcess, pty_focuser

CLIENTS = (1, 8, 32)
SECONDS = 10.0
ENDPOINTS = ("position", "ismoving", "devicestate")
TARGET_RATIO = 0.8
TARGET_P99_MS = 10.0
P99_CLIENTS = 8


def path(member: str) -> str:
    return f"{FOCUSER}/{member}?ClientID=1&ClientTransactionID=1"


def measure(port: int, clients: int, seconds: float = SECONDS) -> dict[str, LoadResult]:
    return {member: run_load(port, path(member), clients, seconds) for member in ENDPOINTS}


def run(_: dict) -> Outcome:
    figures: dict[int, dict[str, LoadResult]] = {}
    bare: dict[int, LoadResult] = {}
    with pty_focuser() as (_motor, tty), ServerProcess(ServerOptions(port=tty)) as server, BareAppProcess() as yardstick:
        for clients in CLIENTS:
            bare[clients] = run_load(yardstick.http_port, path("position"), clients, SECONDS)
            figures[clients] = measure(server.http_port, clients)
    client = load_client()
    outcome = Outcome(details={"client": client, "seconds": SECONDS,
                               "server": {str(c): {m: r.as_dict() for m, r in rs.items()} for c, rs in figures.items()},
                               "bare_app": {str(c): r.as_dict() for c, r in bare.items()}},
                      notes=[f"load client: {client}" + ("" if client == "wrk" else " (wrk not installed; the Python client limits the rates)")])
    for clients in CLIENTS:
        rates = figures[clients]
        ratios = {member: result.throughput / bare[clients].throughput for member, result in rates.items()}
        errors = sum(result.errors for result in rates.values())
        outcome.rows.append(Row(
            "3", f"req/s with {clients} client{'s' if clients > 1 else ''} ({client}): position / ismoving / devicestate",
            " / ".join(f"{rates[m].throughput:.0f}" for m in ENDPOINTS) + (f", {errors} errors" if errors else ""),
            f">= {TARGET_RATIO:g} x bare app", min(ratios.values()) >= TARGET_RATIO and not errors,
            f"bare app {bare[clients].throughput:.0f} req/s; ratios " + " / ".join(f"{ratios[m]:.2f}" for m in ENDPOINTS)))
    at = figures[P99_CLIENTS]
    worst = max(result.p99_ms for result in at.values())
    outcome.rows.append(Row(
        "3", f"p99 latency with {P99_CLIENTS} clients: position / ismoving / devicestate",
        " / ".join(ms(at[m].p99_ms) for m in ENDPOINTS), f"p99 <= {TARGET_P99_MS:g} ms", worst <= TARGET_P99_MS,
        f"bare app {ms(bare[P99_CLIENTS].p99_ms)}"))
    return outcome
