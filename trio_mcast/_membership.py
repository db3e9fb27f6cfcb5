"""Source filters of group memberships, and the steps that change them (RFC 3678).

A membership is in one of two filter modes. *Include* delivers only the
listed senders (source-specific multicast, ``sources=``). *Exclude*
delivers every sender but the listed ones (``exclude=``, ``block()``); an
any-source membership is exclude mode with nothing excluded.

This module is pure: it decides which socket-option steps turn one filter
into another, and what the filter is after each step, but sets no option.
:mod:`trio_mcast._join` carries the steps out and undoes them on a refusal.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal, NamedTuple

from ._errors import InvalidGroupError, InvalidSourceError

if TYPE_CHECKING:
    from ._validate import IPAddress

__all__ = [
    "EXCLUDE",
    "INCLUDE",
    "Action",
    "Filter",
    "Membership",
    "Step",
    "after",
    "block_steps",
    "inverse",
    "join_steps",
    "leave_steps",
    "leaving",
    "unblock_steps",
]

#: Filter modes, as :attr:`Membership.mode` spells them.
INCLUDE: Final[Literal["include"]] = "include"
EXCLUDE: Final[Literal["exclude"]] = "exclude"


@dataclass(frozen=True, slots=True)
class Membership:
    """One group a receiver has joined, and its source filter.

    Attributes:
        group: The group, as text.
        mode: ``"include"``: only ``sources`` are delivered (source-specific
            multicast); ``"exclude"``: every sender but ``sources`` is
            (an any-source membership has no sources excluded).
        sources: The included or excluded senders, as text, in the order
            they were added.

    Example:
        >>> Membership("239.1.2.3", "exclude", ())
        Membership(group='239.1.2.3', mode='exclude', sources=())
    """

    group: str
    mode: Literal["include", "exclude"]
    sources: tuple[str, ...]


class Filter(NamedTuple):
    """The filter of one membership, with addresses as objects.

    Attributes:
        mode: :data:`INCLUDE` or :data:`EXCLUDE`.
        sources: The included or excluded senders, in the order added.
    """

    mode: Literal["include", "exclude"]
    sources: tuple[IPAddress, ...]

    def public(self, group: IPAddress) -> Membership:
        """This filter as the public :class:`Membership` of ``group``."""
        return Membership(str(group), self.mode, tuple(map(str, self.sources)))


class Action(enum.Enum):
    """One socket option that changes a membership."""

    JOIN = "join"  # any-source: IP_ADD_MEMBERSHIP, IPV6_JOIN_GROUP
    LEAVE = "leave"  # the whole group
    JOIN_SOURCE = "join-source"  # MCAST_JOIN_SOURCE_GROUP
    LEAVE_SOURCE = "leave-source"  # MCAST_LEAVE_SOURCE_GROUP
    BLOCK = "block"  # MCAST_BLOCK_SOURCE
    UNBLOCK = "unblock"  # MCAST_UNBLOCK_SOURCE


class Step(NamedTuple):
    """One action on one group, for one source where the action takes one."""

    action: Action
    source: IPAddress | None = None


_INVERSES: Final = {
    Action.JOIN: Action.LEAVE,
    Action.LEAVE: Action.JOIN,
    Action.JOIN_SOURCE: Action.LEAVE_SOURCE,
    Action.LEAVE_SOURCE: Action.JOIN_SOURCE,
    Action.BLOCK: Action.UNBLOCK,
    Action.UNBLOCK: Action.BLOCK,
}


def inverse(step: Step) -> Step:
    """The step that undoes ``step`` (used to roll back a refused change).

    Example:
        >>> inverse(Step(Action.JOIN)).action
        <Action.LEAVE: 'leave'>
    """
    return Step(_INVERSES[step.action], step.source)


def after(current: Filter | None, step: Step) -> Filter | None:
    """The filter once ``step`` succeeded; ``None`` when the group is left.

    Example:
        >>> after(None, Step(Action.JOIN))
        Filter(mode='exclude', sources=())
    """
    action, source = step
    if action is Action.JOIN:
        return Filter(EXCLUDE, ())
    if action is Action.LEAVE:
        return None
    assert source is not None
    held = () if current is None else current.sources
    mode: Literal["include", "exclude"]
    if action in (Action.JOIN_SOURCE, Action.BLOCK):
        mode = INCLUDE if action is Action.JOIN_SOURCE else EXCLUDE
        return Filter(mode, held if source in held else (*held, source))
    remaining = tuple(kept for kept in held if kept != source)
    if action is Action.LEAVE_SOURCE and not remaining:
        # The kernel drops an include-mode membership with its last source.
        return None
    mode = INCLUDE if action is Action.LEAVE_SOURCE else EXCLUDE
    return Filter(mode, remaining)


def _describe(current: Filter) -> str:
    if current.mode == INCLUDE:
        return f"for sources {', '.join(map(str, current.sources))}"
    if current.sources:
        return f"for any source but {', '.join(map(str, current.sources))}"
    return "for any source"


def join_steps(
    group: IPAddress,
    current: Filter | None,
    sources: tuple[IPAddress, ...],
    exclude: tuple[IPAddress, ...],
    *,
    value: object,
) -> list[Step]:
    """The steps of ``join(group, sources=..., exclude=...)`` from ``current``.

    Joining as the membership already is does nothing; adding sources to a
    source-specific membership joins just the new ones. A switch between
    modes, or a new exclude list on an existing membership, is refused:
    it could only be done by leaving the group, which would lose datagrams.

    Args:
        group: The group.
        current: Its filter now, or ``None`` when it is not joined.
        sources: Include mode: these senders (at least one), or empty.
        exclude: Exclude mode: all senders but these; empty with empty
            ``sources`` is any-source.
        value: The group as the caller passed it, for errors.

    Returns:
        The steps, in order (possibly none).

    Raises:
        InvalidGroupError: The change cannot be expressed as a join.
    """
    if current is None:
        if sources:
            return [Step(Action.JOIN_SOURCE, source) for source in sources]
        return [Step(Action.JOIN), *(Step(Action.BLOCK, source) for source in exclude)]
    wanted = INCLUDE if sources else EXCLUDE
    if current.mode != wanted:
        now = _describe(current)
        target = "for specific sources" if sources else "for any source"
        raise InvalidGroupError(
            f"group '{group}' is already joined {now}; leave it first to join it {target}",
            value=value,
        )
    if sources:
        return [Step(Action.JOIN_SOURCE, s) for s in sources if s not in current.sources]
    if exclude and set(exclude) != set(current.sources):
        raise InvalidGroupError(
            f"group '{group}' is already joined {_describe(current)}; change what it excludes"
            " with block() and unblock()",
            value=value,
        )
    return []


def _joined(group: IPAddress, current: Filter | None, value: object) -> Filter:
    if current is None:
        raise InvalidGroupError(f"group '{group}' is not joined by this receiver", value=value)
    return current


def leaving(current: Filter) -> list[Step]:
    """The steps that leave a membership entirely.

    Example:
        >>> leaving(Filter(EXCLUDE, ()))
        [Step(action=<Action.LEAVE: 'leave'>, source=None)]
    """
    if current.mode == INCLUDE:
        return [Step(Action.LEAVE_SOURCE, kept) for kept in current.sources]
    return [Step(Action.LEAVE)]


def leave_steps(
    group: IPAddress, current: Filter | None, source: IPAddress | None, *, value: object
) -> list[Step]:
    """The steps of ``leave(group)``, or of ``leave(group, source=...)``.

    Raises:
        InvalidGroupError: The group is not joined.
        InvalidSourceError: ``source`` is given but the membership is not
            source-specific, or does not include it.
    """
    current = _joined(group, current, value)
    if source is None:
        return leaving(current)
    if current.mode == EXCLUDE:
        raise InvalidSourceError(
            f"group '{group}' is joined {_describe(current)}: leave(group, source=...) drops a"
            f" source of a source-specific membership; to stop hearing {source}, block it:"
            f" block('{group}', '{source}')",
            parameter="source",
            value=source,
        )
    if source not in current.sources:
        raise InvalidSourceError(
            f"source {source} is not one of the sources of group '{group}'"
            f" ({', '.join(map(str, current.sources))})",
            parameter="source",
            value=source,
        )
    return [Step(Action.LEAVE_SOURCE, source)]


def block_steps(
    group: IPAddress, current: Filter | None, source: IPAddress, *, value: object
) -> list[Step]:
    """The steps of ``block(group, source)``: none when it is blocked already.

    Raises:
        InvalidGroupError: The group is not joined.
        InvalidSourceError: The membership is source-specific.
    """
    current = _joined(group, current, value)
    if current.mode == INCLUDE:
        raise InvalidSourceError(
            f"group '{group}' is joined {_describe(current)}: block() works on any-source"
            f" memberships; to stop hearing {source}, leave it:"
            f" leave('{group}', source='{source}')",
            parameter="source",
            value=source,
        )
    if source in current.sources:
        return []
    return [Step(Action.BLOCK, source)]


def unblock_steps(
    group: IPAddress, current: Filter | None, source: IPAddress, *, value: object
) -> list[Step]:
    """The steps of ``unblock(group, source)``.

    Raises:
        InvalidGroupError: The group is not joined.
        InvalidSourceError: The membership is source-specific, or does not
            block ``source``.
    """
    current = _joined(group, current, value)
    if current.mode == INCLUDE:
        raise InvalidSourceError(
            f"group '{group}' is joined {_describe(current)}: unblock() works on any-source"
            f" memberships; to hear {source} too, join it: join('{group}', sources=['{source}'])",
            parameter="source",
            value=source,
        )
    if source not in current.sources:
        blocked = ", ".join(map(str, current.sources)) or "none"
        raise InvalidSourceError(
            f"source {source} is not blocked on group '{group}' (blocked: {blocked})",
            parameter="source",
            value=source,
        )
    return [Step(Action.UNBLOCK, source)]
