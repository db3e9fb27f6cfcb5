"""One analysis of what arrives, whatever the streams carry: ``recv --analyze``.

Pure: no trio, no socket. :class:`StreamAnalysis` takes each datagram's
payload, sender and arrival time, hands it to the analyzer of its kind
(``tmsq``, ``rtp``, ``mpegts`` or ``iperf2``), and keeps the gaps it finds
for the caller to report. With ``auto``, a sender's kind is recognised
from its first datagram that any analyzer recognises, and kept for that
sender; datagrams that none recognises are counted, not analyzed.

Each format is one module with one :class:`~._records.Analyzer`, listed
once in :data:`ANALYZERS`. Recognising asks them in
:data:`RECOGNITION_ORDER`: the ``TMSQ`` magic; whole 188-byte packets that
each start 0x47, raw or as an RTP payload; RTP (version 2, a valid
header); an iperf2 header whose send time is within a day of the arrival.
The kinds' first bytes keep them apart: RTP's version bits are ``10``, and
``T``, 0x47 and iperf2's small sequence numbers all have others.

Every analyzer keeps at most ``max_streams`` streams (the least recently
seen make room), and so does the record of which sender is of which kind,
so memory is bounded whatever arrives.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Final, Literal

from .._sequence import DEFAULT_MAX_STREAMS
from ._iperf2 import Iperf2Analyzer
from ._mpegts import MpegTsAnalyzer
from ._records import Gap, StreamSummary
from ._rtp import RtpAnalyzer
from ._tmsq import TmsqAnalyzer

if TYPE_CHECKING:
    from collections.abc import Callable

    from .._sequence import SequenceTracker
    from ._records import Analyzer

__all__ = [
    "KINDS",
    "MODES",
    "RECOGNITION_ORDER",
    "Gap",
    "Kind",
    "Mode",
    "StreamAnalysis",
    "StreamSummary",
]

Kind = Literal["tmsq", "rtp", "mpegts", "iperf2"]
Mode = Literal["auto", "tmsq", "rtp", "mpegts", "iperf2"]
KINDS: Final[tuple[Kind, ...]] = ("tmsq", "rtp", "mpegts", "iperf2")
MODES: Final[tuple[Mode, ...]] = ("auto", *KINDS)


#: The most gaps kept between two reads of :meth:`StreamAnalysis.take_gaps`.
MAX_PENDING_GAPS: Final = 4096
#: Each format's analyzer, made from ``(max_streams, rtp_clock)``. A new format
#: is a module with an Analyzer, and a line here.
ANALYZERS: Final[dict[Kind, Callable[[int, int | None], Analyzer]]] = {
    "tmsq": lambda max_streams, _: TmsqAnalyzer(max_streams=max_streams),
    "rtp": lambda max_streams, clock: RtpAnalyzer(clock, max_streams=max_streams),
    "mpegts": lambda max_streams, _: MpegTsAnalyzer(max_streams=max_streams),
    "iperf2": lambda max_streams, _: Iperf2Analyzer(max_streams=max_streams),
}
#: MPEG-TS before RTP: RTP may carry transport packets.
RECOGNITION_ORDER: Final[tuple[Kind, ...]] = ("tmsq", "mpegts", "rtp", "iperf2")


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
        "_analyzers",
        "_gaps",
        "_kinds",
        "_max_streams",
        "_mode",
        "analyzed",
        "dropped_gaps",
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
        self._analyzers: dict[Kind, Analyzer] = {
            kind: make(max_streams, rtp_clock) for kind, make in ANALYZERS.items()
        }
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

    def analyzer(self, kind: Kind) -> Analyzer:
        """The analyzer of one kind.

        Args:
            kind: ``tmsq``, ``rtp``, ``mpegts`` or ``iperf2``.

        Returns:
            It.
        """
        return self._analyzers[kind]

    @property
    def tmsq(self) -> SequenceTracker:
        """The counters of the ``TMSQ`` streams (``recv --sequence``)."""
        analyzer = self._analyzers["tmsq"]
        assert isinstance(analyzer, TmsqAnalyzer)
        return analyzer.tracker

    @property
    def lost(self) -> int:
        """Missing datagrams (MPEG-TS: packets) over every stream, for the rate line."""
        return sum(analyzer.lost for analyzer in self._analyzers.values())

    def observe(self, payload: bytes, source: tuple[str, int], arrival_ns: int) -> bool:
        """Analyze one datagram.

        Args:
            payload: The UDP payload.
            source: The sender's ``(address, port)``.
            arrival_ns: When it arrived, in nanoseconds since the Unix epoch.

        Returns:
            Whether an analyzer read it.
        """
        kind = self._kind(payload, source, arrival_ns)
        gaps = self._gaps
        if kind is None or not self._analyzers[kind].observe(payload, source, arrival_ns, gaps):
            self.unanalyzed += 1
            return False
        self.analyzed += 1
        if len(gaps) > MAX_PENDING_GAPS:
            self.dropped_gaps += len(gaps) - MAX_PENDING_GAPS
            del gaps[MAX_PENDING_GAPS:]
        return True

    def _kind(self, payload: bytes, source: tuple[str, int], arrival_ns: int) -> Kind | None:
        if self._mode != "auto":
            return self._mode
        kinds = self._kinds
        kind = kinds.get(source)
        if kind is not None:
            kinds.move_to_end(source)
            return kind
        kind = self.recognise(payload, arrival_ns)
        if kind is not None:
            if len(kinds) >= self._max_streams:
                kinds.popitem(last=False)
            kinds[source] = kind
        return kind

    def recognise(self, payload: bytes, arrival_ns: int) -> Kind | None:
        """The kind a datagram belongs to, asking the analyzers in :data:`RECOGNITION_ORDER`.

        Args:
            payload: The UDP payload.
            arrival_ns: When it arrived, in nanoseconds since the Unix epoch.

        Returns:
            The first kind that recognises it, or ``None``.
        """
        for kind in RECOGNITION_ORDER:
            if self._analyzers[kind].recognises(payload, arrival_ns):
                return kind
        return None

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
        return [row for kind in KINDS for row in self._analyzers[kind].summaries()]
