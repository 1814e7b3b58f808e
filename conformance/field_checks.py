"""Conformance-run checks that go beyond ConformU: defects it lets through that break clients in the field.

Each one is reported as an ISSUE, because ConformU has no verdict of its own for it (it never
calls Action, checks the Description length only on cameras, connects only once, halts only an
idle focuser, and trusts InterfaceVersion). conformance/README.md lists them.
"""

from __future__ import annotations

import time

from .client import CALL_FAILURES, NOT_IMPLEMENTED, AscomError, ReplyFault, TransportFailure
from .options import MOVE_TOLERANCE
from .run_base import RunBase

ACTION_NOT_IMPLEMENTED = 0x40C
DESCRIPTION_LIMIT = 64  # characters: a FITS header card's value (IFocuserV3 Description remarks)
UNKNOWN_ACTION = "ConformanceCheckNoSuchAction"
HALT_ATTEMPTS = 3  # a very fast focuser may finish a move before Halt arrives; three in a row cannot all do so
HALT_WAIT = 10.0  # seconds for IsMoving to go false after Halt (ConformU's protocol run waits as long)
SETTLE = 0.25  # seconds a halted focuser must then stay put


def check_description_length(run: RunBase, description: str) -> bool:
    """False after reporting a Description too long for a FITS header."""
    if len(description) <= DESCRIPTION_LIMIT:
        return True
    run.log.issue(
        "Description",
        f"GET description returned {len(description)} characters, more than {DESCRIPTION_LIMIT}: imaging programs "
        f"write it into a FITS header, which holds at most {DESCRIPTION_LIMIT} (IFocuserV3). Shorten it: "
        f"{description[:80]!r}",
    )
    return False


def check_unknown_action(run: RunBase, actions: list[str]) -> None:
    """An action the device does not have must fail with ActionNotImplemented, never pretend to run."""
    test = "Action - Unknown name"
    sent = f"PUT action Action={UNKNOWN_ACTION} Parameters=''"
    try:
        run.client.put("action", Action=UNKNOWN_ACTION, Parameters="")
    except AscomError as exc:
        if exc.number == ACTION_NOT_IMPLEMENTED:
            run.log.ok(test, f"{sent} returned ActionNotImplemented (0x40C), as required")
        elif exc.number == NOT_IMPLEMENTED and not actions:
            run.log.ok(test, f"{sent} returned not implemented (0x400): the device has no actions at all")
        else:
            run.log.issue(test, f"{sent} returned error 0x{exc.number:X} ({exc.message}); an unknown action name must give ActionNotImplemented (0x40C)")
    except (ReplyFault, TransportFailure) as exc:
        run.report_failure(test, exc)
    else:
        run.log.issue(
            test,
            f"{sent} succeeded, but the device has no such action: it must return ActionNotImplemented (0x40C), "
            "or a client cannot tell an action that ran from a misspelt one",
        )


def check_connect_again(run: RunBase) -> None:
    """Several clients share one device, so a Connect while connected must simply succeed."""
    test = "Connect - Already connected"
    sent = "PUT connect" if run.interface_version >= 4 else "PUT connected Connected=True"
    try:
        if run.interface_version >= 4:
            run.client.put("connect")
            if run.wait_until_false("connecting", run.options.connect_timeout) is None:
                run.log.issue(test, f"Connecting was still true {run.options.connect_timeout:g} s after a second {sent}")
                return
        else:
            run.client.put("connected", Connected=True)
        connected = run.client.get("connected", bool)
    except AscomError as exc:
        run.log.issue(
            test,
            f"A second {sent} while connected failed: {exc}. Connect must succeed when the device is already "
            "connected: every client sharing the device (N.I.N.A., a guider, a script) connects in turn",
        )
        return
    except (ReplyFault, TransportFailure) as exc:
        run.report_failure(test, exc)
        return
    if connected:
        run.log.ok(test, f"A second {sent} while connected succeeded and the device stayed connected")
    else:
        run.log.issue(test, f"After a second {sent} while connected, Connected reads false")


def check_version_matches_members(run: RunBase) -> None:
    """A server that has the IFocuserV4 members must say so, or clients never use them."""
    if run.interface_version >= 4:
        return
    test = "InterfaceVersion - Members"
    answered = []
    for member, kind in (("devicestate", list), ("connecting", bool)):
        try:
            run.client.get(member, kind)
        except CALL_FAILURES:
            continue
        answered.append(member)
    if answered:
        run.log.issue(
            test,
            f"InterfaceVersion is {run.interface_version}, yet GET {' and GET '.join(answered)} succeeded: this is an "
            "IFocuserV4 device. Clients use Connect, Disconnect, Connecting and DeviceState only when InterfaceVersion "
            "is 4, so report 4",
        )
    else:
        run.log.ok(test, f"InterfaceVersion {run.interface_version}, and the IFocuserV4 members are not served")


def check_halt_during_move(run: RunBase) -> None:
    """Halt sent right after a long Move started must stop the focuser short of the target, and keep it still."""
    test = "Halt - During a move"
    if not run.absolute or run.max_step is None or run.max_step < 10 * MOVE_TOLERANCE:
        return
    ends = []
    try:
        for _ in range(HALT_ATTEMPTS):
            start = run.client.get("position", int)
            target = 0 if start > run.max_step // 2 else run.max_step
            if run.max_increment is not None and abs(target - start) > run.max_increment:
                target = start + (run.max_increment if target > start else -run.max_increment)
            if abs(target - start) <= 10 * MOVE_TOLERANCE:
                return  # too short a move to tell a halted one from a finished one
            run.client.put("move", Position=target)
            run.client.put("halt")
            waited = run.wait_until_false("ismoving", HALT_WAIT)
            if waited is None:
                run.log.issue(test, f"IsMoving was still true {HALT_WAIT:g} s after Halt, sent during a move from {start} to {target}: Halt must stop the focuser")
                return
            stopped = run.client.get("position", int)
            if abs(stopped - target) <= MOVE_TOLERANCE:
                ends.append(f"{start} to {target}")
                continue
            time.sleep(SETTLE)
            later = run.client.get("position", int)
            if later != stopped:
                run.log.issue(
                    test,
                    f"The focuser kept moving after Halt: IsMoving read false at Position {stopped}, and {SETTLE:g} s later "
                    f"Position was {later} (the move was from {start} to {target})",
                )
            else:
                run.log.ok(test, f"Halt stopped a move from {start} to {target} at {stopped}; IsMoving read false after {waited:.2f} s")
            return
    except CALL_FAILURES as exc:
        run.report_failure(test, exc)
        return
    run.log.issue(
        test,
        f"Halt answered OK but the focuser kept moving to its target: {HALT_ATTEMPTS} moves ({'; '.join(ends)}), each "
        "halted as soon as Move returned, all ended at their target. Halt must stop the motor",
    )
