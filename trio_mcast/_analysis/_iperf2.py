"""iperf2's UDP test traffic: the client header, read and written.

Pure: no trio, no socket. Every datagram of an iperf2 UDP client
(``iperf -c GROUP -u``) starts with (all fields big-endian)::

    offset  size  field
         0     4  id: the sequence number's low 32 bits (signed without 64-bit numbers)
         4     4  tv_sec: send time, seconds since the Unix epoch
         8     4  tv_usec: its microseconds
        12     4  id2: the sequence number's high 32 bits, with HEADER_SEQNO64B
        16     4  flags of the test header (HEADER_SEQNO64B = 0x08000000), when
                  the datagram is long enough to carry one

Sequence numbers start at 1. The last datagram carries the negated number
that would have come next, which tells the server that the test ended
(iperf2's client counts it as sent; it is a datagram like the others here,
numbered by its absolute value, as iperf2's server numbers it).
:class:`Iperf2Tracker` counts loss, out-of-order and duplicate datagrams
on the bounded counters of ``recv --sequence``, and the one-way latency
from the send time.
"""

from __future__ import annotations

import struct
from typing import Final, NamedTuple

from .._sequence import DEFAULT_MAX_STREAMS, SequenceHeader, SequenceTracker
from ._records import Gap, StreamSummary, endpoint, sequence_row

__all__ = [
    "HEADER_SEQNO64B",
    "HEADER_SIZE",
    "Iperf2Analyzer",
    "Iperf2Header",
    "Iperf2Tracker",
    "pack_iperf2",
    "parse_iperf2",
]

_DATAGRAM: Final = struct.Struct("!iIIIi")
#: The bytes :func:`pack_iperf2` writes: the datagram header and the flags word.
HEADER_SIZE: Final = _DATAGRAM.size
HEADER_SEQNO64B: Final = 0x08000000
#: The flag bits iperf2 2.x defines in the first word of its test header.
_KNOWN_FLAGS: Final = 0x80000000 | 0x40000000 | 0x20000000 | 0x08000000 | 0x04000000
_USEC: Final = 1_000_000
#: How far a send time may be from the arrival for a datagram to look like iperf2's.
_PLAUSIBLE_SECONDS: Final = 86_400


class Iperf2Header(NamedTuple):
    """A parsed iperf2 UDP header.

    Attributes:
        sequence: The datagram's number, from 1; the final datagram's is the
            absolute value of its negative id.
        final: Whether it is the datagram that ends the test.
        sent_ns: Its send time, in nanoseconds since the Unix epoch.
        flags: The test header's flags, 0 when absent.
    """

    sequence: int
    final: bool
    sent_ns: int
    flags: int


def parse_iperf2(datagram: bytes, *, arrival_ns: int | None = None) -> Iperf2Header | None:
    """The iperf2 header of ``datagram``, or ``None`` if it does not carry one.

    Args:
        datagram: A UDP payload.
        arrival_ns: When it arrived, in nanoseconds since the epoch: with it,
            a send time more than a day away, or a flags word with bits iperf2
            does not define, is not taken for iperf2's (as ``auto`` needs).

    Returns:
        The header, or ``None``.

    Example:
        >>> header = parse_iperf2(pack_iperf2(7, 1_700_000_000_250_000_000) + bytes(100))
        >>> header.sequence, header.final, header.sent_ns
        (7, False, 1700000000250000000)
    """
    if len(datagram) < 16:
        return None
    low, seconds, microseconds, high, flags = _DATAGRAM.unpack_from(
        datagram.ljust(HEADER_SIZE, b"\0")
    )
    if microseconds >= _USEC:
        return None
    flags &= 0xFFFFFFFF
    if flags & HEADER_SEQNO64B:
        number = low & 0xFFFFFFFF | high << 32
        if number >= 1 << 63:
            number -= 1 << 64
    else:
        number = low
    if number == 0:
        return None
    sent_ns = seconds * 1_000_000_000 + microseconds * 1000
    if arrival_ns is not None:
        if abs(arrival_ns - sent_ns) > _PLAUSIBLE_SECONDS * 1_000_000_000:
            return None
        if len(datagram) >= HEADER_SIZE and flags & ~_KNOWN_FLAGS & 0xFFFF0000:
            return None
    return Iperf2Header(
        abs(number), number < 0, sent_ns, flags if len(datagram) >= HEADER_SIZE else 0
    )


