"""Tests of the sequence header and of the loss/duplicate/reorder tracker."""

from __future__ import annotations

import itertools
import random
import struct
from typing import Final, NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_mcast._sequence import (
    HEADER_SIZE,
    MAGIC,
    VERSION,
    SequenceHeader,
    SequenceTracker,
    StreamKey,
    StreamTotals,
    new_stream_id,
    pack_header,
    parse_header,
)

pytestmark = pytest.mark.no_network

U64: Final = st.integers(0, 2**64 - 1)
U32: Final = st.integers(0, 2**32 - 1)
U8: Final = st.integers(0, 255)
PAYLOADS: Final = st.binary(max_size=64)
SOURCE: Final = ("10.0.0.1", 5000)

#: Arbitrary arrival orders over a small range: gaps, duplicates, reordering.
SMALL_ARRIVALS: Final = st.lists(st.integers(0, 40), min_size=1, max_size=80)
#: Sparse numbers over the whole 64-bit range: huge gaps must stay cheap.
SPARSE_ARRIVALS: Final = st.lists(U64, min_size=1, max_size=20)


@st.composite
def realistic_arrivals(draw: st.DrawFn) -> list[int]:
    """A sent sequence with some drops, duplicates and local reordering."""
    sent = draw(st.integers(1, 60))
    arrivals: list[int] = []
    for number in range(sent):
        if draw(st.integers(0, 9)) == 0:
            continue
        arrivals.append(number)
        if draw(st.integers(0, 9)) == 0:
            arrivals.append(number)
    swaps = draw(st.lists(st.integers(0, max(len(arrivals) - 2, 0)), max_size=10))
    for index in swaps:
        if index + 1 < len(arrivals):
            arrivals[index], arrivals[index + 1] = arrivals[index + 1], arrivals[index]
    return arrivals or [0]


ARRIVALS: Final = st.one_of(SMALL_ARRIVALS, SPARSE_ARRIVALS, realistic_arrivals())
#: Arrivals whose missing numbers are few enough to list one by one.
DENSE_ARRIVALS: Final = st.one_of(SMALL_ARRIVALS, realistic_arrivals())
SHORT_PAYLOADS: Final = st.binary(max_size=HEADER_SIZE - 1)
OTHER_MAGICS: Final = st.binary(min_size=4, max_size=4).filter(lambda magic: magic != MAGIC)
OTHER_VERSIONS: Final = U8.filter(lambda version: version != VERSION)
STREAM_ENDPOINTS: Final = st.sampled_from([(SOURCE, 1), (SOURCE, 2), (("10.0.0.2", 5000), 1)])
TAGGED_ARRIVALS: Final = st.lists(st.tuples(STREAM_ENDPOINTS, U8), min_size=1, max_size=60)
ANY_PAYLOADS: Final = st.lists(st.binary(max_size=40), max_size=20)
NANOSECONDS: Final = st.integers(0, 10**12)
SEND_RECEIVE_TIMES: Final = st.lists(st.tuples(NANOSECONDS, NANOSECONDS), min_size=1)


class Expected(NamedTuple):
    received: int
    lost: int
    duplicates: int
    reordered: int
    lowest: int
    highest: int


def model(arrivals: list[int]) -> Expected:
    """The counting rules of the module docstring, computed the slow way."""
    seen: set[int] = set()
    duplicates = reordered = 0
    for number in arrivals:
        if number in seen:
            duplicates += 1
        elif seen and number < max(seen):
            reordered += 1
        seen.add(number)
    lowest, highest = min(seen), max(seen)
    return Expected(
        received=len(arrivals),
        lost=(highest - lowest + 1) - len(seen),
        duplicates=duplicates,
        reordered=reordered,
        lowest=lowest,
        highest=highest,
    )


def feed(tracker: SequenceTracker, arrivals: list[int], stream_id: int = 7) -> None:
    for number in arrivals:
        assert tracker.observe(pack_header(number, 0, stream_id), SOURCE) is not None


@given(sequence=U64, timestamp=U64, stream_id=U32, flags=U8, payload=PAYLOADS)
def test_header_round_trips(
    sequence: int, timestamp: int, stream_id: int, flags: int, payload: bytes
) -> None:
    header = pack_header(sequence, timestamp, stream_id, flags)
    assert len(header) == HEADER_SIZE == 28
    assert parse_header(header + payload) == SequenceHeader(sequence, timestamp, stream_id, flags)


