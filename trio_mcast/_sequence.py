"""Sequence headers, and a tracker of loss, duplicates, reordering and latency.

``trio-mcast send --sequence`` puts a 28-byte header in front of every
payload; ``trio-mcast recv --sequence`` parses it and keeps, per sender, the
counts that tell a healthy multicast path from a sick one. This module is
pure: it never imports trio and never touches a socket.

Header layout (all fields big-endian, network byte order)::

    offset  size  field
    ------  ----  --------------------------------------------------------
         0     4  magic: the ASCII bytes ``TMSQ``
         4     1  version: 1
         5     1  flags: 0; receivers ignore bits they do not know
         6     2  reserved: 0; receivers ignore it
         8     8  sequence number, unsigned, 0 for the first datagram
        16     8  send time: nanoseconds since the Unix epoch (wall clock,
                  ``time.time_ns()``), so a receiver on the same host, or on
                  one with a synchronised clock, can compute one-way latency
        24     4  stream id, unsigned: random per sender invocation, so a
                  restarted sender starts a new stream instead of looking
                  like a jump backwards

The payload proper follows the header. A datagram that is shorter than the
header, or whose magic or version differs, is *unsequenced*.

Counting rules, per stream (a sender's address and port plus the stream id):

* ``received``: datagrams with a valid header, duplicates included.
* ``duplicates``: datagrams whose sequence number had already arrived.
* ``reordered``: datagrams with a new sequence number lower than the highest
  one seen before them (late arrivals).
* ``lost``: sequence numbers between the lowest and the highest seen that
  have not arrived (yet). Numbers before the first or after the last
  received datagram cannot be told from "not sent", so they do not count.
  A late arrival fills its gap, so ``lost`` can shrink again.

Gaps are stored as ranges, so a jump of any size costs one entry; a stream
keeps at most ``max_gaps`` ranges and forgets the oldest beyond that (its
numbers stay counted as lost, and a very late arrival in it then counts as
a duplicate).

Memory is bounded whatever arrives, forged headers included: at most
``max_streams`` streams are tracked, and the least recently seen one is
evicted for a new one (its counts stay in the totals, and ``evicted`` says
how many were); and all streams together keep at most ``gap_budget`` gap
ranges: past it, streams are cut to an equal share of it (at least 16
ranges each), the least recently seen first.
"""

from __future__ import annotations

import secrets
import struct
from bisect import bisect_right
from collections import OrderedDict
from typing import Final, NamedTuple

__all__ = [
    "DEFAULT_GAP_BUDGET",
    "DEFAULT_MAX_GAPS",
    "DEFAULT_MAX_STREAMS",
    "HEADER",
    "HEADER_SIZE",
    "MAGIC",
    "VERSION",
    "LatencySummary",
    "SequenceHeader",
    "SequenceTracker",
    "StreamKey",
    "StreamReport",
    "StreamTotals",
    "new_stream_id",
    "pack_header",
    "pack_header_unchecked",
    "parse_header",
]

MAGIC: Final = b"TMSQ"
VERSION: Final = 1
#: magic, version, flags, reserved, sequence, send time (ns), stream id.
HEADER: Final = struct.Struct("!4sBBHQQI")
HEADER_SIZE: Final = HEADER.size
_pack: Final = HEADER.pack
#: Gap ranges one stream remembers before it forgets the oldest.
DEFAULT_MAX_GAPS: Final = 4096
#: Streams tracked at once; the least recently seen is evicted beyond that.
DEFAULT_MAX_STREAMS: Final = 1024
#: Gap ranges kept over all streams (about 100 bytes each).
DEFAULT_GAP_BUDGET: Final = 262_144
#: The fewest gap ranges a stream keeps, however many streams share the budget.
_MIN_GAPS: Final = 16

_MAX_U64: Final = 2**64 - 1
_MAX_U32: Final = 2**32 - 1
_MAX_U8: Final = 255


class SequenceHeader(NamedTuple):
    """A parsed sequence header.

    Attributes:
        sequence: The sequence number, 0 for a stream's first datagram.
        timestamp_ns: The send time in nanoseconds since the Unix epoch.
        stream_id: The sender invocation's random stream id.
        flags: The flags byte (0 for version 1 senders).
    """

    sequence: int
    timestamp_ns: int
    stream_id: int
    flags: int = 0


