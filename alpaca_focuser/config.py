"""Load, validate and atomically save the configuration file.

The file is the single source of truth for a running server: a value that fails validation stops
the start with a message naming the file and line, because running on silent defaults would move a
telescope with settings the user never chose. What the user changes at run time (reverse, backlash,
presets) and the generated UniqueIDs are written back with tomlkit so the user's comments and layout
survive, through a temp file and a rename so that a crash or a full disk never leaves half a file.
"""

from __future__ import annotations

import dataclasses
import difflib
import errno
import ipaddress
import logging
import math
import os
import re
import stat
import tempfile
import threading
import tomllib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import tomlkit
import tomlkit.exceptions
from tomlkit.items import AoT, Array, Table

from .limits import BACKLASH_STEPS_MAX, POSITION_MAX, PRESET_SLOTS
from .passwords import hash_problem
from .settings import ROUTE_NAMES, Direction, FocuserSettings, Preset, ServerSettings, Settings
from .temperature.sources import SPEC_HELP, parse_spec

log = logging.getLogger(__name__)

URL_SCHEMES = ("sim", "socket", "rfc2217", "loop", "spy", "hwgrep", "alt", "cp2110")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
RUN_TIME_FIELDS = ("name", "port", "route", "source", "rtscts", "baud", "settle_ms", "step_size_um", "reverse", "backlash_steps", "backlash_direction", "unique_id", "presets")
PRESET_KEYS = ("slot", "name", "position")
COEFFICIENT_MAX = 100_000.0  # steps per °C, far beyond any real telescope

KeyPath = tuple[str | int, ...]