def test_header_layout_is_the_documented_one() -> None:
    header = pack_header(0x0102030405060708, 0x1112131415161718, 0x21222324, 0x05)
    assert header == (
        b"TMSQ"
        + bytes([1, 5, 0, 0])
        + bytes.fromhex("0102030405060708")
        + bytes.fromhex("1112131415161718")
        + bytes.fromhex("21222324")
    )


@given(payload=SHORT_PAYLOADS)
def test_short_payloads_have_no_header(payload: bytes) -> None:
    assert parse_header(MAGIC + payload[: HEADER_SIZE - 1 - len(MAGIC)]) is None
    assert parse_header(payload) is None


@given(magic=OTHER_MAGICS)
def test_other_magic_is_not_a_header(magic: bytes) -> None:
    assert parse_header(magic + pack_header(1, 2, 3)[4:]) is None


@given(version=OTHER_VERSIONS)
def test_other_versions_are_not_headers(version: int) -> None:
    header = bytearray(pack_header(1, 2, 3))
    header[4] = version
    assert parse_header(bytes(header)) is None


def test_reserved_bits_are_ignored() -> None:
    header = bytearray(pack_header(1, 2, 3))
    header[6:8] = b"\xff\xff"
    assert parse_header(bytes(header)) == SequenceHeader(1, 2, 3, 0)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((-1, 0, 0, 0), r"^sequence must be in 0\.\.18446744073709551615, got -1$"),
        ((0, 2**64, 0, 0), r"^timestamp_ns must be in 0\.\.18446744073709551615, got 2\*\*64$"),
        ((0, 0, 2**32, 0), r"^stream_id must be in 0\.\.4294967295, got 4294967296$"),
        ((0, 0, 0, 256), r"^flags must be in 0\.\.255, got 256$"),
    ],
)
def test_pack_header_rejects_out_of_range_fields(
    arguments: tuple[int, int, int, int], message: str
) -> None:
    message = message.replace(r"2\*\*64", str(2**64))
    with pytest.raises(ValueError, match=message):
        pack_header(*arguments)


def test_stream_ids_are_32_bit_and_vary() -> None:
    ids = {new_stream_id() for _ in range(64)}
    assert all(0 <= stream_id < 2**32 for stream_id in ids)
    assert len(ids) > 1


@given(arrivals=ARRIVALS)
def test_tracker_matches_the_model(arrivals: list[int]) -> None:
    tracker = SequenceTracker()
    feed(tracker, arrivals)
    (report,) = tracker.reports()
    expected = model(arrivals)
    assert (
        report.received,
        report.lost,
        report.duplicates,
        report.reordered,
        report.lowest,
        report.highest,
    ) == expected
    assert tracker.lost == expected.lost
    assert tracker.unsequenced == 0


@given(arrivals=DENSE_ARRIVALS)
def test_gap_ranges_are_exactly_the_missing_numbers(arrivals: list[int]) -> None:
    tracker = SequenceTracker()
    feed(tracker, arrivals)
    missing = set(range(min(arrivals), max(arrivals) + 1)) - set(arrivals)
    ranges = tracker.gap_ranges(StreamKey(SOURCE, 7))
    covered = [number for start, end in ranges for number in range(start, end + 1)]
    assert covered == sorted(missing)
    # Disjoint, sorted and not adjacent: one range per run of missing numbers.
    assert all(end + 1 < start for (_, end), (start, _) in itertools.pairwise(ranges))


@given(tagged=TAGGED_ARRIVALS)
def test_streams_are_told_apart_by_source_and_stream_id(
    tagged: list[tuple[tuple[tuple[str, int], int], int]],
) -> None:
    tracker = SequenceTracker()
    per_stream: dict[StreamKey, list[int]] = {}
    for (source, stream_id), number in tagged:
        tracker.observe(pack_header(number, 0, stream_id), source)
        per_stream.setdefault(StreamKey(source, stream_id), []).append(number)
    reports = tracker.reports()
    # Reports come in the order the streams were first seen.
    assert [StreamKey(report.source, report.stream_id) for report in reports] == list(per_stream)
    for report in reports:
        expected = model(per_stream[StreamKey(report.source, report.stream_id)])
        assert (report.received, report.lost, report.duplicates, report.reordered) == (
            expected.received,
            expected.lost,
            expected.duplicates,
            expected.reordered,
        )


@given(payloads=ANY_PAYLOADS)
def test_payloads_without_a_header_are_unsequenced(payloads: list[bytes]) -> None:
    tracker = SequenceTracker()
    expected = 0
    for payload in payloads:
        header = tracker.observe(payload, SOURCE)
        assert header == parse_header(payload)
        expected += header is None
    assert tracker.unsequenced == expected


