"""``alpaca-focuser doctor``: check the configuration, each focuser's port and the network, one
line per check saying ok or what to do. Exit status 1 when something needs fixing."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import ConfigError, parse_settings
from ..config import locations as config_locations
from ..doctor import Finding, Level, note, ok, problem
from ..doctor.network_checks import check_bind, check_discovery, check_firewalls, check_http_port, http_owner
from ..doctor.serial_checks import check_focuser
from ..settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = "Exit status: 0 when every check is ok, 1 when something needs fixing."
    parser.add_argument("--config", metavar="FILE", help="the configuration file to check (default: the one the server would use)")
    parser.add_argument("--timeout", type=float, default=1.0, metavar="S", help="seconds to wait for a focuser or discovery answer (default 1)")


def read_configuration(explicit: str | None) -> tuple[Settings | None, Finding]:
    """The settings the server would run with, read without writing anything back."""
    located = config_locations.locate(explicit)
    if located.path is None:
        looked = ", ".join(str(path) for path in located.looked_in)
        return Settings(), note(f"No configuration file (looked for {looked}): checking the built-in settings (one simulated focuser). 'alpaca-focuser init' writes a file to edit")
    path = Path(located.path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        return None, problem(f"{path} (named by {located.source}) does not exist: run 'alpaca-focuser init --config {path}' to write the template there")
    except (OSError, UnicodeDecodeError) as error:
        return None, problem(f"{path} cannot be read ({error}): it must be UTF-8 text this user may read")
    try:
        settings = parse_settings(text, path)
    except ConfigError as error:
        return None, problem(f"the configuration file does not load: {error}")
    count = len(settings.focusers)
    return settings, ok(f"Configuration {path} (found by {located.source}) loads: {count} focuser{'s' if count != 1 else ''}")


def examine(explicit: str | None, timeout: float) -> list[Finding]:
    settings, finding = read_configuration(explicit)
    findings = [finding]
    if settings is None:
        return findings
    server = settings.server
    owner = http_owner(server)
    findings.append(check_bind(server))
    findings.append(check_http_port(server, owner))
    findings += check_discovery(server, owner.this_server, timeout)
    findings += check_firewalls(server)
    for number, focuser in enumerate(settings.focusers):
        findings += check_focuser(number, focuser, timeout)
    return findings


def run(args: argparse.Namespace) -> int:
    findings = examine(args.config, args.timeout)
    for finding in findings:
        print(finding.line(), flush=True)
    problems = sum(finding.level is Level.PROBLEM for finding in findings)
    print(f"\n{problems} thing{'s' if problems != 1 else ''} to fix." if problems else "\nEverything checked is ok.")
    return 1 if problems else 0
