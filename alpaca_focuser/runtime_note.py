"""The note a running server leaves for ``alpaca-focuser doctor``: its pid, the ports it really
serves on and the configuration file it reads.

The command line can override the file's ports, and a service may read another file than the one
the doctor would find, so without the note the doctor would check the wrong ports and file. The
note sits in the configuration folder (or the user's, with no file), the one place a hardened
service may write, is named by the pid so two servers never share one, and is removed when the
server stops; a note left by a server that was killed is recognised by its dead pid and ignored.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

PREFIX = "running-"


@dataclass(frozen=True)
class RuntimeNote:
    pid: int
    http_port: int
    bind: str
    discovery_port: int | None  # None when discovery is off
    config: str | None  # the configuration file, None when the server runs on built-in settings

    @property
    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # another user's process: it exists
            return True
        return True


def note_path(folder: Path, pid: int) -> Path:
    return folder / f"{PREFIX}{pid}.json"


def write_note(folder: Path, note: RuntimeNote) -> Path | None:
    """Leave ``note`` in ``folder``; None (and nothing written) when the folder cannot take it, because
    the note only helps the doctor and must never stop the server."""
    path = note_path(folder, note.pid)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(asdict(note), stream)
        os.chmod(temp, 0o644)  # the doctor may run as another user than the service; the note holds no secret
        os.replace(temp, path)
    except OSError:
        return None
    return path


def remove_note(path: Path | None) -> None:
    if path is not None:
        try:
            path.unlink()
        except OSError:
            pass


def running_notes(folders: list[Path]) -> list[RuntimeNote]:
    """The notes of servers still running, found in ``folders`` (each looked at once)."""
    found: list[RuntimeNote] = []
    seen: set[Path] = set()
    for folder in folders:
        if folder in seen or not folder.is_dir():
            continue
        seen.add(folder)
        for path in sorted(folder.glob(f"{PREFIX}*.json")):
            note = _read(path)
            if note is not None and note.alive:
                found.append(note)
    return found


def _read(path: Path) -> RuntimeNote | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8")[:4096])
        return RuntimeNote(int(data["pid"]), int(data["http_port"]), str(data["bind"]), data["discovery_port"], data["config"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
