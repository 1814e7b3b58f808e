"""Finding the line of a key in the raw text, so a bad value can be pointed at."""

from __future__ import annotations

import logging
import re

from .rules import KeyPath

log = logging.getLogger(__name__)

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


