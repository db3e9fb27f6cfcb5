"""``TMSQ`` streams (``send --sequence``) as an analyzer of ``recv --analyze``.

Pure: no trio, no socket. The header and its counters are
:mod:`trio_mcast._sequence`'s; this is their :class:`~._records.Analyzer`.
"""

from __future__ import annotations

from .._sequence import DEFAULT_MAX_STREAMS, SequenceTracker, parse_header
from ._records import Gap, StreamSummary, endpoint, sequence_row

__all__ = ["TmsqAnalyzer"]


class TmsqAnalyzer:
    """Loss, duplicates, reordering and latency of ``TMSQ`` streams, per sender and stream id.

    Args:
        max_streams: The most streams tracked at once.
    """

    __slots__ = ("tracker",)

    def __init__(self, *, max_streams: int = DEFAULT_MAX_STREAMS) -> None:
        #: The counters (``recv --sequence`` prints them in its own lines).
        self.tracker = SequenceTracker(max_streams=max_streams)

    def recognises(self, payload: bytes, arrival_ns: int) -> bool:
        """Whether ``payload`` starts with a ``TMSQ`` header."""
        return parse_header(payload) is not None

    def observe(
        self, payload: bytes, source: tuple[str, int], arrival_ns: int, gaps: list[Gap]
    ) -> bool:
        """Count one datagram; see :class:`~._records.Analyzer`."""
        header = parse_header(payload)
        if header is None:
            return False
        skipped = self.tracker.observe_header(header, source, arrival_ns)
        if skipped >= 0:
            label = f"{endpoint(source)} tmsq {header.stream_id:08x}"
            gaps.append(Gap(label, skipped, header.sequence, header.sequence - skipped))
        return True

    @property
    def lost(self) -> int:
        """Missing sequence numbers over every stream."""
        return self.tracker.lost

    def summaries(self) -> list[StreamSummary]:
        """One record per stream."""
        return [sequence_row(report, "tmsq") for report in self.tracker.reports()]
