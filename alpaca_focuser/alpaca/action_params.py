"""Reading an action's ``Parameters``: absent or empty, a plain value (``2``, ``Visual``, ``-500``,
``true``) or a JSON object, into the argument its handler takes.

Each reader raises ``BadParameters`` with what was wrong; actions.py adds the action's name and
the accepted form, so every refusal is a clear InvalidValue, never a 500.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from ..settings import Direction
from .protocol import ClientJsonRefused, decode_client_json, whole_number

PRESET_NAME_MAX = 200  # the configuration file refuses longer names


class BadParameters(ValueError):
    """Parameters that do not fit the action; the message says what was wrong."""


def decode(text: str) -> Any:
    """JSON when the text is JSON, otherwise the plain word itself (so ``Visual`` needs no quotes)."""
    text = text.strip()
    if not text:
        return None
    try:
        return decode_client_json(text)
    except ClientJsonRefused as refused:
        raise BadParameters(f"Parameters {refused}") from None
    except ValueError:
        return text


def whole(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise BadParameters(f"{what} must be a whole number, not {json.dumps(value)}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return whole_number(value.strip())
        except ValueError as error:
            raise BadParameters(f"{what} must be a whole number, not {show(value)} ({error})") from None
    raise BadParameters(f"{what} must be a whole number, not {show(value)}")


def flag(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise BadParameters(f"{what} must be true or false, not {show(value)}")


def preset_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadParameters(f"a preset name must be non-empty text, not {show(value)}")
    if len(value) > PRESET_NAME_MAX:
        raise BadParameters(f"a preset name may be at most {PRESET_NAME_MAX} characters long")
    return value.strip()


def show(value: Any) -> str:
    if value is None:
        return "nothing"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def object_fields(value: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    """A JSON object's members by lower-case key; unknown keys are refused, not ignored."""
    if not isinstance(value, dict):
        raise BadParameters(f"expected a JSON object, not {show(value)}")
    fields = {str(key).lower(): item for key, item in value.items()}
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise BadParameters(f"unknown key {', '.join(map(repr, unknown))}; the keys are {', '.join(allowed)}")
    return fields


def one_value(value: Any, key: str) -> Any:
    """A plain value, or the same value given as ``{"key": value}``."""
    if isinstance(value, dict):
        fields = object_fields(value, (key,))
        if key not in fields:
            raise BadParameters(f'the object needs the key "{key}"')
        return fields[key]
    return value


def no_parameters(value: Any) -> None:
    if value is not None and value != {}:
        raise BadParameters(f"this action takes no parameters, but got {show(value)}")


def history_limit(value: Any) -> int | None:
    """How many of the newest moves to return: none for all that are kept, or a count."""
    if value is None or value == {}:
        return None
    limit = whole(one_value(value, "limit"), "limit")
    if limit < 1:
        raise BadParameters(f"limit must be 1 or more, not {limit}")
    return limit


def steps(value: Any) -> int:
    return whole(one_value(value, "steps"), "steps")


def rate(value: Any) -> int:
    return whole(one_value(value, "rate"), "rate")


def reverse_flag(value: Any) -> bool:
    return flag(one_value(value, "reverse"), "reverse")


def backlash_changes(value: Any) -> dict[str, Any]:
    fields = object_fields(value, ("steps", "direction"))
    if not fields:
        raise BadParameters("give steps, direction or both")
    changes: dict[str, Any] = {}
    if "steps" in fields:
        changes["steps"] = whole(fields["steps"], "steps")
    if "direction" in fields:
        direction = fields["direction"]
        choices = [d.value for d in Direction]
        if not isinstance(direction, str) or direction.strip().lower() not in choices:
            raise BadParameters(f'direction must be "in", "out" or "none", not {show(direction)}')
        changes["direction"] = Direction(direction.strip().lower())
    return changes


def preset_key(value: Any) -> int | str:
    """A slot number or a preset name, plain or as {"slot": n} / {"name": "..."}."""
    if isinstance(value, dict):
        fields = object_fields(value, ("slot", "name"))
        if len(fields) != 1:
            raise BadParameters('give either "slot" or "name"')
        return whole(fields["slot"], "slot") if "slot" in fields else preset_name(fields["name"])
    if value is None:
        raise BadParameters("a preset slot or name is needed")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return whole(value, "slot")
    if isinstance(value, str):
        return preset_name(value)
    raise BadParameters(f"a preset is named by its slot number or its name, not {show(value)}")


@dataclass(frozen=True)
class PresetToSave:
    slot: int | None
    name: str | None
    position: int | None


def preset_to_save(value: Any) -> PresetToSave:
    if not isinstance(value, dict):
        key = preset_key(value)
        return PresetToSave(key, None, None) if isinstance(key, int) else PresetToSave(None, key, None)
    fields = object_fields(value, ("slot", "name", "position"))
    if fields.get("slot") is None and fields.get("name") is None:
        raise BadParameters('give "slot", "name" or both')
    slot = whole(fields["slot"], "slot") if fields.get("slot") is not None else None
    name = preset_name(fields["name"]) if fields.get("name") is not None else None
    position = whole(fields["position"], "position") if fields.get("position") is not None else None
    return PresetToSave(slot, name, position)


def coefficient(value: Any) -> float | None:
    """None (use the fit) or a coefficient in steps per °C, plain or as {"steps_per_c": x}."""
    if value is None or value == {}:
        return None
    value = one_value(value, "steps_per_c")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise BadParameters(f"the coefficient must be a number of steps per °C, not {show(value)}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadParameters(f"the coefficient must be a number of steps per °C, not {show(value)}")
    return float(value)


def point_ids(value: Any) -> list[int]:
    if isinstance(value, dict):
        value = one_value(value, "ids")
    items = value if isinstance(value, list) else [value]
    if not items or value is None:
        raise BadParameters("give the ids of the points to drop")
    return [whole(item, "a point id") for item in items]