class StreamKey(NamedTuple):
    """What identifies a stream: the sender's endpoint and its stream id.

    Attributes:
        source: The sender's ``(address, port)``.
        stream_id: The stream id from the header.
    """

    source: tuple[str, int]
    stream_id: int


class LatencySummary(NamedTuple):
    """One-way latency of a stream, in nanoseconds (negative if clocks disagree).

    Attributes:
        samples: Samples taken (one per datagram, duplicates included).
        minimum_ns: The smallest latency.
        average_ns: The mean latency.
        maximum_ns: The largest latency.
    """

    samples: int
    minimum_ns: int
    average_ns: float
    maximum_ns: int


class StreamTotals(NamedTuple):
    """Counts summed over every stream a tracker has seen.

    Attributes:
        streams: Streams seen, evicted ones included.
        received: Sequenced datagrams received.
        lost: Sequence numbers missing.
        duplicates: Duplicated datagrams.
        reordered: Late datagrams.
    """

    streams: int
    received: int
    lost: int
    duplicates: int
    reordered: int


class StreamReport(NamedTuple):
    """A snapshot of one stream's counters; see the module docstring.

    Attributes:
        source: The sender's ``(address, port)``.
        stream_id: The stream id.
        received: Datagrams with a valid header, duplicates included.
        lost: Missing sequence numbers between the lowest and the highest.
        duplicates: Datagrams whose sequence number had arrived before.
        reordered: New sequence numbers that arrived after a higher one.
        lowest: The lowest sequence number seen.
        highest: The highest sequence number seen.
        latency: One-way latency, or ``None`` without samples.
    """

    source: tuple[str, int]
    stream_id: int
    received: int
    lost: int
    duplicates: int
    reordered: int
    lowest: int
    highest: int
    latency: LatencySummary | None


def pack_header(sequence: int, timestamp_ns: int, stream_id: int, flags: int = 0) -> bytes:
    """Build a sequence header.

    Args:
        sequence: The sequence number, 0..2**64-1.
        timestamp_ns: The send time in nanoseconds since the epoch, 0..2**64-1.
        stream_id: The stream id, 0..2**32-1.
        flags: The flags byte, 0..255.

    Returns:
        The :data:`HEADER_SIZE` bytes to put in front of the payload.

    Raises:
        ValueError: A field is out of its range.

    Example:
        >>> parse_header(pack_header(7, 1_000, 42) + b"payload")
        SequenceHeader(sequence=7, timestamp_ns=1000, stream_id=42, flags=0)
    """
    for name, value, high in (
        ("sequence", sequence, _MAX_U64),
        ("timestamp_ns", timestamp_ns, _MAX_U64),
        ("stream_id", stream_id, _MAX_U32),
        ("flags", flags, _MAX_U8),
    ):
        if not 0 <= value <= high:
            raise ValueError(f"{name} must be in 0..{high}, got {value!r}")
    return HEADER.pack(MAGIC, VERSION, flags, 0, sequence, timestamp_ns, stream_id)


def pack_header_unchecked(sequence: int, timestamp_ns: int, stream_id: int) -> bytes:
    """:func:`pack_header` for fields the caller knows to be in range (a sender's loop).

    Raises:
        struct.error: A field is out of range after all.
    """
    return _pack(MAGIC, VERSION, 0, 0, sequence, timestamp_ns, stream_id)


def parse_header(payload: bytes) -> SequenceHeader | None:
    """Parse the sequence header at the start of a payload.

    Args:
        payload: A received payload; any bytes-like object works.

    Returns:
        The header, or ``None`` when the payload does not start with a valid
        version 1 header (too short, other magic or other version).
    """
    if len(payload) < HEADER_SIZE:
        return None
    magic, version, flags, _reserved, sequence, timestamp_ns, stream_id = HEADER.unpack_from(
        payload
    )
    if magic != MAGIC or version != VERSION:
        return None
    return SequenceHeader(sequence, timestamp_ns, stream_id, flags)


def new_stream_id() -> int:
    """A random stream id for one sender invocation."""
    return secrets.randbits(32)