class ConfigError(Exception):
    """A configuration file that cannot be read, validated or written; the message says what to do."""

    def __init__(self, message: str, *, path: Path | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


class _Invalid(ValueError):
    """A value outside its rule; the message completes "must be ..."."""


@dataclass(frozen=True)
class Rule:
    check: Callable[[Any], Any]


def _integer(low: int, high: int) -> Rule:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _Invalid(f"a whole number from {low} to {high}")
        return value

    return Rule(check)


def _number(low: float, high: float, unit: str) -> Rule:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not low <= value <= high:
            raise _Invalid(f"a number of {unit} from {low:g} to {high:g}")
        return float(value)

    return Rule(check)


def _positive_number(high: float, unit: str) -> Rule:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 < value <= high:
            raise _Invalid(f"a number of {unit} above 0 and at most {high:g} (leave the key out if unknown)")
        return float(value)

    return Rule(check)


def _boolean() -> Rule:
    def check(value: Any) -> bool:
        if not isinstance(value, bool):
            raise _Invalid("true or false (lowercase, without quotes)")
        return value

    return Rule(check)


def _text(*, allow_empty: bool = False, max_length: int = 200) -> Rule:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise _Invalid('text in double quotes, like "Celestron Focuser"')
        if not allow_empty and not value.strip():
            raise _Invalid("non-empty text")
        if len(value) > max_length:
            raise _Invalid(f"text of at most {max_length} characters")
        return value

    return Rule(check)


def _choice(values: tuple[str, ...], convert: Callable[[str], Any]) -> Rule:
    quoted = ", ".join(f'"{value}"' for value in values)

    def check(value: Any) -> Any:
        if isinstance(value, str):
            for allowed in values:
                if value.strip().lower() == allowed.lower():
                    return convert(allowed)
        raise _Invalid(f"one of {quoted}")

    return Rule(check)


_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


def _bind_address() -> Rule:
    def check(value: Any) -> str:
        if isinstance(value, str):
            try:
                ipaddress.ip_address(value)
                return value
            except ValueError:
                if _HOSTNAME.match(value):
                    return value
        raise _Invalid('an IP address or host name in quotes: "0.0.0.0" for every IPv4 interface, "::" for IPv6 too, "127.0.0.1" for this machine only')

    return Rule(check)


def _serial_port() -> Rule:
    hint = (
        'a serial port or pyserial URL in quotes: "auto" (find the focuser by its USB id), "/dev/ttyACM0", "COM5", '
        '"socket://HOST:PORT" (WiFi module or ser2net), "rfc2217://HOST:PORT" or "sim://" (the built-in simulator)'
    )

    def check(value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise _Invalid(hint)
        if "://" in value:
            parts = urlsplit(value)
            if parts.scheme not in URL_SCHEMES:
                known = ", ".join(f"{scheme}://" for scheme in URL_SCHEMES)
                raise _Invalid(f"a URL with a known scheme ({known}); {parts.scheme}:// is not one")
            if parts.scheme in ("socket", "rfc2217"):
                try:
                    port = parts.port
                except ValueError:
                    port = None
                if not parts.hostname or port is None or not 1 <= port <= 65535:
                    raise _Invalid(f"{parts.scheme}://HOST:PORT with a port from 1 to 65535, like {parts.scheme}://192.168.1.50:2000")
        return value

    return Rule(check)


def _aux_source() -> Rule:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0x01 <= value <= 0xFF or value == 0x12:
            raise _Invalid("an AUX device address from 0x01 to 0xFF other than the focuser's own 0x12: 0x20 (the usual one) or 0x22 when another program uses 0x20 on the same bus")
        return value

    return Rule(check)


def _temperature_source() -> Rule:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise _Invalid(SPEC_HELP)
        if not value.strip():
            return ""
        try:
            return parse_spec(value).text
        except ValueError as exc:
            raise _Invalid(str(exc)) from None

    return Rule(check)


def _password_hash() -> Rule:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise _Invalid('text in double quotes, as alpaca-focuser password prints it, or "" for no password')
        problem = hash_problem(value) if value else None
        if problem:
            raise _Invalid(f'{problem} (run alpaca-focuser password to make one), or "" for no password')
        return value

    return Rule(check)


SERVER_RULES: dict[str, Rule] = {
    "name": _text(),
    "location": _text(allow_empty=True),
    "bind": _bind_address(),
    "http_port": _integer(1, 65535),
    "discovery_port": _integer(1, 65535),
    "discovery": _boolean(),
    "mdns": _boolean(),
    "log_level": _choice(LOG_LEVELS, str),
    "threads": _integer(1, 256),
    "password_hash": _password_hash(),
    "password_for_api": _boolean(),
}

FOCUSER_RULES: dict[str, Rule] = {
    "name": _text(),
    "port": _serial_port(),
    "route": _choice(ROUTE_NAMES, str),
    "baud": _integer(1, 4_000_000),
    "source": _aux_source(),
    "rtscts": _boolean(),
    "reverse": _boolean(),
    "backlash_steps": _integer(0, BACKLASH_STEPS_MAX),
    "backlash_direction": _choice(tuple(d.value for d in Direction), Direction),
    "settle_ms": _integer(0, 60_000),
    "step_size_um": _positive_number(10_000, "micrometres per step"),
    "unique_id": _text(allow_empty=True),
    "poll_moving_ms": _integer(5, 5_000),
    "poll_min_ms": _integer(0, 5_000),
    "poll_idle_ms": _integer(50, 60_000),
    "poll_calibration_ms": _integer(50, 60_000),
    "reply_timeout_s": _number(0.05, 30, "seconds"),
    "grace_s": _number(0, 3600, "seconds"),
    "stall_s": _number(0.5, 600, "seconds"),
    "calibration_timeout_s": _number(10, 3600, "seconds"),
    "jog_timeout_s": _number(0.1, 60, "seconds"),
    "temperature": _temperature_source(),
    "tempcomp_steps_per_c": _number(-COEFFICIENT_MAX, COEFFICIENT_MAX, "focuser steps per °C"),
    "tempcomp_threshold_c": _number(0.01, 20, "°C"),
    "temperature_average_s": _number(0, 3600, "seconds"),
    "temperature_stale_s": _number(0.1, 86_400, "seconds"),
    "temperature_log_rest_s": _number(0.1, 86_400, "seconds"),
}

PRESET_RULES: dict[str, Rule] = {
    "slot": _integer(PRESET_SLOTS[0], PRESET_SLOTS[-1]),
    "name": _text(),
    "position": _integer(0, POSITION_MAX),
}


def check_focuser_setting(key: str, value: Any) -> Any:
    """``value`` checked and converted by the rule of the focuser setting ``key``, for settings
    changed at run time; a ValueError names the setting and says what it must be."""
    if key not in FOCUSER_RULES:
        raise ValueError(f"{key} is not a focuser setting; the settings are {', '.join(FOCUSER_RULES)}")
    try:
        return FOCUSER_RULES[key].check(value)
    except _Invalid as exc:
        raise ValueError(f"{key} is {_show(value)}, but it must be {exc}") from None


def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


assert set(SERVER_RULES) == set(_field_names(ServerSettings)), "every server setting needs a rule"
assert set(FOCUSER_RULES) | {"presets"} == set(_field_names(FocuserSettings)), "every focuser setting needs a rule"


class _LineFinder:
    """Finds the line of a key in the raw text, so a bad value can be pointed at.

    tomllib reports lines only for syntax errors, and tomlkit keeps no line numbers, so this reads
    table headers and ``key =`` lines the way a person would.
    """

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(r"""^\s*(?:"([^"]+)"|'([^']+)'|([A-Za-z0-9_-]+))\s*=""")

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.places: dict[KeyPath, int] = {}
        section: KeyPath = ()
        focusers = -1
        presets = -1
        for number, line in enumerate(self.lines, start=1):
            header = self._HEADER.match(line)
            if header:
                name = tuple(part.strip().strip("\"'") for part in header.group(2).split("."))
                if header.group(1) == "[[" and name == ("focuser",):
                    focusers += 1
                    presets = -1
                    section = ("focuser", focusers)
                elif header.group(1) == "[[" and name == ("focuser", "presets"):
                    presets += 1
                    section = ("focuser", max(focusers, 0), "presets", presets)
                else:
                    section = name
                self.places.setdefault(section, number)
                continue
            key = self._KEY.match(line)
            if key:
                self.places.setdefault(section + (next(g for g in key.groups() if g),), number)

    def line_of(self, where: KeyPath) -> int | None:
        if where in self.places:
            return self.places[where]
        if len(where) >= 4 and where[2] == "presets" and isinstance(where[3], int):
            inline = self._inline_table_line(where[:3], where[3])
            if inline is not None:
                return inline
        for cut in range(len(where) - 1, 0, -1):
            if where[:cut] in self.places:
                return self.places[where[:cut]]
        return None

    def _inline_table_line(self, array_key: KeyPath, index: int) -> int | None:
        """The line where the index-th inline table of an array such as ``presets = [{...}, {...}]`` opens."""
        start = self.places.get(array_key)
        if start is None:
            return None
        seen = -1
        for number in range(start, len(self.lines) + 1):
            quoted = False
            for char in self.lines[number - 1]:
                if char == '"':
                    quoted = not quoted
                elif char == "{" and not quoted:
                    seen += 1
                    if seen == index:
                        return number
                elif char == "#" and not quoted:
                    break
        return None


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
        self.reject_unknown(server_data, tuple(SERVER_RULES), ("server",), "in [server]")
        server = ServerSettings(**self.fields(server_data, SERVER_RULES, ("server",), "[server]"))

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
        self.reject_unknown(data, tuple(FOCUSER_RULES) + ("presets",), where, f"in {label}")
        values = self.fields({k: v for k, v in data.items() if k != "presets"}, FOCUSER_RULES, where, label)
        values["presets"] = self.presets(data.get("presets", []), where + ("presets",), label)
        return FocuserSettings(**values)

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
            preset = Preset(**self.fields(item, PRESET_RULES, item_where, item_label))
            if preset.slot in slots:
                raise self.fail(item_where + ("slot",), f"slot {preset.slot} is used twice in the presets of {label}", "Give every preset its own slot number.")
            slots.add(preset.slot)
            presets.append(preset)
        return presets

    def fields(self, data: dict[str, Any], rules: dict[str, Rule], where: KeyPath, label: str) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key, value in data.items():
            try:
                values[key] = rules[key].check(value)
            except _Invalid as exc:
                raise self.fail(where + (key,), f"{key} in {label} is {_show(value)}, but it must be {exc}", "Correct that value and start the server again.") from None
        return values

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


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (dict, list)):
        return "a table" if isinstance(value, dict) else "a list"
    return str(value)


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


_SAVE_LOCKS: dict[str, threading.Lock] = {}
_SAVE_LOCKS_GUARD = threading.Lock()


def _save_lock(path: Path) -> threading.Lock:
    """One lock per file, shared by every ConfigFile on it, so two saves never interleave."""
    key = os.path.realpath(path)
    with _SAVE_LOCKS_GUARD:
        return _SAVE_LOCKS.setdefault(key, threading.Lock())


def _write_failure(path: Path, exc: OSError, what: str) -> ConfigError:
    reasons = {
        errno.ENOSPC: "the disk is full; free some space",
        errno.EDQUOT: "the disk quota is used up; free some space",
        errno.EROFS: "the file system is read-only; remount it read-write",
        errno.EACCES: f"this user may not write in {path.parent}; give it write permission on that folder",
        errno.EPERM: f"this user may not write in {path.parent}; give it write permission on that folder",
    }
    advice = reasons.get(exc.errno or 0, "check the disk and the folder's permissions")
    return ConfigError(f"could not save {what} to {path}: {exc.strerror or exc}. The file is unchanged; {advice}.", path=path)


def atomic_write(path: Path, text: str, what: str = "the configuration") -> None:
    """Replace ``path`` with ``text`` so that any reader sees either the old or the new file, whole.

    The new text goes to a temp file in the same folder (a rename is atomic only within one file
    system), is flushed to disk, renamed over the old file, and the folder entry itself is synced so
    the rename survives a power cut.
    """
    try:
        current = os.stat(path)
    except OSError as exc:
        raise _write_failure(path, exc, what) from None
    if _on_read_only_file_system(path):
        raise _write_failure(path, OSError(errno.EROFS, os.strerror(errno.EROFS)), what)
    if not current.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(path, os.W_OK):
        raise ConfigError(
            f"could not save {what} to {path}: the file is read-only. The file is unchanged; "
            f"make it writable (chmod u+w {path}) to keep changes made while the server runs.",
            path=path,
        )
    temp: str | None = None
    try:
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp, stat.S_IMODE(current.st_mode))
        if hasattr(os, "chown") and os.geteuid() == 0:
            os.chown(temp, current.st_uid, current.st_gid)
        os.replace(temp, path)
        temp = None
    except OSError as exc:
        raise _write_failure(path, exc, what) from None
    finally:
        if temp is not None:
            try:
                os.unlink(temp)
            except OSError:
                pass
    _sync_folder(path.parent)


