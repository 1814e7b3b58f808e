"""``alpaca-focuser init``: write the commented configuration template where the server looks for
it, never over an existing file, and say where it went."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..celestron.usb_probe import STABLE_PORT
from ..config import ConfigError
from ..config import locations as config_locations


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        help=f"write this file (default: ${config_locations.ENV_VAR} if set, else {config_locations.user_config_path()})",
    )
    parser.add_argument("--system", action="store_true", help=f"write the system service's file, {config_locations.system_config_path()} (needs root)")
    parser.add_argument("--port", metavar="URL", help=f"the focuser's port to write in the file (default: {STABLE_PORT} if it exists, else the simulator sim://)")


def default_port() -> str | None:
    return STABLE_PORT if os.path.exists(STABLE_PORT) else None


def run(args: argparse.Namespace) -> int:
    if args.config is not None:
        path = Path(args.config)
    elif args.system:
        path = config_locations.system_config_path()
    else:
        path = config_locations.new_file_path()
    port = args.port if args.port is not None else default_port()
    try:
        config_locations.write_new(path, config_locations.template_with(port=port))
    except ConfigError as error:
        print(f"alpaca-focuser init: {error}", file=sys.stderr)
        return 1
    print(f"Wrote the commented configuration template to {path}")
    if port is None:
        print('Its focuser is the simulator (port = "sim://"). Set port to your focuser: run \'alpaca-focuser ports\' to see which one it is.')
    else:
        print(f'Its focuser port is "{port}".')
    found = config_locations.locate(None).path
    if found is None or found.resolve() != path.resolve():
        print(f"The server does not find it by itself from here: start it with --config {path} (or set {config_locations.ENV_VAR}={path}).")
    else:
        print("'alpaca-focuser' finds it by itself; 'alpaca-focuser doctor' checks it.")
    return 0
