"""Opening a port onto a mount, and the AUX/PC port's half-duplex RTS/CTS handshake.

A mount's ports differ from the focuser's own USB port in two ways the links must respect:

* Opening or closing the port must not reset the adapter behind it (ESP32 and CP210x AUX
  adapters reset when the modem lines drop), so the hang-up on close is switched off.
* The AUX and PC ports are half duplex: the host raises RTS, waits for the board to answer with
  CTS, sends, waits for the bytes to leave, then drops RTS so the hand controller can talk again.
"""

from __future__ import annotations

import logging
import time

import serial

from .port_names import check_openable

log = logging.getLogger(__name__)

CTS_WAIT_S = 0.1  # how long the board may take to grant the line after RTS is raised
BITS_PER_BYTE = 10  # 8N1: a start bit, 8 data bits, a stop bit


class HandshakeFailed(serial.SerialException):
    """The port never raised CTS: not an AUX/PC port, or nothing is connected to it."""


def open_port(url: str, baud: int, timeout: float, *, rtscts: bool = False) -> serial.Serial:
    """Open ``url`` without resetting what is behind it; with ``rtscts``, RTS starts low.

    Raises ValueError, before pyserial sees it, for a URL scheme this server does not open."""
    check_openable(url)
    port = serial.serial_for_url(url, baudrate=baud, timeout=timeout, write_timeout=timeout, do_not_open=True)
    if rtscts:
        port.rts = False
    port.open()
    _keep_lines_on_close(port)
    return port


def _keep_lines_on_close(port: serial.Serial) -> None:
    """Clear HUPCL so closing the port leaves DTR and RTS alone (no reset of the adapter)."""
    try:
        import termios
    except ImportError:
        return  # Windows: the driver does not drop the lines on close
    try:
        fd = port.fileno()
    except (AttributeError, NotImplementedError, OSError, ValueError, serial.SerialException):
        return  # not a local tty (TCP, the simulator): nothing to hang up
    try:
        attributes = termios.tcgetattr(fd)
        attributes[2] = (attributes[2] & ~termios.HUPCL) | termios.CLOCAL
        termios.tcsetattr(fd, termios.TCSANOW, attributes)
    except (termios.error, OSError) as exc:
        log.debug("could not keep the modem lines of %s up on close: %s", port.port, exc)


def write_with_handshake(port: serial.Serial, data: bytes, baud: int) -> None:
    """Raise RTS, wait for CTS, write ``data``, let it leave the wire, drop RTS."""
    try:
        port.rts = True
    except (AttributeError, NotImplementedError) as exc:
        raise serial.SerialException(f"{port.port} has no RTS/CTS lines to handshake with; set rtscts = false for this port") from exc
    try:
        deadline = time.monotonic() + CTS_WAIT_S
        while not port.cts:
            if time.monotonic() > deadline:
                raise HandshakeFailed(
                    f"{port.port}: the port did not raise CTS within {CTS_WAIT_S * 1000:.0f} ms of RTS. rtscts = true is "
                    "for a mount's AUX or PC port cable; on the mount's USB port, WiFi or a hand controller leave it off"
                )
            time.sleep(0.001)
        port.write(data)
        port.flush()
        time.sleep(len(data) * BITS_PER_BYTE / baud)  # a USB adapter's flush returns before the last bit is out
    finally:
        port.rts = False
