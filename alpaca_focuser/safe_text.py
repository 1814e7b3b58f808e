"""Showing text that came from outside (a client, a file, a device) without letting it forge lines.

A client may send a name or a port with a line break, an escape sequence or a lone surrogate. Put
into the log as it is, a line break starts a line that looks like the server's own; put into a
reply or a page, a lone surrogate cannot even be encoded as UTF-8. So every such text goes through
``escape_controls`` on its way to the log or a page: the character is written as a visible escape
(``\\n``, ``\\x1b``, ``\\ud800``) and the rest of the text is left as it was.

``install_log_escaping`` does it for every log record's arguments, so no call site can forget.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

SHOWN_MAX = 80  # characters of a client's value quoted back in a message

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


# What must not reach a log line or a page as it is: C0 and C1 controls, DEL, the Unicode line and
# paragraph separators, and surrogates (not encodable on their own). One pattern, so the scan runs
# in C: every request's User-Agent passes through here.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def escape_controls(text: str) -> str:
    """``text`` with every unsafe character written as a backslash escape."""
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(lambda found: _escaped(found.group()), text)


def has_controls(text: str) -> bool:
    return _UNSAFE.search(text) is not None


def clipped(text: str, limit: int) -> str:
    """Text from outside cut to one short line for a message: a long answer or one with line
    breaks would otherwise fill or forge lines of the log."""
    line = "".join(char if char.isprintable() else "?" for char in text[: limit + 1])
    return line if len(line) <= limit else line[: limit - 3] + "..."


def html_text(value: object) -> str:
    """Text for a page: unsafe characters made visible, then escaped for HTML."""
    return html.escape(escape_controls(str(value)))


def _escaped(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def shown(value: Any, limit: int = SHOWN_MAX) -> str:
    """A client's value as a message quotes it: text in double quotes, escaped and shortened."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        text = escape_controls(value)
        return f'"{text[:limit]}..."' if len(text) > limit else f'"{text}"'
    text = escape_controls(str(value))
    return text[:limit] + "..." if len(text) > limit else text


def _safe_argument(value: Any) -> Any:
    if value is None or isinstance(value, (int, float)):
        return value
    return escape_controls(value if isinstance(value, str) else str(value))


def _escape_record(record: logging.LogRecord) -> None:
    if isinstance(record.args, Mapping):
        record.args = {key: _safe_argument(value) for key, value in record.args.items()}
    elif record.args:
        record.args = tuple(_safe_argument(value) for value in record.args)
    if not isinstance(record.msg, str):
        record.msg = escape_controls(str(record.msg))


def install_log_escaping() -> None:
    """Escape the unsafe characters of every log record's arguments from now on, in this process.

    A record's message text is the program's own and may span lines on purpose; what it quotes
    (names, ports, paths, error messages, a request's path) comes in as arguments, and those are
    escaped before any handler or formatter sees them. Installing it twice changes nothing.
    """
    current = logging.getLogRecordFactory()
    if getattr(current, "escapes_controls", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        _escape_record(record)
        return record

    escaping: Callable[..., logging.LogRecord] = factory
    setattr(escaping, "escapes_controls", True)  # noqa: B010 (a marker on a function object)
    logging.setLogRecordFactory(escaping)
