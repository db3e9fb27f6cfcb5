"""Keep a receiver's memberships on the interface the user named, as links come and go.

The receiver's second task: it reads rtnetlink notifications, lets the pure
:class:`~trio_mcast._follow.Follower` decide, and drops or re-joins the
memberships. :class:`EventStream` hands what happened to whoever called
:meth:`MulticastReceiver.events`.
"""

from __future__ import annotations

import collections
import contextlib
import math
import socket
import time
from typing import TYPE_CHECKING, Final, NoReturn

import trio

from . import _netlink
from ._errors import JoinError, NetlinkError
from ._events import InterfaceLost, InterfaceReturned, Rejoined, RejoinFailed
from ._follow import Action, Follower, Target
from ._netif import ResolvedInterface

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._events import ReceiverEvent
    from ._membership_table import MembershipTable
    from ._validate import Interface, IPAddress

__all__ = ["EVENT_BACKLOG", "EventStream", "InterfaceWatch"]

#: Events an :class:`EventStream` keeps for a slow reader; older ones are dropped.
EVENT_BACKLOG: Final = 1024


class EventStream:
    """The events of one :meth:`MulticastReceiver.events` call, as an async iterator.

    It ends (``StopAsyncIteration``) when the receiver closes, after the
    events already queued.
    """

    __slots__ = ("__weakref__", "_closed", "_events", "_lot")

    def __init__(self) -> None:
        self._events: collections.deque[ReceiverEvent] = collections.deque(maxlen=EVENT_BACKLOG)
        self._lot = trio.lowlevel.ParkingLot()
        self._closed = False

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> ReceiverEvent:
        if self._events:
            await trio.lowlevel.checkpoint()
        while not self._events:
            if self._closed:
                await trio.lowlevel.checkpoint()
                raise StopAsyncIteration
            await self._lot.park()
        return self._events.popleft()

    def put(self, event: ReceiverEvent) -> None:
        """Queue ``event`` for the reader (the oldest goes when the backlog is full)."""
        self._events.append(event)
        self._lot.unpark_all()

    def close(self) -> None:
        """End the stream once the queued events are read."""
        self._closed = True
        self._lot.unpark_all()


def _target(interface: Interface | None) -> Target:
    if interface is None:
        return Target()
    return Target(interface.name, interface.index, interface.address)


def _joined_index(target: Target, route_group: IPAddress) -> int | None:
    """The index the kernel put memberships on when they were joined without one.

    That is a join by a secondary IPv4 address (the kernel finds the
    interface that holds it), or with no interface (the route's).
    """
    try:
        if target.address is not None:
            held = [
                index for index, address in _netlink.ipv4_addresses() if address == target.address
            ]
            return held[0] if held else None
        return _netlink.route_interface(route_group)
    except NetlinkError:
        return None


class InterfaceWatch:
    """One receiver's rtnetlink subscription, follower, counters and event streams.

    Build it with :meth:`open`, run :meth:`run` in the receiver's nursery,
    and :meth:`close` it when the receiver closes. What happens goes to
    ``publish``.
    """

    def __init__(
        self,
        notifications: socket.socket,
        memberships: MembershipTable,
        target: Target,
        route_group: IPAddress,
        rebind: Callable[[int], None],
        publish: Callable[[ReceiverEvent], None],
    ) -> None:
        self._sock = notifications
        self._publish = publish
        self._memberships = memberships
        self._route_group = route_group
        self._rebind = rebind
        self._label = memberships.interface.label
        self.follower = Follower(target, memberships.interface.ifindex)
        self.rejoins = 0
        self.interface_losses = 0
        self._announced: int | None = None

    @classmethod
    def open(
        cls,
        interface: Interface | None,
        memberships: MembershipTable,
        route_group: IPAddress,
        rebind: Callable[[int], None],
        publish: Callable[[ReceiverEvent], None],
    ) -> InterfaceWatch | None:
        """Subscribe to interface changes; ``None`` where rtnetlink is missing.

        With ``interface=None`` the memberships are on whichever interface
        the kernel's route for ``route_group`` (the first group) takes; that
        is looked up now, and from then on the memberships are made there.
        """
        if not _netlink.AVAILABLE:
            return None
        try:
            notifications = _netlink.open_notifications()
        except OSError:
            # Seccomp or a missing kernel feature: the state is unknown, not faked.
            return None
        try:
            target = _target(interface)
            if not memberships.interface.ifindex:
                index = _joined_index(target, route_group)
                if index is None:
                    # Joined, but where cannot be told: unknown, not faked.
                    notifications.close()
                    return None
                current = memberships.interface
                memberships.assume(ResolvedInterface(index, current.address, current.label))
            watch = cls(notifications, memberships, target, route_group, rebind, publish)
            # Subscribed first, then looked: whatever changed since the joins
            # is seen here, and everything after it is notified. The names
            # also let a loss noticed later name the interface.
            watch._resync()
            return watch
        except BaseException:
            notifications.close()
            raise

    @property
    def waiting(self) -> bool:
        return self.follower.waiting

    def close(self) -> None:
        """Close the subscription; safe to call twice."""
        self._sock.close()

    def _resync(self) -> None:
        addresses = []
        if self.follower.target.address is not None:
            with contextlib.suppress(NetlinkError):
                addresses = _netlink.ipv4_addresses()
        self.follower.resync(dict(socket.if_nameindex()), addresses)

    async def run(self) -> NoReturn:
        """Follow the interface until cancelled."""
        wait_readable = trio.lowlevel.wait_readable
        while True:
            wake_at = self._act()
            with trio.move_on_at(wake_at):
                await wait_readable(self._sock)
            try:
                messages = _netlink.read_notifications(self._sock)
            except (NetlinkError, OSError):
                # Never seen; but a receiver must not die of it: look afresh.
                messages = None
            if messages is None:
                self._resync()
                continue
            observe = self.follower.observe
            for message in messages:
                observe(message)

    def _act(self) -> float:
        """Carry out decisions until there is nothing to do; return when to look again."""
        follower = self.follower
        while True:
            now = trio.current_time()
            decision = follower.decide(now)
            action = decision.action
            if action is Action.NOTHING:
                return math.inf
            if action is Action.WAIT:
                assert decision.at is not None
                return decision.at
            if action is Action.QUERY_ROUTE:
                try:
                    index = _netlink.route_interface(self._route_group)
                except NetlinkError:
                    index = None
                follower.route_found(index)
            elif action is Action.LOSE:
                assert decision.ifindex is not None
                self._lose(decision.ifindex)
            else:
                assert decision.ifindex is not None
                self._rejoin(decision.ifindex, now)

    def _lose(self, ifindex: int) -> None:
        follower = self.follower
        name = follower.name_of(ifindex)
        self._memberships.drop_all()
        follower.lost()
        self._announced = None
        self.interface_losses += 1
        self._publish(InterfaceLost(time.time(), self._label, ifindex, name))

    def _rejoin(self, ifindex: int, now: float) -> None:
        follower = self.follower
        if self._announced != ifindex:
            self._announced = ifindex
            self._publish(
                InterfaceReturned(time.time(), self._label, ifindex, follower.name_of(ifindex))
            )
        try:
            self._rebind(ifindex)
            self._memberships.join_all(
                ResolvedInterface(ifindex, follower.target.address, self._label)
            )
        except JoinError as exc:
            retry_at = follower.rejoin_failed(now)
            self._publish(RejoinFailed(time.time(), exc.group, exc, retry_in=retry_at - now))
            return
        follower.rejoined(ifindex)
        self.rejoins += 1
        self._publish(Rejoined(time.time(), self._memberships.groups, ifindex))
