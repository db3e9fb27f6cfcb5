"""``open_multicast_receiver`` and ``serve_multicast``: set a receiver up, run it, tear it down."""

from __future__ import annotations

import sys
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Final, Literal, NoReturn, TypeAlias

import trio

from ._errors import InvalidArgumentError
from ._join import close_joined, initial_filter, open_joined_socket
from ._queue import OverflowPolicy
from ._receiver import DEFAULT_QUEUE_SIZE, MulticastReceiver
from ._steps import DEFAULT_BATCH_SIZE
from ._validate import (
    MAX_COUNT,
    validate_bool,
    validate_join_args,
    validate_max_datagram_size_or_default,
    validate_positive_int,
)

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

if TYPE_CHECKING:
    import socket
    from collections.abc import AsyncIterator, Awaitable, Callable

    from ._datagram import Datagram
    from ._validate import AddressesLike, AddressLike, InterfaceLike

__all__ = ["Overflow", "open_multicast_receiver", "serve_multicast"]

#: What a full queue does: stop reading (the kernel drops the newest), or
#: keep reading and discard the oldest queued datagrams.
Overflow: TypeAlias = Literal["drop-newest", "drop-oldest"]

_OVERFLOW_NAMES: Final = {policy.value: policy for policy in OverflowPolicy}


@asynccontextmanager
async def open_multicast_receiver(
    groups: AddressesLike | None = None,
    port: int | None = None,
    *,
    interface: InterfaceLike | None = None,
    sources: AddressesLike | None = None,
    exclude: AddressesLike | None = None,
    bind_group: AddressLike | None = None,
    bind_to_group: bool | None = None,
    max_datagram_size: int | None = None,
    receive_buffer_size: int | None = None,
    metadata: bool = False,
    queue_size: int = DEFAULT_QUEUE_SIZE,
    overflow: Overflow = "drop-newest",
    batch_size: int = DEFAULT_BATCH_SIZE,
    isock: socket.socket | None = None,
) -> AsyncIterator[MulticastReceiver]:
    """Join multicast groups and receive from them inside the block.

    The context manager owns a nursery whose background task drains the
    socket. On every exit, normal or not, the task is cancelled, every
    membership is dropped and the socket is closed. An error in the
    background task cancels the block and comes out of it unwrapped.

    Args:
        groups: A group, or several of one family; ``None`` is the
            configured default (``MULTICAST_GROUP`` or 224.0.0.1).
        port: The UDP port; ``None`` is ``MULTICAST_PORT`` or 59259.
        interface: Interface name, index or local IPv4 address; ``None``
            lets the kernel choose by its routes. On Linux the memberships
            follow it: when it is deleted and recreated (or its address
            moves, or the route changes after its interface is gone) they
            are joined again; see :attr:`MulticastReceiver.state` and
            :meth:`MulticastReceiver.events`.
        sources: Source-specific multicast (include mode): deliver only
            these senders.
        exclude: Any-source, but not these senders (exclude mode): the
            kernel filters them out and tells the routers. Not with
            ``sources``. :meth:`MulticastReceiver.block` and
            :meth:`~MulticastReceiver.unblock` change the list at run time.
        bind_group: With several groups, bind to this one of them.
        bind_to_group: ``None`` binds to the group when there is exactly one
            (the kernel then filters by destination); ``False`` binds the
            wildcard, which allows :meth:`MulticastReceiver.join` of further
            groups at run time.
        max_datagram_size: Longer datagrams are cut to this and flagged
            ``truncated``; ``None`` is ``MULTICAST_BUFFER_SIZE`` or 65535.
        receive_buffer_size: ``SO_RCVBUF`` to request; the effective value is
            :attr:`MulticastReceiver.receive_buffer_size`.
        metadata: Report each datagram's interface and kernel timestamp.
        queue_size: Datagrams queued between the socket and the consumer.
        overflow: When the queue is full: ``"drop-newest"`` stops reading,
            so the kernel buffer fills and the kernel drops (counted in
            ``kernel_drops``); ``"drop-oldest"`` keeps reading and discards
            the oldest queued datagrams (counted in ``queue_drops``).
        batch_size: The most datagrams drained per wake-up.
        isock: Set up a duplicate of this socket instead of a new one.

    Yields:
        The receiver.

    Raises:
        MulticastError: An argument is invalid.
        InterfaceNotFoundError: The interface does not exist.
        JoinError: The OS refused to bind or join.

    Example:
        >>> async def main():
        ...     async with open_multicast_receiver("239.1.2.3", 5000) as receiver:
        ...         async for datagram in receiver:
        ...             print(datagram.source, datagram.text())
    """
    await trio.lowlevel.checkpoint()
    spec = validate_join_args(
        groups,
        port,
        interface,
        bind_group,
        isock,
        sources=sources,
        exclude=exclude,
        interface_parameter="interface",
    )
    size = validate_max_datagram_size_or_default(max_datagram_size)
    policy = _overflow_policy(overflow)
    queue_limit = validate_positive_int(queue_size, "queue_size", MAX_COUNT)
    batch_limit = validate_positive_int(batch_size, "batch_size", MAX_COUNT)
    if receive_buffer_size is not None:
        receive_buffer_size = validate_positive_int(
            receive_buffer_size, "receive_buffer_size", MAX_COUNT
        )
    validate_bool(metadata, "metadata")
    if bind_to_group is not None:
        validate_bool(bind_to_group, "bind_to_group")
    joined = open_joined_socket(
        spec,
        bind_to_group=bind_to_group,
        metadata=metadata,
        receive_buffer_size=receive_buffer_size,
    )
    try:
        receiver = MulticastReceiver(
            spec,
            joined,
            max_datagram_size=size,
            metadata=metadata,
            queue_size=queue_limit,
            overflow=policy,
            batch_size=batch_limit,
        )
    except BaseException:
        memberships = dict.fromkeys(spec.groups, initial_filter(spec))
        close_joined(joined.sock, spec.family, memberships, joined.interface)

        raise
    try:
        body_error: BaseException | None = None
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(receiver._run)
                nursery.start_soon(receiver._follow_interface)
                try:
                    yield receiver
                except BaseException as exc:
                    # Kept out of the nursery, which would wrap it in a group.
                    body_error = exc
                finally:
                    nursery.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            _raise_one(group, body_error)
        if body_error is not None:
            raise body_error
    finally:
        body_error = None
        receiver._close()


