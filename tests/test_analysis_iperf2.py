"""iperf2's UDP header: written as iperf2 2.1 writes it, read as its server reads it."""

from __future__ import annotations

import struct
from typing import Final

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_mcast._analysis._iperf2 import (
    HEADER_SIZE,
    Iperf2Tracker,
    pack_iperf2,
    parse_iperf2,
)

pytestmark = pytest.mark.no_network

SOURCE: Final = ("10.0.0.2", 40000)
NOW_NS: Final = 1_790_000_000_000_000_000
#: The first datagram of a real iperf 2.1.8 client (-l 1316), as captured: id 1, 64-bit ids.
CAPTURED: Final = bytes.fromhex(
    "000000016b0f8a1a00000836000000004801009800000001000013890000052400000000ffffff9c"
)
CAPTURED_FINAL: Final = bytes.fromhex("ffffff996b0f8a1b0000418fffffffff48010098")


@given(
    st.integers(1, (1 << 63) - 1),
    st.integers(0, (1 << 32) - 1).map(lambda seconds: seconds * 1_000_000_000),
    st.integers(0, 999_999),
    st.booleans(),
)
def test_what_is_written_is_read_back(
    sequence: int, seconds_ns: int, micros: int, final: bool
) -> None:
    sent_ns = seconds_ns + micros * 1000
    header = parse_iperf2(pack_iperf2(sequence, sent_ns, final=final) + b"payload")
    assert header is not None
    assert (header.sequence, header.final, header.sent_ns) == (sequence, final, sent_ns)


def test_a_real_clients_datagrams_are_read_as_its_server_reads_them() -> None:
    first = parse_iperf2(CAPTURED)
    final = parse_iperf2(CAPTURED_FINAL)
    assert first is not None
    assert final is not None
    assert (first.sequence, first.final, first.flags) == (1, False, 0x48010098)
    assert (final.sequence, final.final) == (103, True)
    assert first.sent_ns == 0x6B0F8A1A * 10**9 + 0x836 * 1000


def test_a_32_bit_header_without_flags_is_signed() -> None:
    old = struct.pack("!iII", -5, 100, 7) + bytes(4)
    header = parse_iperf2(old)
    assert header is not None
    assert (header.sequence, header.final, header.flags) == (5, True, 0)


@pytest.mark.parametrize(
    ("datagram", "why"),
    [
        (pack_iperf2(1, NOW_NS)[:15], "shorter than the datagram header"),
        (struct.pack("!iIII", 0, 1, 2, 0) + bytes(8), "sequence number 0"),
        (struct.pack("!iIII", 1, 1, 1_000_000, 0) + bytes(8), "a microsecond count of a second"),
    ],
)
def test_what_is_not_iperf2_is_refused(datagram: bytes, why: str) -> None:
    assert parse_iperf2(datagram) is None, why


def test_with_an_arrival_time_implausible_headers_are_refused() -> None:
    assert parse_iperf2(pack_iperf2(1, NOW_NS), arrival_ns=NOW_NS + 5_000_000) is not None
    two_days = 2 * 86_400 * 10**9
    assert parse_iperf2(pack_iperf2(1, NOW_NS - two_days), arrival_ns=NOW_NS) is None
    odd_flags = pack_iperf2(1, NOW_NS)[:16] + struct.pack("!I", 0x00FF0000)
    assert parse_iperf2(odd_flags, arrival_ns=NOW_NS) is None
    assert parse_iperf2(odd_flags) is not None


def test_the_tracker_counts_loss_duplicates_and_latency_and_the_final_datagram() -> None:
    tracker = Iperf2Tracker()
    for number in (1, 2, 4, 4, 5):
        tracker.observe(pack_iperf2(number, NOW_NS) + bytes(100), SOURCE, NOW_NS + 250_000)
    tracker.observe(pack_iperf2(6, NOW_NS, final=True), SOURCE, NOW_NS + 250_000)
    tracker.observe(b"not iperf2", SOURCE, NOW_NS)
    (report,) = tracker.tracker.reports()
    assert (report.received, report.lost, report.duplicates, report.highest) == (6, 1, 1, 6)
    assert report.latency is not None
    assert report.latency.average_ns == 250_000
    assert (tracker.finished, tracker.not_iperf2) == (1, 1)


def test_sequence_numbers_out_of_range_are_refused() -> None:
    with pytest.raises(
        ValueError, match=r"^an iperf2 sequence number is in 1\.\.2\*\*63-1, not 0$"
    ):
        pack_iperf2(0, NOW_NS)
    assert len(pack_iperf2(1, NOW_NS)) == HEADER_SIZE
