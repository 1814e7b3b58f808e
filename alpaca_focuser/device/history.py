"""Move history: what the focuser did, why, for whom, and how each move ended.

The worker records a move when its job begins and again when it ends; motion the server did not
start (a hand controller) is recorded as reason ``external`` from the first changed position to
where it settles. Readers (the MoveHistory action, the control page, /metrics) get copies under
this module's own lock, so they never wait on the worker. The last HISTORY_LENGTH moves are kept
in memory; every finished move is also appended, one JSON line each, to a file beside the focus
log, which is rotated at FILE_LIMIT bytes so a long season cannot fill the disk, and read back at
the next start, so the history outlives a restart.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

HISTORY_LENGTH = 200
FILE_LIMIT = 1024 * 1024  # bytes before the file is renamed to .1 and begun again
READ_BACK = 64 * 1024  # bytes of the file read at start: far more than HISTORY_LENGTH moves
REASONS = ("client", "preset", "tempcomp", "jog", "calibration", "external")

# How a move ended.
LANDED = "landed"
HALTED = "halted"
STALLED = "stalled"
LINK_LOST = "link lost"
FAILED = "failed"
REPLACED = "replaced"  # a newer order took over before it ended
RUNNING = "running"  # not ended yet


@dataclass
class Move:
    reason: str
    client: int  # the ClientID that asked for it; 0 for the server's own moves and external ones
    start: int  # Alpaca position where it began
    target: int | None  # where it was sent (None for a jog or a calibration)
    started: float  # time.time()
    temperature: float | None
    began_mono: float
    reconnects: int  # the link's reconnect count when it began: a later one means the link dropped
    ended: str = RUNNING
    end: int | None = None
    seconds: float | None = None
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "ClientID": self.client,
            "from": self.start,
            "to": self.target if self.target is not None else self.end,
            "target": self.target,
            "end": self.end,
            "started": datetime.datetime.fromtimestamp(self.started, datetime.UTC).isoformat(timespec="milliseconds"),
            "seconds": None if self.seconds is None else round(self.seconds, 2),
            "temperature": None if self.temperature is None else round(self.temperature, 2),
            "ended": self.ended,
            "message": self.message,
        }


def ending(failed: bool, stop: bool, message: str, stopped_for: str | None, reconnected: bool) -> str:
    """How a job ended, in one word. ``failed``, ``stop`` and ``message`` are its Finished;
    ``stopped_for`` is the reason of a stop asked from outside the job (Halt, Jog 0, the last
    client leaving, shutdown), None when the job ended by itself."""
    if not failed and not stop and stopped_for is None:
        return LANDED
    if failed and ("stalled" in message or "no progress" in message):
        return STALLED
    if reconnected:  # the stop of a move cut off by the link could only be sent once it was back
        return LINK_LOST
    if stopped_for is not None:
        return HALTED
    return FAILED if failed else HALTED  # a jog let go or at a range end stops itself


class MoveHistory:
    """Thread-safe: the worker writes, any thread reads."""

    def __init__(self, path: Path | None = None, length: int = HISTORY_LENGTH) -> None:
        self.path = path
        self.temperature: Callable[[], float | None] = lambda: None  # the server sets it when the focuser has a source
        self._length = length
        self._moves: collections.deque[Move] = collections.deque(maxlen=length)
        self._counts: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self._open: Move | None = None  # the move under way, the worker's
        self._file_failed = False
        self._earlier = self._read_earlier(length)  # from the file: what happened before this start, newest first

    # ------------------------------------------------------------------ the worker's side

    def began(self, reason: str, client: int, start: int, target: int | None, *, now: float, mono: float, reconnects: int) -> None:
        """A job began; a move still open (replaced by this one, or external motion) is closed first."""
        if self._open is not None:
            self.ended(REPLACED, start, mono=mono)
        move = Move(reason, client, start, target, now, self._celsius(), mono, reconnects)
        with self._lock:
            self._moves.append(move)
            self._counts[reason] += 1
        self._open = move

    def finished(self, failed: bool, stop: bool, message: str, stopped_for: str | None, end: int, *, mono: float, reconnects: int) -> None:
        """The running job ended (see ``ending`` for the arguments)."""
        move = self._open
        if move is None:
            return
        how = ending(failed, stop, message, stopped_for, reconnects > move.reconnects)
        self.ended(how, end, mono=mono, message=message or stopped_for or "")

    def ended(self, how: str, end: int, *, mono: float, message: str = "") -> None:
        move, self._open = self._open, None
        if move is None:
            return
        with self._lock:
            move.ended, move.end, move.seconds, move.message = how, end, max(0.0, mono - move.began_mono), message
        self._append(move)

    def external(self, moving: bool, before: int, now_at: int, *, now: float, mono: float) -> None:
        """Motion the server did not start: a move opens at the first changed position and ends
        where the position settles."""
        if moving and self._open is None:
            self.began("external", 0, before, None, now=now, mono=mono, reconnects=0)
        elif not moving and self._open is not None and self._open.reason == "external":
            self.ended(LANDED, now_at, mono=mono)

    def _celsius(self) -> float | None:
        try:
            return self.temperature()
        except Exception:  # a broken temperature source must not break the worker
            return None

    def _append(self, move: Move) -> None:
        if self.path is None:
            return
        try:
            if self.path.exists() and self.path.stat().st_size > FILE_LIMIT:
                self.path.replace(self.path.with_name(self.path.name + ".1"))
            with self.path.open("a", encoding="utf-8") as file:
                file.write(json.dumps(move.as_dict()) + "\n")
            self._file_failed = False
        except OSError as exc:
            if not self._file_failed:
                log.warning("Cannot append to the move history file %s (%s); the history stays in memory", self.path, exc)
            self._file_failed = True

    def _read_earlier(self, length: int) -> list[dict[str, Any]]:
        """The newest moves in the file, so a restart (or a crash) does not hide last night's
        moves; only its last READ_BACK bytes are read, and a line that is not a move is skipped."""
        if self.path is None:
            return []
        try:
            with self.path.open("rb") as file:
                size = file.seek(0, 2)
                file.seek(max(0, size - READ_BACK))
                data = file.read(READ_BACK)
        except OSError:
            return []
        moves = []
        for line in data.splitlines()[1 if size > READ_BACK else 0 :]:
            try:
                move = json.loads(line)
            except ValueError:
                continue
            if isinstance(move, dict) and isinstance(move.get("reason"), str) and isinstance(move.get("started"), str):
                moves.append(move)
        return moves[::-1][:length]

    # ------------------------------------------------------------------ readers

    def recent(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Newest first."""
        with self._lock:
            moves = [dataclasses.replace(move) for move in reversed(self._moves)]
        found = [move.as_dict() for move in moves] + self._earlier
        return found[: min(limit or len(found), self._length)]

    def counts(self) -> dict[str, int]:
        """Moves begun since the server started, by reason."""
        with self._lock:
            return dict(self._counts)
