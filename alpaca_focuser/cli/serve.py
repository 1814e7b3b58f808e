"""``alpaca-focuser serve`` (the default subcommand): read the configuration, apply the command
line on top, and run the AlpacaServer until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from .. import log_format
from ..config import ConfigError, ConfigFile, schema
from ..config import locations as config_locations
from ..limits import port_number
from ..runtime_note import RuntimeNote, remove_note, write_note
from ..safe_text import install_log_escaping, shown
from ..settings import LOG_LEVELS, FocuserSettings, Settings, share_route_problem

if TYPE_CHECKING:
    from ..server import AlpacaServer

log = logging.getLogger(__name__)

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        help=f"configuration file (default: ${config_locations.ENV_VAR}, else ./config.toml, else {config_locations.user_config_path()}, "
        f"else {config_locations.system_config_path()}; with none, one simulated focuser)",
    )
    parser.add_argument("--port", metavar="URL", action="append", type=_checked("focuser", "port"),
                        help=f"{_help('focuser', 'port')}; repeat for focusers 1, 2, ...")
    parser.add_argument("--route", metavar="ROUTE", type=_checked("focuser", "route"), help=f"for focuser 0, {_help('focuser', 'route')}")
    parser.add_argument("--share", metavar="SPEC", type=_checked("focuser", "share"), help=f"for focuser 0, {_help('focuser', 'share')}")
    parser.add_argument("--http-port", metavar="N", type=port_number(0), help=f"{_help('server', 'http_port')} (default 11111; 0 picks a free one)")
    parser.add_argument("--bind", metavar="ADDR", type=_checked("server", "bind"), help=f"{_help('server', 'bind')} (default 0.0.0.0)")
    parser.add_argument("--discovery-port", metavar="N", type=port_number(1), help=f"{_help('server', 'discovery_port')} (default 32227)")
    parser.add_argument("--no-discovery", action="store_true", help="do not answer Alpaca discovery")
    parser.add_argument("--no-mdns", action="store_true", help="do not advertise the server on mDNS/Bonjour")
    parser.add_argument("--log-level", metavar="LEVEL", type=_checked("server", "log_level"),
                        help=f"{_help('server', 'log_level')}: {', '.join(LOG_LEVELS)} (any case)")


def _help(table: schema.Table, name: str) -> str:
    return schema.entry(table, name).spec.help


def _checked(table: schema.Table, name: str) -> Callable[[str], Any]:
    """An argparse type that checks a value by the settings schema, as the command line's owner may set it."""

    def parse(text: str) -> Any:
        try:
            return schema.check_one(table, name, text, schema.COMMAND_LINE)
        except schema.SettingsRefused as refused:
            raise argparse.ArgumentTypeError(f"{shown(text)} is not accepted: it must be {refused.problems[0].must_be}") from None

    return parse


def load_settings(args: argparse.Namespace) -> tuple[Settings, ConfigFile | None]:
    """The configuration file's settings (or the built-in ones), then the command line on top.
    The first log line says which file is used, or that there is none and what that means."""
    located = config_locations.locate(args.config)
    template = f" ({located.skipped_template} is the project's commented template, left alone; make run uses run/config.toml)" if located.skipped_template else ""
    if located.path is None:
        settings = Settings()
        apply_overrides(settings, args)
        log.info("%s%s", _no_file_message(settings, located), template)
        return settings, None
    with _held_back(logging.getLogger("alpaca_focuser.config")) as held:
        config_file = ConfigFile.load(located.path)
    apply_overrides(config_file.settings, args)
    log.info("Configuration from %s (found by %s)%s%s", located.path, located.source, template, _simulated_note(config_file.settings))
    for record in held:
        logging.getLogger(record.name).handle(record)
    return config_file.settings, config_file


