"""The Alpaca request rules that are checked before any device logic.

Reading parameters (GET query keys match in any casing, PUT form keys only exactly), the typed
value parsers, and the ClientID/ClientTransactionID checks. Anything that breaks these rules is a
``BadRequest``, answered with HTTP 400 and a plain-text message that says what to send instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from ..json_nesting import json_nesting

UINT32_MAX = 4_294_967_295
INT32_MIN = -2_147_483_648
INT32_MAX = 2_147_483_647
# Digits a number may have on the wire (leading zeros included). Checked before int(), which
# would otherwise spend time on, or refuse with an exception, a number of thousands of digits.
MAX_DIGITS = 10  # enough for every 32-bit value
JSON_MAX_CHARS = 4096  # an action's Parameters: a preset name of 200 characters fits many times
JSON_MAX_DEPTH = 16  # no action needs more than one object level
JSON_MAX_DIGITS = 18  # a JSON number of more digits than a 64-bit integer has is refused

_DIGITS = re.compile(r"[0-9]+")
_SIGNED_DIGITS = re.compile(r"([+-]?)([0-9]+)")


class BadRequest(Exception):
    """The request breaks an Alpaca protocol rule; the message is the HTTP 400 body."""


class MethodNotAccepted(BadRequest):
    """An HTTP method the member does not take; ``allowed`` goes into the Allow header."""

    def __init__(self, message: str, allowed: tuple[str, ...]) -> None:
        super().__init__(message)
        self.allowed = allowed


def unsigned_number(text: str, maximum: int = UINT32_MAX) -> int:
    """ASCII digits only (so no ``²``, ``①`` or Arabic digits), at most MAX_DIGITS, up to ``maximum``.

    Raises ValueError with the reason, worded to follow "is ...".
    """
    if not _DIGITS.fullmatch(text):
        raise ValueError("not a whole number written with the digits 0-9")
    if len(text) > MAX_DIGITS:
        raise ValueError(f"longer than {MAX_DIGITS} digits")
    value = int(text)
    if value > maximum:
        raise ValueError(f"larger than {maximum}")
    return value


def signed_number(text: str, low: int = INT32_MIN, high: int = INT32_MAX, max_digits: int = MAX_DIGITS) -> int:
    """An optional sign and ASCII digits, at most ``max_digits`` of them, within ``low..high``."""
    found = _SIGNED_DIGITS.fullmatch(text)
    if found is None:
        raise ValueError("not a whole number written with the digits 0-9")
    if len(found.group(2)) > max_digits:
        raise ValueError(f"longer than {max_digits} digits")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"outside {low}..{high}")
    return value


class ClientJsonRefused(ValueError):
    """JSON from a client that is too big or too deep to decode; the message says which limit."""


def decode_client_json(text: str) -> Any:
    """Decode JSON sent by a client, within fixed limits of size, nesting and number length.

    The standard decoder recurses once per nesting level (so 1000 levels raise RecursionError) and
    refuses integers of more than 4300 digits with a ValueError of its own; both are caught here
    first, as ClientJsonRefused. Text that is not JSON raises json.JSONDecodeError as usual.
    """
    if len(text) > JSON_MAX_CHARS:
        raise ClientJsonRefused(f"is {len(text)} characters long; at most {JSON_MAX_CHARS} are accepted")
    if json_nesting(text, JSON_MAX_DEPTH) > JSON_MAX_DEPTH:
        raise ClientJsonRefused(f"nests arrays or objects more than {JSON_MAX_DEPTH} levels deep")
    return json.loads(text, parse_int=_json_integer, parse_float=_json_float)


def whole_number(text: str) -> int:
    """A signed whole number given as plain text where JSON is also accepted: JSON's digit limit."""
    return signed_number(text, -(10**JSON_MAX_DIGITS), 10**JSON_MAX_DIGITS, JSON_MAX_DIGITS)


def _json_integer(text: str) -> int:
    if len(text.lstrip("-")) > JSON_MAX_DIGITS:
        raise ClientJsonRefused(f"holds a number of more than {JSON_MAX_DIGITS} digits")
    return int(text)


def _json_float(text: str) -> float:
    value = float(text)
    if not abs(value) < 10**JSON_MAX_DIGITS:
        raise ClientJsonRefused(f"holds a number of more than {JSON_MAX_DIGITS} digits")
    return value


