"""What happens to a receiver's interface, as :meth:`MulticastReceiver.events` reports it.

Frozen values only; the stream that hands them out is
:class:`trio_mcast._interface_watch.EventStream`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeAlias

if TYPE_CHECKING:
    from ._errors import MulticastError

__all__ = [
    "InterfaceLost",
    "InterfaceReturned",
    "ReceiverEvent",
    "ReceiverState",
    "RejoinFailed",
    "Rejoined",
]

#: ``"joined"``: the memberships are on :attr:`MulticastReceiver.interface_index`.
#: ``"waiting for interface"``: the interface is gone; nothing is joined until
#: it returns. ``"unknown"``: this platform has no rtnetlink, so the receiver
#: cannot follow its interface and does not pretend to know.
ReceiverState: TypeAlias = Literal["joined", "waiting for interface", "unknown"]


@dataclass(frozen=True, slots=True)
class InterfaceLost:
    """The interface the memberships were on disappeared; the receiver waits for it.

    Attributes:
        timestamp: When it was noticed, in seconds since the epoch.
        interface: The interface as the receiver was given it (name, index
            or address); ``None`` for the kernel's choice.
        ifindex: The index the memberships were on.
        name: That interface's name, when known.
    """

    timestamp: float
    interface: str | int | None
    ifindex: int
    name: str | None = None


@dataclass(frozen=True, slots=True)
class InterfaceReturned:
    """The interface (or its address, or a route for the group) is back.

    Attributes:
        timestamp: When it was noticed, in seconds since the epoch.
        interface: As for :class:`InterfaceLost`.
        ifindex: The index the memberships will be joined on.
        name: That interface's name, when known.
    """

    timestamp: float
    interface: str | int | None
    ifindex: int
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Rejoined:
    """Every membership was joined again, exactly as it was.

    Attributes:
        timestamp: When the last join succeeded, in seconds since the epoch.
        groups: The groups joined, in join order.
        ifindex: The interface index they are on.
    """

    timestamp: float
    groups: tuple[str, ...]
    ifindex: int


@dataclass(frozen=True, slots=True)
class RejoinFailed:
    """The kernel refused a rejoin; nothing is joined, and it is retried with back-off.

    Attributes:
        timestamp: When it was refused, in seconds since the epoch.
        group: The group the kernel refused; ``None`` when the refusal was
            not about one group (moving the socket to the interface).
        error: The refusal (a :class:`JoinError` with its errno and hint).
        retry_in: Seconds until the next attempt.
    """

    timestamp: float
    group: str | None
    error: MulticastError
    retry_in: float


#: Any of the events.
ReceiverEvent: TypeAlias = InterfaceLost | InterfaceReturned | Rejoined | RejoinFailed
