"""The focuser's port: there, openable by this user, not held by another program, and answering
as a Celestron focuser (or found to be a mount or a hand controller instead)."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from pathlib import Path

from ..celestron.usb_probe import CELESTRON_USB_ID, STABLE_PORT, identify, list_ports, probe
from ..settings import FocuserSettings
from ..udev_rule import RULE_PATH
from . import Finding, Level, ok, problem

SERVER_NAMES = ("alpaca-focuser", "alpaca_focuser")


@dataclass(frozen=True)
class Holder:
    pid: int
    name: str
    is_this_server: bool


def check_focuser(number: int, focuser: FocuserSettings, timeout: float, server_pids: set[int] | frozenset[int] = frozenset()) -> list[Finding]:
    """``server_pids``: the running servers known from their notes; without one, any alpaca-focuser
    that is not the simulator counts as the server."""
    label = f"Focuser {number} ({focuser.port})"
    port = focuser.port
    if port.startswith("sim://"):
        return [ok(f"{label}: the built-in simulator, nothing to check")]
    if port == "auto":
        found = [info.device for info in list_ports() if info.is_celestron_id]
        if not found:
            return [problem(f"{label}: no serial port has the focuser's USB id {CELESTRON_USB_ID}. Plug its USB cable into this computer and power the mount (the motor is powered from its AUX port); 'alpaca-focuser ports' lists the ports")]
        port, label = found[0], f"Focuser {number} (auto: {found[0]})"
    if "://" in port or not port.startswith("/"):  # a network port, or a Windows COM port
        return [_answers(label, port, focuser, timeout)]
    findings = _device_checks(label, port)
    if findings[-1].level is not Level.OK:
        return findings
    holders = holders_of(port, server_pids)
    if holders:
        return [*findings, _held(label, holders)]
    return [*findings, _answers(label, port, focuser, timeout)]


def _device_checks(label: str, port: str) -> list[Finding]:
    if not os.path.exists(port):
        advice = "Plug the focuser in and power the mount (the motor takes its power from the mount's AUX port); 'alpaca-focuser ports' lists the ports there are."
        if port == STABLE_PORT and not RULE_PATH.exists():
            advice = f"{port} is made by a udev rule that is not installed: run 'sudo alpaca-focuser udev install', then plug the focuser in again."
        return [problem(f"{label}: {port} does not exist. {advice}")]
    if os.access(port, os.R_OK | os.W_OK):
        return [ok(f"{label}: exists, and this user may open it")]
    return [problem(f"{label}: {_permission_advice(port)}")]


def _permission_advice(port: str) -> str:
    import grp  # here: the module exists on Unix only, where device files have groups

    user = getpass.getuser()
    gid = os.stat(port).st_gid
    try:
        group = grp.getgrgid(gid).gr_name
    except KeyError:
        group = str(gid)
    if group in ("root", "tty"):
        return f"this user ({user}) may not open it (it belongs to group {group}). Install the udev rule that gives it to the dialout group: sudo alpaca-focuser udev install, then join dialout: sudo usermod -aG dialout {user}, and log out and in again."
    members = grp.getgrgid(gid).gr_mem if group != str(gid) else []
    if user in members and gid not in os.getgroups():
        return f"this user ({user}) is in the {group} group, but this login started before joining it: log out and in again (or reboot)."
    return f"this user ({user}) may not open it: it belongs to the {group} group. Join it: sudo usermod -aG {group} {user}, then log out and in again (or reboot)."


def holders_of(port: str, server_pids: set[int] | frozenset[int] = frozenset()) -> list[Holder]:
    """The other processes that have ``port`` open (those of other users only when root), read
    from /proc; empty where there is no /proc."""
    target = os.path.realpath(port)
    found: list[Holder] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if not any(os.path.realpath(fd) == target for fd in (entry / "fd").iterdir()):
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            name = (entry / "comm").read_text().strip()
        except OSError:
            continue
        pid = int(entry.name)
        ours = pid in server_pids if server_pids else any(word in command for word in SERVER_NAMES) and " sim " not in f"{command} "
        found.append(Holder(pid, "the alpaca-focuser simulator" if " sim " in f"{command} " else name, ours))
    return found


def _held(label: str, holders: list[Holder]) -> Finding:
    others = [holder for holder in holders if not holder.is_this_server]
    if not others:
        pids = ", ".join(str(holder.pid) for holder in holders)
        return ok(f"{label}: in use by the running alpaca-focuser (pid {pids}); not probed, so it is not disturbed")
    names = ", ".join(f"{holder.name} (pid {holder.pid})" for holder in others)
    return problem(
        f"{label}: held by another program: {names}. Two programs on one port garble each other's bytes: stop it "
        "(an INDI server, a planetarium program, or ModemManager: sudo systemctl disable --now ModemManager)."
    )


def _answers(label: str, port: str, focuser: FocuserSettings, timeout: float) -> Finding:
    if focuser.route == "usb":
        result = probe(port, baud=focuser.baud or 9600, timeout=timeout)
        if result.confirmed:
            return ok(f"{label}: answers as a Celestron focuser ({result.reason})")
        identity = identify(port, timeout=timeout)
        if identity.route is not None:
            return problem(f'{label}: this is {identity.description}, not the focuser\'s own USB port: set route = "{identity.route}" for this focuser (or plug the focuser\'s own USB cable in)')
        return problem(f"{label}: does not answer as a Celestron focuser ({result.reason}). Check that the motor has power from the mount's AUX port and that this is its port ('alpaca-focuser ports')")
    identity = identify(port, timeout=timeout)
    if identity.route == focuser.route:
        return ok(f"{label}: {identity.description}")
    if identity.route is not None:
        return problem(f'{label}: this is {identity.description}: set route = "{identity.route}" for this focuser')
    return problem(f'{label}: route = "{focuser.route}" but {identity.description}. Check the cable and that the mount is on')
