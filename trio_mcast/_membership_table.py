"""The memberships of one receiver's socket: what is joined, and changing it all or nothing.

The decisions (which steps turn one filter into another, and which changes
are refused) are in the pure :mod:`trio_mcast._membership`; this keeps the
table of filters and carries the steps out on the socket.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._join import apply_steps, close_joined
from ._membership import INCLUDE, Filter, Membership, after

if TYPE_CHECKING:
    import socket
    from collections.abc import Sequence

    from ._membership import Step
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

    def close(self) -> None:
        """Leave every membership and close the socket; the table is empty after."""
        filters = dict(self._filters)
        self._filters.clear()
        close_joined(self._sock, self._family, filters, self._interface)
