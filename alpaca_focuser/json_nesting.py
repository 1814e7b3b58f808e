"""How deeply JSON text nests, found without parsing it: a quick scan that refuses a reply or a
request built to exhaust the decoder's recursion before the decoder ever sees it."""

from __future__ import annotations


def json_nesting(text: str, stop_above: int | None = None) -> int:
    """The deepest nesting of [ and { outside strings; the scan ends as soon as it passes
    ``stop_above``, so a huge hostile text costs no more than the limit."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if stop_above is not None and deepest > stop_above:
                break
        elif char in "]}":
            depth -= 1
    return deepest
