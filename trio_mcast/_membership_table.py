"""The memberships of one receiver's socket: what is joined, and changing it all or nothing.

The decisions (which steps turn one filter into another, and which changes
are refused) are in the pure :mod:`trio_mcast._membership`; this keeps the
table of filters and carries the steps out on the socket.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from ._join import apply_step, apply_steps, close_joined
from ._membership import INCLUDE, Action, Filter, Membership, Step, after, join_steps

if TYPE_CHECKING:
    import socket
    from collections.abc import Sequence

    from ._netif import ResolvedInterface
    from ._validate import IPAddress

__all__ = ["MembershipTable"]


class MembershipTable:
    """Each joined group's filter, kept in step with the kernel's.

    Args:
        sock: The joined socket.
        family: Its address family.
        interface: The interface the memberships are on.
        filters: The memberships made when the socket was set up.
        groups_by_address: The receiver's destination table (packed group
            address -> group text), updated in place as groups come and go.
    """

    def __init__(
        self,
        sock: socket.socket,
        family: socket.AddressFamily,
        interface: ResolvedInterface,
        filters: dict[IPAddress, Filter],
        groups_by_address: dict[bytes, str],
    ) -> None:
        self._sock = sock
        self._family = family
        self._interface = interface
        self._filters = filters
        self._groups_by_address = groups_by_address
        #: False while the interface is gone: the filters are then what to
        #: join when it returns, and changes are only recorded.
        self.live = True

    @property
    def interface(self) -> ResolvedInterface:
        """The interface the memberships are on (or were, while not live)."""
        return self._interface

    def get(self, group: IPAddress) -> Filter | None:
        """The filter of ``group``, or ``None`` when it is not joined."""
        return self._filters.get(group)

    @property
    def groups(self) -> tuple[str, ...]:
        """The joined groups, in the order they were joined."""
        return tuple(map(str, self._filters))

    @property
    def included_sources(self) -> tuple[str, ...]:
        """Every source that an include-mode membership admits, once, in order."""
        admitted = dict.fromkeys(
            source
            for current in self._filters.values()
            if current.mode == INCLUDE
            for source in current.sources
        )
        return tuple(map(str, admitted))

    def public(self) -> tuple[Membership, ...]:
        """Every membership as a frozen :class:`Membership`, in join order."""
        return tuple(current.public(group) for group, current in self._filters.items())

    def change(self, group: IPAddress, steps: Sequence[Step]) -> None:
        """Carry out ``steps`` on ``group``, all or nothing, and record the result.

        Raises:
            JoinError: The kernel refused a step; nothing was changed.
        """
        if not steps:
            return
        if self.live:
            apply_steps(self._sock, self._family, group, steps, self._interface)
        current = self._filters.get(group)
        for step in steps:
            current = after(current, step)
        if current is None:
            self._filters.pop(group, None)
            self._groups_by_address.pop(group.packed, None)
        else:
            self._filters[group] = current
            self._groups_by_address[group.packed] = str(group)

    def assume(self, interface: ResolvedInterface) -> None:
        """Record that the memberships are on ``interface`` (the one the kernel chose)."""
        self._interface = interface

    def drop_all(self) -> None:
        """Leave every membership, keeping the filters to join again later.

        A plain leave of the whole group works even when the interface is
        gone, where leaving a source fails with ENODEV; the kernel would
        otherwise keep the socket's stale memberships, which count against
        ``net.ipv4.igmp_max_memberships``.
        """
        self.live = False
        for group in self._filters:
            with contextlib.suppress(OSError):
                apply_step(self._sock, self._family, group, Step(Action.LEAVE), self._interface)

    def join_all(self, interface: ResolvedInterface) -> None:
        """Join every membership on ``interface``, all or nothing.

        Raises:
            JoinError: The kernel refused one; those joined before it are
                left again, and the table stays not live.
        """
        joined: list[IPAddress] = []
        try:
            for group, current in self._filters.items():
                include = current.mode == INCLUDE
                steps = join_steps(
                    group,
                    None,
                    current.sources if include else (),
                    () if include else current.sources,
                    value=str(group),
                )
                apply_steps(self._sock, self._family, group, steps, interface)
                joined.append(group)
        except BaseException:
            for group in joined:
                with contextlib.suppress(OSError):
                    apply_step(self._sock, self._family, group, Step(Action.LEAVE), interface)
            raise
        self._interface = interface
        self.live = True

    def close(self) -> None:
        """Leave every membership and close the socket; the table is empty after."""
        filters = dict(self._filters) if self.live else {}
        self._filters.clear()
        close_joined(self._sock, self._family, filters, self._interface)