class Fields:
    """The name/value pairs of one request: the query of a GET or the form body of a PUT.

    Indexed once, because every request looks up ClientID, ClientTransactionID and its parameters.
    """

    def __init__(self, pairs: list[tuple[str, str]], caseless: bool) -> None:
        self.pairs = pairs
        self.caseless = caseless  # GET query keys match in any casing; PUT form keys only exactly
        self._index: dict[str, list[str]] = {}
        for key, value in pairs:
            self._index.setdefault(key.lower() if caseless else key, []).append(value)

    def values(self, name: str) -> list[str]:
        return self._index.get(name.lower() if self.caseless else name, [])

    def first(self, name: str) -> str | None:
        found = self.values(name)
        return found[0] if found else None

    def miscased(self, name: str) -> str | None:
        """A key that differs from ``name`` only in casing, to point out in an error message."""
        wanted = name.lower()
        return next((key for key, _ in self.pairs if key.lower() == wanted and key != name), None)


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """``application/x-www-form-urlencoded`` pairs, blank values kept; decoding only where needed."""
    pairs = []
    for part in text.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        if "%" in part or "+" in part:
            key, value = unquote_plus(key), unquote_plus(value)
        pairs.append((key, value))
    return pairs


def query_fields(query_string: str) -> Fields:
    return Fields(parse_pairs(query_string), caseless=True)


def form_fields(body: bytes) -> Fields:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(
            "The PUT body is not UTF-8 text: send the parameters as an "
            "application/x-www-form-urlencoded form, for example Position=1000"
        ) from None
    return Fields(parse_pairs(text), caseless=False)


@dataclass(frozen=True)
class ValueKind:
    """How one parameter type is written on the wire, and how to read it."""

    hint: str  # what to send, as shown in error messages
    parse: Callable[[str], Any]  # raises ValueError with the reason


def _parse_bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise ValueError("not true or false")


BOOL = ValueKind("true|false", _parse_bool)
INT32 = ValueKind("<integer>", signed_number)
TEXT = ValueKind("<text>", str)


@dataclass(frozen=True)
class Param:
    """One parameter of a member: its exact Alpaca name, type, and whether it must be sent."""

    name: str
    kind: ValueKind
    required: bool = True
    repeated: bool = False  # every value is passed on as a list (Action's Parameters)

    @property
    def argument(self) -> str:
        return self.name.lower()


def parse_params(params: tuple[Param, ...], fields: Fields, method: str, member: str) -> dict[str, Any]:
    """The typed values of ``params``; BadRequest for a missing, mis-cased or unparseable one."""
    where = "a query parameter" if method == "GET" else "a form field"
    args: dict[str, Any] = {}
    for param in params:
        raw_values = fields.values(param.name)
        if not raw_values:
            if param.required:
                raise BadRequest(_missing_message(param, fields, method, member, where))
            args[param.argument] = [] if param.repeated else None
            continue
        parsed = []
        for raw in raw_values if param.repeated else raw_values[:1]:
            try:
                parsed.append(param.kind.parse(raw))
            except ValueError as error:
                raise BadRequest(
                    f"Parameter {param.name}={shown(raw)} is {error}: {method} /{member} needs "
                    f"{where} {param.name}={param.kind.hint}"
                ) from None
        args[param.argument] = parsed if param.repeated else parsed[0]
    return args


def _missing_message(param: Param, fields: Fields, method: str, member: str, where: str) -> str:
    message = f"Missing parameter {param.name}: {method} /{member} needs {where} {param.name}={param.kind.hint}"
    if method == "GET":
        return message
    message += ", case-sensitive"
    miscased = fields.miscased(param.name)
    if miscased is not None:
        message += f" (got {miscased!r}; form field names must be cased exactly as {param.name})"
    return message + ", in an application/x-www-form-urlencoded body"


@dataclass(frozen=True)
class ClientIds:
    client_id: int
    transaction_id: int  # echoed back; 0 when the client sent none


def client_ids(fields: Fields) -> ClientIds:
    """ClientID and ClientTransactionID, 0 when absent; BadRequest for a malformed value."""
    return ClientIds(_client_number(fields, "ClientID"), _client_number(fields, "ClientTransactionID"))


def _client_number(fields: Fields, name: str) -> int:
    raw = fields.first(name)
    if raw is None:
        return 0
    try:
        return unsigned_number(raw)
    except ValueError as error:
        raise BadRequest(
            f"{name}={shown(raw)} is not valid ({error}): it must be a whole number from 0 to {UINT32_MAX}; "
            f"send a valid number or leave {name} out"
        ) from None


def parse_device_number(text: str) -> int:
    """A device-number path segment, by the same rule for the API and the setup and control pages."""
    try:
        return unsigned_number(text)
    except ValueError as error:
        raise BadRequest(f"Device number {shown(text)} is not valid ({error}): use a whole number such as 0") from None


def shown(raw: str, limit: int = 40) -> str:
    """A client's value quoted for an error message, cut short so a huge value is not echoed back."""
    return repr(raw) if len(raw) <= limit else f"{raw[:limit]!r}... ({len(raw)} characters)"