def _raise_one(
    group: BaseExceptionGroup[BaseException], body_error: BaseException | None
) -> NoReturn:
    """Raise what the pump task's failure and the body's exception stand for.

    The group holds only the pump's exceptions. A ``Cancelled`` in it or in
    the body comes from a cancellation that the other exception carries
    through the same scopes anyway, so one real exception comes out as
    itself; two real ones (the body's and the pump's) come out together.
    """
    failures = [exc for exc in group.exceptions if not isinstance(exc, trio.Cancelled)]
    if body_error is not None and not isinstance(body_error, trio.Cancelled):
        if not failures:
            _raise_as_it_was(body_error)
        raise BaseExceptionGroup("the receiver and the block both failed", [body_error, *failures])
    if not failures:
        if body_error is not None:
            _raise_as_it_was(body_error)
        failures = list(group.exceptions)
    if len(failures) != 1:
        raise group
    _raise_as_it_was(failures[0])


def _raise_as_it_was(exception: BaseException) -> NoReturn:
    """Raise ``exception`` from inside an ``except`` block without chaining it to that block.

    Python would set its ``__context__`` to the group being handled; the
    caller must see the exception exactly as it was raised.
    """
    context = exception.__context__
    try:
        raise exception
    finally:
        exception.__context__ = context
        del exception


def _overflow_policy(overflow: object) -> OverflowPolicy:
    policy = _OVERFLOW_NAMES.get(overflow) if isinstance(overflow, str) else None
    if policy is None:
        raise InvalidArgumentError(
            f"overflow must be one of {', '.join(map(repr, _OVERFLOW_NAMES))}, got {overflow!r}",
            parameter="overflow",
            value=overflow,
        )
    return policy


async def serve_multicast(
    handler: Callable[[Datagram], Awaitable[object]],
    groups: AddressesLike | None = None,
    port: int | None = None,
    *,
    interface: InterfaceLike | None = None,
    sources: AddressesLike | None = None,
    exclude: AddressesLike | None = None,
    bind_group: AddressLike | None = None,
    bind_to_group: bool | None = None,
    max_datagram_size: int | None = None,
    receive_buffer_size: int | None = None,
    metadata: bool = False,
    queue_size: int = DEFAULT_QUEUE_SIZE,
    overflow: Overflow = "drop-newest",
    batch_size: int = DEFAULT_BATCH_SIZE,
    isock: socket.socket | None = None,
    task_status: trio.TaskStatus[MulticastReceiver] = trio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Call ``await handler(datagram)`` for every datagram, forever.

    The successor of the ``multicast`` package's HEAR server, for
    ``await nursery.start(serve_multicast, handler, ...)``, which returns
    once the groups are joined, with the receiver (to ``join()`` and
    ``leave()`` groups, or read ``statistics()``). A handler's exception
    stops the server and propagates as itself. ``nursery.start`` passes
    positional arguments only: give keyword options with
    :func:`functools.partial`.

    Args:
        handler: Awaited once per datagram, in order.
        groups: As for :func:`open_multicast_receiver`.
        port: As for :func:`open_multicast_receiver`.
        interface: As for :func:`open_multicast_receiver`.
        sources: As for :func:`open_multicast_receiver`.
        exclude: As for :func:`open_multicast_receiver`.
        bind_group: As for :func:`open_multicast_receiver`.
        bind_to_group: As for :func:`open_multicast_receiver`; ``False``
            lets the handler's side ``join()`` groups at run time.
        max_datagram_size: As for :func:`open_multicast_receiver`.
        receive_buffer_size: As for :func:`open_multicast_receiver`.
        metadata: As for :func:`open_multicast_receiver`.
        queue_size: As for :func:`open_multicast_receiver`.
        overflow: As for :func:`open_multicast_receiver`.
        batch_size: As for :func:`open_multicast_receiver`.
        isock: As for :func:`open_multicast_receiver`.
        task_status: Set by ``nursery.start``.

    Raises:
        MulticastError: An argument is invalid.
        InterfaceNotFoundError: The interface does not exist.
        JoinError: The OS refused to bind or join.

    Example:
        >>> async def main():
        ...     async def show(datagram):
        ...         print(datagram.text())
        ...
        ...     serve = functools.partial(serve_multicast, interface="eth0")
        ...     async with trio.open_nursery() as nursery:
        ...         receiver = await nursery.start(serve, show, "239.1.2.3", 5000)
    """
    async with open_multicast_receiver(
        groups,
        port,
        interface=interface,
        sources=sources,
        exclude=exclude,
        bind_group=bind_group,
        bind_to_group=bind_to_group,
        max_datagram_size=max_datagram_size,
        receive_buffer_size=receive_buffer_size,
        metadata=metadata,
        queue_size=queue_size,
        overflow=overflow,
        batch_size=batch_size,
        isock=isock,
    ) as receiver:
        task_status.started(receiver)
        async for datagram in receiver:
            await handler(datagram)
    raise AssertionError("unreachable: a receiver never stops by itself")
