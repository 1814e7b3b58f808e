"""Find the Celestron Focus Motor among the serial ports (the ``auto`` port setting).

A port is a candidate when its USB id is the focuser's own (15A2:A50F); it is confirmed only when
it answers a version request with the focuser's 4-byte version, because other devices built on the
same Freescale/NXP USB chip could carry the same id.

When no port carries the focuser's id, the USB-serial bridges Celestron mounts and cables use
(``BRIDGE_IDS``) are asked what they are, gently: first a single ``V`` (a hand controller answers
its version, 3 bytes ending in ``#``; an AUX bus drops the stray byte), then the focuser's version
request on the AUX bus. So the user learns that the focuser is there, behind a mount or a hand
controller, and which ``route`` to set. Other ports are never probed: bytes could disturb a GPS.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import serial
from serial.tools import list_ports as pyserial_list_ports

from .commands import Command, ReplyError, Request, Version
from .faults import AuxError
from .link import DEFAULT_BAUD, AuxLink
from .serial_lines import open_port

log = logging.getLogger(__name__)

CELESTRON_VID = 0x15A2
CELESTRON_PID = 0xA50F
CELESTRON_USB_ID = f"{CELESTRON_VID:04X}:{CELESTRON_PID:04X}"
STABLE_PORT = "/dev/celestron_focuser"  # the name the udev rule (alpaca-focuser udev install) gives the focuser
PROBE_TIMEOUT = 1.0
BY_ID_FOLDER = "/dev/serial/by-id"
# USB-serial bridges found in mounts' USB ports, hand-controller cables and AUX adapters:
# FTDI, Prolific (the classic Celestron RS-232 cable), Silicon Labs CP210x, WCH CH340.
BRIDGE_IDS = frozenset({"0403:6001", "0403:6015", "067B:2303", "10C4:EA60", "1A86:7523"})
HC_BAUD = 9600
MOUNT_BAUD = 19200


class PortNotFound(Exception):
    """No port answered as the focuser; the message lists every port seen and why it was rejected."""


@dataclass(frozen=True)
class PortInfo:
    device: str
    description: str
    usb_id: str | None  # "VID:PID" in hex, None for a port without a USB id (a pty, a built-in UART)
    is_celestron_id: bool
    stable_path: str | None = None  # a /dev/serial/by-id link that survives re-plugging, when there is one

    @property
    def usb_label(self) -> str:
        return f"USB {self.usb_id}" if self.usb_id else "no USB id"

    @property
    def is_bridge(self) -> bool:
        """A USB-serial bridge that may be a mount's USB port or a hand-controller cable."""
        return self.usb_id in BRIDGE_IDS


@dataclass(frozen=True)
class ProbeResult:
    port: str
    version: Version | None  # set when the port answered as the focuser
    reason: str  # why it was rejected, or what it answered
    route: str = "usb"  # "mount" when our own frame came back: the focuser is on a mount's AUX bus

    @property
    def confirmed(self) -> bool:
        return self.version is not None


def _parse_focuser_version(data: bytes) -> Version:
    """The focus motor answers GET_VER with 4 bytes; a PlaneWave EFA, same protocol, with 2."""
    if len(data) != 4:
        raise ReplyError(f"a {len(data)}-byte version ({data.hex(' ') or 'empty'}), where the Celestron focuser answers 4 bytes")
    return Version(data[0], data[1], int.from_bytes(data[2:4], "big"))


def _focuser_version_request() -> Request[Version]:
    return Request(Command.GET_VER, b"", _parse_focuser_version)


def _stable_paths() -> dict[str, str]:
    """Map each real device path to its /dev/serial/by-id link (Linux only; empty elsewhere)."""
    try:
        names = sorted(os.listdir(BY_ID_FOLDER))
    except OSError:
        return {}
    return {os.path.realpath(os.path.join(BY_ID_FOLDER, name)): os.path.join(BY_ID_FOLDER, name) for name in names}


