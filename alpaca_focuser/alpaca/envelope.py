"""The JSON envelope every Alpaca reply travels in, and the server's transaction numbers."""

from __future__ import annotations

import itertools
import json
import threading
from typing import Any

import falcon

from ..errors import AlpacaError

# One encoder for every reply: compact, and never NaN (not JSON).
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_ASCII_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, allow_nan=False)
NO_VALUE: Any = object()  # marks a PUT member that returns nothing, so the reply has no Value


class Encoded:
    """A Value already in JSON. Many clients read the same DeviceState between two polls of the
    motor, so it is encoded once per snapshot rather than once per request."""

    __slots__ = ("json",)

    def __init__(self, value: Any) -> None:
        self.json = _ENCODER.encode(value)

    def __repr__(self) -> str:
        return self.json


class TransactionCounter:
    """ServerTransactionID: from 1, one number per reply, unique across all request threads."""

    def __init__(self) -> None:
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            return next(self._numbers)


def envelope(
    client_transaction_id: int,
    server_transaction_id: int,
    value: Any = NO_VALUE,
    error: AlpacaError | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if value is not NO_VALUE:
        body["Value"] = value
    body["ClientTransactionID"] = client_transaction_id
    body["ServerTransactionID"] = server_transaction_id
    body["ErrorNumber"] = error.number if error else 0
    body["ErrorMessage"] = error.message if error else ""
    return body


def send_json(resp: falcon.Response, body: dict[str, Any]) -> None:
    resp.status = falcon.HTTP_200
    resp.content_type = falcon.MEDIA_JSON
    value = body.get("Value")
    if isinstance(value, Encoded):  # spliced in: the rest of the envelope holds no Value
        rest = _ENCODER.encode({key: item for key, item in body.items() if key != "Value"})
        resp.data = f'{{"Value":{value.json},{rest[1:]}'.encode()
        return
    try:
        resp.data = _ENCODER.encode(body).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a client, which UTF-8 cannot carry but JSON's \\u escape can
        resp.data = _ASCII_ENCODER.encode(body).encode("ascii")


def send_text(resp: falcon.Response, status: str, message: str) -> None:
    resp.status = status
    resp.content_type = falcon.MEDIA_TEXT
    resp.data = message.encode("utf-8", "backslashreplace")  # a lone surrogate a client sent is shown, not a failure
