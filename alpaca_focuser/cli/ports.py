"""``alpaca-focuser ports``: list the serial ports and tell which one is the Celestron focuser,
and by which route: its own USB port, a mount's AUX bus or a hand controller's pass-through.

Ports with the focuser's USB id (and ports named with --probe) get a version request; USB-serial
bridges that mounts and hand-controller cables use are asked what they are (``identify``); other
ports are listed but left alone, since bytes could disturb a GPS or another device on them.
"""

from __future__ import annotations

import argparse
import os

from ..celestron.link import DEFAULT_BAUD
from ..celestron.routes import ROUTE_TITLES
from ..celestron.usb_probe import CELESTRON_USB_ID, Identity, PortInfo, ProbeResult, identify, list_ports, probe


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = "Exit status: 0 when a focuser answered, 1 when none did."
    parser.add_argument("--baud", type=int, default=DEFAULT_BAUD, help=f"serial speed of the version request (default {DEFAULT_BAUD})")
    parser.add_argument(
        "--probe",
        metavar="PORT",
        action="append",
        default=[],
        help="also send a version request to PORT (a device path or pyserial URL, e.g. a pty); repeatable",
    )
    parser.add_argument("--timeout", type=float, default=1.0, help="seconds to wait for each version reply (default 1)")


def _status(info: PortInfo | None, result: ProbeResult | None, identity: Identity | None) -> str:
    if result is not None and result.confirmed:
        return f"<- the Celestron focuser ({result.reason.removeprefix('Celestron focuser, ')})"
    if identity is not None and identity.route is not None:
        return f"<- {identity.description}"
    if result is not None:
        prefix = "has the focuser's USB id but " if info is not None and info.is_celestron_id else ""
        return f"{prefix}did not answer as the focuser: {result.reason}"
    return identity.description if identity is not None else ""


def run(args: argparse.Namespace) -> int:
    if args.baud <= 0:
        print(f"--baud must be a positive number of baud, not {args.baud}")
        return 2
    ports = list_ports()
    asked = {os.path.realpath(port) for port in args.probe}
    rows: list[tuple[str, str, str, str]] = []
    found: list[tuple[str, PortInfo | None, str]] = []

    def check(port: str, info: PortInfo | None, description: str) -> None:
        wanted = (info is not None and info.is_celestron_id) or os.path.realpath(port) in asked
        result = probe(port, baud=args.baud, timeout=args.timeout) if wanted else None
        identity = None
        if (result is None or not result.confirmed) and (wanted or (info is not None and info.is_bridge)):
            identity = identify(port, timeout=args.timeout)
        rows.append((port, (info.usb_id if info else None) or "no USB id", description, _status(info, result, identity)))
        if result is not None and result.confirmed:
            found.append((port, info, result.route))
        elif identity is not None and identity.route is not None:
            found.append((port, info, identity.route))

    for info in ports:
        check(info.device, info, info.description)
    listed = {os.path.realpath(info.device) for info in ports}
    for port in dict.fromkeys(args.probe):
        if os.path.realpath(port) not in listed:
            check(port, None, "given with --probe")

    if rows:
        widths = [max(len(row[column]) for row in rows + [("PORT", "USB ID", "DESCRIPTION", "")]) for column in range(3)]
        header = ("PORT", "USB ID", "DESCRIPTION")
        print("  ".join(title.ljust(width) for title, width in zip(header, widths)).rstrip())
        for row in rows:
            print(("  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths)) + "  " + row[3]).rstrip())
    else:
        print("No serial ports found.")
    print()

    if not found:
        print(f"No focuser answered. The Celestron Focus Motor shows up with USB id {CELESTRON_USB_ID}; check that its")
        print("USB cable is plugged in and that it has power through its AUX cable. Other ways to reach it, for config.toml:")
        print('  port = "socket://1.2.3.4:2000" and route = "mount"   # a mount\'s WiFi, the focuser on its AUX bus')
        print('  port = "socket://HOST:PORT"   # ser2net in front of the focuser\'s own USB port')
        print('  port = "sim://"               # the built-in simulator, to try the server without hardware')
        return 1
    print("Put this in the [[focuser]] section of config.toml:")
    for port, where, route in found:
        if where is not None and where.stable_path:
            print(f'  port = "{where.stable_path}"   # stays the same when the USB link re-enumerates')
        else:
            print(f'  port = "{port}"')
        if route != "usb":
            print(f'  route = "{route}"   # {ROUTE_TITLES[route]}')
    if any(where is not None and where.is_celestron_id for _, where, _ in found):
        print('or port = "auto" to find it by its USB id at every start.')
    if any(route == "mount" for _, _, route in found):
        print("On a mount's AUX or PC port cable add rtscts = true; the mount's USB port and WiFi need no handshake.")
    return 0
