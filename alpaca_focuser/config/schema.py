"""The settings schema: the declarations of settings.py turned into checks (pydantic models) and
into the lists every other part uses (what a client may change, what needs the port, help texts).

One check serves every way a value arrives, with who sent it:

* ``FILE`` and ``COMMAND_LINE``: the machine's owner (any port scheme the server supports);
* ``CLIENT``: a network client at run time (only the settings marked ``client``, and a port only
  as a device path, ``auto`` or ``sim://``; see celestron/port_names.py for why).

Every value is checked, and every problem is reported at once, each as "must be ..." text made
from the setting's own declaration, so the file's error, SetSettings' error and the form's error
for the same value say the same thing.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any, Literal

import pydantic
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field

from ..celestron.port_names import port_problem
from ..celestron.sharing.spec import CLIENT_SHARE_FORM, SHARE_FORM, parse_share, share_problem
from ..passwords import hash_problem
from ..safe_text import has_controls, shown
from ..settings import FocuserSettings, ServerSettings, Spec
from ..settings import client_settings as client_settings  # declared in settings.py, where the device model reads them too
from ..settings import port_settings as port_settings
from .temperature_spec import CAMERA_HELP, SPEC_HELP, parse_camera, parse_spec

Origin = Literal["the configuration file", "the command line", "a client"]
FILE: Origin = "the configuration file"
COMMAND_LINE: Origin = "the command line"
CLIENT: Origin = "a client"
Table = Literal["server", "focuser"]
TABLES: dict[Table, type] = {"server": ServerSettings, "focuser": FocuserSettings}
NOT_CHECKED_HERE = ("presets",)  # a list of tables with rules of its own (config/reading.py)


@dataclass(frozen=True)
class Entry:
    """One setting: its name, Python type, default and Spec."""

    name: str
    table: Table
    kind: Any  # the annotation: int, float, bool, str, Direction, or one of them | None
    default: Any
    spec: Spec

    @property
    def nullable(self) -> bool:
        return type(None) in typing.get_args(self.kind)

    @property
    def base(self) -> Any:
        args = [arg for arg in typing.get_args(self.kind) if arg is not type(None)]
        return args[0] if args else self.kind

    def must_be(self, origin: Origin = FILE) -> str:
        """What a valid value is, completing "it must be ..."."""
        spec, base = self.spec, self.base
        if spec.rule:
            return _RULE_FORMS[spec.rule](origin)
        if spec.choices:
            return "one of " + ", ".join(f'"{choice}"' for choice in spec.choices)
        if base is bool:
            return "true or false" + (" (lowercase, without quotes)" if origin == FILE else "")
        if base is int:
            return f"a whole number from {number_text(spec.low)} to {number_text(spec.high)}" + (f" ({spec.unit})" if spec.unit else "")
        if base is float:
            unit = f" of {spec.unit}" if spec.unit else ""
            if spec.above_low:
                text = f"a number{unit} above {number_text(spec.low)} and at most {number_text(spec.high)}"
            else:
                text = f"a number{unit} from {number_text(spec.low)} to {number_text(spec.high)}"
            return text + (" (leave the key out if unknown)" if self.nullable and origin == FILE else "")
        empty = "text" if spec.allow_empty else "non-empty text"
        return f"{empty} of at most {spec.max_length} characters, without control characters"


def number_text(value: float | None) -> str:
    """A bound as people write it: 65535, not 65535.0; 0.05 as it is."""
    if value is None:
        return "any"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


class Problem(typing.NamedTuple):
    """One bad value: the setting, the value as sent, and what it must be instead."""

    name: str
    value: Any
    must_be: str

    def for_client(self) -> str:
        """``FIELD: problem``, the line the settings form places beside the field."""
        return f"{self.name}: {shown(self.value)} is not accepted; it must be {self.must_be}"


class SettingsRefused(ValueError):
    """Values that failed their checks; ``problems`` lists every one."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(problem.for_client() for problem in problems))
        self.problems = problems


# ----------------------------------------------------------------- the declarations


@functools.cache
def entries(table: Table) -> tuple[Entry, ...]:
    cls = TABLES[table]
    hints = typing.get_type_hints(cls)
    found = []
    for item in dataclasses.fields(cls):
        if item.name in NOT_CHECKED_HERE:
            continue
        default = item.default if item.default is not dataclasses.MISSING else None
        found.append(Entry(item.name, table, hints[item.name], default, item.metadata["spec"]))
    return tuple(found)


def entry(table: Table, name: str) -> Entry:
    for found in entries(table):
        if found.name == name:
            return found
    raise KeyError(f"{name} is not a {table} setting")


def names(table: Table) -> tuple[str, ...]:
    return tuple(found.name for found in entries(table))


# ----------------------------------------------------------------- named rules


def _aux_address(value: int) -> int:
    if not 0x01 <= value <= 0xFF or value == 0x12:
        raise ValueError
    return value


_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


