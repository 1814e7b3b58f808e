"""``alpaca-focuser doctor``: the usual reasons "N.I.N.A. does not see it", each checked and
answered with one line that says ok or what to do.

The doctor only looks: it never writes the configuration file, never probes a port another
program holds, and sends network traffic only to this computer's own addresses.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Level(Enum):
    OK = "ok"
    NOTE = "note"
    PROBLEM = "FIX"


@dataclass(frozen=True)
class Finding:
    level: Level
    text: str

    def line(self) -> str:
        return f"{self.level.value:<5} {self.text}"


def ok(text: str) -> Finding:
    return Finding(Level.OK, text)


def note(text: str) -> Finding:
    return Finding(Level.NOTE, text)


def problem(text: str) -> Finding:
    return Finding(Level.PROBLEM, text)
