"""The faults a simulated focus motor can be given, for tests and demos of what goes wrong at the
telescope: their names, their parameters with defaults, and the set of faults switched on (an
unplug with a duration ends by itself)."""

from __future__ import annotations

from typing import Any

FAULTS = ("echo", "silent", "late", "corrupt", "stall", "stuck_calibration", "unplug", "deaf_to_stop")
FAULT_DEFAULTS: dict[str, dict[str, Any]] = {
    "deaf_to_stop": {"times": 1},  # a stop command lost inside the motor controller: acknowledged, not done
    "late": {"delay": 2.5},
    "corrupt": {"every": 1},
    "stuck_calibration": {"at": 0.3},
    "unplug": {"seconds": None, "new_path": None},
}


class ActiveFaults:
    """The faults switched on, each with its parameters. Not thread-safe: the motor's lock guards it."""

    def __init__(self) -> None:
        self._on: dict[str, dict[str, Any]] = {}

    def switch_on(self, name: str, now: float, params: dict[str, Any]) -> None:
        """Switch ``name`` on with ``params`` over its defaults; ValueError for an unknown name or parameter."""
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r}; known faults: {', '.join(FAULTS)}")
        settings = dict(FAULT_DEFAULTS.get(name, {}))
        unknown = set(params) - set(settings)
        if unknown:
            raise ValueError(f"fault {name!r} takes no parameter {', '.join(sorted(unknown))}; it takes: {', '.join(settings) or 'none'}")
        settings.update(params)
        if name == "unplug":
            seconds = settings["seconds"]
            settings["until"] = None if seconds is None else now + float(seconds)
        self._on[name] = settings

    def switch_off(self, name: str) -> bool:
        """True when ``name`` was on."""
        return self._on.pop(name, None) is not None

    def names(self) -> list[str]:
        return list(self._on)

    def live(self, name: str) -> dict[str, Any] | None:
        """The parameters of an active fault itself (changes stick), without expiring it."""
        return self._on.get(name)

    def get(self, name: str, now: float) -> dict[str, Any] | None:
        """A copy of the parameters of an active fault, or None. An unplug whose time is up is over."""
        settings = self._on.get(name)
        if name == "unplug" and settings is not None and settings["until"] is not None and now >= settings["until"]:
            del self._on[name]
            return None
        return dict(settings) if settings is not None else None

    def __contains__(self, name: str) -> bool:
        return name in self._on
