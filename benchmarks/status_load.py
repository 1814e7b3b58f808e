"""3. Status reads under load: GET Position, IsMoving and DeviceState from 1, 8 and 32 concurrent
keep-alive clients, 10 s each, against the server and, in the same run, against a bare Falcon +
waitress app that returns a constant reply (the ceiling of the stack).

The server runs as its own process on a real pty to a simulated motor at real speed, idle. The
loads are taken in turn in 2 s slices (five rounds), so the server and the bare app meet the
shared machine's good and bad moments alike; p99 is the median of the slices' p99.
"""

from __future__ import annotations

from .load import WRK_MISSING, LoadResult, interleaved, load_client
from .report import Outcome, Row, ms
from .rig import FOCUSER, BareAppProcess, ServerOptions, ServerProcess, pty_focuser

CLIENTS = (1, 8, 32)
SECONDS = 10.0
ROUNDS = 5
ENDPOINTS = ("position", "ismoving", "devicestate")
BARE = "bare app"
TARGET_RATIO = 0.8
TARGET_P99_MS = 10.0
P99_CLIENTS = 8


def path(member: str) -> str:
    return f"{FOCUSER}/{member}?ClientID=1&ClientTransactionID=1"


def run(_: dict) -> Outcome:
    figures: dict[int, dict[str, LoadResult]] = {}
    with pty_focuser() as (_motor, tty), ServerProcess(ServerOptions(port=tty)) as server, BareAppProcess() as yardstick:
        loads = {BARE: (yardstick.http_port, path("position")), **{m: (server.http_port, path(m)) for m in ENDPOINTS}}
        for clients in CLIENTS:
            figures[clients] = interleaved(loads, clients, SECONDS, ROUNDS)
    client = load_client()
    outcome = Outcome(details={"client": client, "seconds": SECONDS, "rounds": ROUNDS,
                               "results": {str(c): {name: r.as_dict() for name, r in rs.items()} for c, rs in figures.items()}},
                      notes=[f"load client: {client}" if client == "wrk" else WRK_MISSING])
    for clients in CLIENTS:
        rates = figures[clients]
        bare = rates[BARE]
        ratios = {m: rates[m].throughput / bare.throughput for m in ENDPOINTS}
        errors = sum(rates[m].errors for m in ENDPOINTS)
        outcome.rows.append(Row(
            "3", f"req/s with {clients} client{'s' if clients > 1 else ''} ({client}): position / ismoving / devicestate",
            " / ".join(f"{rates[m].throughput:.0f}" for m in ENDPOINTS) + (f", {errors} errors" if errors else ""),
            f">= {TARGET_RATIO:g} x bare app", min(ratios.values()) >= TARGET_RATIO and not errors,
            f"bare app {bare.throughput:.0f} req/s; ratios " + " / ".join(f"{ratios[m]:.2f}" for m in ENDPOINTS)))
    at = figures[P99_CLIENTS]
    worst = max(at[m].p99_ms for m in ENDPOINTS)
    outcome.rows.append(Row(
        "3", f"p99 latency with {P99_CLIENTS} clients: position / ismoving / devicestate",
        " / ".join(ms(at[m].p99_ms) for m in ENDPOINTS), f"p99 <= {TARGET_P99_MS:g} ms", worst <= TARGET_P99_MS,
        f"bare app {ms(at[BARE].p99_ms)}"))
    return outcome