def list_ports() -> list[PortInfo]:
    """Every serial port the system reports, with its USB id."""
    stable = _stable_paths()
    ports = []
    for entry in sorted(pyserial_list_ports.comports(), key=lambda item: item.device):
        usb_id = f"{entry.vid:04X}:{entry.pid:04X}" if entry.vid is not None and entry.pid is not None else None
        description = entry.description if entry.description and entry.description != "n/a" else ""
        ports.append(
            PortInfo(
                device=entry.device,
                description=description,
                usb_id=usb_id,
                is_celestron_id=(entry.vid, entry.pid) == (CELESTRON_VID, CELESTRON_PID),
                stable_path=stable.get(os.path.realpath(entry.device)),
            )
        )
    return ports


@dataclass(frozen=True)
class Identity:
    """What answered on a port: "hc" (a hand controller), "mount" (the focuser on a mount's AUX
    bus) or None, with a sentence for the user."""

    route: str | None
    description: str


def identify(port: str, timeout: float = PROBE_TIMEOUT, mount_baud: int = MOUNT_BAUD) -> Identity:
    """Ask ``port`` whether it is a hand controller (``V`` at 9600), then whether the focuser
    answers behind it on a mount's AUX bus."""
    try:
        line = open_port(port, HC_BAUD, timeout)
    except (serial.SerialException, OSError, ValueError) as exc:
        return Identity(None, f"cannot open it: {exc}")
    try:
        line.reset_input_buffer()
        line.write(b"V")
        line.flush()
        answer = line.read(3)
    except (serial.SerialException, OSError) as exc:
        return Identity(None, f"cannot talk to it: {exc}")
    finally:
        line.close()
    if len(answer) == 3 and answer[2] == ord("#"):
        return Identity("hc", f"a NexStar hand controller, version {answer[0]}.{answer[1]:02d}")
    from .bus_link import BusLink

    link = BusLink(port, baud=mount_baud, timeout=timeout, min_gap_s=0)
    try:
        link.open()
        version = link.request(_focuser_version_request())
    except AuxError as exc:
        return Identity(None, f"neither a hand controller nor a mount with the focuser on its AUX bus ({_short_reason(port, exc)})")
    finally:
        link.close()
    if not link.stats.echoes_ignored and not link.stats.foreign_frames:
        return Identity("usb", f"the focuser itself (firmware {version}), alone on the line")
    return Identity("mount", f"a mount's AUX bus at {mount_baud} baud, with the focuser (firmware {version}) on it")


def probe(port: str, baud: int = DEFAULT_BAUD, timeout: float = PROBE_TIMEOUT) -> ProbeResult:
    """Ask ``port`` for its version, once, and say whether it answered as the focuser."""
    link = AuxLink(port, baud=baud, timeout=timeout, tries=1)
    try:
        link.open()
        version = link.request(_focuser_version_request())
    except AuxError as exc:
        return ProbeResult(port, None, _short_reason(port, exc))
    finally:
        link.close()
    if link.stats.echoes_ignored:
        return ProbeResult(port, version, f"Celestron focuser, firmware {version}, on a mount's AUX bus (our request came back)", "mount")
    return ProbeResult(port, version, f"Celestron focuser, firmware {version}")


def _short_reason(port: str, exc: AuxError) -> str:
    """The link's message in a few words, without the port name the caller shows already."""
    cause = exc.__cause__
    if isinstance(cause, OSError) and cause.errno:
        return f"cannot open it: {os.strerror(cause.errno)}"
    text = str(exc)
    return text[len(port) + 2 :] if text.startswith(f"{port}: ") else text


def _route_advice(port: str, identity: Identity) -> str:
    return f'The focuser answers through {port}, {identity.description}: set route = "{identity.route}" and port = "{port}" for this focuser.'