@given(samples=SEND_RECEIVE_TIMES)
def test_latency_is_receive_minus_send_time(samples: list[tuple[int, int]]) -> None:
    tracker = SequenceTracker()
    for number, (sent, received) in enumerate(samples):
        tracker.observe(pack_header(number, sent, 1), SOURCE, received)
    latencies = [received - sent for sent, received in samples]
    latency = tracker.reports()[0].latency
    assert latency is not None
    assert latency.samples == len(samples)
    assert latency.minimum_ns == min(latencies)
    assert latency.maximum_ns == max(latencies)
    assert latency.average_ns == pytest.approx(sum(latencies) / len(latencies))


def test_no_receive_time_means_no_latency() -> None:
    tracker = SequenceTracker()
    tracker.observe(pack_header(0, 5, 1), SOURCE)
    assert tracker.reports()[0].latency is None


def test_forgotten_gaps_stay_counted_and_memory_stays_bounded() -> None:
    tracker = SequenceTracker(max_gaps=3)
    feed(tracker, list(range(0, 41, 2)))
    ranges = tracker.gap_ranges(StreamKey(SOURCE, 7))
    assert ranges == [(35, 35), (37, 37), (39, 39)]
    assert tracker.reports()[0].lost == 20
    # A late arrival in a remembered gap still fills it.
    feed(tracker, [39])
    assert tracker.reports()[0].lost == 19


def test_shuffled_complete_sequence_loses_nothing() -> None:
    arrivals = list(range(500))
    random.Random(1).shuffle(arrivals)
    tracker = SequenceTracker()
    feed(tracker, arrivals)
    report = tracker.reports()[0]
    assert (report.lost, report.duplicates, report.lowest, report.highest) == (0, 0, 0, 499)
    assert tracker.gap_ranges(StreamKey(SOURCE, 7)) == []


def test_max_gaps_must_be_positive() -> None:
    with pytest.raises(ValueError, match=r"^max_gaps must be at least 1, got 0$"):
        SequenceTracker(max_gaps=0)


def test_header_struct_is_network_order() -> None:
    magic, version, flags, reserved, sequence, sent, stream = struct.unpack(
        "!4sBBHQQI", pack_header(3, 4, 5)
    )
    assert (magic, version, flags, reserved, sequence, sent, stream) == (MAGIC, 1, 0, 0, 3, 4, 5)


def test_the_least_recently_seen_stream_is_evicted_and_totals_stay_exact() -> None:
    tracker = SequenceTracker(max_streams=3)
    source = ("10.0.0.1", 5000)
    for stream_id, numbers in (
        (1, (0, 2)),
        (2, (0,)),
        (3, (0, 0)),
        (1, (3,)),
        (4, (5,)),
        (5, (0,)),
    ):
        for number in numbers:
            tracker.observe(pack_header(number, 0, stream_id), source)
    # Stream 1 was seen again after 2 and 3, so 2 and 3 went first.
    assert [report.stream_id for report in tracker.reports()] == [1, 4, 5]
    assert tracker.evicted == 2
    assert tracker.totals() == StreamTotals(
        streams=5, received=8, lost=1, duplicates=1, reordered=0
    )
    assert tracker.lost == 1


def test_gap_ranges_share_one_budget() -> None:
    tracker = SequenceTracker(max_gaps=1000, gap_budget=64)
    sources = [("10.0.0.1", port) for port in range(4)]
    for source in sources:
        for number in range(0, 400, 2):  # every other number: a gap each time
            tracker.observe(pack_header(number, 0, 7), source)
    kept = [len(tracker.gap_ranges(StreamKey(source, 7))) for source in sources]
    # Together they keep the budget (each at least the floor of 16), not 4 x 199.
    assert sum(kept) <= 64
    assert min(kept) >= 16
    assert tracker.lost == 4 * 199


@given(st.lists(st.integers(0, 2**32 - 1), max_size=300), st.integers(1, 8))
def test_random_stream_ids_keep_memory_bounded_and_counts_exact(
    stream_ids: list[int], max_streams: int
) -> None:
    tracker = SequenceTracker(max_streams=max_streams)
    for stream_id in stream_ids:
        tracker.observe(pack_header(0, 0, stream_id), ("10.0.0.1", 5000))
    distinct = len(set(stream_ids))
    assert len(tracker.reports()) == min(distinct, max_streams)
    totals = tracker.totals()
    assert totals.received == len(stream_ids)
    assert totals.streams == len(tracker.reports()) + tracker.evicted
    if distinct <= max_streams:
        # Nothing evicted: every repeat of a stream id is a duplicate of its 0.
        assert (tracker.evicted, totals.duplicates) == (0, len(stream_ids) - distinct)
