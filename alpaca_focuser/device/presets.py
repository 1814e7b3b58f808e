"""The focuser's saved settings: presets, backlash, reverse and what the settings form edits.

Every change is saved first and applied only once saved, so what runs and what is in the file never
disagree, and one read-modify-save runs at a time so concurrent changes are never lost. Presets are
kept as raw device counts (turning ``reverse`` on or off does not move them); callers see and give
Alpaca positions, converted through the focuser's current ``PositionMap``.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

from ..errors import DriverError, InvalidValue, NotConnected
from ..limits import BACKLASH_STEPS_MAX, PRESET_SLOTS
from ..settings import Direction, FocuserSettings, Preset, client_settings, port_settings
from .interface import FocuserState
from .positions import PositionMap

SAVE_FAILED = 1  # driver error 0x501

LINE_SETTINGS = port_settings()  # a change of any of these reopens the line
CONFIGURABLE = client_settings()


class SettingsStore:
    def __init__(self, settings: FocuserSettings, save: Callable[[FocuserSettings], None] | None) -> None:
        self.current = settings
        self._save = save
        self._lock = threading.RLock()

    def change(self, **changes: object) -> FocuserSettings:
        """Save, then apply; raises DriverError (nothing changed) when saving fails."""
        with self._lock:
            updated = dataclasses.replace(self.current, **changes)  # type: ignore[arg-type]
            if self._save is not None:
                try:
                    self._save(updated)
                except Exception as exc:
                    raise DriverError(f"The setting was not changed because it could not be saved: {exc}", SAVE_FAILED) from exc
            self.current = updated
            return updated

    def set_backlash(self, steps: int, direction: Direction) -> None:
        if not 0 <= steps <= BACKLASH_STEPS_MAX:
            raise InvalidValue(f"Backlash steps {steps} is out of range: give 0 to {BACKLASH_STEPS_MAX}.")
        self.change(backlash_steps=steps, backlash_direction=Direction(direction))

    def check_configurable(self, changes: dict[str, object]) -> None:
        unknown = sorted(set(changes) - set(CONFIGURABLE))
        if unknown:
            raise InvalidValue(f"These settings cannot be changed here: {', '.join(unknown)}. Changeable: {', '.join(CONFIGURABLE)}.")

    # ------------------------------------------------------------------ presets

    def presets(self, positions: PositionMap) -> list[Preset]:
        return [self._shown(p, positions) for p in self.current.presets]

    def save_preset(self, slot: int | None, name: str | None, position: int | None, state: FocuserState, positions: PositionMap) -> Preset:
        with self._lock:
            existing = self._find(slot if slot is not None else name, missing_ok=True)
            if slot is None:
                slot = existing.slot if existing else self._free_slot()
            if slot not in PRESET_SLOTS:
                raise InvalidValue(f"Preset slot {slot} is out of range: slots are numbered {PRESET_SLOTS[0]} to {PRESET_SLOTS[-1]}.")
            if position is None:
                if not state.connected:
                    raise NotConnected("The focuser is not connected, so its current position is unknown; give a position or connect first.")
                raw = state.raw_position
            elif not 0 <= position <= state.max_step:
                raise InvalidValue(f"Preset position {position} is outside the focuser's range 0..{state.max_step}.")
            else:
                raw = positions.to_raw(position)
            label = name or (existing.name if existing else f"Preset {slot}")
            others = [p for p in self.current.presets if p.slot != slot and p.name.lower() != label.lower()]
            preset = Preset(slot=slot, name=label, position=raw)
            self.change(presets=sorted([*others, preset], key=lambda p: p.slot))
            return self._shown(preset, positions)

    def find_preset(self, key: int | str, positions: PositionMap) -> Preset:
        """The preset by slot or name, with its position in Alpaca steps."""
        found = self._find(key)
        assert found is not None
        return self._shown(found, positions)

    def delete_preset(self, key: int | str, positions: PositionMap) -> Preset:
        with self._lock:
            preset = self._find(key)
            assert preset is not None
            self.change(presets=[p for p in self.current.presets if p.slot != preset.slot])
        return self._shown(preset, positions)

    @staticmethod
    def _shown(preset: Preset, positions: PositionMap) -> Preset:
        return dataclasses.replace(preset, position=positions.to_alpaca(preset.position))

    def _find(self, key: int | str | None, missing_ok: bool = False) -> Preset | None:
        for preset in self.current.presets:
            if preset.slot == key or isinstance(key, str) and preset.name.lower() == key.lower():
                return preset
        if missing_ok:
            return None
        known = ", ".join(f"{p.slot} ({p.name})" for p in self.current.presets) or "none saved yet"
        raise InvalidValue(f"There is no preset {key!r}. Presets: {known}.")

    def _free_slot(self) -> int:
        used = {p.slot for p in self.current.presets}
        for slot in PRESET_SLOTS:
            if slot not in used:
                return slot
        raise InvalidValue(f"All {len(PRESET_SLOTS)} preset slots are in use; give a slot number to replace one.")
