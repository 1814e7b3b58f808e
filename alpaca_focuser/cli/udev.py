"""``alpaca-focuser udev install|uninstall``: a udev rule that gives the focuser's own USB port a
name that never changes. USB re-enumeration hands the focuser a new /dev/ttyACM number now and
then; the rule adds /dev/celestron_focuser, pointing at whichever number it got, usable by the
dialout group."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from ..celestron.usb_probe import STABLE_PORT
from ..config import locations as config_locations
from ..udev_rule import RULE_PATH, rule_text
from .system_files import Plan, Wanted, apply, own_command, service_config


def plan(install: bool) -> Plan:
    reload = [["udevadm", "control", "--reload-rules"], ["udevadm", "trigger", "--subsystem-match=tty", "--action=add"]]
    if install:
        return Plan(write=[Wanted(RULE_PATH, rule_text())], after=reload)
    return Plan(remove=[RULE_PATH], after=reload)


def add_root_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", metavar="DIR", type=Path, default=Path("/"), help="write under DIR instead of / (for packagers and tests); no command is run then")
    parser.add_argument("--dry-run", action="store_true", help="print the files and commands instead of writing and running them")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["install", "uninstall"], help=f"install or remove the rule {RULE_PATH}")
    add_root_options(parser)


def port_advice(root: Path) -> str:
    """Where to set the port: the file the installed service reads, else the one the server finds."""
    located = service_config(root) or _callers_file() or config_locations.locate(None).path
    where = f"in {located}" if located is not None else "in your configuration file ('alpaca-focuser init' makes one)"
    return f'Use port = "{STABLE_PORT}" in the [[focuser]] table {where}; it appears when the focuser is plugged in.'


def _callers_file() -> Path | None:
    """Run with sudo, the file of the account that ran it, rather than root's."""
    account = os.environ.get("SUDO_USER")
    if not account:
        return None
    try:
        path = config_locations.account_config_path(account)
    except KeyError:
        return None
    return path if path.is_file() else None


def run(args: argparse.Namespace) -> int:
    if not sys.platform.startswith("linux"):
        print("alpaca-focuser udev: udev rules are for Linux; on Windows use the COM port that 'alpaca-focuser ports' shows.", file=sys.stderr)
        return 2
    try:
        ok = apply(plan(args.action == "install"), args.root.resolve(), args.dry_run, print)
    except OSError as error:
        print(f"alpaca-focuser udev: {error}. Run it as root, for example: sudo {shlex.join(own_command())} udev {args.action}", file=sys.stderr)
        return 1
    if args.action == "install" and not args.dry_run:
        print(port_advice(args.root.resolve()))
    if not ok:
        print("Some commands failed (see above): run this as root, for example with sudo.")
    return 0 if ok else 1
