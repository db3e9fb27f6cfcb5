"""RTP (RFC 3550): the header, and per-stream loss, reordering and jitter.

Pure: no trio, no socket. A stream is a sender's address and port, its SSRC
and its payload type: a new SSRC or payload type from the same sender is a
new stream, as a receiver would have to treat it.

Sequence numbers are 16 bits and wrap. Each is extended to a running count
(RFC 3550 appendix A.1): a number within half the range *after* the
highest seen moves the stream forward (across a wrap if it is smaller);
anything else is an older number, late or duplicated. The extended numbers
go to the same bounded counter as ``recv --sequence`` uses
(:class:`~trio_mcast._sequence.SequenceTracker`), so loss, duplicates and
reordering follow its rules and its memory bounds.

Interarrival jitter is RFC 3550 section 6.4.1 and appendix A.8: for each
datagram in arrival order, the difference D between its transit time and
the previous one's, in timestamp units, moves the estimate by
``(|D| - J) / 16``. Arrival times are turned into timestamp units with the
payload type's clock (RFC 3551's for the static types, 90 kHz by default
for the dynamic ones, which carry video as often as not; ``clock_rate``
overrides both).

A datagram is *late* when it arrives after one whose RTP timestamp is more
than ``late_ms`` newer: a player holding that much would already have
played past it.
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from typing import Final, NamedTuple

from .._sequence import DEFAULT_MAX_STREAMS, SequenceHeader, SequenceTracker, StreamKey
from ._records import Gap, StreamSummary, endpoint, sequence_row

__all__ = [
    "DEFAULT_CLOCK_RATE",
    "DEFAULT_LATE_MS",
    "STATIC_CLOCK_RATES",
    "RtpAnalyzer",
    "RtpHeader",
    "RtpStreamState",
    "RtpTracker",
    "parse_rtp",
]

_FIXED: Final = struct.Struct("!BBHII")
_EXTENSION: Final = struct.Struct("!HH")
#: The clock of a dynamic payload type, unless told otherwise.
DEFAULT_CLOCK_RATE: Final = 90_000
DEFAULT_LATE_MS: Final = 100.0
#: RFC 3551's clocks of the static payload types.
STATIC_CLOCK_RATES: Final = {
    0: 8000,
    3: 8000,
    4: 8000,
    5: 8000,
    6: 16000,
    7: 8000,
    8: 8000,
    9: 8000,
    10: 44100,
    11: 44100,
    12: 8000,
    13: 8000,
    14: 90000,
    15: 8000,
    16: 11025,
    17: 22050,
    18: 8000,
    25: 90000,
    26: 90000,
    28: 90000,
    31: 90000,
    32: 90000,
    33: 90000,
    34: 90000,
}
#: RTCP packet types 200..204 with the marker bit set look like these (RFC 5761).
_RTCP_CONFLICT: Final = range(72, 77)
_HALF: Final = 1 << 15
_WRAP: Final = 1 << 16
_HALF32: Final = 1 << 31


class RtpHeader(NamedTuple):
    """A parsed RTP header.

    Attributes:
        marker: The marker bit.
        payload_type: 0..127.
        sequence: The 16-bit sequence number.
        timestamp: The 32-bit media timestamp.
        ssrc: The synchronisation source.
        csrcs: The contributing sources.
        extension: The header extension's profile word and data, or ``None``.
        payload_offset: Where the payload starts in the datagram.
        payload_end: Where it ends: padding, if any, is after it.
    """

    marker: bool
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    csrcs: tuple[int, ...]
    extension: tuple[int, bytes] | None
    payload_offset: int
    payload_end: int


def parse_rtp(datagram: bytes) -> RtpHeader | None:
    """The RTP header of ``datagram``, or ``None`` if it is not a valid RTP packet.

    Valid means: version 2, every CSRC and the whole extension inside the
    datagram, a padding count that fits, and a payload type that is not one
    of RTCP's (72..76).

    Args:
        datagram: A UDP payload.

    Returns:
        The header, or ``None``.

    Example:
        >>> header = parse_rtp(bytes([0x80, 0xE0, 0, 7, 0, 0, 0, 90, 0, 0, 0, 1]) + b"data")
        >>> header.marker, header.payload_type, header.sequence, header.payload_offset
        (True, 96, 7, 12)
    """
    if len(datagram) < _FIXED.size:
        return None
    first, second, sequence, timestamp, ssrc = _FIXED.unpack_from(datagram)
    if first >> 6 != 2:
        return None
    payload_type = second & 0x7F
    if payload_type in _RTCP_CONFLICT:
        return None
    offset = _FIXED.size
    count = first & 0x0F
    end = len(datagram)
    if offset + 4 * count > end:
        return None
    csrcs = struct.unpack_from(f"!{count}I", datagram, offset) if count else ()
    offset += 4 * count
    extension = None
    if first & 0x10:
        if offset + _EXTENSION.size > end:
            return None
        profile, words = _EXTENSION.unpack_from(datagram, offset)
        data_start = offset + _EXTENSION.size
        offset = data_start + 4 * words
        if offset > end:
            return None
        extension = (profile, bytes(datagram[data_start:offset]))
    if first & 0x20:
        padding = datagram[-1]
        if padding == 0 or offset + padding > end:
            return None
        end -= padding
    return RtpHeader(
        bool(second & 0x80), payload_type, sequence, timestamp, ssrc, csrcs, extension, offset, end
    )


class RtpStreamState(NamedTuple):
    """What an RTP stream adds to the sequence counters.

    Attributes:
        payload_type: Its payload type.
        ssrc: Its synchronisation source.
        clock_rate: The timestamp clock used for its jitter, in Hz.
        jitter_ms: The interarrival jitter estimate, in milliseconds.
        late: Datagrams that arrived after one ``late_ms`` newer in media time.
        markers: Datagrams with the marker bit (frame ends, talk spurts).
    """

    payload_type: int
    ssrc: int
    clock_rate: int
    jitter_ms: float
    late: int
    markers: int


def _signed32(value: int) -> int:
    return ((value + _HALF32) & 0xFFFFFFFF) - _HALF32


class _State:
    __slots__ = (
        "clock_rate",
        "highest",
        "jitter",
        "last_arrival",
        "last_timestamp",
        "late",
        "markers",
        "newest",
    )

    def __init__(self, header: RtpHeader, clock_rate: int, arrival: float) -> None:
        self.clock_rate = clock_rate
        self.highest = header.sequence
        self.jitter = 0.0
        self.late = 0
        self.markers = 0
        self.newest = header.timestamp
        self.last_arrival = arrival
        self.last_timestamp = header.timestamp

    def extend(self, sequence: int) -> int:
        """The extended sequence number of ``sequence``, moving the stream forward."""
        highest = self.highest
        ahead = (sequence - highest) % _WRAP
        if 0 < ahead < _HALF:
            self.highest = highest + ahead
            return self.highest
        return highest - (highest - sequence) % _WRAP

    def time(self, timestamp: int, arrival: float, late_ticks: float) -> None:
        """Take an arrival into the jitter (appendix A.8) and the lateness count."""
        behind = -_signed32(timestamp - self.newest)
        if behind < 0:
            self.newest = timestamp
        elif behind > late_ticks:
            self.late += 1
        difference = (arrival - self.last_arrival) - _signed32(timestamp - self.last_timestamp)
        self.last_arrival = arrival
        self.last_timestamp = timestamp
        self.jitter += (abs(difference) - self.jitter) / 16


class RtpTracker:
    """Loss, duplicates, reordering, lateness and jitter of RTP streams.

    Memory is bounded like :class:`~trio_mcast._sequence.SequenceTracker`'s:
    at most ``max_streams`` streams, the least recently seen making room.

    Args:
        clock_rate: The timestamp clock of every stream, in Hz; ``None``
            takes the payload type's (90 kHz for the dynamic ones).
        late_ms: How far behind the newest media time a datagram is late.
        max_streams: The most streams tracked at once.

    Example:
        >>> tracker = RtpTracker()
        >>> def rtp(sequence, timestamp):
        ...     return bytes([0x80, 96]) + struct.pack("!HII", sequence, timestamp, 7)
        >>> for number in (65534, 65535, 1, 0):
        ...     _ = tracker.observe(rtp(number, number * 90), ("10.0.0.1", 5004), number)
        >>> report = tracker.tracker.reports()[0]
        >>> report.received, report.lost, report.reordered, report.highest - report.lowest
        (4, 0, 1, 3)
    """

    __slots__ = ("_clock_rate", "_late_ms", "_max_streams", "_states", "not_rtp", "tracker")

    def __init__(
        self,
        clock_rate: int | None = None,
        *,
        late_ms: float = DEFAULT_LATE_MS,
        max_streams: int = DEFAULT_MAX_STREAMS,
    ) -> None:
        if clock_rate is not None and clock_rate < 1:
            raise ValueError(f"clock_rate must be at least 1 Hz, got {clock_rate!r}")
        if late_ms < 0:
            raise ValueError(f"late_ms must not be negative, got {late_ms!r}")
        self._clock_rate = clock_rate
        self._late_ms = late_ms
        self._max_streams = max_streams
        #: The sequence counters, keyed by sender and ``payload_type << 32 | ssrc``.
        self.tracker = SequenceTracker(max_streams=max_streams)
        self._states: OrderedDict[StreamKey, _State] = OrderedDict()
        #: Datagrams that were not valid RTP.
        self.not_rtp = 0

    def clock_rate_of(self, payload_type: int) -> int:
        """The timestamp clock used for a payload type, in Hz.

        Args:
            payload_type: 0..127.

        Returns:
            ``clock_rate`` when given, else RFC 3551's, else 90 kHz.
        """
        if self._clock_rate is not None:
            return self._clock_rate
        return STATIC_CLOCK_RATES.get(payload_type, DEFAULT_CLOCK_RATE)

    def observe(
        self, datagram: bytes, source: tuple[str, int], arrival_ns: int
    ) -> RtpHeader | None:
        """Count one datagram.

        Args:
            datagram: The UDP payload.
            source: The sender's ``(address, port)``.
            arrival_ns: When it arrived, in nanoseconds from any fixed origin.

        Returns:
            Its header, or ``None`` (counted in ``not_rtp``) if it is not RTP.
        """
        header = parse_rtp(datagram)
        if header is None:
            self.not_rtp += 1
            return None
        key = StreamKey(source, header.payload_type << 32 | header.ssrc)
        states = self._states
        state = states.get(key)
        clock_rate = self.clock_rate_of(header.payload_type)
        arrival = arrival_ns * clock_rate / 1e9
        if state is None:
            # The counters evict the least recently seen stream; so does this.
            if len(states) >= self._max_streams:
                states.popitem(last=False)
            states[key] = state = _State(header, clock_rate, arrival)
            extended = header.sequence
        else:
            states.move_to_end(key)
            extended = state.extend(header.sequence)
            state.time(header.timestamp, arrival, self._late_ms * clock_rate / 1000)
        if header.marker:
            state.markers += 1
        self.tracker.observe_header(SequenceHeader(extended, 0, key.stream_id), source)
        return header

    def states(self) -> dict[StreamKey, RtpStreamState]:
        """The RTP side of every tracked stream, by the key of its sequence counters.

        Returns:
            Payload type, SSRC, clock, jitter, lateness and markers per stream.
        """
        return {
            key: RtpStreamState(
                key.stream_id >> 32,
                key.stream_id & 0xFFFFFFFF,
                state.clock_rate,
                state.jitter / state.clock_rate * 1000,
                state.late,
                state.markers,
            )
            for key, state in self._states.items()
        }


class RtpAnalyzer:
    """:class:`RtpTracker` as an analyzer of ``recv --analyze``; see :class:`~._records.Analyzer`.

    Args:
        clock_rate: The timestamp clock, in Hz; ``None`` takes the payload type's.
        max_streams: The most streams tracked at once.
    """

    __slots__ = ("rtp",)

    def __init__(
        self, clock_rate: int | None = None, *, max_streams: int = DEFAULT_MAX_STREAMS
    ) -> None:
        self.rtp = RtpTracker(clock_rate, max_streams=max_streams)

    def recognises(self, payload: bytes, arrival_ns: int) -> bool:
        """Whether ``payload`` is a valid RTP packet."""
        return parse_rtp(payload) is not None

    def observe(
        self, payload: bytes, source: tuple[str, int], arrival_ns: int, gaps: list[Gap]
    ) -> bool:
        """Count one datagram, and the gap it shows, if any."""
        tracker = self.rtp.tracker
        lost = tracker.lost
        header = self.rtp.observe(payload, source, arrival_ns)
        if header is None:
            return False
        missing = tracker.lost - lost
        if missing > 0:
            label = f"{endpoint(source)} rtp ssrc {header.ssrc:08x} pt {header.payload_type}"
            expected = (header.sequence - missing) & 0xFFFF
            gaps.append(Gap(label, expected, header.sequence, missing))
        return True

    @property
    def lost(self) -> int:
        """Missing datagrams over every stream."""
        return self.rtp.tracker.lost

    def summaries(self) -> list[StreamSummary]:
        """One record per stream: its counters, jitter and late datagrams."""
        states = self.rtp.states()
        rows = []
        for report in self.rtp.tracker.reports():
            row = sequence_row(report, "rtp")
            state = states.get(StreamKey(report.source, report.stream_id))
            if state is not None:
                name = f"{endpoint(report.source)} ssrc {state.ssrc:08x} pt {state.payload_type}"
                row = row._replace(
                    stream=name, jitter_ms=state.jitter_ms, notes=f"late {state.late}"
                )
            rows.append(row)
        return rows