class _Stream:
    """The mutable state of one stream. Gaps are disjoint inclusive ranges,
    sorted, kept as two parallel lists so that :func:`bisect_right` works on
    the starts directly."""

    __slots__ = (
        "duplicates",
        "gap_ends",
        "gap_starts",
        "highest",
        "latency_count",
        "latency_max",
        "latency_min",
        "latency_sum",
        "lowest",
        "missing",
        "received",
        "reordered",
        "serial",
    )

    def __init__(self, sequence: int, serial: int = 0) -> None:
        self.serial = serial
        self.lowest = sequence
        self.highest = sequence
        self.received = 1
        self.duplicates = 0
        self.reordered = 0
        self.missing = 0
        self.gap_starts: list[int] = []
        self.gap_ends: list[int] = []
        self.latency_count = 0
        self.latency_sum = 0
        self.latency_min = 0
        self.latency_max = 0

    def observe(self, sequence: int, max_gaps: int) -> int:
        """Count ``sequence``; the first number it skips past, or -1 when it skips none."""
        self.received += 1
        highest = self.highest
        if sequence > highest:
            self.highest = sequence
            if sequence > highest + 1:
                self.gap_starts.append(highest + 1)
                self.gap_ends.append(sequence - 1)
                self.missing += sequence - highest - 1
                self.forget_old_gaps(max_gaps)
                return highest + 1
            return -1
        elif sequence < self.lowest:
            # Older than anything seen: new, but late.
            self.reordered += 1
            if sequence < self.lowest - 1:
                self.gap_starts.insert(0, sequence + 1)
                self.gap_ends.insert(0, self.lowest - 1)
                self.missing += self.lowest - sequence - 1
                self.forget_old_gaps(max_gaps)
            self.lowest = sequence
        elif self._fill(sequence):
            self.reordered += 1
        else:
            self.duplicates += 1
        return -1

    def _fill(self, sequence: int) -> bool:
        """Remove ``sequence`` from the gaps; False if it was not missing."""
        starts = self.gap_starts
        ends = self.gap_ends
        index = bisect_right(starts, sequence) - 1
        if index < 0 or ends[index] < sequence:
            return False
        start = starts[index]
        end = ends[index]
        if start == end:
            del starts[index]
            del ends[index]
        elif sequence == start:
            starts[index] = sequence + 1
        elif sequence == end:
            ends[index] = sequence - 1
        else:
            ends[index] = sequence - 1
            starts.insert(index + 1, sequence + 1)
            ends.insert(index + 1, end)
        self.missing -= 1
        return True

    def forget_old_gaps(self, max_gaps: int) -> int:
        """Keep at most ``max_gaps`` ranges, the newest; how many were forgotten."""
        # The numbers stay counted in ``missing``: they are still lost as far
        # as anyone can tell.
        excess = len(self.gap_starts) - max_gaps
        if excess <= 0:
            return 0
        del self.gap_starts[:excess]
        del self.gap_ends[:excess]
        return excess

    def add_latency(self, latency_ns: int) -> None:
        if self.latency_count == 0:
            self.latency_min = self.latency_max = latency_ns
        elif latency_ns < self.latency_min:
            self.latency_min = latency_ns
        elif latency_ns > self.latency_max:
            self.latency_max = latency_ns
        self.latency_count += 1
        self.latency_sum += latency_ns

    def report(self, key: StreamKey) -> StreamReport:
        latency = None
        if self.latency_count:
            latency = LatencySummary(
                self.latency_count,
                self.latency_min,
                self.latency_sum / self.latency_count,
                self.latency_max,
            )
        return StreamReport(
            source=key.source,
            stream_id=key.stream_id,
            received=self.received,
            lost=self.missing,
            duplicates=self.duplicates,
            reordered=self.reordered,
            lowest=self.lowest,
            highest=self.highest,
            latency=latency,
        )


