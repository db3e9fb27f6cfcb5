"""What every analyzer reports, and the interface every analyzer has.

Pure: no trio, no socket. An analyzer (one module per format) takes each
datagram's payload, sender and arrival time, keeps bounded per-stream
state, adds the gaps it finds to a list, and summarises each stream; see
:class:`Analyzer`. :class:`~trio_mcast._analysis._streams.StreamAnalysis`
runs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Protocol

if TYPE_CHECKING:
    from .._sequence import StreamReport

__all__ = ["Analyzer", "Gap", "StreamSummary", "endpoint", "sequence_row"]


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


class Analyzer(Protocol):
    """What an analyzer of one format provides.

    Every method is pure and cheap; ``observe`` runs once per datagram.
    """

    def recognises(self, payload: bytes, arrival_ns: int) -> bool:
        """Whether a datagram looks like this format (for ``auto``).

        Args:
            payload: The UDP payload.
            arrival_ns: When it arrived, in nanoseconds since the Unix epoch.

        Returns:
            True when this analyzer should read the sender's stream.
        """
        ...

    def observe(
        self, payload: bytes, source: tuple[str, int], arrival_ns: int, gaps: list[Gap]
    ) -> bool:
        """Analyze one datagram, appending to ``gaps`` what it finds missing.

        Args:
            payload: The UDP payload.
            source: The sender's ``(address, port)``.
            arrival_ns: When it arrived, in nanoseconds since the Unix epoch.
            gaps: Where to append the gaps found.

        Returns:
            False when the datagram is not of this format (nothing counted).
        """
        ...

    @property
    def lost(self) -> int:
        """Missing datagrams (or packets) over every stream, evicted ones included."""
        ...

    def summaries(self) -> list[StreamSummary]:
        """One record per stream tracked now, in the order first seen."""
        ...


def sequence_row(report: StreamReport, kind: str) -> StreamSummary:
    """The summary record of a stream counted by sequence numbers."""
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
