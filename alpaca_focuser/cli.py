"""``alpaca-focuser`` [serve] | sim | ports | discover.

Each subcommand lives in its own module, which provides ``add_arguments(parser)`` and
``run(args) -> int``; this file only dispatches.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "serve": ("alpaca_focuser.server", "serve the focusers over Alpaca (the default)"),
    "sim": ("alpaca_focuser.simulator.command", "run a simulated focus motor on a pty or TCP port"),
    "ports": ("alpaca_focuser.ports", "list serial ports and mark the Celestron focuser"),
    "discover": ("alpaca_focuser.finder", "list the Alpaca servers that answer discovery"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alpaca-focuser", description="ASCOM Alpaca server for the Celestron Focus Motor")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module_name).add_arguments(sub)
        sub.set_defaults(module=module_name)
    return parser


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or args_list[0] not in COMMANDS and args_list[0] not in ("-h", "--help"):
        args_list.insert(0, "serve")
    args = build_parser().parse_args(args_list)
    return importlib.import_module(args.module).run(args)


if __name__ == "__main__":
    sys.exit(main())
