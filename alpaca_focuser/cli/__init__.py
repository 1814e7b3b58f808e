"""``alpaca-focuser`` [serve] | sim | ports | discover | ...

Each subcommand lives in its own module of this package, which provides
``add_arguments(parser)`` and ``run(args) -> int``; this file only dispatches. A command line that
names no subcommand is served, so ``alpaca-focuser --port /dev/ttyACM0`` just works.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__

COMMANDS = {
    "serve": ("alpaca_focuser.cli.serve", "serve the focusers over Alpaca (the default)"),
    "sim": ("alpaca_focuser.cli.sim", "run a simulated focus motor on a pty or TCP port"),
    "ports": ("alpaca_focuser.cli.ports", "list serial ports and mark the Celestron focuser"),
    "discover": ("alpaca_focuser.cli.discover", "list the Alpaca servers that answer discovery"),
    "password": ("alpaca_focuser.cli.password", "make the hash line that turns on the optional password for the pages (and the API)"),
    "init": ("alpaca_focuser.cli.init", "write the commented configuration template where the server finds it"),
    "service": ("alpaca_focuser.cli.service", "start the server at boot (systemd), or stop doing so"),
    "udev": ("alpaca_focuser.cli.udev", "give the focuser the stable port name /dev/celestron_focuser"),
    "doctor": ("alpaca_focuser.cli.doctor", "check the configuration, the focuser's port and the network, and say what to fix"),
}


def build_parser(command: str | None = None, serve_help: bool = True) -> argparse.ArgumentParser:
    """The whole command line; only ``command``'s module is imported for its options (the others
    are listed by name), so a subcommand starts without loading the server it does not run."""
    parser = argparse.ArgumentParser(
        prog="alpaca-focuser",
        description="ASCOM Alpaca server for the Celestron Focus Motor. With no COMMAND it serves (see the options below).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_serve_options_help() if serve_help else None,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        if name == command:
            importlib.import_module(module_name).add_arguments(sub)
        sub.set_defaults(module=module_name)
    return parser


def _serve_options_help() -> str:
    """The serve options, listed in the top-level help because serving is what most users want."""
    serve = argparse.ArgumentParser(prog="alpaca-focuser [serve]", add_help=False)
    importlib.import_module(COMMANDS["serve"][0]).add_arguments(serve)
    lines = serve.format_help().splitlines()
    options = lines[lines.index("options:") + 1 :] if "options:" in lines else lines
    return "serve options (also accepted with no COMMAND):\n" + "\n".join(options) + "\n\nRun 'alpaca-focuser COMMAND --help' for a command's own options."


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or args_list[0] not in COMMANDS and args_list[0] not in ("-h", "--help", "--version"):
        args_list.insert(0, "serve")
    command = args_list[0] if args_list[0] in COMMANDS else None
    args = build_parser(command, serve_help=command is None and args_list[0] != "--version").parse_args(args_list)
    return int(importlib.import_module(args.module).run(args))


if __name__ == "__main__":
    sys.exit(main())
