"""MPEG transport streams (ISO/IEC 13818-1) in UDP: sync, continuity, PCR.

Pure: no trio, no socket. A datagram carries whole 188-byte packets,
usually seven (1316 bytes), either directly or as the payload of RTP
(RFC 2250). For each packet:

- its first byte must be the sync byte 0x47; a packet that lacks it is a
  sync error and is not read further;
- its continuity counter (4 bits, per PID) must be one more than the
  previous one of that PID when it carries a payload. It stays the same in
  a packet without payload (adaptation field only), and in one duplicate
  of the previous packet, which the standard allows once; a discontinuity
  indicator in the adaptation field allows any value; the null PID 0x1FFF
  is never checked. Anything else is a continuity error, and ``missing``
  adds how many packets the counter says were skipped (modulo 16, so at
  least that many);
- a program clock reference (PCR, 27 MHz) in the adaptation field is read
  for the first PID that carries one; its jitter compares, PCR by PCR,
  the time between two arrivals with the time between the two clock
  values, smoothed as RTP's interarrival jitter is (RFC 3550 A.8), and
  the largest single difference is kept too.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Final, NamedTuple

from .._sequence import DEFAULT_MAX_STREAMS
from ._records import Gap, StreamSummary, endpoint
from ._rtp import parse_rtp

__all__ = [
    "NULL_PID",
    "PACKET_SIZE",
    "SYNC_BYTE",
    "ContinuityGap",
    "MpegTsAnalyzer",
    "PidCounts",
    "TransportStream",
    "is_transport_stream",
]

PACKET_SIZE: Final = 188
SYNC_BYTE: Final = 0x47
NULL_PID: Final = 0x1FFF
_PCR_FLAG: Final = 0x10
_DISCONTINUITY: Final = 0x80
#: PCR is a 33-bit base at 90 kHz times 300 plus a 9-bit extension: it wraps here.
_PCR_WRAP: Final = (1 << 33) * 300
_PCR_HZ: Final = 27_000_000


def is_transport_stream(data: bytes | memoryview) -> bool:
    """Whether ``data`` is one or more whole transport packets, each starting 0x47.

    Args:
        data: A UDP payload, or an RTP packet's payload.

    Returns:
        True when its length is a non-zero multiple of 188 and every packet
        starts with the sync byte.

    Example:
        >>> is_transport_stream(bytes([0x47]) + bytes(187)), is_transport_stream(bytes(188))
        (True, False)
    """
    size = len(data)
    if size == 0 or size % PACKET_SIZE:
        return False
    return all(data[offset] == SYNC_BYTE for offset in range(0, size, PACKET_SIZE))


class PidCounts(NamedTuple):
    """One PID of a transport stream.

    Attributes:
        pid: The packet identifier, 0..8191.
        packets: Packets seen, with or without payload, duplicates included.
        continuity_errors: Counter values that broke the rules.
        missing: Packets the counter says were skipped (at least that many).
        duplicates: Packets that repeated the previous one's counter, allowed once.
    """

    pid: int
    packets: int
    continuity_errors: int
    missing: int
    duplicates: int


class ContinuityGap(NamedTuple):
    """A continuity error: the counter a PID should have had, and the one it had.

    Attributes:
        pid: The PID.
        expected: The counter value the rules called for.
        received: The counter value that came.
        missing: How many packets that skips, modulo 16.
    """

    pid: int
    expected: int
    received: int
    missing: int


class _Pid:
    __slots__ = ("counter", "duplicated", "duplicates", "errors", "missing", "packets")

    def __init__(self) -> None:
        self.counter = -1
        self.duplicated = False
        self.packets = 0
        self.errors = 0
        self.missing = 0
        self.duplicates = 0


class TransportStream:
    """The state of one transport stream: counters per PID, sync, PCR jitter.

    Memory is bounded by the PID space: at most 8192 entries.

    Example:
        >>> stream = TransportStream()
        >>> def packet(counter):
        ...     return bytes([0x47, 0x01, 0x00, 0x10 | counter]) + bytes(184)
        >>> gaps = stream.observe(b"".join(packet(n) for n in (0, 1, 1, 4)), 0)
        >>> gaps, stream.pids()[0].duplicates
        ([ContinuityGap(pid=256, expected=2, received=4, missing=2)], 1)
    """

    __slots__ = (
        "_pcr_arrival",
        "_pcr_value",
        "_pids",
        "bad_lengths",
        "packets",
        "pcr_jitter_ms",
        "pcr_max_ms",
        "pcr_pid",
        "pcrs",
        "sync_errors",
        "transport_errors",
    )

    def __init__(self) -> None:
        self._pids: dict[int, _Pid] = {}
        #: Packets seen, sync errors included.
        self.packets = 0
        #: Packets that did not start with 0x47.
        self.sync_errors = 0
        #: Packets flagged by the transport error indicator.
        self.transport_errors = 0
        #: Datagrams whose length is not a multiple of 188 (their tail is ignored).
        self.bad_lengths = 0
        #: The PID whose PCRs are timed: the first that carried one.
        self.pcr_pid: int | None = None
        #: PCRs read on that PID.
        self.pcrs = 0
        #: Smoothed PCR jitter, in milliseconds.
        self.pcr_jitter_ms = 0.0
        #: The largest single PCR timing difference, in milliseconds.
        self.pcr_max_ms = 0.0
        self._pcr_value = 0
        self._pcr_arrival = 0

    def observe(self, data: bytes | memoryview, arrival_ns: int) -> list[ContinuityGap]:
        """Read the packets of one datagram.

        Args:
            data: Whole transport packets (a UDP payload, or RTP's).
            arrival_ns: When the datagram arrived, in nanoseconds.

        Returns:
            The continuity errors found in it, in order.
        """
        size = len(data)
        if size % PACKET_SIZE:
            self.bad_lengths += 1
            size -= size % PACKET_SIZE
        gaps: list[ContinuityGap] = []
        pids = self._pids
        for offset in range(0, size, PACKET_SIZE):
            self.packets += 1
            if data[offset] != SYNC_BYTE:
                self.sync_errors += 1
                continue
            flags = data[offset + 1]
            if flags & 0x80:
                self.transport_errors += 1
            pid = (flags & 0x1F) << 8 | data[offset + 2]
            control = data[offset + 3]
            state = pids.get(pid)
            if state is None:
                pids[pid] = state = _Pid()
            state.packets += 1
            discontinuity = False
            if control & 0x20:
                length = data[offset + 4]
                if length:
                    adaptation = data[offset + 5]
                    discontinuity = bool(adaptation & _DISCONTINUITY)
                    if adaptation & _PCR_FLAG and length >= 7:
                        self._pcr(pid, data, offset + 6, arrival_ns)
            if pid == NULL_PID:
                continue
            counter = control & 0x0F
            gap = self._continuity(state, counter, bool(control & 0x10), discontinuity)
            if gap is not None:
                gaps.append(ContinuityGap(pid, *gap))
        return gaps

    @staticmethod
    def _continuity(
        state: _Pid, counter: int, payload: bool, discontinuity: bool
    ) -> tuple[int, int, int] | None:
        previous = state.counter
        state.counter = counter
        if previous < 0 or discontinuity:
            state.duplicated = False
            return None
        if not payload:
            # No payload, no increment: the same value is the rule.
            if counter == previous:
                return None
            expected = previous
        elif counter == previous:
            if not state.duplicated:
                state.duplicated = True
                state.duplicates += 1
                return None
            expected = (previous + 1) & 0x0F
        else:
            state.duplicated = False
            expected = (previous + 1) & 0x0F
            if counter == expected:
                return None
        missing = (counter - expected) & 0x0F
        state.duplicated = False
        state.errors += 1
        state.missing += missing
        return expected, counter, missing

    def _pcr(self, pid: int, data: bytes | memoryview, at: int, arrival_ns: int) -> None:
        if self.pcr_pid is None:
            self.pcr_pid = pid
        elif pid != self.pcr_pid:
            return
        base = int.from_bytes(data[at : at + 5], "big") >> 7
        value = base * 300 + ((data[at + 4] & 0x01) << 8 | data[at + 5])
        if self.pcrs:
            clock_ns = ((value - self._pcr_value) % _PCR_WRAP) * 1000 / 27
            difference_ms = abs((arrival_ns - self._pcr_arrival) - clock_ns) / 1e6
            self.pcr_jitter_ms += (difference_ms - self.pcr_jitter_ms) / 16
            self.pcr_max_ms = max(self.pcr_max_ms, difference_ms)
        self.pcrs += 1
        self._pcr_value = value
        self._pcr_arrival = arrival_ns

    def pids(self) -> list[PidCounts]:
        """The counts of every PID seen, by PID.

        Returns:
            One record per PID.
        """
        return [
            PidCounts(pid, state.packets, state.errors, state.missing, state.duplicates)
            for pid, state in sorted(self._pids.items())
        ]

    @property
    def continuity_errors(self) -> int:
        """Continuity errors over every PID."""
        return sum(state.errors for state in self._pids.values())

    @property
    def missing(self) -> int:
        """Packets skipped, by the counters, over every PID."""
        return sum(state.missing for state in self._pids.values())


def _transport_packets(payload: bytes) -> tuple[bytes | memoryview, int | None] | None:
    """The transport packets a datagram carries, raw or in RTP, and the RTP SSRC."""
    header = parse_rtp(payload)
    if header is None:
        return (payload, None) if payload[:1] == b"\x47" else None
    body = memoryview(payload)[header.payload_offset : header.payload_end]
    return (body, header.ssrc) if len(body) and body[0] == SYNC_BYTE else None


class MpegTsAnalyzer:
    """Transport streams by sender (and SSRC, in RTP); see :class:`~._records.Analyzer`.

    Args:
        max_streams: The most streams tracked at once; the least recently seen
            make room.
    """

    __slots__ = ("_evicted_missing", "_max", "evicted", "streams")

    def __init__(self, *, max_streams: int = DEFAULT_MAX_STREAMS) -> None:
        self._max = max_streams
        #: The streams, by sender and SSRC (``None`` when raw).
        self.streams: OrderedDict[tuple[tuple[str, int], int | None], TransportStream] = (
            OrderedDict()
        )
        #: Streams evicted to make room.
        self.evicted = 0
        self._evicted_missing = 0

    def recognises(self, payload: bytes, arrival_ns: int) -> bool:
        """Whether ``payload`` is whole transport packets, raw or as an RTP payload."""
        found = _transport_packets(payload)
        return found is not None and is_transport_stream(found[0])

    def observe(
        self, payload: bytes, source: tuple[str, int], arrival_ns: int, gaps: list[Gap]
    ) -> bool:
        """Read one datagram's packets, and the continuity errors they show."""
        found = _transport_packets(payload)
        if found is None:
            return False
        data, ssrc = found
        key = (source, ssrc)
        stream = self.streams.get(key)
        if stream is None:
            if len(self.streams) >= self._max:
                _, evicted = self.streams.popitem(last=False)
                self.evicted += 1
                self._evicted_missing += evicted.missing
            self.streams[key] = stream = TransportStream()
        else:
            self.streams.move_to_end(key)
        for gap in stream.observe(data, arrival_ns):
            label = f"{endpoint(source)} mpegts pid {gap.pid:#06x}"
            gaps.append(Gap(label, gap.expected, gap.received, gap.missing))
        return True

    @property
    def lost(self) -> int:
        """Packets skipped, by the continuity counters, over every stream."""
        return self._evicted_missing + sum(stream.missing for stream in self.streams.values())

    def summaries(self) -> list[StreamSummary]:
        """One record per stream: packets, continuity, sync errors, PCR."""
        rows = []
        for (source, ssrc), stream in self.streams.items():
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
        return rows
