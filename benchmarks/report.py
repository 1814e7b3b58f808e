"""Figures as rows of one table: what was measured, its target, whether it was met, and the peer's
figure beside it. Benchmarks return an ``Outcome``; the runner prints and saves them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Row:
    number: str  # the benchmark's number in the issue, e.g. "1" or "3"
    figure: str  # what was measured, in words
    measured: str  # the figure as printed, with its unit
    target: str = ""  # the bar it must clear, in words ("" when it is for information)
    met: bool | None = None  # None: no target
    peer: str = ""  # the peer's figure or the ratio to it, in words

    @property
    def verdict(self) -> str:
        return "" if self.met is None else ("ok" if self.met else "MISSED")


@dataclass
class Outcome:
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)  # raw figures for results.json
    notes: list[str] = field(default_factory=list)  # how it was measured, for the reader

    def as_dict(self) -> dict[str, Any]:
        return {"rows": [asdict(row) | {"verdict": row.verdict} for row in self.rows], "details": self.details, "notes": self.notes}


def ms(value: float) -> str:
    if value < 1:
        return f"{value:.2f} ms"
    return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def table(rows: list[Row]) -> str:
    headers = ("#", "figure", "measured", "target", "", "peer / reference")
    cells = [headers, *((row.number, row.figure, row.measured, row.target, row.verdict, row.peer) for row in rows)]
    widths = [max(len(str(line[i])) for line in cells) for i in range(len(headers))]
    def render(line: tuple[str, ...]) -> str:
        return "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)).rstrip()
    rule = "  ".join("-" * width for width in widths)
    return "\n".join([render(headers), rule, *(render(line) for line in cells[1:])])


def markdown(rows: list[Row]) -> str:
    lines = ["| # | figure | measured | target | | peer / reference |", "|---|---|---|---|---|---|"]
    lines += [f"| {r.number} | {r.figure} | {r.measured} | {r.target} | {r.verdict} | {r.peer} |" for r in rows]
    return "\n".join(lines)
