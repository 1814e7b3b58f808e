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
from ..runtime_note import RuntimeNote, running_notes
from ..settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = "Exit status: 0 when every check is ok, 1 when something needs fixing."
    parser.add_argument("--config", metavar="FILE", help="the configuration file to check (default: the one the server would use)")
    parser.add_argument("--timeout", type=float, default=1.0, metavar="S", help="seconds to wait for a focuser or discovery answer (default 1)")


def note_folders(explicit: str | None) -> list[Path]:
    """Where a running server leaves its note: beside the file named, else in the folders the
    server looks in (a service reads the system's file, a user's server the user's)."""
    located = config_locations.locate(explicit).path
    folders = [located.resolve().parent] if located is not None else []
    if explicit is None:
        folders += [config_locations.user_config_path().parent, config_locations.system_config_path().parent]
    return folders


def running_server(explicit: str | None) -> RuntimeNote | None:
    """The running server the doctor checks: the one that reads the file named with --config, else
    the first one found (the service among them)."""
    notes = running_notes(note_folders(explicit))
    if explicit is not None:
        wanted = str(Path(explicit).resolve())
        notes = [note for note in notes if note.config == wanted]
    return notes[0] if notes else None


def read_configuration(explicit: str | None, running: RuntimeNote | None = None) -> tuple[Settings | None, Finding]:
    """The settings the server would run with, read without writing anything back; with a server
    running, the file it reads and the ports it really serves on (the command line may change them)."""
    if running is not None and running.config is None:
        settings = Settings()
        _as_running(settings, running)
        return settings, ok(f"the running server (pid {running.pid}) has no configuration file: it serves its built-in settings (one simulated focuser, or its --port)")
    if explicit is None and running is not None:
        explicit = running.config
        located = config_locations.Located(Path(explicit or ""), f"the running server, pid {running.pid}")
    else:
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
    if running is not None:
        _as_running(settings, running)
    count = len(settings.focusers)
    return settings, ok(f"Configuration {path} (found by {located.source}) loads: {count} focuser{'s' if count != 1 else ''}")


def _as_running(settings: Settings, running: RuntimeNote) -> None:
    server = settings.server
    server.http_port, server.bind = running.http_port, running.bind
    server.discovery = running.discovery_port is not None
    if running.discovery_port is not None:
        server.discovery_port = running.discovery_port


def examine(explicit: str | None, timeout: float) -> list[Finding]:
    running = running_server(explicit)
    settings, finding = read_configuration(explicit, running)
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
        findings += check_focuser(number, focuser, timeout, server_pids={running.pid} if running is not None else set())
    return findings


def run(args: argparse.Namespace) -> int:
    findings = examine(args.config, args.timeout)
    for finding in findings:
        print(finding.line(), flush=True)
    problems = sum(finding.level is Level.PROBLEM for finding in findings)
    print(f"\n{problems} thing{'s' if problems != 1 else ''} to fix." if problems else "\nEverything checked is ok.")
    return 1 if problems else 0
