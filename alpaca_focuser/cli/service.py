"""``alpaca-focuser service install|uninstall``: start the server at boot with systemd.

A system service (the default; needs root) starts at boot once the network is up, runs as the
chosen user with the dialout group (so it may open the serial port), and comes with the udev rule
for a stable port name. It reads one file, so the owner edits one: the file 'alpaca-focuser init'
wrote for that user when there is one, else /etc/alpaca-focuser/config.toml (made from the
template). It is hardened, because it is a network service with no password by default: no new
privileges, the system and home folders read-only, a private /tmp, and only the configuration
folder writable (the server saves settings, its motion journal and the focus log there). A user
service (--user) needs no root, but starts at boot only with lingering on. Both restart on
failure."""

from __future__ import annotations

import argparse
import getpass
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from ..celestron.usb_probe import STABLE_PORT
from ..config import ConfigError
from ..config import locations as config_locations
from . import udev
from .system_files import SYSTEM_UNIT_DIR, UNIT_NAME, Plan, Wanted, apply, on_root, own_command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["install", "uninstall"], help="write, enable and start the service, or stop and remove it")
    parser.add_argument("--user", dest="user_unit", action="store_true", help="a user service (no root needed; starts at boot only with 'loginctl enable-linger')")
    parser.add_argument("--as", dest="account", metavar="NAME", help="the account a system service runs as (default: the one that ran sudo, else this one)")
    parser.add_argument("--config", metavar="FILE", help="the configuration file the service reads (default: /etc/alpaca-focuser/config.toml, or yours for --user)")
    parser.add_argument("--no-udev", action="store_true", help="do not install the udev rule for /dev/celestron_focuser with a system service")
    udev.add_root_options(parser)


def server_command(config: Path) -> list[str]:
    """The absolute command that starts this installation's server, whatever PATH says at boot."""
    return [*own_command(), "serve", "--config", str(config)]


HARDENING = ("NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=read-only", "PrivateTmp=yes")


def unit_text(config: Path, account: str | None) -> str:
    """A system unit when ``account`` is given, else a user unit. Only the system unit is hardened:
    a user manager cannot set up the mount namespaces those settings need without extra privileges.
    ProtectHome is read-only rather than off limits because a pipx install lives in the home folder."""
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
        lines += [*HARDENING, f"ReadWritePaths={shlex.quote(str(config.parent))}"]
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


def _check_account(args: argparse.Namespace, account: str) -> str | None:
    """Why the service cannot run as ``account``, or None. Root only when named with --as: a
    network service anyone on the network can reach should not hold every right of the computer."""
    import pwd  # here: the module exists on Unix only

    try:
        pwd.getpwnam(account)
    except KeyError:
        return f"there is no account {account!r}; name one with --as NAME"
    if account == "root" and args.account is None:
        return (
            "run from a root shell, the service would run as root, with every right on this computer, while anyone on the "
            "network can reach it. Run the command with sudo from your own account, or name the account the service runs "
            "as with --as NAME (--as root if you really mean it)"
        )
    return None


def users_file(account: str) -> Path:
    """The file 'alpaca-focuser init' writes for ``account`` (sudo keeps the caller's name, not its home)."""
    return config_locations.account_config_path(account)


@dataclass(frozen=True)
class ServiceFile:
    """The configuration file the service reads, and why that one."""

    path: Path
    why: str


def unit_path(args: argparse.Namespace) -> Path:
    if args.user_unit:
        return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "systemd" / "user" / UNIT_NAME
    return SYSTEM_UNIT_DIR / UNIT_NAME


def service_file(args: argparse.Namespace) -> ServiceFile:
    """One owner, one file: --config, else the file init wrote for the account, else the system's."""
    if args.config is not None:
        return ServiceFile(Path(args.config).resolve(), "named with --config")
    if args.user_unit:
        return ServiceFile(config_locations.new_file_path(), "your configuration file")
    account = _account(args)
    try:
        own = users_file(account)
    except KeyError:
        own = None
    if own is not None and own.is_file():
        return ServiceFile(own, f"the file 'alpaca-focuser init' wrote for {account}")
    return ServiceFile(config_locations.system_config_path(), "the system's configuration file")


def config_path(args: argparse.Namespace) -> Path:
    return service_file(args).path


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


def ensure_config(chosen: ServiceFile, root: Path, account: str | None, dry_run: bool) -> str:
    """Make the service's configuration file from the template when it is missing, owned by the
    service's account so the server can save what clients change in it; say which file it reads."""
    path = chosen.path
    target = path if path == users_file_or_none(account) else on_root(root, path)
    if target.exists():
        other = config_locations.system_config_path()
        unused = on_root(root, other) if path != other else None
        aside = f" {other} is not read by it; remove it so there is one file to edit." if unused is not None and unused.exists() else ""
        return f"The service reads {path} ({chosen.why}; left as it is).{aside}"
    if dry_run:
        return f"Would write the configuration template to {path}; the service reads it."
    config_locations.write_new(target, config_locations.template_with(port=STABLE_PORT))
    if account is not None and os.geteuid() == 0:
        import pwd  # here: the module exists on Unix only

        owner = pwd.getpwnam(account)
        for item in (target, target.parent):
            os.chown(item, owner.pw_uid, owner.pw_gid)
    return f'Wrote the configuration template to {path}, with port = "{STABLE_PORT}"; the service reads it. Edit it, then restart the service.'


def users_file_or_none(account: str | None) -> Path | None:
    """The account's own file, which lives in the real home folder even when --root is given."""
    if account is None:
        return None
    try:
        return users_file(account)
    except KeyError:
        return None


def run(args: argparse.Namespace) -> int:
    if not sys.platform.startswith("linux"):
        print("alpaca-focuser service: this makes a systemd service, for Linux. On Windows, start the server at logon with a shortcut in the shell:startup folder (see the user guide).", file=sys.stderr)
        return 2
    root = args.root.resolve()
    account = None if args.user_unit else _account(args)
    refusal = _check_account(args, account) if account is not None and args.action == "install" else None
    if refusal is not None:
        print(f"alpaca-focuser service: {refusal}", file=sys.stderr)
        return 2
    if account == "root":
        print("Warning: the service runs as root (--as root). Any client on the network can move the focuser and change its settings; set a password (alpaca-focuser password).")
    try:
        if args.action == "install":
            print(ensure_config(service_file(args), root, account, args.dry_run))
        ok = apply(build_plan(args), root, args.dry_run, print)
    except (OSError, ConfigError) as error:
        advice = f"Run it as root: sudo {shlex.join(own_command())} service {args.action}; or use --user for a service of your own" if not args.user_unit else "Check the folder's permissions"
        print(f"alpaca-focuser service: {error}. {advice}.", file=sys.stderr)
        return 1
    if args.dry_run:
        return 0
    user = "--user " if args.user_unit else ""
    if args.action == "install":
        print(f"Logs: journalctl {user}-u {UNIT_NAME} -f")
        print(f"Status: systemctl {user}status {UNIT_NAME}")
        print(f"Undo: {'' if args.user_unit else 'sudo '}{shlex.join(own_command())} service uninstall{' --user' if args.user_unit else ''}")
        if args.user_unit:
            print(f"To start it at boot without logging in: sudo loginctl enable-linger {getpass.getuser()}")
    else:
        print(f"The configuration file {config_path(args)} is kept.")
    if not ok:
        print("Some commands failed (see above).")
    return 0 if ok else 1
