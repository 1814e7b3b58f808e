"""AUX framing: the worked examples of the protocol reference byte for byte, and a stream decoder
that survives any garbage a noisy link can produce."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from alpaca_focuser.celestron.packet import START, FrameDecoder, MalformedFrame, Packet, checksum, decode

# (source, destination, command, data, the bytes on the wire): reference §2 and §3.
WORKED_EXAMPLES = [
    (0x04, 0x10, 0xFE, b"", "3b 03 04 10 fe eb"),  # hand controller asks a motor for its version
    (0x20, 0x12, 0xFE, b"", "3b 03 20 12 fe cd"),  # host asks the focuser for its version
    (0x20, 0x12, 0x01, b"", "3b 03 20 12 01 ca"),  # host asks the position
    (0x22, 0x12, 0xFE, b"", "3b 03 22 12 fe cb"),  # Celestron utility, captured
    (0x12, 0x22, 0xFE, bytes.fromhex("07 0f 20 30"), "3b 07 12 22 fe 07 0f 20 30 61"),
    (0x22, 0x12, 0x01, b"", "3b 03 22 12 01 c8"),
    (0x12, 0x22, 0x01, bytes.fromhex("00 83 59"), "3b 06 12 22 01 00 83 59 e9"),  # position 33625
    (0x22, 0x12, 0x02, bytes.fromhex("00 83 a4"), "3b 06 22 12 02 00 83 a4 9d"),  # goto 33700
    (0x20, 0x12, 0x02, bytes.fromhex("00 83 a4"), "3b 06 20 12 02 00 83 a4 9f"),
    (0x12, 0x20, 0x02, b"", "3b 03 12 20 02 c9"),  # ACK of GOTO_FAST
    (0x12, 0x20, 0x24, b"", "3b 03 12 20 24 a7"),  # ACK of MOVE_POS
    (0x12, 0x20, 0x2A, b"", "3b 03 12 20 2a a1"),  # ACK of CALIB_ENABLE
    (0x22, 0x12, 0x40, b"", "3b 03 22 12 40 89"),  # utility asks the positive backlash
    (0x12, 0x22, 0x40, b"\x00", "3b 04 12 22 40 00 88"),
    (0x10, 0x20, 0xF0, b"\x47", "3b 04 10 20 f0 47 95"),  # a motor's "unrecognised command"
]


@pytest.mark.parametrize(("source", "destination", "command", "data", "wire"), WORKED_EXAMPLES)
def test_worked_examples_encode_and_decode_byte_for_byte(source: int, destination: int, command: int, data: bytes, wire: str) -> None:
    frame = bytes.fromhex(wire)
    packet = Packet(source, destination, command, data)
    assert packet.encode() == frame
    assert decode(frame) == packet
    assert sum(frame[1:]) % 256 == 0
    assert checksum(frame[1:-1]) == frame[-1]


def test_position_capture_reads_33625() -> None:
    assert int.from_bytes(decode(bytes.fromhex("3b 06 12 22 01 00 83 59 e9")).data, "big") == 33625


def test_reply_to_matches_swapped_addresses_and_same_command() -> None:
    request = Packet(0x20, 0x12, 0x01)
    assert Packet(0x12, 0x20, 0x01, b"\x00\x00\x01").reply_to(request)
    assert not request.reply_to(request)  # an echo is not a reply
    assert not Packet(0x12, 0x22, 0x01).reply_to(request)
    assert not Packet(0x12, 0x20, 0x13).reply_to(request)


@pytest.mark.parametrize(
    ("frame", "complaint"),
    [
        ("3b 03 20 12", "too short"),
        ("3c 03 20 12 01 ca", "does not start with 3b"),
        ("3b 02 20 12 01 cb", "impossible length"),
        ("3b 04 20 12 01 ca", "length byte says"),
        ("3b 03 20 12 01 cb", "bad checksum"),
    ],
)
def test_decode_names_what_is_wrong(frame: str, complaint: str) -> None:
    with pytest.raises(MalformedFrame, match=complaint):
        decode(bytes.fromhex(frame))


def test_encode_refuses_oversized_data() -> None:
    with pytest.raises(ValueError, match="at most"):
        Packet(0x20, 0x12, 0x01, bytes(40)).encode()


def test_decoder_reassembles_a_frame_split_byte_by_byte() -> None:
    decoder = FrameDecoder()
    frame = bytes.fromhex("3b 07 12 22 fe 07 0f 20 30 61")
    found = [packet for byte in frame for packet in decoder.feed(bytes([byte]))]
    assert found == [decode(frame)]
    assert decoder.dropped_bytes == 0 and decoder.pending() == 0


def test_decoder_resyncs_after_a_false_start_byte() -> None:
    decoder = FrameDecoder()
    good = bytes.fromhex("3b 03 12 20 02 c9")
    found = decoder.feed(b"\x3b\x05\x00" + good)
    assert found == [decode(good)]
    assert decoder.bad_frames == 1


def test_reset_forgets_a_partial_frame() -> None:
    decoder = FrameDecoder()
    decoder.feed(bytes.fromhex("3b 06 12 20 01 00"))
    assert decoder.pending() == 6
    decoder.reset()
    assert decoder.feed(bytes.fromhex("3b 03 12 20 02 c9")) == [Packet(0x12, 0x20, 0x02)]


packets = st.builds(
    Packet,
    source=st.integers(0, 255),
    destination=st.integers(0, 255),
    command=st.integers(0, 255),
    data=st.binary(max_size=8),
)
# Garbage that cannot be mistaken for the start of a frame.
garbage = st.binary(max_size=20).map(lambda raw: bytes(b for b in raw if b != START))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(garbage, packets), max_size=8), garbage, st.integers(1, 16))
def test_garbage_between_frames_yields_exactly_the_frames(pieces: list[tuple[bytes, Packet]], tail: bytes, chunk: int) -> None:
    stream = b"".join(noise + packet.encode() for noise, packet in pieces) + tail
    decoder = FrameDecoder()
    found = [packet for start in range(0, len(stream), chunk) for packet in decoder.feed(stream[start : start + chunk])]
    assert found == [packet for _, packet in pieces]
    assert decoder.dropped_bytes == sum(len(noise) for noise, _ in pieces) + len(tail)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), packets)
def test_any_bytes_never_raise_and_a_frame_after_a_resync_is_found(noise: bytes, packet: Packet) -> None:
    decoder = FrameDecoder()
    decoder.feed(noise)
    # Whatever the noise left pending, a run of non-start bytes longer than any frame flushes it.
    decoder.feed(bytes(40))
    assert decoder.pending() == 0
    assert decoder.feed(packet.encode()) == [packet]


@settings(max_examples=200, deadline=None)
@given(packets, st.integers(0, 255), st.data())
def test_a_corrupted_frame_is_never_accepted_as_itself(packet: Packet, flip: int, data: st.DataObject) -> None:
    frame = bytearray(packet.encode())
    index = data.draw(st.integers(1, len(frame) - 1))
    assume(flip != 0 and index != 1)  # a changed length byte is a different framing, tested above
    frame[index] ^= flip
    found = FrameDecoder().feed(bytes(frame))
    assert packet not in found
