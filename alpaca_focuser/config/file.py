"""The configuration as loaded from one file, and writing run-time changes back to it with the
user's comments and layout kept."""

from __future__ import annotations

import dataclasses
import logging
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions
from tomlkit.items import AoT, Array, Table

from ..settings import Direction, FocuserSettings, Preset, Settings
from .reading import _read_text, parse_settings
from .rules import FOCUSER_RULES, PRESET_KEYS, PRESET_RULES, RUN_TIME_FIELDS, ConfigError, Rule, _Invalid, _show, _text
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
    defaults = FocuserSettings()
    for key in ("name", "port", "route", "source", "rtscts", "settle_ms"):
        _set_if_changed(table, key, getattr(focuser, key), getattr(defaults, key))
    if focuser.baud is None:
        table.pop("baud", None)  # no baud key: the route's own speed
    else:
        _set_if_changed(table, "baud", focuser.baud, None)
    if focuser.step_size_um is None:
        table.pop("step_size_um", None)  # TOML has no "unknown": an unknown step size is a missing key
    else:
        _set_if_changed(table, "step_size_um", focuser.step_size_um, None)
    _set_if_changed(table, "reverse", focuser.reverse, defaults.reverse)
    _set_if_changed(table, "backlash_steps", focuser.backlash_steps, defaults.backlash_steps)
    _set_if_changed(table, "backlash_direction", focuser.backlash_direction.value, defaults.backlash_direction.value)
    _set_if_changed(table, "unique_id", focuser.unique_id, defaults.unique_id)
    _apply_presets(table, focuser.presets)


def _apply_tempcomp(table: Table, focuser: FocuserSettings) -> None:
    table["tempcomp_steps_per_c"] = focuser.tempcomp_steps_per_c


def _check_run_time_values(index: int, focuser: FocuserSettings, path: Path) -> None:
    """Refuse to write what the next load would reject."""
    checks: list[tuple[str, Any, Rule]] = [
        ("reverse", focuser.reverse, FOCUSER_RULES["reverse"]),
        ("backlash_steps", focuser.backlash_steps, FOCUSER_RULES["backlash_steps"]),
        ("unique_id", focuser.unique_id, _text()),
    ]
    for preset in focuser.presets:
        checks += [(f"preset {key}", getattr(preset, key), PRESET_RULES[key]) for key in PRESET_KEYS]
    problems = []
    for name, value, rule in checks:
        try:
            rule.check(value)
        except _Invalid as exc:
            problems.append(f"{name} is {_show(value)} but must be {exc}")
    if not isinstance(focuser.backlash_direction, Direction):
        problems.append(f"backlash_direction is {focuser.backlash_direction!r} but must be one of in, out, none")
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
            value = FOCUSER_RULES["tempcomp_steps_per_c"].check(steps_per_c)
        except _Invalid as exc:
            raise ConfigError(f"not saving tempcomp_steps_per_c = {steps_per_c} to {self.path}: it must be {exc}.", path=self.path) from None
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
