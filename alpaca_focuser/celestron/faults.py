"""What can go wrong on a line to the focuser, as exceptions every link raises alike."""

from __future__ import annotations

import sys

import serial

# What a port raises when the device behind it vanishes; termios.error (POSIX) is not an OSError.
PORT_ERRORS: tuple[type[Exception], ...] = (serial.SerialException, OSError)
if sys.platform != "win32":
    import termios

    PORT_ERRORS += (termios.error,)
RECEIVE_ERRORS: tuple[type[Exception], ...] = (*PORT_ERRORS, TypeError)  # pyserial's TypeError: a port closed under a read


class AuxError(Exception):
    """A request that did not get a usable reply; the message names the port and the command."""


class NoReply(AuxError):
    pass


class LinkClosed(AuxError):
    pass


class MalformedReply(AuxError):
    pass
