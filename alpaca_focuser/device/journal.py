"""What the worker has the motor doing, kept in a small file so that the next run of the server
knows when the last one died in the middle of a job of its own.

A server killed (SIGKILL, a crash, the OOM killer) while a jog runs leaves a motor that no dead-man
will ever stop: only the next run can, and only if it knows the motion is its own. The file says
which job was running; an empty or missing file means the motor was left standing. It is written
when a job starts and cleared when the motor is seen standing, without fsync: a killed process
leaves the page cache intact, and a machine that loses power stops the motor too.

A start is written at once, before the motor is told to move. Clearing waits for ``flush``, which
the worker calls after it has told the clients the motor stands: a slow disk then never delays
the end of a move, and a process killed in between only makes the next run stop a standing motor.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

READ_LIMIT = 4096  # bytes: the file holds one small JSON object


class MotionJournal:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._failed = False  # a write failed: said once, not at every move
        self._clear_due = False  # the motor was seen standing; the file is cleared at the next flush

    def left_running(self) -> str | None:
        """The job a previous run left running ("jogging", "moving", "calibrating"), or None.
        A temporary copy a killed run left half-written is removed."""
        if self.path is None:
            return None
        self._temporary().unlink(missing_ok=True)
        try:
            with open(self.path, "rb") as file:
                text = file.read(READ_LIMIT)
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("Could not read %s (%s); a motor left running by an earlier run would be reported, not stopped", self.path, exc)
            return None
        try:
            found = json.loads(text) if text.strip() else {}
        except ValueError:
            return "unknown"  # a torn write: something was running
        job = found.get("job") if isinstance(found, dict) else None
        return str(job) if job else None

    def _temporary(self) -> Path:
        assert self.path is not None
        return self.path.with_name(self.path.name + ".tmp")

    def running(self, kind: str) -> None:
        self._clear_due = False
        self._write({"job": kind, "pid": os.getpid()})

    def standing(self) -> None:
        self._clear_due = True

    def flush(self) -> None:
        """Clear the file if the motor was seen standing since the last write."""
        if self._clear_due:
            self._clear_due = False
            self._write({})

    def _write(self, content: dict[str, object]) -> None:
        if self.path is None:
            return
        temporary = self._temporary()
        try:
            temporary.write_text(json.dumps(content))
            os.replace(temporary, self.path)
        except OSError as exc:
            if not self._failed:
                log.warning(
                    "Could not record the motor's state in %s (%s): after a crash the next start cannot tell its own "
                    "motion from a hand controller's",
                    self.path,
                    exc,
                )
            self._failed = True
            return
        self._failed = False
