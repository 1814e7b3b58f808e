"""Reading the file: TOML syntax, then every table and key against its rule, into Settings."""

from __future__ import annotations

import difflib
import logging
import re
import tomllib
from pathlib import Path
from typing import Any

from ..settings import FocuserSettings, Preset, ServerSettings, Settings, share_route_problem
from . import schema
from .lines import _LineFinder
from .rules import PRESET_KEYS, ConfigError, KeyPath, _show, preset_problem

log = logging.getLogger(__name__)

class _Reader:
    """Turns the parsed TOML into Settings, raising ConfigError that points at the offending line."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = _LineFinder(text)

    def fail(self, where: KeyPath, message: str, advice: str = "") -> ConfigError:
        line = self.lines.line_of(where)
        place = f"{self.path}, line {line}" if line else str(self.path)
        advice = advice or "Fix it and start the server again."
        return ConfigError(f"{place}: {message}. {advice}", path=self.path, line=line)

    def read(self, data: dict[str, Any]) -> Settings:
        self.reject_unknown(data, ("server", "focuser"), (), "at the top of the file")
        server_data = data.get("server", {})
        if not isinstance(server_data, dict):
            raise self.fail(("server",), "server must be a table", "Write it as a [server] section header followed by its keys.")
        self.reject_unknown(server_data, schema.names("server"), ("server",), "in [server]")
        server = ServerSettings(**self.fields(server_data, "server", ("server",), "[server]"))

        focuser_data = data.get("focuser")
        if isinstance(focuser_data, dict):
            raise self.fail(("focuser",), "[focuser] is written with single brackets", "Write [[focuser]] (double brackets), once before each focuser's keys.")
        if not focuser_data:
            raise self.fail((), "there is no [[focuser]] table", 'Add one [[focuser]] section per focuser, with at least port = "auto" (see the commented config.toml that ships with the project).')
        if not isinstance(focuser_data, list) or not all(isinstance(item, dict) for item in focuser_data):
            raise self.fail(("focuser",), "focuser must be a list of [[focuser]] tables", "Write one [[focuser]] section per focuser.")
        focusers = [self.focuser(index, item) for index, item in enumerate(focuser_data)]
        self.check_distinct(focusers, "unique_id", "two focusers have the same unique_id", "Delete the unique_id line of the copied focuser; a new one is generated at the next start.")
        self.check_distinct(focusers, "port", "two focusers use the same port", "Each focuser needs its own port; give simulators different names, like sim://one and sim://two.")
        return Settings(server=server, focusers=focusers)

    def focuser(self, index: int, data: dict[str, Any]) -> FocuserSettings:
        where: KeyPath = ("focuser", index)
        label = f"[[focuser]] number {index + 1}"
        self.reject_unknown(data, schema.names("focuser") + ("presets",), where, f"in {label}")
        values = self.fields({k: v for k, v in data.items() if k != "presets"}, "focuser", where, label)
        values["presets"] = self.presets(data.get("presets", []), where + ("presets",), label)
        focuser = FocuserSettings(**values)
        problem = share_route_problem(focuser)
        if problem:
            raise self.fail(where + ("share",), f"share in {label} is {_show(focuser.share)}, but {problem}",
                            'Set route = "mount" or "hc" and the port\'s own name, or remove the share line.')
        return focuser

    def presets(self, data: Any, where: KeyPath, label: str) -> list[Preset]:
        example = 'Write each preset as a [[focuser.presets]] section (or an inline table {slot = 1, name = "Bahtinov", position = 12000}) under its focuser.'
        if not isinstance(data, list):
            raise self.fail(where, f"presets of {label} must be a list of tables with slot, name and position", example)
        presets: list[Preset] = []
        slots: set[int] = set()
        for index, item in enumerate(data):
            item_where = where + (index,)
            item_label = f"preset {index + 1} of {label}"
            if not isinstance(item, dict):
                raise self.fail(item_where, f"{item_label} is not a table", example)
            self.reject_unknown(item, PRESET_KEYS, item_where, f"in {item_label}")
            missing = [key for key in PRESET_KEYS if key not in item]
            if missing:
                raise self.fail(item_where, f"{item_label} lacks {', '.join(missing)}", "Every preset needs slot (from 1), name and position (raw device counts).")
            for key in PRESET_KEYS:
                problem = preset_problem(key, item[key])
                if problem:
                    raise self.fail(item_where + (key,), f"{key} in {item_label} is {_show(item[key])}, but it must be {problem}", "Correct that value and start the server again.")
            preset = Preset(**{key: item[key] for key in PRESET_KEYS})
            if preset.slot in slots:
                raise self.fail(item_where + ("slot",), f"slot {preset.slot} is used twice in the presets of {label}", "Give every preset its own slot number.")
            slots.add(preset.slot)
            presets.append(preset)
        return presets

    def fields(self, data: dict[str, Any], table: schema.Table, where: KeyPath, label: str) -> dict[str, Any]:
        """The table's values by the schema; the first bad one (in the file's order) is the error."""
        try:
            return schema.check(table, data, schema.FILE)
        except schema.SettingsRefused as refused:
            order = list(data)
            first = min(refused.problems, key=lambda problem: order.index(problem.name))
            raise self.fail(
                where + (first.name,), f"{first.name} in {label} is {_show(first.value)}, but it must be {first.must_be}", "Correct that value and start the server again."
            ) from None

    def reject_unknown(self, data: dict[str, Any], valid: tuple[str, ...], where: KeyPath, label: str) -> None:
        for key in data:
            if key not in valid:
                close = difflib.get_close_matches(key, valid, n=1)
                guess = f' Did you mean "{close[0]}"?' if close else ""
                raise self.fail(
                    where + (key,),
                    f'unknown key "{key}" {label}',
                    f"Valid keys there: {', '.join(valid)}.{guess} Fix the spelling or remove the line.",
                )

    def check_distinct(self, focusers: list[FocuserSettings], key: str, message: str, advice: str) -> None:
        seen: dict[str, int] = {}
        for index, focuser in enumerate(focusers):
            value = getattr(focuser, key)
            if not value:
                continue
            if value in seen:
                first = self.lines.line_of(("focuser", seen[value], key))
                also = f" (also on line {first})" if first else ""
                raise self.fail(("focuser", index, key), f"{message}: {value!r}{also}", advice)
            seen[value] = index



_SYNTAX_LINE = re.compile(r"\(at line (\d+), column \d+\)")


def parse_settings(text: str, path: Path) -> Settings:
    """Validate the TOML ``text`` read from ``path`` into Settings."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _SYNTAX_LINE.search(message)
        line = int(found.group(1)) if found else max(1, len(text.splitlines()))
        reason = _SYNTAX_LINE.sub("", message).replace("(at end of document)", "").strip()
        raise ConfigError(
            f"{path}, line {line}: not valid TOML ({reason}). Fix that line: text needs double quotes, "
            "true/false are lowercase, a key appears once per table, and every [section] header once "
            "(use [[focuser]] for each focuser).",
            path=path,
            line=line,
        ) from None
    return _Reader(path, text).read(data)


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no configuration file there. Run 'alpaca-focuser init --config {path}' to write the "
            "commented template there, or give the right path with --config.",
            path=path,
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a folder, not a configuration file. Give the path of the .toml file itself.", path=path) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}). Save it as UTF-8 and start again.", path=path) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration file ({exc.strerror}). Check that it exists and that this user may read it.", path=path) from None


