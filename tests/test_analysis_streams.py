"""What ``send --payload`` makes, ``recv --analyze`` reads back: kinds, gaps, bounds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_mcast._analysis._iperf2 import Iperf2Analyzer
from trio_mcast._analysis._payloads import PAYLOADS, PayloadMaker
from trio_mcast._analysis._rtp import RtpAnalyzer
from trio_mcast._analysis._streams import (
    ANALYZERS,
    KINDS,
    MODES,
    RECOGNITION_ORDER,
    StreamAnalysis,
)

if TYPE_CHECKING:
    from trio_mcast._analysis._records import Gap

pytestmark = pytest.mark.no_network

SOURCE: Final = ("10.0.0.2", 40000)
NOW_NS: Final = 1_790_000_000_000_000_000
#: The datagrams of a run, and which of them are left out (never the first or the last).
RUNS: Final = st.integers(3, 120).flatmap(
    lambda count: st.tuples(
        st.just(count), st.sets(st.integers(1, count - 2), max_size=count // 2)
    )
)


def _send(kind: str, count: int, left_out: set[int], analysis: StreamAnalysis) -> None:
    maker = PayloadMaker(kind, start_ns=NOW_NS, pid=0x100)  # type: ignore[arg-type]  # a kind
    for number in range(count):
        if number not in left_out:
            now = NOW_NS + number * 1_000_000
            analysis.observe(maker.make(number, b"body", now), SOURCE, now + 100_000)


@pytest.mark.parametrize("kind", PAYLOADS)
@given(run=RUNS)
def test_what_is_left_out_is_exactly_what_is_found_missing(
    kind: str, run: tuple[int, set[int]]
) -> None:
    count, left_out = run
    if kind == "mpegts":
        # A run of 16 datagrams left out moves the 4-bit counters a whole turn.
        left_out = {number for number in left_out if number - 1 not in left_out}
    analysis = StreamAnalysis("auto")
    _send(kind, count, left_out, analysis)
    (summary,) = analysis.summaries()
    gaps = analysis.take_gaps()
    assert summary.kind == kind
    runs = sum(1 for number in left_out if number - 1 not in left_out)
    if kind == "mpegts":
        assert summary.lost == 7 * len(left_out)
        assert summary.received == 7 * (count - len(left_out))
        assert len(gaps) == len(left_out)
    else:
        assert summary.lost == len(left_out)
        assert summary.received == count - len(left_out)
        assert len(gaps) == runs
        assert sum(gap.missing for gap in gaps) == len(left_out)
    assert (summary.duplicated, summary.reordered) == (0, 0)
    assert analysis.lost == summary.lost
    assert (analysis.analyzed, analysis.unanalyzed) == (count - len(left_out), 0)


@pytest.mark.parametrize("kind", PAYLOADS)
def test_each_kind_is_recognised_from_its_first_datagram(kind: str) -> None:
    maker = PayloadMaker(kind, start_ns=NOW_NS)  # type: ignore[arg-type]  # a kind
    assert StreamAnalysis().recognise(maker.make(0, b"x" * 20, NOW_NS), NOW_NS) == kind


@pytest.mark.parametrize("payload", [b"", b"hello", bytes(188), b"\x47" + bytes(100)])
def test_plain_payloads_are_not_recognised(payload: bytes) -> None:
    assert StreamAnalysis().recognise(payload, NOW_NS) is None


def test_rtp_carrying_transport_packets_is_mpegts() -> None:
    rtp = PayloadMaker("rtp", start_ns=NOW_NS)
    ts = PayloadMaker("mpegts", start_ns=NOW_NS, pid=0x44)
    analysis = StreamAnalysis()
    for number in (0, 1, 3):
        analysis.observe(rtp.make(number, ts.make(number, b"", 0), NOW_NS), SOURCE, NOW_NS)
    (summary,) = analysis.summaries()
    assert summary.kind == "mpegts"
    assert "ssrc" in summary.stream
    assert summary.lost == 7


def test_an_explicit_kind_counts_what_it_cannot_read() -> None:
    analysis = StreamAnalysis("rtp")
    analysis.observe(b"plain text", SOURCE, NOW_NS)
    analysis.observe(PayloadMaker("rtp", start_ns=0).make(0, b"", 0), SOURCE, NOW_NS)
    assert (analysis.analyzed, analysis.unanalyzed) == (1, 1)
    with pytest.raises(ValueError, match=r"^mode must be one of auto, tmsq, rtp, mpegts, iperf2"):
        StreamAnalysis("sctp")  # type: ignore[arg-type]  # the point


@given(st.lists(st.binary(max_size=200), max_size=50), st.sampled_from(MODES))
def test_any_payloads_are_analyzed_or_counted_without_raising(
    payloads: list[bytes], mode: str
) -> None:
    analysis = StreamAnalysis(mode)  # type: ignore[arg-type]  # one of MODES
    for number, payload in enumerate(payloads):
        analysis.observe(payload, ("10.0.0.9", number % 3), NOW_NS)
    assert analysis.analyzed + analysis.unanalyzed == len(payloads)
    assert all(summary.lost >= 0 for summary in analysis.summaries())


def test_streams_and_sender_kinds_are_bounded() -> None:
    analysis = StreamAnalysis(max_streams=4)
    for port in range(50):
        maker = PayloadMaker("rtp", start_ns=0)
        analysis.observe(maker.make(0, b"", 0), ("10.0.0.9", port), NOW_NS)
    assert len(analysis.summaries()) == 4
    assert len(analysis._kinds) == 4
    rtp = analysis.analyzer("rtp")
    assert isinstance(rtp, RtpAnalyzer)
    assert rtp.rtp.tracker.totals().received == 50


def test_the_iperf2_maker_ends_with_the_final_datagram_its_server_expects() -> None:
    maker = PayloadMaker("iperf2", start_ns=NOW_NS)
    analysis = StreamAnalysis("iperf2")
    for number in range(3):
        analysis.observe(maker.make(number, b"", NOW_NS), SOURCE, NOW_NS)
    final = maker.final(3, b"", NOW_NS)
    assert final is not None
    analysis.observe(final, SOURCE, NOW_NS)
    (summary,) = analysis.summaries()
    assert (summary.received, summary.lost) == (4, 0)
    iperf2 = analysis.analyzer("iperf2")
    assert isinstance(iperf2, Iperf2Analyzer)
    assert iperf2.iperf2.finished == 1
    assert PayloadMaker("rtp", start_ns=0).final(3, b"", 0) is None


def test_rtp_timestamps_follow_the_clock_and_sequence_numbers_wrap() -> None:
    maker = PayloadMaker("rtp", start_ns=NOW_NS, rtp_clock=8000)
    first = maker.make(0, b"", NOW_NS)
    later = maker.make(70_000, b"", NOW_NS + 500_000_000)
    assert (int.from_bytes(later[2:4], "big") - int.from_bytes(first[2:4], "big")) % 65536 == (
        70_000 % 65536
    )
    assert (int.from_bytes(later[4:8], "big") - int.from_bytes(first[4:8], "big")) % 2**32 == 4000


@pytest.mark.parametrize("kind", KINDS)
def test_each_format_is_one_analyzer_behind_the_common_interface(kind: str) -> None:
    analyzer = ANALYZERS[kind](16, None)  # type: ignore[index]  # one of KINDS
    gaps: list[Gap] = []
    assert analyzer.observe(b"\x00\x01", SOURCE, NOW_NS, gaps) is False
    assert (analyzer.summaries(), analyzer.lost, gaps) == ([], 0, [])
    maker = PayloadMaker(kind, start_ns=NOW_NS, pid=0x100)  # type: ignore[arg-type]  # a kind
    datagram = maker.make(0, b"x" * 20, NOW_NS)
    assert analyzer.recognises(datagram, NOW_NS)
    assert analyzer.observe(datagram, SOURCE, NOW_NS, gaps) is True
    (summary,) = analyzer.summaries()
    assert summary.kind == kind
    assert set(RECOGNITION_ORDER) == set(ANALYZERS) == set(KINDS)
