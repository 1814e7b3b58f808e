"""``alpaca-focuser serve`` (the default subcommand): read the configuration, apply the command
line on top, and run the AlpacaServer until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from ..config import LOG_LEVELS, ConfigError, ConfigFile
from ..server import AlpacaServer, ServerError
from ..settings import FocuserSettings, Settings

log = logging.getLogger(__name__)

DEFAULT_CONFIG = Path("config.toml")

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help=f"configuration file (default: {DEFAULT_CONFIG} in the current folder if it exists, else one simulated focuser)")
    parser.add_argument("--port", metavar="URL", action="append", help="where the focuser is: /dev/ttyACM0, COM5, socket://HOST:PORT, rfc2217://HOST:PORT, sim:// or auto; repeat for focusers 1, 2, ...")
    parser.add_argument("--http-port", metavar="N", type=_port_number(0), help="TCP port of the Alpaca API and setup pages (default 11111; 0 picks a free one)")
    parser.add_argument("--bind", metavar="ADDR", help="address to listen on: 0.0.0.0 (every IPv4 interface, the default), :: (IPv6 too) or 127.0.0.1 (this computer only)")
    parser.add_argument("--discovery-port", metavar="N", type=_port_number(1), help="UDP port of Alpaca discovery (default 32227)")
    parser.add_argument("--no-discovery", action="store_true", help="do not answer Alpaca discovery")
    parser.add_argument("--no-mdns", action="store_true", help="do not advertise the server on mDNS/Bonjour")
    parser.add_argument("--log-level", metavar="LEVEL", type=_log_level, help=f"how much to log: {', '.join(LOG_LEVELS)} (any case)")


def _port_number(low: int) -> Any:
    def parse(text: str) -> int:
        if not text.isdigit() or not low <= int(text) <= 65535:
            raise argparse.ArgumentTypeError(f"{text!r} is not a port number from {low} to 65535")
        return int(text)

    return parse


def _log_level(text: str) -> str:
    if text.upper() not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a log level; use one of {', '.join(LOG_LEVELS)}")
    return text.upper()


def load_settings(args: argparse.Namespace) -> tuple[Settings, ConfigFile | None]:
    """The configuration file's settings (or the built-in ones), then the command line on top."""
    config_file = None
    if args.config is not None:
        config_file = ConfigFile.load(args.config)
    elif DEFAULT_CONFIG.is_file():
        config_file = ConfigFile.load(DEFAULT_CONFIG)
    settings = config_file.settings if config_file is not None else Settings()
    if config_file is not None:
        log.info("Configuration from %s", config_file.path)
    else:
        log.info("No configuration file (no --config and no %s here): serving one simulated focuser", DEFAULT_CONFIG)
    apply_overrides(settings, args)
    return settings, config_file


def apply_overrides(settings: Settings, args: argparse.Namespace) -> None:
    server = settings.server
    for index, port in enumerate(args.port or []):
        if index < len(settings.focusers):
            settings.focusers[index].port = port
        else:
            settings.focusers.append(FocuserSettings(name=f"Celestron Focuser {index + 1}", port=port))
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
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings, config_file = load_settings(args)
    except ConfigError as error:
        print(f"alpaca-focuser: {error}", file=sys.stderr)
        return 2
    logging.getLogger().setLevel(settings.server.log_level)
    server = AlpacaServer(settings, config_file)
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
    while not stop.wait(0.5):
        pass
    server.stop()
    return 0
