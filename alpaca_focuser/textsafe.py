"""Client text made safe to show: control characters escaped, so a name or port with a newline
cannot forge a line in the log or break a page."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def printable(text: str) -> str:
    """``text`` with every control character (and lone surrogate) written as an escape."""
    return _CONTROL.sub(lambda found: found.group().encode("unicode_escape", "backslashreplace").decode("ascii"), text)
