"""One analysis of what arrives, whatever the streams carry: ``recv --analyze``.

Pure: no trio, no socket. :class:`StreamAnalysis` takes each datagram's
payload, sender and arrival time, hands it to the analyzer of its kind
(``tmsq``, ``rtp``, ``mpegts`` or ``iperf2``), and keeps the gaps it finds
for the caller to report. With ``auto``, a sender's kind is recognised
from its first datagram that any analyzer recognises, and kept for that
sender; datagrams that none recognises are counted, not analyzed.

Recognising, in this order: the ``TMSQ`` magic; RTP (version 2, a valid
header), carrying MPEG-TS when its payload is whole 188-byte packets;
whole 188-byte packets that each start 0x47; an iperf2 header whose send
time is within a day of the arrival. The kinds' first bytes keep them
apart: RTP's version bits are ``10``, and ``T``, 0x47 and iperf2's small
sequence numbers all have others.

Every analyzer keeps at most ``max_streams`` streams (the least recently
seen make room), and so does the record of which sender is of which kind,
so memory is bounded whatever arrives.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Final, Literal, NamedTuple

from .._sequence import (
    DEFAULT_MAX_STREAMS,
    SequenceHeader,
    SequenceTracker,
    StreamKey,
    StreamReport,
    parse_header,
)
from ._iperf2 import Iperf2Tracker, parse_iperf2
from ._mpegts import TransportStream, is_transport_stream
from ._rtp import RtpTracker, parse_rtp

__all__ = ["KINDS", "MODES", "Gap", "Kind", "Mode", "StreamAnalysis", "StreamSummary"]

Kind = Literal["tmsq", "rtp", "mpegts", "iperf2"]
Mode = Literal["auto", "tmsq", "rtp", "mpegts", "iperf2"]
KINDS: Final[tuple[Kind, ...]] = ("tmsq", "rtp", "mpegts", "iperf2")
MODES: Final[tuple[Mode, ...]] = ("auto", *KINDS)
#: The most gaps kept between two reads of :meth:`StreamAnalysis.take_gaps`.
MAX_PENDING_GAPS: Final = 4096


class Gap(NamedTuple):
    """Datagrams (or MPEG-TS packets) that did not come, seen when a later one did.

    Attributes:
        stream: The stream, as :class:`StreamSummary` names it.
        expected: The sequence number (or continuity counter) that should have come.
        received: The one that came.
        missing: How many are missing between them.
    """

    stream: str
    expected: int
    received: int
    missing: int


class StreamSummary(NamedTuple):
    """One stream's line in the summary.

    Attributes:
        stream: Its name: the sender, and what else identifies the stream
            (a ``tmsq`` stream id; RTP's SSRC and payload type).
        kind: ``tmsq``, ``rtp``, ``mpegts`` or ``iperf2``.
        received: Datagrams received (MPEG-TS: transport packets).
        lost: Missing ones, by the sequence numbers or continuity counters.
        duplicated: Duplicates.
        reordered: New ones that arrived after a later one.
        jitter_ms: Interarrival jitter (RTP), or PCR jitter (MPEG-TS); else ``None``.
        latency_ms: Mean one-way latency (TMSQ, iperf2); else ``None``.
        notes: What else the kind tells, such as late datagrams or continuity errors.
    """

    stream: str
    kind: str
    received: int
    lost: int
    duplicated: int
    reordered: int
    jitter_ms: float | None
    latency_ms: float | None
    notes: str

    @property
    def loss_percent(self) -> float:
        """Lost, as a share of what was sent (received, less duplicates, plus lost)."""
        sent = self.received - self.duplicated + self.lost
        return 100.0 * self.lost / sent if sent > 0 else 0.0


def endpoint(source: tuple[str, int]) -> str:
    """``address:port``, with an IPv6 address in brackets."""
    address, port = source[0], source[1]
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


class _TransportStreams:
    """MPEG-TS streams by sender (and SSRC, over RTP), the least recently seen evicted."""

    __slots__ = ("_max", "evicted", "streams")

    def __init__(self, max_streams: int) -> None:
        self._max = max_streams
        self.streams: OrderedDict[tuple[tuple[str, int], int | None], TransportStream] = (
            OrderedDict()
        )
        self.evicted = 0

    def get(self, key: tuple[tuple[str, int], int | None]) -> TransportStream:
        stream = self.streams.get(key)
        if stream is None:
            if len(self.streams) >= self._max:
                self.streams.popitem(last=False)
                self.evicted += 1
            self.streams[key] = stream = TransportStream()
        else:
            self.streams.move_to_end(key)
        return stream


class StreamAnalysis:
    """Loss, jitter and latency per stream, for every kind of stream at once.

    Args:
        mode: ``auto``, or the one kind every datagram is read as.
        rtp_clock: The RTP timestamp clock in Hz; ``None`` takes the payload type's.
        max_streams: The most streams each analyzer keeps.

    Example:
        >>> from trio_mcast._sequence import pack_header
        >>> analysis = StreamAnalysis()
        >>> for number in (0, 1, 4):
        ...     _ = analysis.observe(pack_header(number, 0, 7), ("10.0.0.1", 5000), 0)
        >>> analysis.take_gaps()
        [Gap(stream='10.0.0.1:5000 tmsq 00000007', expected=2, received=4, missing=2)]
        >>> analysis.summaries()[0].lost, analysis.lost
        (2, 2)
    """

    __slots__ = (
        "_gaps",
        "_kinds",
        "_max_streams",
        "_mode",
        "_tmsq",
        "analyzed",
        "dropped_gaps",
        "iperf2",
        "mpegts",
        "rtp",
        "unanalyzed",
    )

    def __init__(
        self,
        mode: Mode = "auto",
        *,
        rtp_clock: int | None = None,
        max_streams: int = DEFAULT_MAX_STREAMS,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        self._mode = mode
        self._max_streams = max_streams
        self._tmsq = SequenceTracker(max_streams=max_streams)
        self.rtp = RtpTracker(rtp_clock, max_streams=max_streams)
        self.mpegts = _TransportStreams(max_streams)
        self.iperf2 = Iperf2Tracker(max_streams=max_streams)
        self._kinds: OrderedDict[tuple[str, int], Kind] = OrderedDict()
        self._gaps: list[Gap] = []
        #: Datagrams an analyzer read.
        self.analyzed = 0
        #: Datagrams no analyzer (or not the chosen one) recognised.
        self.unanalyzed = 0
        #: Gaps not kept because more than MAX_PENDING_GAPS were waiting.
        self.dropped_gaps = 0

    @property
    def mode(self) -> Mode:
        """``auto``, or the one kind every datagram is read as."""
        return self._mode

    @property
    def tmsq(self) -> SequenceTracker:
        """The counters of the ``TMSQ`` streams (``recv --sequence``)."""
        return self._tmsq

    @property
    def lost(self) -> int:
        """Missing datagrams (MPEG-TS: packets) over every stream, for the rate line."""
        return (
            self._tmsq.lost
            + self.rtp.tracker.lost
            + self.iperf2.tracker.lost
            + sum(stream.missing for stream in self.mpegts.streams.values())
        )

    def observe(
        self, payload: bytes, source: tuple[str, int], arrival_ns: int
    ) -> SequenceHeader | None:
        """Analyze one datagram.

        Args:
            payload: The UDP payload.
            source: The sender's ``(address, port)``.
            arrival_ns: When it arrived, in nanoseconds since the Unix epoch.

        Returns:
            Its ``TMSQ`` header, when it has one (to show it), else ``None``.
        """
        kind = self._kind(payload, source, arrival_ns)
        if kind is None:
            self.unanalyzed += 1
            return None
        if kind == "tmsq":
            header = parse_header(payload)
            if header is None:
                self.unanalyzed += 1
                return None
            self.analyzed += 1
            skipped = self._tmsq.observe_header(header, source, arrival_ns)
            if skipped >= 0:
                label = f"{endpoint(source)} tmsq {header.stream_id:08x}"
                self._gap(Gap(label, skipped, header.sequence, header.sequence - skipped))
            return header
        if kind == "rtp":
            self._observe_rtp(payload, source, arrival_ns)
        elif kind == "mpegts":
            self._observe_mpegts(payload, source, arrival_ns)
        else:
            self._observe_iperf2(payload, source, arrival_ns)
        return None

    def _kind(self, payload: bytes, source: tuple[str, int], arrival_ns: int) -> Kind | None:
        if self._mode != "auto":
            return self._mode
        kinds = self._kinds
        kind = kinds.get(source)
        if kind is not None:
            kinds.move_to_end(source)
            return kind
        kind = recognise(payload, arrival_ns)
        if kind is not None:
            if len(kinds) >= self._max_streams:
                kinds.popitem(last=False)
            kinds[source] = kind
        return kind

    def _gap(self, gap: Gap) -> None:
        if len(self._gaps) < MAX_PENDING_GAPS:
            self._gaps.append(gap)
        else:
            self.dropped_gaps += 1

    def _observe_rtp(self, payload: bytes, source: tuple[str, int], arrival_ns: int) -> None:
        tracker = self.rtp.tracker
        lost = tracker.lost
        header = self.rtp.observe(payload, source, arrival_ns)
        if header is None:
            self.unanalyzed += 1
            return
        self.analyzed += 1
        missing = tracker.lost - lost
        if missing > 0:
            label = _rtp_name(source, header.ssrc, header.payload_type)
            expected = (header.sequence - missing) & 0xFFFF
            self._gap(Gap(label, expected, header.sequence, missing))

    def _observe_mpegts(self, payload: bytes, source: tuple[str, int], arrival_ns: int) -> None:
        header = parse_rtp(payload)
        data: bytes | memoryview = payload
        ssrc = None
        if header is not None:
            data = memoryview(payload)[header.payload_offset : header.payload_end]
            ssrc = header.ssrc
        if not len(data) or data[0] != 0x47:
            self.unanalyzed += 1
            return
        self.analyzed += 1
        for gap in self.mpegts.get((source, ssrc)).observe(data, arrival_ns):
            label = f"{endpoint(source)} mpegts pid {gap.pid:#06x}"
            self._gap(Gap(label, gap.expected, gap.received, gap.missing))

    def _observe_iperf2(self, payload: bytes, source: tuple[str, int], arrival_ns: int) -> None:
        iperf2 = self.iperf2
        header = parse_iperf2(payload)
        if header is None:
            self.unanalyzed += 1
            iperf2.not_iperf2 += 1
            return
        self.analyzed += 1
        if header.final:
            iperf2.finished += 1
        skipped = iperf2.tracker.observe_header(
            SequenceHeader(header.sequence, header.sent_ns, 0), source, arrival_ns
        )
        if skipped >= 0:
            self._gap(
                Gap(
                    f"{endpoint(source)} iperf2",
                    skipped,
                    header.sequence,
                    header.sequence - skipped,
                )
            )

    def take_gaps(self) -> list[Gap]:
        """The gaps found since the last call, oldest first.

        Returns:
            Them; the analysis keeps none.
        """
        gaps, self._gaps = self._gaps, []
        return gaps

    def summaries(self) -> list[StreamSummary]:
        """Every stream tracked now, by kind, each in the order first seen.

        Returns:
            One record per stream.
        """
        rows = [_sequence_row(report, "tmsq") for report in self._tmsq.reports()]
        states = self.rtp.states()
        for report in self.rtp.tracker.reports():
            state = states.get(StreamKey(report.source, report.stream_id))
            row = _sequence_row(report, "rtp")
            if state is not None:
                name = f"{endpoint(report.source)} ssrc {state.ssrc:08x} pt {state.payload_type}"
                row = row._replace(
                    stream=name,
                    jitter_ms=state.jitter_ms,
                    notes=f"late {state.late}",
                )
            rows.append(row)
        for (source, ssrc), stream in self.mpegts.streams.items():
            name = endpoint(source) + ("" if ssrc is None else f" ssrc {ssrc:08x}")
            notes = (
                f"{len(stream.pids())} pids, continuity errors {stream.continuity_errors},"
                f" sync errors {stream.sync_errors}"
            )
            if stream.pcr_pid is not None:
                notes += f", pcr pid {stream.pcr_pid:#06x} max {stream.pcr_max_ms:.3f} ms"
            rows.append(
                StreamSummary(
                    name,
                    "mpegts",
                    stream.packets,
                    stream.missing,
                    sum(counts.duplicates for counts in stream.pids()),
                    0,
                    stream.pcr_jitter_ms if stream.pcr_pid is not None else None,
                    None,
                    notes,
                )
            )
        rows.extend(_sequence_row(report, "iperf2") for report in self.iperf2.tracker.reports())
        return rows


def _rtp_name(source: tuple[str, int], ssrc: int, payload_type: int) -> str:
    return f"{endpoint(source)} rtp ssrc {ssrc:08x} pt {payload_type}"


def _sequence_row(report: StreamReport, kind: str) -> StreamSummary:
    name = endpoint(report.source)
    if kind == "tmsq":
        name += f" stream {report.stream_id:08x}"
    latency = None if report.latency is None else report.latency.average_ns / 1e6
    return StreamSummary(
        name,
        kind,
        report.received,
        report.lost,
        report.duplicates,
        report.reordered,
        None,
        latency,
        f"sequence {report.lowest}..{report.highest}",
    )


def recognise(payload: bytes, arrival_ns: int) -> Kind | None:
    """The kind of stream a datagram belongs to, or ``None`` if none is recognised.

    Args:
        payload: The UDP payload.
        arrival_ns: When it arrived, in nanoseconds since the Unix epoch
            (an iperf2 send time must be within a day of it).

    Returns:
        ``tmsq``, ``rtp``, ``mpegts``, ``iperf2`` or ``None``.
    """
    if parse_header(payload) is not None:
        return "tmsq"
    header = parse_rtp(payload)
    if header is not None:
        body = memoryview(payload)[header.payload_offset : header.payload_end]
        return "mpegts" if is_transport_stream(body) else "rtp"
    if is_transport_stream(payload):
        return "mpegts"
    if parse_iperf2(payload, arrival_ns=arrival_ns) is not None:
        return "iperf2"
    return None
