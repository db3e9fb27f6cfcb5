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
    """

    payload: bytes
    source: tuple[str, int]
    group: str
    interface: int | None = None
    timestamp: float | None = None
    truncated: bool = False

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
