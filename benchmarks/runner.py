"""``python -m benchmarks [--only 1,3]``: run the benchmarks, print one table, write results.json.

Benchmarks report; they never fail the build. A benchmark that cannot run is shown as an error
row and the others still run; the exit status is 0 either way unless the arguments are wrong.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from .load import WRK_MISSING, load_client
from .report import Outcome, Row, markdown, table
from .rig import machine

RESULTS = Path(__file__).with_name("results.json")

# number -> (module, what it measures); run in this order, so 2 can quote 1 and 4 can quote 3.
BENCHMARKS: dict[str, tuple[str, str]] = {
    "1": ("move_latency", "move-end latency over HTTP"),
    "2": ("indi_latency", "the same for INDI's Celestron driver"),
    "3": ("status_load", "status reads under load, against a bare Falcon + waitress app"),
    "4": ("status_late_line", "status reads while the motor answers 300 ms late"),
    "5": ("autofocus", "autofocus overhead"),
    "6": ("wire_traffic", "AUX wire traffic, idle and moving"),
    "7": ("footprint", "memory and start time"),
    "8": ("discovery_reply", "discovery reply time"),
    "9": ("mount_traffic", "frames the server adds to a mount's AUX bus, idle and moving"),
    "10": ("abuse", "oversized bodies and idle connections: memory and another client's reply time"),
    "11": ("stop_safety", "Halt during a slow settings save; a killed server stopping the motor at its next start"),
    "12": ("share_delay", "the delay sharing the mount's port adds to the mount program's and the focuser's exchanges"),
}


def selection(text: str | None) -> list[str]:
    if not text:
        return list(BENCHMARKS)
    chosen = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [item for item in chosen if item not in BENCHMARKS]
    if unknown:
        raise argparse.ArgumentTypeError(f"no benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}, e.g. --only 1,3")
    return [number for number in BENCHMARKS if number in chosen]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description="Measure what users of the focuser server feel.")
    parser.add_argument("--only", type=selection, default=list(BENCHMARKS), metavar="N[,N...]",
                        help="run only these benchmarks: " + "; ".join(f"{n} {what}" for n, (_, what) in BENCHMARKS.items()))
    parser.add_argument("--results", type=Path, default=RESULTS, metavar="FILE", help=f"where to write the figures (default {RESULTS})")
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown (for benchmarks/README.md)")
    return parser


def run_one(number: str, results: dict[str, Any]) -> Outcome:
    module_name, what = BENCHMARKS[number]
    print(f"[{number}] {what} ...", flush=True)
    started = time.monotonic()
    try:
        outcome = importlib.import_module(f".{module_name}", __package__).run(results)
    except Exception as exc:  # one broken benchmark must not hide the others' figures
        traceback.print_exc()
        outcome = Outcome(rows=[Row(number, what, f"could not run: {exc}")])
    outcome.details["wall_s"] = round(time.monotonic() - started, 1)
    for row in outcome.rows:
        print(f"    {row.figure}: {row.measured} {row.verdict}", flush=True)
    return outcome


def cross_reference(outcomes: dict[str, Outcome]) -> None:
    """Put INDI's figure beside ours, as a ratio from the same run."""
    if "1" in outcomes and "2" in outcomes:
        ours = outcomes["1"].details.get("latency_ms")
        theirs = outcomes["2"].details.get("latency_ms")
        if ours and theirs and outcomes["1"].rows:
            row = outcomes["1"].rows[0]
            row.peer = "; ".join(filter(None, [f"INDI {theirs['p50']:.0f} / {theirs['p95']:.0f} ms: "
                                               f"{theirs['p50'] / ours['p50']:.0f}x / {theirs['p95'] / ours['p95']:.0f}x slower", row.peer]))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    began = time.monotonic()
    where = machine()
    print(f"machine: {where['cores']} cores ({where['cpu']}), Python {where['python']}, {where['system']}; "
          f"load client: {load_client()}", flush=True)
    if load_client() != "wrk":
        print(f"note: {WRK_MISSING}", flush=True)
    outcomes: dict[str, Outcome] = {}
    raw: dict[str, Any] = {}
    for number in args.only:
        outcomes[number] = run_one(number, raw)
        raw[number] = outcomes[number].as_dict()
    cross_reference(outcomes)
    rows = [row for outcome in outcomes.values() for row in outcome.rows]
    notes = [note for outcome in outcomes.values() for note in outcome.notes]
    elapsed = time.monotonic() - began
    print()
    print(table(rows))
    for note in notes:
        print(f"note: {note}")
    print(f"\n{len(outcomes)} benchmark(s) in {elapsed:.0f} s; figures in {args.results}")
    if args.markdown:
        print()
        print(markdown(rows))
    document = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": where,
        "load_client": load_client(),
        "wall_s": round(elapsed, 1),
        "benchmarks": {number: outcome.as_dict() for number, outcome in outcomes.items()},
    }
    args.results.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
