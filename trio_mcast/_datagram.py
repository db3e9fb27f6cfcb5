"""The values a receiver hands out: datagrams and statistics.

No ``from __future__ import annotations`` here: a NamedTuple's signature is
built from its annotations, and ``help(Datagram)`` would show them as
``ForwardRef('bytes')`` strings instead of types.
"""

from typing import NamedTuple

__all__ = ["Datagram", "ReceiverStatistics"]


class Datagram(NamedTuple):
    """One received datagram. Immutable, and as cheap as a tuple to create.

    Attributes:
        payload: The bytes received; at most ``max_datagram_size`` of them.
        source: The sender's ``(address, port)``.
        group: The destination group, as text.
        interface: The index of the interface it arrived on, when the
            receiver was opened with ``metadata=True``; else ``None``.
        timestamp: The kernel's receive time (seconds since the epoch,
            nanosecond resolution) when ``metadata=True``; else ``None``.
        truncated: True when the datagram was longer than
            ``max_datagram_size`` and ``payload`` holds only its start.
        ttl: The TTL (IPv4) or hop limit (IPv6) it arrived with, when
            ``metadata=True`` on Linux; else ``None``. A sender's TTL less
            this is how many routers it crossed.
        traffic_class: Its IPv4 TOS or IPv6 traffic class byte, when
            ``metadata=True`` on Linux; else ``None``. :attr:`dscp` and
            :attr:`ecn` split it.
        destination: The address it was sent to, when ``metadata=True``
            (for a multicast datagram, the group); else ``None``.
    """

    payload: bytes
    source: tuple[str, int]
    group: str
    interface: int | None = None
    timestamp: float | None = None
    truncated: bool = False
    ttl: int | None = None
    traffic_class: int | None = None
    destination: str | None = None

    @property
    def dscp(self) -> int | None:
        """The differentiated services code point: the top six bits of :attr:`traffic_class`.

        Example:
            >>> Datagram(b"", ("10.0.0.1", 5000), "239.1.1.1", traffic_class=0xB9).dscp
            46
        """
        return None if self.traffic_class is None else self.traffic_class >> 2

    @property
    def ecn(self) -> int | None:
        """The explicit congestion notification bits: the low two of :attr:`traffic_class`.

        Example:
            >>> Datagram(b"", ("10.0.0.1", 5000), "239.1.1.1", traffic_class=0xB9).ecn
            1
        """
        return None if self.traffic_class is None else self.traffic_class & 0x03

    def text(self, errors: str = "replace", encoding: str = "utf-8") -> str:
        """The payload decoded as text.

        Args:
            errors: The codec error policy; the default never raises on
                invalid input, ``"strict"`` does.
            encoding: The text encoding.

        Returns:
            The decoded payload.

        Example:
            >>> Datagram(b"caf\\xc3\\xa9", ("10.0.0.1", 5000), "239.1.1.1").text()
            'café'
        """
        return self.payload.decode(encoding, errors)


class ReceiverStatistics(NamedTuple):
    """Counters of a receiver, as returned by ``statistics()``.

    Attributes:
        datagrams: Datagrams accepted from the socket.
        bytes: Payload bytes accepted (after truncation).
        truncated: Accepted datagrams that were longer than the limit.
        queue_drops: Datagrams our bounded queue discarded by its policy.
        kernel_drops: Datagrams the kernel dropped on this socket because
            its receive buffer was full (Linux); ``None`` where unknown.
        filtered: Datagrams discarded because their destination was not one
            of the joined groups (for example unicast to the port).
        pending: Datagrams waiting in the queue now.
        rejoins: Times every membership was joined again on the interface
            after it had been lost (recreated, renumbered, back).
        interface_losses: Times the interface the memberships were on
            disappeared.
    """

    datagrams: int
    bytes: int
    truncated: int
    queue_drops: int
    kernel_drops: int | None
    filtered: int
    pending: int
    rejoins: int = 0
    interface_losses: int = 0
