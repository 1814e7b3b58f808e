"""The focuser's AUX commands: device ids, command codes, request builders and reply parsers.

Each builder returns a ``Request`` that knows its command bytes and how to read the reply, so the
link can stay generic and every parser is tested byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Generic, TypeVar

from ..limits import POSITION_MAX

T = TypeVar("T")

RATE_MAX = 9


class DeviceId(IntEnum):
    ANY = 0x00
    MAIN_BOARD = 0x01
    NEXSTAR_HC = 0x04
    FOCUSER = 0x12
    APP = 0x20
    NEX_REMOTE = 0x22


class Command(IntEnum):
    GET_POSITION = 0x01
    GOTO_FAST = 0x02
    GET_MODEL = 0x05
    SET_POS_BACKLASH = 0x10
    SET_NEG_BACKLASH = 0x11
    SLEW_DONE = 0x13
    GOTO_SLOW = 0x17
    MOVE_POS = 0x24
    MOVE_NEG = 0x25
    CALIB_ENABLE = 0x2A
    CALIB_DONE = 0x2B
    GET_HS_POSITIONS = 0x2C
    GET_POS_BACKLASH = 0x40
    GET_NEG_BACKLASH = 0x41
    GET_VER = 0xFE


class ReplyError(ValueError):
    """Reply data of the wrong size or content for the command it answers."""


@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    build: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.build}"


@dataclass(frozen=True)
class Limits:
    """The calibrated hard stops in raw encoder counts; both zero when uncalibrated."""

    low: int
    high: int

    @property
    def valid(self) -> bool:
        return self.high > self.low


@dataclass(frozen=True)
class CalibrationReport:
    """FOC_CALIB_DONE reply: ``done`` is the calibrated flag, ``state`` non-zero while running."""

    done: bool
    state: int

    @property
    def running(self) -> bool:
        return self.state != 0


@dataclass(frozen=True)
class Request(Generic[T]):
    command: Command
    data: bytes
    parse: Callable[[bytes], T]
    repeatable: bool = True  # safe to send again when no reply came; a motion command is sent once

    @property
    def name(self) -> str:
        return self.command.name


def _expect(data: bytes, size: int, what: str) -> None:
    if len(data) != size:
        raise ReplyError(f"{what} reply must carry {size} data bytes, got {len(data)}: {data.hex(' ') or 'none'}")


def parse_ack(data: bytes) -> None:
    _expect(data, 0, "acknowledge")


def parse_position(data: bytes) -> int:
    _expect(data, 3, "position")
    return int.from_bytes(data, "big")


def parse_version(data: bytes) -> Version:
    if len(data) == 2:  # shorter firmware versions answer major.minor only
        return Version(data[0], data[1], 0)
    _expect(data, 4, "version")
    return Version(data[0], data[1], int.from_bytes(data[2:4], "big"))


def parse_slew_done(data: bytes) -> bool:
    _expect(data, 1, "slew-done")
    return data[0] == 0xFF


def parse_calibration(data: bytes) -> CalibrationReport:
    _expect(data, 2, "calibration status")
    return CalibrationReport(done=data[0] != 0, state=data[1])


def parse_limits(data: bytes) -> Limits:
    _expect(data, 8, "limits")
    return Limits(int.from_bytes(data[:4], "big"), int.from_bytes(data[4:], "big"))


def parse_byte(data: bytes) -> int:
    _expect(data, 1, "one-byte")
    return data[0]


def parse_model(data: bytes) -> int:
    _expect(data, 2, "model")
    return int.from_bytes(data, "big")


def encode_position(position: int) -> bytes:
    if not 0 <= position <= POSITION_MAX:
        raise ValueError(f"position {position} is outside the 24-bit range 0..{POSITION_MAX}")
    return position.to_bytes(3, "big")


def _rate(rate: int) -> bytes:
    if not 0 <= rate <= RATE_MAX:
        raise ValueError(f"manual rate {rate} is outside 0..{RATE_MAX}")
    return bytes([rate])


def get_version() -> Request[Version]:
    return Request(Command.GET_VER, b"", parse_version)


def get_model() -> Request[int]:
    return Request(Command.GET_MODEL, b"", parse_model)


def get_position() -> Request[int]:
    return Request(Command.GET_POSITION, b"", parse_position)


def goto_fast(position: int) -> Request[None]:
    return Request(Command.GOTO_FAST, encode_position(position), parse_ack, repeatable=False)


def goto_slow(position: int) -> Request[None]:
    return Request(Command.GOTO_SLOW, encode_position(position), parse_ack, repeatable=False)


def slew_done() -> Request[bool]:
    return Request(Command.SLEW_DONE, b"", parse_slew_done)


def move_positive(rate: int) -> Request[None]:
    """Run the motor towards higher counts at a manual rate; rate 0 stops any motion."""
    return Request(Command.MOVE_POS, _rate(rate), parse_ack, repeatable=rate == 0)


def move_negative(rate: int) -> Request[None]:
    return Request(Command.MOVE_NEG, _rate(rate), parse_ack, repeatable=rate == 0)


def stop() -> Request[None]:
    """MOVE_POS at rate 0: the conventional abort for gotos and manual moves."""
    return move_positive(0)


def calibration_start() -> Request[None]:
    return Request(Command.CALIB_ENABLE, b"\x01", parse_ack, repeatable=False)


def calibration_abort() -> Request[None]:
    return Request(Command.CALIB_ENABLE, b"\x00", parse_ack)


def calibration_status() -> Request[CalibrationReport]:
    return Request(Command.CALIB_DONE, b"", parse_calibration)


def get_limits() -> Request[Limits]:
    return Request(Command.GET_HS_POSITIONS, b"", parse_limits)


def get_positive_backlash() -> Request[int]:
    return Request(Command.GET_POS_BACKLASH, b"", parse_byte)


def get_negative_backlash() -> Request[int]:
    return Request(Command.GET_NEG_BACKLASH, b"", parse_byte)