def _bind_address(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        if not _HOSTNAME.match(value):
            raise ValueError from None
    return value


def _temperature_source(value: str) -> str:
    if not value.strip():
        return ""
    try:
        return parse_spec(value).text
    except ValueError as exc:
        raise ValueError(str(exc)) from None


def _camera_address(value: str) -> str:
    return parse_camera(value).text if value.strip() else ""


def _password_hash(value: str) -> str:
    problem = hash_problem(value) if value else None
    if problem:
        raise ValueError(f'{problem} (run alpaca-focuser password to make one), or "" for no password')
    return value


_RULE_TYPES: dict[str, type] = {
    "share": str, "port": str, "aux_address": int, "bind_address": str, "temperature_source": str, "password_hash": str, "camera_address": str,
}  # fmt: skip
_RULE_CHECKS: dict[str, Callable[[Any], Any]] = {
    "aux_address": _aux_address,
    "bind_address": _bind_address,
    "temperature_source": _temperature_source,
    "password_hash": _password_hash,
    "camera_address": _camera_address,
}
_RULE_FORMS: dict[str, Callable[[Origin], str]] = {
    "port": lambda origin: port_problem("", client=origin == CLIENT) or "",
    "share": lambda origin: CLIENT_SHARE_FORM if origin == CLIENT else SHARE_FORM,
    "aux_address": lambda _: "an AUX device address from 0x01 to 0xFF other than the focuser's own 0x12: 0x20 (the usual one) "
    "or 0x22 when another program uses 0x20 on the same bus",
    "bind_address": lambda _: 'an IP address or host name in quotes: "0.0.0.0" for every IPv4 interface, "::" for IPv6 too, '
    '"127.0.0.1" for this machine only',
    "temperature_source": lambda _: SPEC_HELP,
    "camera_address": lambda _: CAMERA_HELP,
    "password_hash": lambda _: 'text in double quotes, as alpaca-focuser password prints it, or "" for no password',
}


# ----------------------------------------------------------------- the pydantic models


def _text_check(spec: Spec) -> Callable[[str], str]:
    def check(value: str) -> str:
        if has_controls(value) or len(value) > spec.max_length or not (spec.allow_empty or value.strip()):
            raise ValueError
        return value

    return check


def _choice_check(found: Entry) -> Callable[[Any], Any]:
    convert: Callable[[str], Any] = found.base if isinstance(found.base, type) and issubclass(found.base, Enum) else str

    def check(value: Any) -> Any:
        if isinstance(value, str):
            for allowed in found.spec.choices:
                if value.strip().lower() == allowed.lower():
                    return convert(allowed)
        raise ValueError

    return check


def _port_check(origin: Origin) -> Callable[[str], str]:
    def check(value: str) -> str:
        problem = port_problem(value, client=origin == CLIENT)
        if problem:
            raise ValueError(problem)
        return value

    return check


def _share_check(origin: Origin) -> Callable[[str], str]:
    def check(value: str) -> str:
        problem = share_problem(value, client=origin == CLIENT)
        if problem:
            raise ValueError(problem)
        spec = parse_share(value)
        return spec.text if spec is not None else ""

    return check


def _annotation(found: Entry, origin: Origin) -> Any:
    spec, base = found.spec, found.base
    kind: Any
    if spec.rule == "port":
        kind = Annotated[str, AfterValidator(_port_check(origin))]
    elif spec.rule == "share":
        kind = Annotated[str, AfterValidator(_share_check(origin))]
    elif spec.rule:
        kind = Annotated[_RULE_TYPES[spec.rule], AfterValidator(_RULE_CHECKS[spec.rule])]
    elif spec.choices:
        kind = Annotated[base, BeforeValidator(_choice_check(found))]
    elif base is str:
        kind = Annotated[str, AfterValidator(_text_check(spec))]
    elif base in (int, float):
        bounds = Field(le=spec.high, gt=spec.low) if spec.above_low else Field(le=spec.high, ge=spec.low)
        kind = Annotated[base, bounds]
    else:
        kind = base
    return kind | None if found.nullable else kind


@functools.cache
def _model(table: Table, origin: Origin) -> type[pydantic.BaseModel]:
    fields: dict[str, Any] = {found.name: (_annotation(found, origin), found.default) for found in entries(table)}
    config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)
    return pydantic.create_model(f"{table.title()}Settings", __config__=config, **fields)


def check(table: Table, values: dict[str, Any], origin: Origin) -> dict[str, Any]:
    """``values`` checked and converted, for the keys given only; raises SettingsRefused listing
    every bad value (an unknown key is the caller's to refuse first)."""
    try:
        model = _model(table, origin).model_validate(values)
    except pydantic.ValidationError as error:
        raise SettingsRefused(_problems(table, values, error, origin)) from None
    return {key: getattr(model, key) for key in values}


def _problems(table: Table, values: dict[str, Any], error: pydantic.ValidationError, origin: Origin) -> list[Problem]:
    problems: dict[str, Problem] = {}
    for detail in error.errors(include_url=False):
        name = str(detail["loc"][0]) if detail["loc"] else ""
        if name in problems or name not in values:
            continue
        own = detail.get("ctx", {}).get("error")
        message = str(own) if isinstance(own, ValueError) and str(own) else entry(table, name).must_be(origin)
        problems[name] = Problem(name, values[name], message)
    order = names(table)
    return sorted(problems.values(), key=lambda problem: order.index(problem.name))


def check_one(table: Table, name: str, value: Any, origin: Origin = FILE) -> Any:
    """One value, checked; raises SettingsRefused with its problem."""
    return check(table, {name: value}, origin)[name]

