"""The README's settings tables, made from the settings schema so they cannot drift from it.

``python -m alpaca_focuser.config.settings_table`` rewrites the part of README.md between the
markers below; a test fails when the README is not up to date.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Any

from . import schema

BEGIN = "<!-- settings table: made by python -m alpaca_focuser.config.settings_table -->"
END = "<!-- end of settings table -->"
README = Path(__file__).resolve().parents[2] / "README.md"
_RULE_VALUES = {
    "port": "a port name, see below",
    "share": "`tcp:PORT`, `tcp:HOST:PORT`, `pty:PATH` or `\"\"`, see [One cable](#one-cable-for-mount-and-focuser)",
    "aux_address": "0x01 to 0xFF, not 0x12",
    "bind_address": "an IP address or host name",
    "temperature_source": "a source, see [Temperature](#temperature-and-temperature-compensation)",
    "password_hash": "made by `alpaca-focuser password`",
    "camera_address": "`alpaca://HOST:PORT/camera/N`, or `\"\"` for none",
}
_TITLES: dict[schema.Table, str] = {"server": "`[server]` key", "focuser": "`[[focuser]]` key"}


def _default(entry: schema.Entry) -> str:
    value: Any = entry.default
    if value is None:
        return "none"
    if entry.spec.rule == "aux_address":
        return f"`0x{value:02X}`"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    return f"`{value}`"


def _values(entry: schema.Entry) -> str:
    if entry.spec.rule:
        return _RULE_VALUES[entry.spec.rule]
    if entry.spec.choices:
        return ", ".join(f"`{choice}`" for choice in entry.spec.choices)
    if entry.base is bool:
        return "`true`, `false`"
    if entry.base is str:
        return f"text, at most {entry.spec.max_length} characters"
    low = f"above {schema.number_text(entry.spec.low)}" if entry.spec.above_low else schema.number_text(entry.spec.low)
    unit = f" {entry.spec.unit}" if entry.spec.unit else ""
    return f"{low} to {schema.number_text(entry.spec.high)}{unit}"


def _client(entry: schema.Entry) -> str:
    if not entry.spec.client:
        return "no"
    return "yes, reconnects" if entry.spec.needs_port else "yes"


def markdown() -> str:
    """Both tables, between the markers."""
    parts = [BEGIN]
    for table in ("server", "focuser"):
        parts += ["", f"| {_TITLES[table]} | Default | Values | A client may change it | What it is |", "|---|---|---|---|---|"]
        parts += [f"| `{e.name}` | {_default(e)} | {_values(e)} | {_client(e)} | {e.spec.help} |" for e in schema.entries(table)]
    return "\n".join([*parts, "", END])


def replaced(text: str) -> str:
    """``text`` (the README) with its settings tables made anew."""
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[:start] + markdown() + text[end:]


def main() -> int:
    text = README.read_text(encoding="utf-8")
    new = replaced(text)
    if new != text:
        README.write_text(new, encoding="utf-8")
        print(f"{README}: settings tables updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
