"""``python -m conformance URL``: check an Alpaca focuser the way ConformU does.

The exit status is the number of errors plus issues (capped at 255), so 0 means it passed.
"""

from __future__ import annotations

import argparse
import sys

from . import RUNS, CheckerOptions, DeviceUrl, Finding, Report, Verdict, run_all


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m conformance",
        description="Check an ASCOM Alpaca focuser as ConformU does: the conformance run, the Alpaca protocol run "
        "(strict mode) and the discovery and management diagnostics.",
    )
    parser.add_argument("url", help="the device URL, for example http://127.0.0.1:11111/api/v1/focuser/0")
    parser.add_argument("--run", choices=(*RUNS, "all"), default="all", help="which run to do (default: all three)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for each whole HTTP reply (default 5)")
    parser.add_argument(
        "--move-timeout", type=float, default=60.0,
        help="seconds a move may take before it counts as hung (default 60, ConformU's; raise it for slow focusers)",
    )
    parser.add_argument("--connect-timeout", type=float, default=5.0, help="seconds Connect/Disconnect may take (default 5)")
    parser.add_argument("--discovery-port", type=int, default=32227, help="the UDP discovery port (default 32227)")
    parser.add_argument(
        "--discovery-duration", type=float, default=1.0,
        help="seconds to collect discovery replies, also the management-call timeout (default 1)",
    )
    parser.add_argument(
        "--broadcast", action="store_true",
        help="also send the discovery probe as a broadcast to the whole local network (255.255.255.255)",
    )
    parser.add_argument(
        "--total-timeout", type=float, default=300.0,
        help="seconds the whole check may take; what is left undone then is reported as errors (default 300)",
    )
    parser.add_argument("--quiet", action="store_true", help="print only INFO, ISSUE and ERROR lines, and the summary")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        options = CheckerOptions(
            timeout=args.timeout,
            move_timeout=args.move_timeout,
            connect_timeout=args.connect_timeout,
            discovery_port=args.discovery_port,
            discovery_duration=args.discovery_duration,
            broadcast=args.broadcast,
            total_timeout=args.total_timeout,
        )
        DeviceUrl.parse(args.url)
    except ValueError as exc:
        parser.error(str(exc))

    def show(finding: Finding) -> None:
        if not args.quiet or finding.verdict != Verdict.OK:
            print(finding.line(), flush=True)

    report = Report(on_finding=show)
    runs = RUNS if args.run == "all" else (args.run,)
    print(f"Checking {args.url}: the {', '.join(runs)} run{'s' if len(runs) > 1 else ''}", flush=True)
    try:
        run_all(args.url, runs, options, report)
    except KeyboardInterrupt:
        print("\nInterrupted; the findings so far:", file=sys.stderr)
    print("\n".join(report.summary_lines()))
    return report.exit_status


if __name__ == "__main__":
    sys.exit(main())
