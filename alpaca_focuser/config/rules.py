"""The error a bad configuration raises, and the rules of what is not a plain setting (presets).

The settings themselves are checked by the schema (schema.py, from the declarations in
settings.py); this module keeps what the reader and the writer share beyond it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..limits import POSITION_MAX, PRESET_SLOTS
from ..safe_text import shown
from . import schema

PRESET_KEYS = ("slot", "name", "position")
RUN_TIME_FIELDS = (*schema.client_settings(), "source", "unique_id", "presets")  # what a save writes back

KeyPath = tuple[str | int, ...]


class ConfigError(Exception):
    """A configuration file that cannot be read, validated or written; the message says what to do."""

    def __init__(self, message: str, *, path: Path | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


def preset_problem(key: str, value: Any) -> str | None:
    """None for a good preset value; otherwise what it must be."""
    if key == "slot":
        good = isinstance(value, int) and not isinstance(value, bool) and value in PRESET_SLOTS
        return None if good else f"a whole number from {PRESET_SLOTS[0]} to {PRESET_SLOTS[-1]}"
    if key == "position":
        good = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= POSITION_MAX
        return None if good else f"a whole number from 0 to {POSITION_MAX}"
    try:
        schema.check_one("focuser", "name", value)
    except schema.SettingsRefused as refused:
        return refused.problems[0].must_be
    return None


def check_focuser_setting(key: str, value: Any) -> Any:
    """``value`` checked and converted by the rule of the focuser setting ``key`` as the
    configuration file has it; a ValueError names the setting and says what it must be."""
    if key not in schema.names("focuser"):
        raise ValueError(f"{key} is not a focuser setting; the settings are {', '.join(schema.names('focuser'))}")
    try:
        return schema.check_one("focuser", key, value)
    except schema.SettingsRefused as refused:
        raise ValueError(f"{key} is {_show(value)}, but it must be {refused.problems[0].must_be}") from None


def _show(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return "a table" if isinstance(value, dict) else "a list"
    return shown(value)
