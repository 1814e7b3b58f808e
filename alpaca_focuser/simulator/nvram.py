"""What a focus motor keeps over a power cycle (its NVRAM): calibrated or not, the limits and the
position, in a small JSON state file written atomically, so a simulator that is restarted finds
the focuser as it left it, as the real one does."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass
class NvramState:
    calibrated: bool
    low: int
    high: int
    position: int


def save_nvram(path: Path, state: NvramState) -> None:
    """Write ``state`` to ``path`` whole or not at all; a failure is logged, never raised, because the
    motor runs on without its file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".focuser-", dir=path.parent)
        with os.fdopen(fd, "w") as handle:
            json.dump(asdict(state), handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except OSError as exc:
        log.error("cannot save the simulated focuser's state to %s: %s", path, exc)


def load_nvram(path: Path) -> NvramState | None:
    """The saved state, None when there is no file yet; ValueError when the file is broken."""
    try:
        raw = json.loads(path.read_text())
        return NvramState(bool(raw["calibrated"]), int(raw["low"]), int(raw["high"]), int(raw["position"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"state file {path} is unreadable ({exc}); delete it to start afresh") from exc
