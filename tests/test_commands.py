"""Every focuser command: the request bytes a host sends (as INDI sends them) and the parsing of the
reply the device gives, byte for byte (reference §2 and §3)."""

from __future__ import annotations

import pytest

from alpaca_focuser.celestron import commands as c
from alpaca_focuser.celestron.packet import Packet, decode

REQUESTS = [
    (c.get_version(), "3b 03 20 12 fe cd"),
    (c.get_model(), "3b 03 20 12 05 c6"),
    (c.get_position(), "3b 03 20 12 01 ca"),
    (c.goto_fast(33700), "3b 06 20 12 02 00 83 a4 9f"),
    (c.goto_slow(1), "3b 06 20 12 17 00 00 01 b0"),
    (c.slew_done(), "3b 03 20 12 13 b8"),
    (c.move_positive(9), "3b 04 20 12 24 09 9d"),
    (c.move_negative(7), "3b 04 20 12 25 07 9e"),
    (c.stop(), "3b 04 20 12 24 00 a6"),
    (c.calibration_start(), "3b 04 20 12 2a 01 9f"),
    (c.calibration_abort(), "3b 04 20 12 2a 00 a0"),
    (c.calibration_status(), "3b 03 20 12 2b a0"),
    (c.get_limits(), "3b 03 20 12 2c 9f"),
    (c.get_positive_backlash(), "3b 03 20 12 40 8b"),
    (c.get_negative_backlash(), "3b 03 20 12 41 8a"),
]


@pytest.mark.parametrize(("request_", "wire"), REQUESTS, ids=[f"{r.name}-{w[-2:]}" for r, w in REQUESTS])
def test_request_bytes_from_the_host(request_: c.Request[object], wire: str) -> None:
    frame = bytes.fromhex(wire)
    assert Packet(c.DeviceId.APP, c.DeviceId.FOCUSER, request_.command, request_.data).encode() == frame
    assert sum(frame[1:]) % 256 == 0


REPLIES = [
    (c.get_version(), "3b 07 12 20 fe 07 0f 20 30 63", c.Version(7, 15, 8240)),
    (c.get_version(), "3b 05 12 20 fe 01 02 c8", c.Version(1, 2, 0)),  # a two-byte version answers major.minor
    (c.get_model(), "3b 05 12 20 05 1b a8 01", 0x1BA8),
    (c.get_position(), "3b 06 12 20 01 00 83 59 eb", 33625),
    (c.goto_fast(33700), "3b 03 12 20 02 c9", None),
    (c.goto_slow(33700), "3b 03 12 20 17 b4", None),
    (c.slew_done(), "3b 04 12 20 13 ff b8", True),
    (c.slew_done(), "3b 04 12 20 13 00 b7", False),
    (c.move_positive(9), "3b 03 12 20 24 a7", None),
    (c.move_negative(9), "3b 03 12 20 25 a6", None),
    (c.calibration_start(), "3b 03 12 20 2a a1", None),
    (c.calibration_status(), "3b 05 12 20 2b 01 00 9d", c.CalibrationReport(done=True, state=0)),
    (c.calibration_status(), "3b 05 12 20 2b 00 05 99", c.CalibrationReport(done=False, state=5)),
    (c.get_limits(), "3b 0b 12 20 2c 00 00 03 e8 00 00 92 7c 9e", c.Limits(1000, 37500)),
    (c.get_limits(), "3b 0b 12 20 2c 00 00 00 00 00 00 00 00 97", c.Limits(0, 0)),
    (c.get_positive_backlash(), "3b 04 12 20 40 00 8a", 0),
    (c.get_negative_backlash(), "3b 04 12 20 41 07 82", 7),
]


@pytest.mark.parametrize(("request_", "wire", "expected"), REPLIES, ids=[f"{r.name}-{w[-2:]}" for r, w, _ in REPLIES])
def test_reply_bytes_from_the_device_parse(request_: c.Request[object], wire: str, expected: object) -> None:
    reply = decode(bytes.fromhex(wire))
    assert reply.reply_to(Packet(c.DeviceId.APP, c.DeviceId.FOCUSER, request_.command, request_.data))
    assert request_.parse(reply.data) == expected


def test_limits_validity_and_calibration_running() -> None:
    assert c.Limits(1000, 37500).valid and not c.Limits(0, 0).valid
    assert c.CalibrationReport(done=False, state=3).running and not c.CalibrationReport(done=True, state=0).running


@pytest.mark.parametrize(
    ("request_", "data", "complaint"),
    [
        (c.get_position(), b"\x00\x01", "position reply must carry 3"),
        (c.goto_fast(1), b"\x01", "acknowledge reply must carry 0"),
        (c.get_limits(), bytes(7), "limits reply must carry 8"),
        (c.calibration_status(), b"\x01", "calibration status reply must carry 2"),
        (c.slew_done(), b"", "slew-done reply must carry 1"),
        (c.get_version(), b"\x07\x0f\x20", "version reply must carry 4"),
    ],
)
def test_wrong_reply_sizes_are_named(request_: c.Request[object], data: bytes, complaint: str) -> None:
    with pytest.raises(c.ReplyError, match=complaint):
        request_.parse(data)


@pytest.mark.parametrize("builder", [c.goto_fast, c.goto_slow])
@pytest.mark.parametrize("position", [-1, 0x1000000])
def test_positions_outside_24_bits_are_refused(builder, position: int) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="24-bit"):
        builder(position)


@pytest.mark.parametrize("rate", [-1, 10])
def test_rates_outside_0_to_9_are_refused(rate: int) -> None:
    with pytest.raises(ValueError, match="0..9"):
        c.move_positive(rate)
