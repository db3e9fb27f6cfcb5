"""Where a receiver's memberships belong, decided from rtnetlink messages.

The pure half of following an interface: no socket, no trio, no clock of
its own. :class:`Follower` keeps what the messages say about the interface
the user named (by name, by index, by address, or the kernel's route), and
:meth:`Follower.decide` says what to do about it. The receiver's task
(:mod:`trio_mcast._interface_watch`) reads the messages and carries the
decisions out.

Link down and up is not a change: the kernel keeps the memberships of an
interface that goes down, so only deletion, renaming and moved addresses
count.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Final, NamedTuple

from ._netlink._messages import AddressMessage, LinkMessage, RouteMessage

if TYPE_CHECKING:
    import ipaddress
    from collections.abc import Mapping, Sequence

    from ._netlink._messages import Message

__all__ = [
    "BACKOFF_FIRST",
    "BACKOFF_LAST",
    "Action",
    "Decision",
    "Follower",
    "Target",
    "backoff",
]

#: The first retry of a refused rejoin waits this long (seconds) ...
BACKOFF_FIRST: Final = 0.1
#: ... and each later one twice as long as the one before, up to this.
BACKOFF_LAST: Final = 5.0


def backoff(failures: int) -> float:
    """Seconds to wait before the next rejoin after ``failures`` refusals in a row.

    Example:
        >>> [backoff(n) for n in (1, 2, 3)]
        [0.1, 0.2, 0.4]
    """
    if failures < 1:
        return 0.0
    return min(BACKOFF_FIRST * (1 << min(failures - 1, 32)), BACKOFF_LAST)


class Target(NamedTuple):
    """The interface as the user named it; all ``None`` is the kernel's route.

    Attributes:
        name: Follow this name across deletion and recreation.
        ifindex: Follow this index.
        address: Follow whichever interface holds this IPv4 address.
    """

    name: str | None = None
    ifindex: int | None = None
    address: ipaddress.IPv4Address | None = None

    @property
    def by_route(self) -> bool:
        return self.name is None and self.ifindex is None and self.address is None


class Action(enum.Enum):
    """What :meth:`Follower.decide` asks for."""

    NOTHING = "nothing"
    #: Drop the memberships (the interface is gone) and wait.
    LOSE = "lose"
    #: Join every membership on :attr:`Decision.ifindex`.
    REJOIN = "rejoin"
    #: Ask the kernel which interface its route for the group takes, and
    #: report it with :meth:`Follower.route_found`.
    QUERY_ROUTE = "query route"
    #: A refused rejoin waits until :attr:`Decision.at` (a time on the
    #: caller's clock) before the next try.
    WAIT = "wait"


class Decision(NamedTuple):
    """An action, with the interface index or time it needs."""

    action: Action
    ifindex: int | None = None
    at: float | None = None


_NOTHING: Final = Decision(Action.NOTHING)


class Follower:
    """The state of one receiver's interface, fed by rtnetlink messages.

    Args:
        target: What the user named.
        ifindex: Where the memberships are now (0 when unknown).
    """

    def __init__(self, target: Target, ifindex: int) -> None:
        self.target = target
        #: Where the memberships are; ``None`` while waiting.
        self.joined_on: int | None = ifindex or None
        #: Where the target is now, as far as the messages tell.
        self.target_at: int | None = ifindex or None
        self._joined_alive = True
        self._route_wanted = False
        self._failures = 0
        self._retry_at = 0.0
        self.names: dict[int, str] = {}

    @property
    def waiting(self) -> bool:
        """True while the memberships are dropped, waiting for the target."""
        return self.joined_on is None

    def name_of(self, ifindex: int | None) -> str | None:
        """The last name the messages gave interface ``ifindex``."""
        return None if ifindex is None else self.names.get(ifindex)

    def observe(self, message: Message) -> None:
        """Take one rtnetlink notification into account."""
        target = self.target
        if isinstance(message, LinkMessage):
            index = message.ifindex
            if message.deleted:
                if index == self.joined_on:
                    # Kept until lost(): the event that reports it names it.
                    self._joined_alive = False
                else:
                    self.names.pop(index, None)
                if index == self.target_at:
                    self._moved(None)
            else:
                if message.name is not None:
                    self.names[index] = message.name
                if target.name is not None and message.name is not None:
                    if message.name == target.name and index != self.target_at:
                        self._moved(index)
                    elif message.name != target.name and index == self.target_at:
                        # Renamed away: the name is what the user follows.
                        self._moved(None)
                elif (
                    target.ifindex is not None
                    and index == target.ifindex
                    and self.target_at is None
                ):
                    self._moved(index)
        elif isinstance(message, AddressMessage):
            if target.address is not None and message.address == target.address:
                if not message.deleted and message.ifindex != self.target_at:
                    self._moved(message.ifindex)
                elif message.deleted and message.ifindex == self.target_at:
                    self._moved(None)
        elif isinstance(message, RouteMessage):
            pass
        if target.by_route and self.target_at is None and not message_is_deletion(message):
            self._route_wanted = True

    def resync(
        self,
        links: Mapping[int, str],
        addresses: Sequence[tuple[int, ipaddress.IPv4Address]] = (),
    ) -> None:
        """Start again from a snapshot, after the kernel dropped notifications.

        Args:
            links: Every interface now, index -> name.
            addresses: Every IPv4 address now, as ``(ifindex, address)``
                (needed only when following an address).
        """
        self.names = dict(links)
        if self.joined_on is not None and self.joined_on not in links:
            self._joined_alive = False
        target = self.target
        if target.name is not None:
            found = [index for index, name in links.items() if name == target.name]
            self._moved(found[0] if found else None)
        elif target.ifindex is not None:
            self._moved(target.ifindex if target.ifindex in links else None)
        elif target.address is not None:
            held = [index for index, address in addresses if address == target.address]
            self._moved(held[0] if held else None)
        else:
            if self.target_at is not None and self.target_at not in links:
                self._moved(None)
            if self.target_at is None:
                self._route_wanted = True

    def route_found(self, ifindex: int | None) -> None:
        """The answer to :attr:`Action.QUERY_ROUTE`: the route's interface, or ``None``."""
        self._route_wanted = False
        if ifindex is not None:
            self._moved(ifindex)

    def _moved(self, ifindex: int | None) -> None:
        if ifindex != self.target_at:
            self.target_at = ifindex
            # Somewhere new: a refusal on the old place says nothing of it.
            self._failures = 0
            self._retry_at = 0.0

    def decide(self, now: float) -> Decision:
        """What to do now, given everything observed.

        Args:
            now: The current time on the clock that :meth:`rejoin_failed` got.
        """
        joined_on = self.joined_on
        target_at = self.target_at
        if joined_on is not None:
            if target_at == joined_on and self._joined_alive:
                return _NOTHING
            # The memberships' interface is gone, or no longer the target:
            # drop them first, even when the target is already back
            # elsewhere, so that none is left behind.
            return Decision(Action.LOSE, joined_on)
        if target_at is None:
            if self.target.by_route and self._route_wanted:
                return Decision(Action.QUERY_ROUTE)
            return _NOTHING
        if now < self._retry_at:
            return Decision(Action.WAIT, target_at, self._retry_at)
        return Decision(Action.REJOIN, target_at)

    def lost(self) -> None:
        """The memberships were dropped: now waiting for the target."""
        if not self._joined_alive and self.joined_on is not None:
            self.names.pop(self.joined_on, None)
        self.joined_on = None
        self._joined_alive = True
        if self.target.by_route:
            # The route chose that interface; another may serve the group now.
            self.target_at = None
            self._route_wanted = True

    def rejoined(self, ifindex: int) -> None:
        """Every membership is now on ``ifindex``."""
        self.joined_on = ifindex
        self._joined_alive = True
        self._failures = 0
        self._retry_at = 0.0

    def rejoin_failed(self, now: float) -> float:
        """A rejoin was refused at ``now``; returns when the next one may be tried."""
        self._failures += 1
        self._retry_at = now + backoff(self._failures)
        return self._retry_at


def message_is_deletion(message: Message) -> bool:
    """True for ``RTM_DEL*`` messages."""
    return isinstance(message, (LinkMessage, AddressMessage, RouteMessage)) and message.deleted