class SequenceTracker:
    """Per-stream loss, duplicate, reordering and latency counters.

    Feed it every received payload with :meth:`observe`; read the results
    with :meth:`reports`. The counting rules are in the module docstring.

    Args:
        max_gaps: The most gap ranges remembered per stream; at least 1.

    Example:
        >>> tracker = SequenceTracker()
        >>> for number in (0, 1, 3, 2, 3):
        ...     _ = tracker.observe(pack_header(number, 0, 9), ("10.0.0.1", 5000))
        >>> report = tracker.reports()[0]
        >>> report.received, report.lost, report.duplicates, report.reordered
        (5, 0, 1, 1)
    """

    __slots__ = (
        "_evicted",
        "_evicted_totals",
        "_gap_budget",
        "_gap_count",
        "_max_gaps",
        "_max_streams",
        "_streams",
        "_unsequenced",
    )

    def __init__(
        self,
        max_gaps: int = DEFAULT_MAX_GAPS,
        *,
        max_streams: int = DEFAULT_MAX_STREAMS,
        gap_budget: int = DEFAULT_GAP_BUDGET,
    ) -> None:
        for name, value in (
            ("max_gaps", max_gaps),
            ("max_streams", max_streams),
            ("gap_budget", gap_budget),
        ):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value!r}")
        self._max_gaps = max_gaps
        self._max_streams = max_streams
        self._gap_budget = gap_budget
        self._streams: OrderedDict[StreamKey, _Stream] = OrderedDict()
        self._unsequenced = 0
        self._gap_count = 0
        self._evicted = 0
        # received, lost, duplicates, reordered of the evicted streams
        self._evicted_totals = [0, 0, 0, 0]

    @property
    def evicted(self) -> int:
        """Streams no longer tracked, to make room for newer ones."""
        return self._evicted

    def totals(self) -> StreamTotals:
        """Counts over every stream ever seen, the evicted ones included."""
        received, lost, duplicates, reordered = self._evicted_totals
        for stream in self._streams.values():
            received += stream.received
            lost += stream.missing
            duplicates += stream.duplicates
            reordered += stream.reordered
        return StreamTotals(
            len(self._streams) + self._evicted, received, lost, duplicates, reordered
        )

    @property
    def unsequenced(self) -> int:
        """Payloads observed without a valid header."""
        return self._unsequenced

    @property
    def lost(self) -> int:
        """Sequence numbers currently missing, summed over all streams (evicted too)."""
        return self._evicted_totals[1] + sum(stream.missing for stream in self._streams.values())

    def observe(
        self, payload: bytes, source: tuple[str, int], received_ns: int | None = None
    ) -> SequenceHeader | None:
        """Count one received payload.

        Args:
            payload: The datagram's payload.
            source: The sender's ``(address, port)``.
            received_ns: The receive time in nanoseconds since the epoch, for
                the latency; ``None`` takes no latency sample.

        Returns:
            The parsed header, or ``None`` for an unsequenced payload.
        """
        header = parse_header(payload)
        if header is None:
            self._unsequenced += 1
            return None
        self.observe_header(header, source, received_ns)
        return header

    def observe_header(
        self, header: SequenceHeader, source: tuple[str, int], received_ns: int | None = None
    ) -> int:
        """Count one already parsed header; see :meth:`observe`.

        Returns:
            The first sequence number the header skips past (a gap opens from
            there up to the header's number), or -1 when it skips none.
        """
        key = StreamKey(source, header.stream_id)
        streams = self._streams
        stream = streams.get(key)
        if stream is None:
            if len(streams) >= self._max_streams:
                self._evict()
            streams[key] = stream = _Stream(header.sequence, len(streams) + self._evicted)
            skipped = -1
        else:
            streams.move_to_end(key)
            ranges = len(stream.gap_starts)
            skipped = stream.observe(header.sequence, self._max_gaps)
            self._gap_count += len(stream.gap_starts) - ranges
            if self._gap_count > self._gap_budget:
                self._share_gap_budget()
        if received_ns is not None:
            stream.add_latency(received_ns - header.timestamp_ns)
        return skipped

    def _share_gap_budget(self) -> None:
        """Trim streams to their share of the gap budget, least recently seen first."""
        share = max(_MIN_GAPS, self._gap_budget // len(self._streams))
        for stream in self._streams.values():
            self._gap_count -= stream.forget_old_gaps(share)
            if self._gap_count <= self._gap_budget:
                return

    def _evict(self) -> None:
        _, stream = self._streams.popitem(last=False)
        self._gap_count -= len(stream.gap_starts)
        self._evicted += 1
        totals = self._evicted_totals
        totals[0] += stream.received
        totals[1] += stream.missing
        totals[2] += stream.duplicates
        totals[3] += stream.reordered

    def reports(self) -> list[StreamReport]:
        """Snapshots of every tracked stream, in the order they were first seen."""
        ordered = sorted(self._streams.items(), key=lambda item: item[1].serial)
        return [stream.report(key) for key, stream in ordered]

    def gap_ranges(self, key: StreamKey) -> list[tuple[int, int]]:
        """The remembered missing ranges of a stream, inclusive, in order.

        Raises:
            KeyError: No such stream.
        """
        stream = self._streams[key]
        return list(zip(stream.gap_starts, stream.gap_ends, strict=True))