def pack_iperf2(sequence: int, sent_ns: int, *, final: bool = False) -> bytes:
    """An iperf2 UDP header with a 64-bit sequence number, as iperf2 2.1's client writes it.

    Args:
        sequence: The datagram's number, from 1.
        sent_ns: Its send time, in nanoseconds since the Unix epoch.
        final: Write the negated number, which ends the test at the server.

    Returns:
        :data:`HEADER_SIZE` bytes; the payload follows.

    Raises:
        ValueError: ``sequence`` is not in 1..2**63-1.
    """
    if not 0 < sequence < 1 << 63:
        raise ValueError(f"an iperf2 sequence number is in 1..2**63-1, not {sequence!r}")
    number = (-sequence if final else sequence) & 0xFFFFFFFFFFFFFFFF
    seconds, nanoseconds = divmod(sent_ns, 1_000_000_000)
    low = number & 0xFFFFFFFF
    return _DATAGRAM.pack(
        low - (1 << 32) if low >= 1 << 31 else low,
        seconds & 0xFFFFFFFF,
        nanoseconds // 1000,
        number >> 32,
        HEADER_SEQNO64B - (1 << 32) if HEADER_SEQNO64B >= 1 << 31 else HEADER_SEQNO64B,
    )


class Iperf2Tracker:
    """Loss, out-of-order, duplicates and one-way latency of iperf2 UDP streams.

    A stream is a sender's address and port (an iperf2 client run). Counting
    follows :class:`~trio_mcast._sequence.SequenceTracker`; iperf2's server
    counts a duplicate as out of order, and does not take a late datagram
    back out of its loss, so the two agree whenever nothing is reordered.

    Args:
        max_streams: The most streams tracked at once.
    """

    __slots__ = ("finished", "not_iperf2", "tracker")

    def __init__(self, *, max_streams: int = DEFAULT_MAX_STREAMS) -> None:
        #: The sequence counters, keyed by sender (the stream id is 0).
        self.tracker = SequenceTracker(max_streams=max_streams)
        #: Datagrams that did not carry an iperf2 header.
        self.not_iperf2 = 0
        #: Final datagrams seen (an ended test, repeated finals included).
        self.finished = 0

    def observe(
        self, datagram: bytes, source: tuple[str, int], arrival_ns: int
    ) -> Iperf2Header | None:
        """Count one datagram.

        Args:
            datagram: The UDP payload.
            source: The sender's ``(address, port)``.
            arrival_ns: When it arrived, in nanoseconds since the Unix epoch.

        Returns:
            Its header, or ``None`` (counted in ``not_iperf2``).
        """
        header = parse_iperf2(datagram)
        if header is None:
            self.not_iperf2 += 1
            return None
        if header.final:
            self.finished += 1
        self.tracker.observe_header(
            SequenceHeader(header.sequence, header.sent_ns, 0), source, arrival_ns
        )
        return header


class Iperf2Analyzer:
    """:class:`Iperf2Tracker` as an analyzer of ``recv --analyze``.

    See :class:`~._records.Analyzer`.

    Args:
        max_streams: The most streams tracked at once.
    """

    __slots__ = ("iperf2",)

    def __init__(self, *, max_streams: int = DEFAULT_MAX_STREAMS) -> None:
        self.iperf2 = Iperf2Tracker(max_streams=max_streams)

    def recognises(self, payload: bytes, arrival_ns: int) -> bool:
        """Whether ``payload`` has an iperf2 header sent within a day of ``arrival_ns``."""
        return parse_iperf2(payload, arrival_ns=arrival_ns) is not None

    def observe(
        self, payload: bytes, source: tuple[str, int], arrival_ns: int, gaps: list[Gap]
    ) -> bool:
        """Count one datagram, and the gap it shows, if any."""
        tracker = self.iperf2.tracker
        lost = tracker.lost
        header = self.iperf2.observe(payload, source, arrival_ns)
        if header is None:
            return False
        missing = tracker.lost - lost
        if missing > 0:
            expected = header.sequence - missing
            gaps.append(Gap(f"{endpoint(source)} iperf2", expected, header.sequence, missing))
        return True

    @property
    def lost(self) -> int:
        """Missing datagrams over every stream."""
        return self.iperf2.tracker.lost

    def summaries(self) -> list[StreamSummary]:
        """One record per stream."""
        return [sequence_row(report, "iperf2") for report in self.iperf2.tracker.reports()]
