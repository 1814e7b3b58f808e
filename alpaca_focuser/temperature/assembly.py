"""Building one focuser's temperature service from its settings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..config.temperature_spec import parse_spec
from ..device import Focuser
from ..settings import FocuserSettings, file_stem
from .reader import TemperatureReader
from .service import OBSERVE_S, TemperatureService
from .sources import W1_ROOT, open_source


def focus_log_path(folder: Path, unique_id: str) -> Path:
    """The focus log of one focuser, beside the configuration file."""
    return folder / f"focus-log-{file_stem(unique_id)}.jsonl"


def create_service(
    device: Focuser,
    settings: FocuserSettings,
    *,
    log_folder: Path | None,
    save_coefficient: Callable[[float], None] | None,
    w1_root: Path = W1_ROOT,
    observe_s: float = OBSERVE_S,
) -> TemperatureService | None:
    """The service for a focuser with a ``temperature`` source, or None without one."""
    if not settings.temperature:
        return None
    source = open_source(parse_spec(settings.temperature), w1_root)
    reader = TemperatureReader(source, settings.temperature_average_s, settings.temperature_stale_s)
    return TemperatureService(
        device,
        reader,
        steps_per_c=settings.tempcomp_steps_per_c,
        threshold_c=settings.tempcomp_threshold_c,
        max_step=settings.tempcomp_max_step,
        rest_s=settings.temperature_log_rest_s,
        log_path=focus_log_path(log_folder, settings.unique_id) if log_folder is not None else None,
        save_coefficient=save_coefficient,
        observe_s=observe_s,
    )