def _simulated_note(settings: Settings) -> str:
    """Said in the first line, because a simulated focuser looks connected and nothing real turns."""
    simulated = [str(number) for number, focuser in enumerate(settings.focusers) if focuser.port.startswith("sim://")]
    if not simulated:
        return ""
    which = f"focuser {simulated[0]} is" if len(simulated) == 1 else f"focusers {', '.join(simulated)} are"
    return f"; {which} the built-in simulator (sim://), so nothing real moves: set port to your focuser's ('alpaca-focuser ports' lists them)"


class _Keeper(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def _held_back(logger: logging.Logger) -> Iterator[list[logging.LogRecord]]:
    """Keep what loading the file logs (a new UniqueID saved in it) until the line that names the
    file is out, so that line comes first; a file that fails to load logs nothing but its error."""
    handler = _Keeper()
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _no_file_message(settings: Settings, located: config_locations.Located) -> str:
    ports = [focuser.port for focuser in settings.focusers]
    if all(port.startswith("sim://") for port in ports):
        what = "one simulated focuser (sim://)" if len(ports) == 1 else f"{len(ports)} simulated focusers (sim://)"
    else:
        what = f"{'one focuser' if len(ports) == 1 else f'{len(ports)} focusers'} on {', '.join(ports)}"
    looked = ", ".join(str(path) for path in located.looked_in)
    return (
        f"No configuration file (looked for {looked}): serving {what} with the built-in settings and the command line. "
        f"A setting a client changes (backlash, reverse, presets) will be saved to a new {config_locations.new_file_path()}. "
        "Run 'alpaca-focuser init' to write a commented configuration file to edit."
    )


def apply_overrides(settings: Settings, args: argparse.Namespace) -> None:
    server = settings.server
    for index, port in enumerate(args.port or []):
        if index < len(settings.focusers):
            settings.focusers[index].port = port
        else:
            settings.focusers.append(FocuserSettings(name=f"Celestron Focuser {index + 1}", port=port))
    if args.route is not None:
        settings.focusers[0].route = args.route
    if args.share is not None:
        settings.focusers[0].share = args.share
    if args.http_port is not None:
        server.http_port = args.http_port
    if args.bind is not None:
        server.bind = args.bind
    if args.discovery_port is not None:
        server.discovery_port = args.discovery_port
    if args.no_discovery:
        server.discovery = False
    if args.no_mdns:
        server.mdns = False
    if args.log_level is not None:
        server.log_level = args.log_level


def run(args: argparse.Namespace) -> int:
    from ..server import AlpacaServer, ServerError  # here, so the other subcommands start without the server's imports

    logging.basicConfig(level=logging.INFO, format=log_format.TEXT_FORMAT)
    install_log_escaping()
    early = log_format.EarlyRecords()
    try:
        settings, config_file = load_settings(args)
    except ConfigError as error:
        early.release("text")
        print(f"alpaca-focuser: {error}", file=sys.stderr)
        return 2
    problem = share_route_problem(settings.focusers[0])
    if problem:
        print(f"alpaca-focuser: share {settings.focusers[0].share} for focuser 0: {problem}; give --route mount or --route hc and "
              "the port's name", file=sys.stderr)
        return 2
    logging.getLogger().setLevel(settings.server.log_level)
    early.release(settings.server.log_format)
    server = AlpacaServer(settings, config_file, new_config=None if config_file is not None else config_locations.new_file_path())
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("%s received: shutting down", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        server.start()
    except ServerError as error:
        server.stop()
        print(f"alpaca-focuser: {error}", file=sys.stderr)
        return 1
    note = leave_note(server, config_file)
    try:
        while not stop.wait(0.5):
            pass
        server.stop()
    finally:
        remove_note(note)
    return 0


def leave_note(server: AlpacaServer, config_file: ConfigFile | None) -> Path | None:
    """Tell ``alpaca-focuser doctor`` where this server really runs (see runtime_note)."""
    folder = config_file.path.parent if config_file is not None else config_locations.new_file_path().parent
    settings = server.settings.server
    note = RuntimeNote(os.getpid(), server.http_port, settings.bind, server.info.discovery_port, str(config_file.path.resolve()) if config_file else None)
    return write_note(folder, note)
