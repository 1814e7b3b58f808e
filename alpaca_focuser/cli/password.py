"""``alpaca-focuser password``: make the hash line that turns on the optional HTTP password.

The password itself is never stored: the user pastes the printed ``password_hash = "..."`` line into
the [server] table of the configuration file. The line goes to standard output and the advice to
standard error, so ``alpaca-focuser password --stdin < file`` can be used in a script.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from ..passwords import hash_password

MIN_LENGTH = 8


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stdin", action="store_true", help="read the password from the first line of standard input instead of asking twice")


def run(args: argparse.Namespace) -> int:
    try:
        password = _read_password(args.stdin)
    except (EOFError, KeyboardInterrupt):
        print("alpaca-focuser password: no password given; nothing changed.", file=sys.stderr)
        return 1
    if password is None:
        return 1
    print(f'password_hash = "{hash_password(password)}"')
    print(
        "Put the line above in the [server] table of the configuration file and restart the server. The setup and "
        "control pages then ask for this password (any user name); add password_for_api = true to require it from "
        "Alpaca clients too.",
        file=sys.stderr,
    )
    return 0


def _read_password(from_stdin: bool) -> str | None:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("New password: ")
        if getpass.getpass("The same again: ") != password:
            print("alpaca-focuser password: the two passwords differ; nothing changed. Run it again.", file=sys.stderr)
            return None
    if len(password) < MIN_LENGTH:
        print(f"alpaca-focuser password: use at least {MIN_LENGTH} characters; nothing changed.", file=sys.stderr)
        return None
    return password