def remove_interrupted_saves(path: Path) -> None:
    """Delete the temp files that saves of ``path`` left when the server was killed mid-save.

    A save writes a whole new copy beside the file and renames it over the file only when it is
    complete, so a leftover copy was never in place and its change was never confirmed to a client.
    """
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.tmp")
    try:
        leftovers = [entry for entry in path.parent.iterdir() if pattern.fullmatch(entry.name)]
    except OSError:
        return
    for leftover in leftovers:
        try:
            complete = _is_complete_copy(leftover)
            leftover.unlink()
        except OSError as exc:
            log.warning("Could not remove %s, left by an interrupted save: %s", leftover, exc.strerror or exc)
            continue
        kind = "a complete copy" if complete else "an unfinished copy"
        log.info("Removed %s, %s of the configuration left by a save that was interrupted; %s itself is whole and in use", leftover.name, kind, path)


def _is_complete_copy(leftover: Path) -> bool:
    try:
        parse_settings(leftover.read_text(encoding="utf-8"), leftover)
    except (ConfigError, UnicodeDecodeError):
        return False
    return True


def _on_read_only_file_system(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (AttributeError, OSError):
        return False  # no statvfs on Windows; the write itself reports the problem there


def _sync_folder(folder: Path) -> None:
    if os.name != "posix":
        return  # Windows cannot open a folder for fsync; its rename is already durable enough
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


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
