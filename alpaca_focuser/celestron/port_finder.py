"""Find the Celestron Focus Motor among the serial ports (the ``auto`` port setting).

A port is a candidate when its USB id is the focuser's own (15A2:A50F); it is confirmed only when
it answers a version request with the focuser's 4-byte version, because other devices built on the
same Freescale/NXP USB chip could carry the same id. Ports with another USB id are never probed:
sending AUX bytes to a mount or a GPS could disturb it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from serial.tools import list_ports as pyserial_list_ports

from .commands import Command, ReplyError, Request, Version
from .link import DEFAULT_BAUD, AuxError, AuxLink

log = logging.getLogger(__name__)

CELESTRON_VID = 0x15A2
CELESTRON_PID = 0xA50F
CELESTRON_USB_ID = f"{CELESTRON_VID:04X}:{CELESTRON_PID:04X}"
PROBE_TIMEOUT = 1.0
BY_ID_FOLDER = "/dev/serial/by-id"


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


@dataclass(frozen=True)
class ProbeResult:
    port: str
    version: Version | None  # set when the port answered as the focuser
    reason: str  # why it was rejected, or what it answered

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
    return ProbeResult(port, version, f"Celestron focuser, firmware {version}")


def _short_reason(port: str, exc: AuxError) -> str:
    """The link's message in a few words, without the port name the caller shows already."""
    cause = exc.__cause__
    if isinstance(cause, OSError) and cause.errno:
        return f"cannot open it: {os.strerror(cause.errno)}"
    text = str(exc)
    return text[len(port) + 2 :] if text.startswith(f"{port}: ") else text


def find_focuser(candidates: list[str] | None = None, baud: int = DEFAULT_BAUD, timeout: float = PROBE_TIMEOUT) -> str:
    """The port the focuser answers on.

    ``candidates`` are probed in order; without them, every port with the focuser's USB id is.
    Raises PortNotFound listing every port seen with its USB id and the reason it was rejected.
    """
    known = {info.device: info for info in list_ports()}
    rejected: list[str] = []
    if candidates is None:
        candidates = [info.device for info in known.values() if info.is_celestron_id]
        for info in known.values():
            if not info.is_celestron_id:
                rejected.append(f"{info.device} ({info.usb_label}): not a port with the focuser's USB id {CELESTRON_USB_ID}, not probed")
    by_real_path = {os.path.realpath(device): info for device, info in known.items()}
    for port in candidates:
        info = known.get(port) or by_real_path.get(os.path.realpath(port))
        label = info.usb_label if info else "no USB id"
        result = probe(port, baud=baud, timeout=timeout)
        if result.confirmed:
            log.info("Found the Celestron focuser on %s (%s), firmware %s", port, label, result.version)
            return port
        log.info("%s (%s) is not the focuser: %s", port, label, result.reason)
        rejected.append(f"{port} ({label}): {result.reason}")
    if not rejected:
        raise PortNotFound(
            "No serial ports found, so the focuser cannot be found. Check that its USB cable is plugged "
            "in and the focuser is powered through its AUX cable, then try again."
        )
    raise PortNotFound(
        f"No port answered as the Celestron focuser (USB id {CELESTRON_USB_ID}) at {baud} baud. Ports seen:\n  "
        + "\n  ".join(rejected)
        + "\nCheck that the focuser is plugged in and powered, or set its port explicitly in the configuration."
    )
