"""``alpaca-focuser sim``: a simulated focus motor on a pty and/or a TCP port, until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import Any

from ..limits import port_number
from .faults import FAULT_DEFAULTS, FAULTS
from .motor import FocusMotor
from .responder import AuxResponder


def tcp_address(text: str) -> tuple[str, int]:
    """``PORT``, ``HOST:PORT`` or ``[IPv6]:PORT``; loopback unless a host is given."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        return host, port_number(0)(port)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"--tcp wants [HOST:]PORT, e.g. 2000 or 0.0.0.0:2000: {exc}") from None


def _value(text: str) -> Any:
    if text.lower() == "none":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def fault_spec(text: str) -> tuple[str, dict[str, Any]]:
    """``NAME`` or ``NAME:KEY=VALUE,...`` e.g. ``late:delay=3`` or ``unplug:seconds=5``."""
    name, _, rest = text.partition(":")
    if name not in FAULTS:
        raise argparse.ArgumentTypeError(f"unknown fault {name!r}; choose from {', '.join(FAULTS)}")
    params: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        key, equals, value = item.partition("=")
        if not equals or key not in FAULT_DEFAULTS.get(name, {}):
            takes = ", ".join(FAULT_DEFAULTS.get(name, {})) or "no parameters"
            raise argparse.ArgumentTypeError(f"fault {name} takes {takes}; got {item!r}")
        params[key] = _value(value)
    return name, params


def milliseconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected milliseconds, got {text!r}") from None
    if not 0 <= value <= 60000:
        raise argparse.ArgumentTypeError(f"must be 0 to 60000 ms, got {text}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pty", metavar="PATH", help="make PATH a symlink to a pseudo-terminal that is the focuser")
    parser.add_argument("--tcp", metavar="[HOST:]PORT", type=tcp_address, help="listen on TCP like a Celestron WiFi module (127.0.0.1 unless a host is given)")
    parser.add_argument("--mount", action="store_true", help="plug the focuser into a simulated mount's AUX bus: --pty is then the mount's USB port and --tcp its WiFi module, with echo and other devices' traffic")
    parser.add_argument("--hc", metavar="PATH", help="also make PATH a NexStar hand controller's serial port on that mount, with the pass-through (implies --mount)")
    parser.add_argument("--time-scale", type=positive_float, default=1.0, metavar="N", help="run N times faster than the real motor (default 1)")
    parser.add_argument("--uncalibrated", action="store_true", help="start uncalibrated (limits read as zero)")
    parser.add_argument("--echo", action="store_true", help="echo every host packet, as the mount's AUX bus and WiFi do")
    parser.add_argument("--state-file", metavar="FILE", help="keep calibration, limits and position in FILE across restarts (the motor's NVRAM)")
    parser.add_argument("--landing-error", type=int, default=0, metavar="N", help="GOTO_FAST stops up to N counts off target")
    parser.add_argument("--slow-landing-error", type=int, default=0, metavar="N", help="GOTO_SLOW stops up to N counts off target")
    parser.add_argument("--reply-delay", type=milliseconds, default=0.0, metavar="MS", help="answer each request MS milliseconds after it arrives, as a real motor does (about 2); the focuser's own port only, not with --mount or --hc")
    parser.add_argument(
        "--fault",
        type=fault_spec,
        action="append",
        default=[],
        metavar="NAME[:KEY=VALUE,...]",
        help=f"switch a fault on (repeatable): {', '.join(FAULTS)}; e.g. late:delay=3, unplug:seconds=5",
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"], type=str.upper, help="DEBUG logs every packet")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.pty and not args.tcp and not args.hc:
        print("alpaca-focuser sim: give --pty PATH, --tcp [HOST:]PORT and/or --hc PATH to say where the focuser should appear", file=sys.stderr)
        return 2
    if args.reply_delay and (args.mount or args.hc):
        print("alpaca-focuser sim: --reply-delay is for the focuser's own port; on a mount the bus answers", file=sys.stderr)
        return 2
    try:
        motor = FocusMotor(
            time_scale=args.time_scale,
            calibrated=not args.uncalibrated,
            state_file=args.state_file,
            landing_error=args.landing_error,
            slow_landing_error=args.slow_landing_error,
        )
        if args.echo:
            motor.set_fault("echo")
        for name, params in args.fault:
            motor.set_fault(name, **params)
    except ValueError as exc:
        print(f"alpaca-focuser sim: {exc}", file=sys.stderr)
        return 2
    servers: list[Any] = []
    usb, wifi, hand_controller = _doors(motor, args, servers)
    on_mount = usb is not None
    where = "the mount's USB port" if on_mount else "simulated focuser"
    if not on_mount:
        usb = wifi = lambda: AuxResponder(motor, reply_delay_s=args.reply_delay / 1000)
    try:
        if args.pty:
            from .pty_server import PtySimulator

            pty_server = PtySimulator(motor, args.pty, responder=usb).start()
            servers.append(pty_server)
            print(f"{where} on {pty_server.path} -> {pty_server.device}", flush=True)
        if args.tcp:
            from .tcp_server import TcpSimulator

            host, port = args.tcp
            tcp_server = TcpSimulator(motor, host, port, responder=wifi).start()
            servers.append(tcp_server)
            listener = "the mount's WiFi module" if on_mount else "simulated focuser"
            print(f"{listener} listening on {tcp_server.url}", flush=True)
        if args.hc:
            from .pty_server import PtySimulator

            hc_server = PtySimulator(motor, args.hc, responder=hand_controller).start()
            servers.append(hc_server)
            print(f"hand controller on {hc_server.path} -> {hc_server.device}", flush=True)
    except OSError as exc:
        for server in servers:
            server.stop()
        print(f"alpaca-focuser sim: {exc}", file=sys.stderr)
        return 1
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        stopping.wait()
    except KeyboardInterrupt:
        pass
    for server in servers:
        server.stop()
    print("simulated focuser stopped", flush=True)
    return 0


def _doors(motor: FocusMotor, args: argparse.Namespace, servers: list[Any]) -> tuple[Any, Any, Any]:
    """With --mount or --hc: the responders behind the mount's USB port, WiFi and hand controller
    (the bus is started and put first in ``servers`` to be stopped last); else the focuser's own."""
    if not (args.mount or args.hc):
        return None, None, None
    from .hand_controller import HandController
    from .mount_bus import MountBus
    from .mount_wifi import WifiBridge

    bus = MountBus(motor).start()
    servers.append(bus)
    return (lambda: bus.port("mount usb")), (lambda: WifiBridge(bus)), (lambda: HandController(bus))
