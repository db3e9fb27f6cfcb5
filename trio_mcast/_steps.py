"""The seed-compatible functional layer: ``joinstep``, ``tryrecv`` and ``recvstep``.

These keep the names of ``multicast.recv`` and build on the same pieces as
the receiver (the drainers of ``_drain``); :func:`pump` is ``recvstep``'s
loop. The receiver runs its own loop, which shares the socket with a waiting
consumer.
"""

from __future__ import annotations

import contextlib
import os
import socket
from typing import TYPE_CHECKING, Final, NoReturn

import trio

from ._drain import DrainCounters, make_drainer
from ._errors import InvalidArgumentError, InvalidGroupError
from ._join import open_joined_socket
from ._validate import (
    validate_group,
    validate_groups,
    validate_join_args,
    validate_max_datagram_size_or_default,
    validate_positive_int,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from ._datagram import Datagram
    from ._drain import Drainer
    from ._validate import AddressesLike, AddressLike, InterfaceLike, IPAddress

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "groups_by_address",
    "joinstep",
    "pump",
    "recvstep",
    "tryrecv",
]

#: Datagrams drained from the socket per readiness wake-up, at most.
DEFAULT_BATCH_SIZE: Final = 256


def groups_by_address(groups: Iterable[IPAddress]) -> dict[bytes, str]:
    return {group.packed: str(group) for group in groups}


async def joinstep(
    groups: AddressesLike | None = None,
    port: int | None = None,
    iface: InterfaceLike | None = None,
    bind_group: AddressLike | None = None,
    isock: socket.socket | None = None,
    *,
    sources: AddressesLike | None = None,
) -> trio.socket.SocketType:
    """Open a UDP socket that is bound and has joined ``groups``.

    The successor of ``multicast.recv.joinstep``. The socket hears only its
    own groups; when it is bound to the wildcard (several groups) it also
    carries destination packet info, which :func:`tryrecv` uses to tell the
    groups apart and to drop anything else.

    Args:
        groups: A group, or several of one family; ``None`` is the
            configured default (``MULTICAST_GROUP`` or 224.0.0.1).
        port: The UDP port; ``None`` is ``MULTICAST_PORT`` or 59259.
        iface: Interface name, index or local IPv4 address; ``None`` lets
            the kernel choose.
        bind_group: Bind to this one of the groups instead of the default.
        isock: Set up a duplicate of this socket instead of a new one; the
            caller keeps and closes the original.
        sources: Source-specific multicast: receive only from these senders.

    Returns:
        The joined, non-blocking trio socket. The caller closes it.

    Raises:
        MulticastError: An argument is invalid (see :func:`validate_join_args`).
        JoinError: The OS refused to bind or join.

    Example:
        >>> async def main():
        ...     sock = await joinstep("239.1.2.3", 5000, "eth0")
        ...     with sock:
        ...         datagrams = tryrecv(sock)
    """
    await trio.lowlevel.checkpoint()
    spec = validate_join_args(groups, port, iface, bind_group, isock, sources=sources)
    return trio.socket.from_stdlib_socket(open_joined_socket(spec).sock)


@contextlib.contextmanager
def _readable(sock: trio.socket.SocketType | socket.socket) -> Iterator[socket.socket]:
    """A stdlib socket to read ``sock`` through without blocking.

    A trio socket offers only async reads, so its descriptor is duplicated
    (same socket, own descriptor) and the duplicate closed afterwards; the
    caller's socket is never closed here.
    """
    if isinstance(sock, socket.socket):
        yield sock
        return
    with socket.socket(fileno=os.dup(sock.fileno())) as duplicate:
        duplicate.setblocking(False)
        yield duplicate


def _drainer_for(
    sock: socket.socket,
    groups: AddressesLike | None,
    max_datagram_size: int | None,
    counters: DrainCounters,
) -> Drainer:
    size = validate_max_datagram_size_or_default(max_datagram_size)
    bound: IPAddress | None
    try:
        bound = validate_group(sock.getsockname()[0])
    except InvalidGroupError:
        bound = None
    if bound is None and groups is None:
        raise InvalidArgumentError(
            "groups is None but the socket is bound to the wildcard: pass the groups it joined",
            parameter="groups",
            value=groups,
        )
    # A socket bound to its group hears only that group; one bound to the
    # wildcard names (and filters) datagrams by their destination.
    table = {} if bound is not None else groups_by_address(validate_groups(groups)[1])
    return make_drainer(
        sock,
        max_datagram_size=size,
        fixed_group=None if bound is None else str(bound),
        groups_by_address=table,
        metadata=False,
        counters=counters,
    )


def tryrecv(
    sock: trio.socket.SocketType | socket.socket,
    groups: AddressesLike | None = None,
    *,
    max_count: int = DEFAULT_BATCH_SIZE,
    max_datagram_size: int | None = None,
) -> list[Datagram]:
    """Receive the datagrams already waiting on ``sock``, without blocking.

    One non-blocking drain attempt: it returns at once, with up to
    ``max_count`` datagrams, or none.

    Args:
        sock: A socket set up by :func:`joinstep`.
        groups: The groups it joined; needed only when it is bound to the
            wildcard (several groups), to name and filter them.
        max_count: The most datagrams to return.
        max_datagram_size: Longer datagrams are cut and flagged
            ``truncated``; ``None`` is ``MULTICAST_BUFFER_SIZE`` or 65535.

    Returns:
        The datagrams, oldest first.

    Raises:
        MulticastError: An argument is invalid.
        OSError: The socket failed (for example, it was closed).
    """
    count = validate_positive_int(max_count, "max_count")
    with _readable(sock) as readable:
        return _drainer_for(readable, groups, max_datagram_size, DrainCounters())(count)


async def pump(
    sock: trio.socket.SocketType | socket.socket,
    drain: Drainer,
    deliver: Callable[[list[Datagram]], object],
    batch_size: int,
) -> NoReturn:
    wait_readable = trio.lowlevel.wait_readable
    checkpoint = trio.lowlevel.checkpoint
    more_waiting = False
    while True:
        # A full batch means the kernel likely holds more: a plain schedule
        # point is cheaper than another round through epoll.
        if more_waiting:
            await checkpoint()
        else:
            await wait_readable(sock)
        batch = drain(batch_size)
        more_waiting = len(batch) == batch_size
        if batch:
            deliver(batch)


async def recvstep(
    sock: trio.socket.SocketType | socket.socket,
    deliver: Callable[[list[Datagram]], object],
    groups: AddressesLike | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_datagram_size: int | None = None,
) -> NoReturn:
    """Receive forever: wait until readable, drain a batch, hand it over.

    The cancellable successor of ``multicast.recv.recvstep``. It runs until
    cancelled and never closes ``sock``: the socket belongs to the caller.

    Args:
        sock: A socket set up by :func:`joinstep`.
        deliver: Called synchronously with each non-empty batch, oldest
            datagram first. It must not block.
        groups: As for :func:`tryrecv`.
        batch_size: The most datagrams per batch.
        max_datagram_size: As for :func:`tryrecv`.

    Raises:
        MulticastError: An argument is invalid.
        OSError: The socket failed; ``trio.ClosedResourceError`` if it was
            closed while waiting.
    """
    await trio.lowlevel.checkpoint()
    count = validate_positive_int(batch_size, "batch_size")
    with _readable(sock) as readable:
        drain = _drainer_for(readable, groups, max_datagram_size, DrainCounters())
        # Wait on the caller's socket itself, so that closing it wakes us.
        await pump(sock, drain, deliver, count)
