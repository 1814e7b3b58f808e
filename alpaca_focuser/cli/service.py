"""``alpaca-focuser service install|uninstall``: start the server at boot with systemd.

A system service (the default; needs root) starts at boot once the network is up, runs as the
chosen user with the dialout group (so it may open the serial port), reads
/etc/alpaca-focuser/config.toml, and comes with the udev rule for a stable port name. A user
service (--user) needs no root, but starts at boot only with lingering on. Both restart on
failure."""

from __future__ import annotations

import argparse
import getpass
import os
import shlex
import sys
from pathlib import Path

from ..celestron.usb_probe import STABLE_PORT
from ..config import ConfigError
from ..config import locations as config_locations
from . import udev
from .system_files import Plan, Wanted, apply, on_root

UNIT_NAME = "alpaca-focuser.service"
SYSTEM_UNIT_DIR = Path("/etc/systemd/system")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["install", "uninstall"], help="write, enable and start the service, or stop and remove it")
    parser.add_argument("--user", dest="user_unit", action="store_true", help="a user service (no root needed; starts at boot only with 'loginctl enable-linger')")
    parser.add_argument("--as", dest="account", metavar="NAME", help="the account a system service runs as (default: the one that ran sudo, else this one)")
    parser.add_argument("--config", metavar="FILE", help="the configuration file the service reads (default: /etc/alpaca-focuser/config.toml, or yours for --user)")
    parser.add_argument("--no-udev", action="store_true", help="do not install the udev rule for /dev/celestron_focuser with a system service")
    udev.add_root_options(parser)


def server_command(config: Path) -> list[str]:
    """The absolute command that starts this installation's server, whatever PATH says at boot."""
    script = Path(sys.executable).parent / "alpaca-focuser"
    start = [str(script)] if script.is_file() else [sys.executable, "-m", "alpaca_focuser"]
    return [*start, "serve", "--config", str(config)]


def unit_text(config: Path, account: str | None) -> str:
    """A system unit when ``account`` is given, else a user unit."""
    lines = [
        "# Written by 'alpaca-focuser service install'; 'alpaca-focuser service uninstall' removes it.",
        "[Unit]",
        "Description=Alpaca server for the Celestron focuser (alpaca-focuser)",
    ]
    if account is not None:
        lines += ["Wants=network-online.target", "After=network-online.target"]
    lines += ["", "[Service]", "Type=simple", f"ExecStart={shlex.join(server_command(config))}"]
    if account is not None:
        lines.append(f"User={account}")
        if _group_exists("dialout"):
            lines.append("SupplementaryGroups=dialout")
    lines += ["Restart=on-failure", "RestartSec=5", "", "[Install]", f"WantedBy={'multi-user.target' if account is not None else 'default.target'}", ""]
    return "\n".join(lines)


def _group_exists(name: str) -> bool:
    import grp  # here: the module exists on Unix only

    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def _account(args: argparse.Namespace) -> str:
    return str(args.account or os.environ.get("SUDO_USER") or getpass.getuser())


def unit_path(args: argparse.Namespace) -> Path:
    if args.user_unit:
        return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "systemd" / "user" / UNIT_NAME
    return SYSTEM_UNIT_DIR / UNIT_NAME


def config_path(args: argparse.Namespace) -> Path:
    if args.config is not None:
        return Path(args.config).resolve()
    return config_locations.new_file_path() if args.user_unit else config_locations.system_config_path()


def build_plan(args: argparse.Namespace) -> Plan:
    systemctl = ["systemctl", "--user"] if args.user_unit else ["systemctl"]
    install = args.action == "install"
    account = None if args.user_unit else _account(args)
    unit = unit_path(args)
    if install:
        service = Plan(
            write=[Wanted(unit, unit_text(config_path(args), account))],
            after=[[*systemctl, "daemon-reload"], [*systemctl, "try-restart", UNIT_NAME]],  # a changed unit takes effect
            always=[[*systemctl, "enable", "--now", UNIT_NAME]],
        )
    else:
        service = Plan(remove=[unit], before=[[*systemctl, "disable", "--now", UNIT_NAME]], after=[[*systemctl, "daemon-reload"]])
    if args.user_unit or args.no_udev:
        return service
    rule = udev.plan(install)
    return Plan(service.write + rule.write, service.remove + rule.remove, service.before, service.after + rule.after, service.always)


def ensure_config(path: Path, root: Path, account: str | None, dry_run: bool) -> str:
    """Make the service's configuration file from the template when it is missing, owned by the
    service's account so the server can save what clients change in it."""
    target = on_root(root, path)
    if target.exists():
        return f"The service reads {path} (left as it is)."
    if dry_run:
        return f"Would write the configuration template to {path}."
    config_locations.write_new(target, config_locations.template_with(port=STABLE_PORT))
    if account is not None and os.geteuid() == 0:
        import pwd  # here: the module exists on Unix only

        owner = pwd.getpwnam(account)
        for item in (target, target.parent):
            os.chown(item, owner.pw_uid, owner.pw_gid)
    return f'Wrote the configuration template to {path}, with port = "{STABLE_PORT}"; edit it, then restart the service.'


def run(args: argparse.Namespace) -> int:
    if not sys.platform.startswith("linux"):
        print("alpaca-focuser service: this makes a systemd service, for Linux. On Windows, start the server at logon with a shortcut in the shell:startup folder (see the user guide).", file=sys.stderr)
        return 2
    import pwd  # here: the module exists on Unix only

    root = args.root.resolve()
    account = None if args.user_unit else _account(args)
    if account is not None and not args.dry_run:
        try:
            pwd.getpwnam(account)
        except KeyError:
            print(f"alpaca-focuser service: there is no account {account!r}; name one with --as NAME", file=sys.stderr)
            return 2
    try:
        if args.action == "install":
            print(ensure_config(config_path(args), root, account, args.dry_run))
        ok = apply(build_plan(args), root, args.dry_run, print)
    except (OSError, ConfigError) as error:
        advice = f"Run it as root: sudo {sys.argv[0]} service {args.action}; or use --user for a service of your own" if not args.user_unit else "Check the folder's permissions"
        print(f"alpaca-focuser service: {error}. {advice}.", file=sys.stderr)
        return 1
    if args.dry_run:
        return 0
    user = "--user " if args.user_unit else ""
    if args.action == "install":
        print(f"Logs: journalctl {user}-u {UNIT_NAME} -f")
        print(f"Status: systemctl {user}status {UNIT_NAME}")
        print(f"Undo: {'' if args.user_unit else 'sudo '}alpaca-focuser service uninstall{' --user' if args.user_unit else ''}")
        if args.user_unit:
            print(f"To start it at boot without logging in: sudo loginctl enable-linger {getpass.getuser()}")
    else:
        print(f"The configuration file {config_path(args)} is kept.")
    if not ok:
        print("Some commands failed (see above).")
    return 0 if ok else 1
