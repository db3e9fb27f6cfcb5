"""RTP analysis: the header parser, and loss, reordering, lateness and jitter per stream."""

from __future__ import annotations

import struct
from typing import Final

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_mcast._analysis import RtpTracker, parse_rtp

pytestmark = pytest.mark.no_network

SOURCE: Final = ("10.0.0.1", 5004)
SSRC: Final = 0x1234ABCD


def rtp(
    sequence: int,
    timestamp: int = 0,
    *,
    ssrc: int = SSRC,
    payload_type: int = 96,
    marker: bool = False,
    csrcs: tuple[int, ...] = (),
    extension: tuple[int, bytes] | None = None,
    padding: int = 0,
    payload: bytes = b"media",
) -> bytes:
    """An RTP packet built by hand, independently of the parser."""
    first = 0x80 | len(csrcs) | (0x10 if extension else 0) | (0x20 if padding else 0)
    packet = struct.pack(
        "!BBHII", first, payload_type | (0x80 if marker else 0), sequence, timestamp, ssrc
    )
    packet += b"".join(struct.pack("!I", csrc) for csrc in csrcs)
    if extension is not None:
        profile, data = extension
        packet += struct.pack("!HH", profile, len(data) // 4) + data
    packet += payload
    if padding:
        packet += bytes(padding - 1) + bytes([padding])
    return packet


#: Extension data: whole 32-bit words.
WORDS: Final = st.binary(max_size=40).map(lambda data: data[: len(data) // 4 * 4])
HEADERS: Final = st.fixed_dictionaries(
    {
        "sequence": st.integers(0, 0xFFFF),
        "timestamp": st.integers(0, 0xFFFFFFFF),
        "ssrc": st.integers(0, 0xFFFFFFFF),
        "payload_type": st.integers(0, 127).filter(lambda pt: not 72 <= pt <= 76),
        "marker": st.booleans(),
        "csrcs": st.lists(st.integers(0, 0xFFFFFFFF), max_size=15).map(tuple),
        "extension": st.none()
        | st.tuples(
            st.integers(0, 0xFFFF), st.binary(max_size=40).map(lambda b: b[: len(b) // 4 * 4])
        ),
        "padding": st.integers(0, 255),
        "payload": st.binary(max_size=64),
    }
)


@given(HEADERS)
def test_every_field_of_a_valid_packet_is_read_back(fields: dict[str, object]) -> None:
    packet = rtp(**fields)  # type: ignore[arg-type]  # the strategy's dict has exactly these keys
    header = parse_rtp(packet)
    assert header is not None
    assert header.sequence == fields["sequence"]
    assert header.timestamp == fields["timestamp"]
    assert header.ssrc == fields["ssrc"]
    assert header.payload_type == fields["payload_type"]
    assert header.marker == fields["marker"]
    assert header.csrcs == fields["csrcs"]
    assert header.extension == fields["extension"]
    assert packet[header.payload_offset : header.payload_end] == fields["payload"]


@given(st.binary(max_size=80))
def test_any_bytes_parse_or_are_refused_without_raising(data: bytes) -> None:
    header = parse_rtp(data)
    if header is not None:
        assert 12 <= header.payload_offset <= header.payload_end <= len(data)


@pytest.mark.parametrize(
    ("packet", "why"),
    [
        (rtp(1)[:11], "shorter than the fixed header"),
        (bytes([0x40]) + rtp(1)[1:], "version 1"),
        (rtp(1, payload_type=72), "an RTCP sender report's type"),
        (rtp(1, csrcs=(1, 2))[:18], "a CSRC cut off"),
        (rtp(1, extension=(0xBEDE, bytes(8)))[:20], "the extension cut off"),
        (bytes([0xA0]) + rtp(1)[1:-1] + b"\xff", "padding longer than the packet"),
        (bytes([0xA0]) + rtp(1, payload=b"")[1:] + b"\x00", "a padding count of 0"),
    ],
)
def test_invalid_packets_are_refused(packet: bytes, why: str) -> None:
    assert parse_rtp(packet) is None, why


def _model(indices: list[int]) -> tuple[int, int, int]:
    """Lost, duplicated and reordered, counted the tracker's way, from extended indices."""
    seen: set[int] = set()
    duplicates = reordered = 0
    highest = lowest = indices[0]
    for number, index in enumerate(indices):
        if index in seen:
            duplicates += 1
        elif number and (index < highest or index < lowest):
            reordered += 1
        seen.add(index)
        highest, lowest = max(highest, index), min(lowest, index)
    return len(set(range(lowest, highest + 1)) - seen), duplicates, reordered


ARRIVALS: Final = st.tuples(
    st.integers(0, 0xFFFF),
    st.lists(st.integers(0, 3), min_size=2, max_size=300),
    st.randoms(use_true_random=False),
    st.integers(0, 20),
)


@given(ARRIVALS)
def test_loss_duplicates_and_reordering_are_counted_exactly_across_wraps(
    case: tuple[int, list[int], object, int],
) -> None:
    start, copies, random, displacement = case
    # Each packet arrives 0..3 times; then arrivals are shuffled locally.
    indices = [index for index, count in enumerate(copies) for _ in range(count)]
    if not indices:
        return
    keyed = sorted(
        enumerate(indices),
        key=lambda item: item[0] + random.randint(0, displacement),  # type: ignore[attr-defined]
    )
    arrivals = [index for _, index in keyed]
    tracker = RtpTracker()
    for order, index in enumerate(arrivals):
        tracker.observe(rtp((start + index) % 65536, index * 3000), SOURCE, order * 1_000_000)
    (report,) = tracker.tracker.reports()
    lost, duplicates, reordered = _model(arrivals)
    assert (report.lost, report.duplicates, report.reordered) == (lost, duplicates, reordered)
    assert report.received == len(arrivals)
    assert report.highest - report.lowest == max(arrivals) - min(arrivals)


def test_a_new_ssrc_or_payload_type_is_a_new_stream() -> None:
    tracker = RtpTracker()
    for packet in (rtp(1), rtp(2), rtp(3, ssrc=99), rtp(4, payload_type=97), rtp(5, ssrc=99)):
        tracker.observe(packet, SOURCE, 0)
    states = sorted((s.ssrc, s.payload_type) for s in tracker.states().values())
    assert states == [(99, 96), (SSRC, 96), (SSRC, 97)]
    assert sorted(report.received for report in tracker.tracker.reports()) == [1, 2, 2]
    assert tracker.tracker.lost == 1  # 4 of the SSRC-99 stream: 3, then 5


def test_jitter_is_zero_for_a_constant_transit_and_follows_rfc_3550_otherwise() -> None:
    steady = RtpTracker()
    for number in range(50):
        steady.observe(rtp(number, number * 3000), SOURCE, number * 33_333_333 + 5_000_000)
    (state,) = steady.states().values()
    assert state.jitter_ms < 0.001

    tracker = RtpTracker()
    delays_ms = [0, 10, 0, 10, 0]
    for number, delay in enumerate(delays_ms):
        arrival_ns = number * 40_000_000 + delay * 1_000_000
        tracker.observe(rtp(number, number * 3600), SOURCE, arrival_ns)
    # By hand: |D| is 10 ms (900 ticks at 90 kHz) each time after the first.
    expected = 0.0
    for _ in delays_ms[1:]:
        expected += (900 - expected) / 16
    (state,) = tracker.states().values()
    assert state.jitter_ms == pytest.approx(expected / 90, rel=1e-9)


def test_a_timestamp_wrap_is_a_small_step_for_the_jitter() -> None:
    tracker = RtpTracker()
    for number in range(10):
        timestamp = (0xFFFFFFFF - 4 * 3000 + number * 3000) & 0xFFFFFFFF
        tracker.observe(rtp(number, timestamp), SOURCE, number * 33_333_333)
    (state,) = tracker.states().values()
    assert state.jitter_ms < 0.001
    assert state.late == 0


def test_a_datagram_far_behind_the_newest_media_time_is_late() -> None:
    tracker = RtpTracker(late_ms=100)
    tracker.observe(rtp(10, 90_000), SOURCE, 0)
    tracker.observe(rtp(9, 90_000 - 4_500), SOURCE, 1)  # 50 ms behind: in time
    tracker.observe(rtp(8, 90_000 - 18_000), SOURCE, 2)  # 200 ms behind: late
    (state,) = tracker.states().values()
    assert state.late == 1
    assert tracker.tracker.reports()[0].reordered == 2


def test_clocks_come_from_the_payload_type_unless_given() -> None:
    assert RtpTracker().clock_rate_of(0) == 8000
    assert RtpTracker().clock_rate_of(33) == 90000
    assert RtpTracker().clock_rate_of(111) == 90000
    assert RtpTracker(48000).clock_rate_of(0) == 48000
    with pytest.raises(ValueError, match=r"^clock_rate must be at least 1 Hz, got 0$"):
        RtpTracker(0)


def test_streams_are_bounded() -> None:
    tracker = RtpTracker(max_streams=8)
    for ssrc in range(100):
        tracker.observe(rtp(1, ssrc=ssrc), SOURCE, 0)
    assert len(tracker.states()) == 8
    assert tracker.tracker.evicted == 92
    assert tracker.tracker.totals().received == 100


def test_what_is_not_rtp_is_counted() -> None:
    tracker = RtpTracker()
    assert tracker.observe(b"TMSQ and more", SOURCE, 0) is None
    assert tracker.not_rtp == 1
    header = tracker.observe(rtp(1, marker=True), SOURCE, 0)
    assert header is not None
    assert header.marker
    assert next(iter(tracker.states().values())).markers == 1
