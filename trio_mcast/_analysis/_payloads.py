"""Payloads that real tools understand, for ``send --payload``.

Pure: no trio, no socket. A :class:`PayloadMaker` turns a datagram's number
(0 for the first) and its send time into the bytes to send:

- ``tmsq``: the 28-byte sequence header of ``send --sequence``, then the body;
- ``rtp``: an RTP header (version 2, dynamic payload type 96, a random SSRC),
  the sequence number counting from a random start and wrapping at 16 bits,
  and the timestamp following the send time at ``rtp_clock`` Hz; then the body;
- ``iperf2``: the header of iperf2's UDP client (64-bit numbers from 1, send
  time, flags), then the body; :meth:`PayloadMaker.final` makes the negated
  datagram that ends the test at iperf2's server;
- ``mpegts``: whole 188-byte transport packets (seven, or as many as
  ``size`` holds) of one PID, payload only, with continuity counters that
  count every packet of every datagram, sent or not, so that a datagram
  left out shows as a jump at the receiver; the body is not used.

Numbers left out (``send --skip-every``) are never sent, so every analyzer
sees them as lost.
"""

from __future__ import annotations

import secrets
import struct
from typing import Final, Literal

from .._sequence import HEADER_SIZE as TMSQ_HEADER_SIZE
from .._sequence import pack_header_unchecked
from ._iperf2 import HEADER_SIZE as IPERF2_HEADER_SIZE
from ._iperf2 import pack_iperf2
from ._mpegts import NULL_PID, PACKET_SIZE, SYNC_BYTE
from ._rtp import DEFAULT_CLOCK_RATE

__all__ = ["HEADER_SIZES", "PAYLOADS", "PayloadKind", "PayloadMaker", "packets_per_datagram"]

PayloadKind = Literal["tmsq", "rtp", "iperf2", "mpegts"]
PAYLOADS: Final[tuple[PayloadKind, ...]] = ("tmsq", "rtp", "iperf2", "mpegts")
_RTP: Final = struct.Struct("!BBHII")
#: The bytes each kind puts before the body (MPEG-TS: the smallest datagram).
HEADER_SIZES: Final[dict[PayloadKind, int]] = {
    "tmsq": TMSQ_HEADER_SIZE,
    "rtp": _RTP.size,
    "iperf2": IPERF2_HEADER_SIZE,
    "mpegts": PACKET_SIZE,
}
RTP_PAYLOAD_TYPE: Final = 96
#: Packets per datagram without --size: 1316 bytes, as IPTV sends them.
DEFAULT_PACKETS: Final = 7


def packets_per_datagram(size: int | None) -> int:
    """How many transport packets a datagram of ``size`` bytes carries (7 without one).

    Args:
        size: The datagram size, a multiple of 188, or ``None``.

    Returns:
        The number of packets.
    """
    return DEFAULT_PACKETS if size is None else size // PACKET_SIZE


class PayloadMaker:
    """Builds the datagrams of one ``send --payload`` run.

    Args:
        kind: ``tmsq``, ``rtp``, ``iperf2`` or ``mpegts``.
        start_ns: The run's start, in nanoseconds since the Unix epoch (RTP
            timestamps count from it).
        stream_id: The ``tmsq`` stream id; random when ``None``.
        rtp_clock: The RTP timestamp clock, in Hz.
        pid: The MPEG-TS PID, 0..8191 (the null PID by default).
        size: The MPEG-TS datagram size, a multiple of 188; ``None`` is 1316.

    Example:
        >>> maker = PayloadMaker("mpegts", start_ns=0, pid=0x100)
        >>> datagram = maker.make(1, b"", 0)
        >>> len(datagram), datagram[0], datagram[3] & 0x0F, datagram[188 + 3] & 0x0F
        (1316, 71, 7, 8)
    """

    __slots__ = (
        "_clock",
        "_kind",
        "_packets",
        "_pid",
        "_sequence_start",
        "_ssrc",
        "_start_ns",
        "_timestamp_start",
        "stream_id",
    )

    def __init__(
        self,
        kind: PayloadKind,
        *,
        start_ns: int,
        stream_id: int | None = None,
        rtp_clock: int = DEFAULT_CLOCK_RATE,
        pid: int = NULL_PID,
        size: int | None = None,
    ) -> None:
        if kind not in PAYLOADS:
            raise ValueError(f"kind must be one of {', '.join(PAYLOADS)}, not {kind!r}")
        self._kind = kind
        self._start_ns = start_ns
        #: The ``tmsq`` stream id, for the summary.
        self.stream_id = secrets.randbits(32) if stream_id is None else stream_id
        self._clock = rtp_clock
        self._ssrc = secrets.randbits(32)
        self._sequence_start = secrets.randbits(16)
        self._timestamp_start = secrets.randbits(32)
        self._pid = pid
        self._packets = packets_per_datagram(size)

    @property
    def kind(self) -> PayloadKind:
        """What it builds."""
        return self._kind

    def make(self, number: int, body: bytes, now_ns: int) -> bytes:
        """The datagram numbered ``number`` (0 for the first), sent at ``now_ns``.

        Args:
            number: Its number in the run, counting datagrams left out too.
            body: What follows the header (not used by ``mpegts``).
            now_ns: Its send time, in nanoseconds since the Unix epoch.

        Returns:
            The datagram.
        """
        kind = self._kind
        if kind == "tmsq":
            return pack_header_unchecked(number, now_ns, self.stream_id) + body
        if kind == "rtp":
            ticks = (now_ns - self._start_ns) * self._clock // 1_000_000_000
            return (
                _RTP.pack(
                    0x80,
                    RTP_PAYLOAD_TYPE,
                    (self._sequence_start + number) & 0xFFFF,
                    (self._timestamp_start + ticks) & 0xFFFFFFFF,
                    self._ssrc,
                )
                + body
            )
        if kind == "iperf2":
            return pack_iperf2(number + 1, now_ns) + body
        first = number * self._packets
        pid = self._pid
        return b"".join(
            bytes([SYNC_BYTE, pid >> 8, pid & 0xFF, 0x10 | (first + index) & 0x0F])
            + b"\xff" * (PACKET_SIZE - 4)
            for index in range(self._packets)
        )

    def final(self, number: int, body: bytes, now_ns: int) -> bytes | None:
        """What ends the run after ``number`` datagrams: iperf2's final datagram, or nothing.

        Args:
            number: How many datagrams were numbered (sent or left out).
            body: What follows the header.
            now_ns: Its send time, in nanoseconds since the Unix epoch.

        Returns:
            The datagram, or ``None`` for the other kinds.
        """
        if self._kind != "iperf2":
            return None
        return pack_iperf2(number + 1, now_ns, final=True) + body