def find_focuser(candidates: list[str] | None = None, baud: int = DEFAULT_BAUD, timeout: float = PROBE_TIMEOUT, route: str = "usb") -> str:
    """The port the focuser answers on, by the route it is configured for.

    For the focuser's own USB port (route "usb"), ``candidates`` are probed in order; without them,
    every port with the focuser's USB id is. For "mount" and "hc", the USB-serial bridges are asked
    what they are. A focuser found on another route than the configured one is reported, not used.
    Raises PortNotFound listing every port seen with its USB id and the reason it was rejected.
    """
    if route != "usb":
        return _find_behind_mount(route, baud, timeout)
    known = {info.device: info for info in list_ports()}
    rejected: list[str] = []
    if candidates is None:
        candidates = [info.device for info in known.values() if info.is_celestron_id]
        for info in known.values():
            if not info.is_celestron_id:
                rejected.append(f"{info.device} ({info.usb_label}): not a port with the focuser's USB id {CELESTRON_USB_ID}, not probed")
    by_real_path = {os.path.realpath(device): info for device, info in known.items()}
    for port in candidates:
        candidate = known.get(port) or by_real_path.get(os.path.realpath(port))
        label = candidate.usb_label if candidate else "no USB id"
        result = probe(port, baud=baud, timeout=timeout)
        if result.confirmed:
            log.info("Found the Celestron focuser on %s (%s), firmware %s", port, label, result.version)
            if result.route != "usb":
                log.warning('%s echoes our requests, as a mount\'s AUX bus does: set route = "mount" for this focuser, '
                            "so the server paces itself on the shared bus", port)
            return port
        log.info("%s (%s) is not the focuser: %s", port, label, result.reason)
        rejected.append(f"{port} ({label}): {result.reason}")
    if not rejected:
        raise PortNotFound(
            "No serial ports found, so the focuser cannot be found. Check that its USB cable is plugged "
            "in and the focuser is powered through its AUX cable, then try again."
        )
    own_ids = {os.path.realpath(info.device) for info in known.values() if info.is_celestron_id}
    asked = [port for port in candidates if os.path.realpath(port) not in own_ids]  # ports named by the caller
    bridges = [info.device for info in known.values() if info.is_bridge and info.device not in asked]
    for port in asked + bridges:
        identity = identify(port, timeout)
        if identity.route not in (None, "usb"):
            raise PortNotFound(f"The focuser's own USB port was not found. {_route_advice(port, identity)}")
    raise PortNotFound(
        f"No port answered as the Celestron focuser (USB id {CELESTRON_USB_ID}) at {baud} baud. Ports seen:\n  "
        + "\n  ".join(rejected)
        + "\nCheck that the focuser is plugged in and powered, or set its port explicitly in the configuration."
    )


def _find_behind_mount(route: str, baud: int, timeout: float) -> str:
    """The first USB-serial bridge that answers as ``route`` ("mount" or "hc")."""
    seen: list[str] = []
    for info in list_ports():
        if not info.is_bridge:
            seen.append(f"{info.device} ({info.usb_label}): not a USB-serial bridge a mount or hand controller uses, not probed")
            continue
        identity = identify(info.device, timeout, mount_baud=baud if route == "mount" else MOUNT_BAUD)
        if identity.route == route:
            log.info("Found %s on %s (%s)", identity.description, info.device, info.usb_label)
            return info.device
        if identity.route is not None:
            raise PortNotFound(f'route = "{route}" is set, but {_route_advice(info.device, identity)}')
        seen.append(f"{info.device} ({info.usb_label}): {identity.description}")
    what = "a hand controller" if route == "hc" else "a mount with the focuser on its AUX bus"
    listing = "\n  ".join(seen) if seen else "no serial ports at all"
    raise PortNotFound(f"No port answered as {what}. Ports seen:\n  {listing}\nSet the port explicitly in the configuration "
                       "(a mount's WiFi is port = \"socket://1.2.3.4:2000\").")
