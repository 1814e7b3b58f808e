"""The configuration as loaded from one file, and writing run-time changes back to it with the
user's comments and layout kept."""

from __future__ import annotations

import dataclasses
import logging
import os
import uuid
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions
from tomlkit.items import AoT, Array, Table

from ..settings import FocuserSettings, Preset, Settings
from . import schema
from .reading import _read_text, parse_settings
from .rules import PRESET_KEYS, RUN_TIME_FIELDS, ConfigError, _show, preset_problem
from .saving import _save_lock, atomic_write, remove_interrupted_saves

log = logging.getLogger(__name__)

def _preset_item(preset: Preset, inline: bool) -> Any:
    item = tomlkit.inline_table() if inline else tomlkit.table()
    item.update({"slot": preset.slot, "name": preset.name, "position": preset.position})
    return item


def _set_if_changed(table: Any, key: str, value: Any, default: Any) -> None:
    if table.get(key, default) != value:
        table[key] = value


def _apply_presets(table: Table, presets: list[Preset]) -> None:
    """Update the presets in place, in the style the file already uses, so comments on them stay."""
    existing = table.get("presets")
    if existing is None:
        if presets:
            tables = tomlkit.aot()
            for preset in presets:
                tables.append(_preset_item(preset, inline=False))
            table["presets"] = tables
        return
    if isinstance(existing, AoT) and not presets:
        del table["presets"]
        return
    inline = not isinstance(existing, AoT)
    for index, preset in enumerate(presets):
        if index < len(existing):
            for key in PRESET_KEYS:
                _set_if_changed(existing[index], key, getattr(preset, key), None)
        else:
            existing.append(_preset_item(preset, inline))
    while len(existing) > len(presets):
        del existing[len(existing) - 1]
    if inline and isinstance(existing, Array):
        existing.multiline(bool(presets))


def _apply_focuser(table: Table, focuser: FocuserSettings) -> None:
    """Write the settings a save keeps; a key left at its default and absent stays absent, and a
    setting with no value (baud, step_size_um) is a missing key, as TOML has no "unknown"."""
    for name in RUN_TIME_FIELDS:
        if name == "presets":
            continue
        value, default = getattr(focuser, name), schema.entry("focuser", name).default
        if value is None:
            table.pop(name, None)
        else:
            _set_if_changed(table, name, _plain(value), _plain(default))
    _apply_presets(table, focuser.presets)


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _apply_tempcomp(table: Table, focuser: FocuserSettings) -> None:
    table["tempcomp_steps_per_c"] = focuser.tempcomp_steps_per_c


def _check_run_time_values(index: int, focuser: FocuserSettings, path: Path) -> None:
    """Refuse to write what the next load would reject."""
    problems = []
    values = {name: getattr(focuser, name) for name in RUN_TIME_FIELDS if name != "presets"}
    try:
        schema.check("focuser", values, schema.FILE)
    except schema.SettingsRefused as refused:
        problems += [f"{problem.name} is {_show(problem.value)} but must be {problem.must_be}" for problem in refused.problems]
    if not focuser.unique_id:
        problems.append("unique_id is empty")
    for preset in focuser.presets:
        for key in PRESET_KEYS:
            problem = preset_problem(key, getattr(preset, key))
            if problem:
                problems.append(f"preset {key} is {_show(getattr(preset, key))} but must be {problem}")
    slots = [preset.slot for preset in focuser.presets]
    if len(slots) != len(set(slots)):
        problems.append(f"preset slots {slots} are not all different")
    if problems:
        raise ConfigError(f"not saving focuser {index + 1} to {path}: {'; '.join(problems)}.", path=path)


class ConfigFile:
    """The configuration as loaded from one file, and the way to write run-time changes back to it."""

    def __init__(self, path: Path, settings: Settings) -> None:
        self.path = path
        self.settings = settings
        self._lock = _save_lock(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ConfigFile:
        """Read and validate ``path``; give every focuser without a UniqueID one, saved at once."""
        path = Path(path)
        settings = parse_settings(_read_text(path), path)
        remove_interrupted_saves(path)
        config = cls(path, settings)
        config._persist_new_unique_ids()
        return config

    def save_focuser(self, index: int, focuser: FocuserSettings) -> None:
        """Write ``focuser``'s run-time settings (reverse, backlash, presets, unique_id) to the file."""
        if not 0 <= index < len(self.settings.focusers):
            raise IndexError(f"there is no focuser {index} in {self.path}; it has {len(self.settings.focusers)}")
        _check_run_time_values(index, focuser, self.path)
        with self._lock:
            self._write({index: focuser}, f"the settings of focuser {index + 1}")
            saved = {name: getattr(focuser, name) for name in RUN_TIME_FIELDS}
            saved["presets"] = [dataclasses.replace(preset) for preset in focuser.presets]
            self.settings.focusers[index] = dataclasses.replace(self.settings.focusers[index], **saved)

    def _persist_new_unique_ids(self) -> None:
        fresh = {}
        for index, focuser in enumerate(self.settings.focusers):
            if not focuser.unique_id:
                focuser.unique_id = str(uuid.uuid4())
                fresh[index] = focuser
        if not fresh:
            return
        try:
            with self._lock:
                self._write(fresh, "the new UniqueIDs")
        except ConfigError as exc:
            names = ", ".join(f'"{focuser.name}"' for focuser in fresh.values())
            log.warning("%s The UniqueID of %s will change at the next start, so clients may see it as a new device.", exc, names)
        else:
            for focuser in fresh.values():
                log.info('Focuser "%s" got the UniqueID %s, saved in %s', focuser.name, focuser.unique_id, self.path)

    def save_tempcomp_coefficient(self, index: int, steps_per_c: float) -> None:
        """Write a learnt or chosen tempcomp_steps_per_c; no other key of the file changes."""
        if not 0 <= index < len(self.settings.focusers):
            raise IndexError(f"there is no focuser {index} in {self.path}; it has {len(self.settings.focusers)}")
        try:
            value = schema.check_one("focuser", "tempcomp_steps_per_c", steps_per_c)
        except schema.SettingsRefused as refused:
            raise ConfigError(f"not saving tempcomp_steps_per_c = {steps_per_c} to {self.path}: it must be {refused.problems[0].must_be}.", path=self.path) from None
        with self._lock:
            focuser = dataclasses.replace(self.settings.focusers[index], tempcomp_steps_per_c=value)
            self._write({index: focuser}, f"the temperature coefficient of focuser {index + 1}", _apply_tempcomp)
            self.settings.focusers[index] = focuser

    def _write(self, changes: dict[int, FocuserSettings], what: str, apply: Callable[[Table, FocuserSettings], None] = _apply_focuser) -> None:
        """Re-read the file (so edits made meanwhile survive), apply ``changes`` and replace it."""
        text = _read_text(self.path)
        try:
            document = tomlkit.parse(text)
        except tomlkit.exceptions.ParseError as exc:
            raise ConfigError(f"could not save {what}: {self.path} was edited since the start and is no longer valid TOML ({exc}). Fix the file; the change was not saved.", path=self.path) from None
        found = document.get("focuser")
        tables = found if isinstance(found, AoT) else tomlkit.aot()  # none: every change below is refused
        count = len(tables)
        for index, focuser in changes.items():
            if index >= count:
                raise ConfigError(f"could not save {what}: {self.path} now has {count} [[focuser]] tables, not the {len(self.settings.focusers)} it had at the start. Restart the server to reload it.", path=self.path)
            apply(tables[index], focuser)
        new_text = tomlkit.dumps(document)
        parse_settings(new_text, self.path)
        atomic_write(self.path, new_text, what)
