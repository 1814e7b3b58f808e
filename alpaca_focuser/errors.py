"""Alpaca error kinds, raised by the device model and mapped to the JSON envelope in one place.

The device model raises these; only the HTTP layer turns them into ``ErrorNumber``/``ErrorMessage``.
"""


class AlpacaError(Exception):
    """An error that a client sees as a non-zero ErrorNumber in an HTTP 200 reply."""

    number: int = 0x500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotImplementedAlpaca(AlpacaError):
    """The member exists in the interface but this device does not provide it (0x400)."""

    number = 0x400


class InvalidValue(AlpacaError):
    number = 0x401


class ValueNotSet(AlpacaError):
    number = 0x402


class NotConnected(AlpacaError):
    number = 0x407


class InvalidOperation(AlpacaError):
    number = 0x40B


class ActionNotImplemented(AlpacaError):
    number = 0x40C


class DriverError(AlpacaError):
    """A device-specific failure; the code is 0x500 plus a small number naming the cause."""

    def __init__(self, message: str, code: int = 0) -> None:
        if not 0 <= code <= 0xAFF:
            raise ValueError(f"driver error code {code} is outside 0..0xAFF")
        super().__init__(message)
        self.number = 0x500 + code
