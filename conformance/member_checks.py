"""The conformance run's members common to every device (ConformU A.3): InterfaceVersion,
Connected, the text members, SupportedActions and DeviceState, with the field checks that belong
to them."""

from __future__ import annotations

import datetime
import json
from typing import Any

from . import field_checks
from .client import has_json_kind
from .run_base import RunBase

SAFETY_ACTIONS = ("SafetyEvents", "SetExternalEvents", "ClearExternalEvents")
STATE_KINDS: dict[str, type] = {"IsMoving": bool, "Position": int, "Temperature": float, "TimeStamp": str}


def valid_state_value(name: str, value: Any) -> bool:
    """Whether the ASCOM client keeps this DeviceState item (it silently drops wrongly typed ones)."""
    if not has_json_kind(value, STATE_KINDS[name]):
        return False
    if name == "TimeStamp":
        try:
            datetime.datetime.fromisoformat(value)
        except ValueError:
            return False
    return True


class MemberChecks(RunBase):
    def check_common_members(self) -> None:
        version = self.read("InterfaceVersion", "interfaceversion", int)
        if version is not None:
            if version >= 1:
                self.log.ok("InterfaceVersion", f"{version}")
            else:
                self.log.issue("InterfaceVersion", f"GET interfaceversion returned {version}; it must be at least 1")
        connected = self.read("Connected", "connected", bool)
        if connected is not None:
            self.log.ok("Connected", f"{connected}")
        field_checks.check_connect_again(self)
        field_checks.check_version_matches_members(self)
        for test, member in (("Description", "description"), ("DriverInfo", "driverinfo"), ("DriverVersion", "driverversion"), ("Name", "name")):
            self.check_text_member(test, member)
        actions = self.check_supported_actions()
        if not any(a in actions for a in SAFETY_ACTIONS):
            self.log.info("Action", "Conform cannot test the Action method")
        field_checks.check_unknown_action(self, actions)
        if self.interface_version >= 4:
            self.check_device_state()

    def check_text_member(self, test: str, member: str) -> None:
        value = self.read(test, member, str)
        if value is None:
            return
        if test == "Description" and not field_checks.check_description_length(self, value):
            return
        if value:
            self.log.ok(test, value.splitlines()[0] if value.strip() else repr(value))
        else:
            self.log.info(test, f"GET {member} returned an empty string; give it a short descriptive text")

    def check_supported_actions(self) -> list[str]:
        test = "SupportedActions"
        actions = self.read(test, "supportedactions", list)
        if actions is None:
            return []
        bad = [a for a in actions if not isinstance(a, str) or not a]
        safety = [a for a in actions if a in SAFETY_ACTIONS]
        if bad:
            self.log.issue(test, f"GET supportedactions returned the entries {json.dumps(bad)}; every entry must be a non-empty string")
        if safety:
            self.log.issue(
                test,
                f"GET supportedactions lists {safety}: ConformU then runs its SafetyMonitor action tests on this "
                "focuser, and they fail. Never advertise these names on a focuser",
            )
        if not bad and not safety:
            self.log.ok(test, f"{len(actions)} actions: {', '.join(actions)}" if actions else "No actions (an empty list)")
        return [a for a in actions if isinstance(a, str)]

    def check_device_state(self) -> None:
        test = "DeviceState"
        items = self.read(test, "devicestate", list)
        if items is None:
            return
        found: dict[str, Any] = {}
        reported: set[str] = set()
        lowered = {name.lower(): name for name in STATE_KINDS}
        for item in items:
            if not isinstance(item, dict) or "Name" not in item or "Value" not in item:
                self.log.issue(test, f"DeviceState item {json.dumps(item)} lacks the exact-cased keys 'Name' and 'Value'")
                continue
            name, value = item["Name"], item["Value"]
            if name in STATE_KINDS:
                if valid_state_value(name, value):
                    found[name] = value
                else:
                    reported.add(name)
                    self.log.issue(
                        test,
                        f"DeviceState item {name} has the value {json.dumps(value)}, which is not "
                        f"{'an ISO 8601 date-time string' if name == 'TimeStamp' else 'of the right JSON type'}; "
                        "the ASCOM client silently drops it",
                    )
            elif isinstance(name, str) and name.lower() in lowered:
                reported.add(lowered[name.lower()])
                self.log.issue(test, f"DeviceState item name {name!r} has the wrong case; it must be exactly {lowered[name.lower()]!r}")
            else:
                self.log.issue(
                    test,
                    f"A non-operational property was included in DeviceState: {json.dumps(name)}; a focuser's DeviceState "
                    f"may only hold {', '.join(STATE_KINDS)}",
                )
        for name in STATE_KINDS:
            if name not in found and name not in reported:
                self.log.info(test, f"Operational property {name} was not included in DeviceState")
        if found:
            self.log.ok(test, ", ".join(f"{name}={json.dumps(value)}" for name, value in found.items()))
