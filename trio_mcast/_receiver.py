"""``MulticastReceiver``: the queue, the pump task's loop, and run-time joins and leaves."""

from __future__ import annotations

import errno
import socket
import weakref
from typing import TYPE_CHECKING, Final, NoReturn

import trio

from ._datagram import Datagram, ReceiverStatistics
from ._drain import DrainCounters, make_drainer
from ._errors import InvalidGroupError, join_error_from_oserror
from ._interface_watch import EventStream, InterfaceWatch
from ._join import bind_to_interface, bound_interface, enable_ancillary_data, initial_filter
from ._membership import block_steps, join_steps, leave_steps, unblock_steps
from ._membership_table import MembershipTable
from ._procnet import kernel_drops
from ._queue import DatagramQueue, OverflowPolicy
from ._steps import groups_by_address
from ._validate import (
    MAX_COUNT,
    validate_group,
    validate_join_args,
    validate_positive_int,
    validate_source,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from ._drain import Drainer
    from ._events import ReceiverEvent, ReceiverState
    from ._join import JoinedSocket
    from ._membership import Membership
    from ._validate import AddressesLike, AddressLike, JoinSpec

__all__ = ["DEFAULT_QUEUE_SIZE", "MulticastReceiver"]

#: Datagrams the queue holds before its overflow policy applies.
DEFAULT_QUEUE_SIZE: Final = 1024
# receive() yields to the scheduler at least this often while datagrams are
# queued; in between it only checks for cancellation. A full schedule point
# per datagram would cost more than the receive itself.
_SCHEDULE_EVERY: Final = 256
# ... and checks for cancellation on every 16th call: the check costs about
# 150 ns, more than the rest of the fast path, and a cancelled consumer then
# takes at most 15 more datagrams that were already in memory.
_CANCEL_CHECK_MASK: Final = 15
# Bound once: the fast path cannot afford two attribute look-ups per datagram.
_checkpoint_if_cancelled: Final = trio.lowlevel.checkpoint_if_cancelled
_checkpoint: Final = trio.lowlevel.checkpoint
_wait_readable: Final = trio.lowlevel.wait_readable
_reschedule: Final = trio.lowlevel.reschedule


def _fixed_group(joined: JoinedSocket) -> str | None:
    return None if joined.bound_group is None else str(joined.bound_group)


class MulticastReceiver:
    """Datagrams from the groups an :func:`open_multicast_receiver` joined.

    A background task drains the socket in batches into a bounded queue;
    this object hands them out. A consumer that finds the queue empty while
    the task is not waiting on the socket reads the socket itself, which
    saves a quiet stream one pass of the scheduler per datagram; the task
    takes the socket back when the consumer's call returns. Iterate it, or call :meth:`receive`,
    :meth:`receive_batch` or :meth:`receive_nowait`. Only one task may wait
    on it at a time.

    While datagrams are queued, ``receive`` and ``async for`` check for
    cancellation once every 16 datagrams and yield to other tasks once every
    256, rather than on each one: either would cost more than receiving the
    datagram. Whenever they have to wait, they are full checkpoints.
    """

    def __init__(
        self,
        spec: JoinSpec,
        joined: JoinedSocket,
        *,
        max_datagram_size: int,
        metadata: bool,
        queue_size: int,
        overflow: OverflowPolicy,
        batch_size: int,
    ) -> None:
        self._spec = spec
        self._joined = joined
        self._sock = joined.sock
        self._trio_socket = trio.socket.from_stdlib_socket(joined.sock)
        self._family = spec.family
        self._groups_by_address = groups_by_address(spec.groups)
        self._memberships = MembershipTable(
            joined.sock,
            spec.family,
            joined.interface,
            dict.fromkeys(spec.groups, initial_filter(spec)),
            self._groups_by_address,
        )
        self._counters = DrainCounters()
        self._metadata = metadata
        self._max_datagram_size = max_datagram_size
        self._ingress_check = joined.ingress_check
        self._drain = self._make_drainer()
        self._queue: DatagramQueue[Datagram] = DatagramQueue(queue_size, overflow)
        self._pending = self._queue.consumer_view()
        self._overflow = overflow
        self._batch_size = batch_size
        self._waiting_for_data = trio.lowlevel.ParkingLot()
        self._waiting_for_room = trio.lowlevel.ParkingLot()
        # Who reads the socket: the pump task, or a consumer that found the
        # queue empty while the pump was not waiting on the socket (see
        # _read_socket). Exactly one of them waits on it at a time.
        self._standing_by: trio.lowlevel.Task | None = None
        self._pump_waits_on_socket = False
        self._consumer_reads_socket = False
        self._receiving = False
        self._until_schedule = _SCHEDULE_EVERY
        self._closed = False
        self._event_streams: weakref.WeakSet[EventStream] = weakref.WeakSet()
        # Last: the subscription is one more descriptor for _close() to release.
        self._watch = InterfaceWatch.open(
            spec.iface, self._memberships, spec.groups[0], self._rebind, self._publish
        )

    def _make_drainer(self) -> Drainer:
        return make_drainer(
            self._sock,
            max_datagram_size=self._max_datagram_size,
            fixed_group=_fixed_group(self._joined),
            groups_by_address=self._groups_by_address,
            metadata=self._metadata,
            counters=self._counters,
            ingress_check=self._ingress_check,
        )

    def _rebind(self, ifindex: int) -> None:
        """Deliver only what arrives on ``ifindex``, the interface's new index (IPv6).

        Raises:
            JoinError: The socket is bound to the old device and may not be
                moved (no ``CAP_NET_RAW``).
        """
        if self._family != socket.AF_INET6 or self._spec.iface is None:
            return
        ingress = None
        if not bind_to_interface(self._sock, ifindex):
            if bound_interface(self._sock) not in (0, ifindex):
                # Moving a socket to another device needs CAP_NET_RAW. Still
                # bound to the deleted one, it would never get a datagram.
                error = OSError(errno.EPERM, "moving the socket to it needs CAP_NET_RAW")
                raise join_error_from_oserror(
                    error, operation=f"bind the socket to interface index {ifindex}"
                ) from None
            # Never bound (an older kernel): check the ingress interface
            # ourselves, as at open.
            ingress = ifindex
        if ingress is not None:
            enable_ancillary_data(self._sock, self._family, pktinfo=True, timestamps=False)
        if ingress != self._ingress_check:
            self._ingress_check = ingress
            self._drain = self._make_drainer()

    def _publish(self, event: ReceiverEvent) -> None:
        for stream in list(self._event_streams):
            stream.put(event)

    def __repr__(self) -> str:
        admitted = self.sources
        sources = f" sources={list(admitted)}" if admitted else ""
        return (
            f"<MulticastReceiver groups={list(self.groups)} port={self.port}"
            f" interface={self.interface!r} interface_index={self.interface_index!r}{sources}>"
        )

    @property
    def groups(self) -> tuple[str, ...]:
        """The groups joined now, in the order they were joined."""
        return self._memberships.groups

    @property
    def sources(self) -> tuple[str, ...]:
        """The senders that source-specific memberships admit; empty for any source.

        Every source of every group, in the order they were joined, once each.
        """
        return self._memberships.included_sources

    @property
    def memberships(self) -> tuple[Membership, ...]:
        """Each joined group with its filter mode and sources, in join order."""
        return self._memberships.public()

    @property
    def port(self) -> int:
        """The UDP port."""
        return self._spec.port

    @property
    def interface(self) -> str | int | None:
        """The interface as given (name, index or address); ``None`` = kernel's choice."""
        return self._joined.interface.label

    @property
    def interface_index(self) -> int | None:
        """The index of the interface the memberships are on now.

        It changes when the interface is recreated (or its address moves);
        ``None`` while waiting for it, and with ``interface=None`` where the
        kernel's choice cannot be looked up (not Linux).
        """
        if self._watch is not None and self._watch.waiting:
            return None
        return self._memberships.interface.ifindex or None

    @property
    def state(self) -> ReceiverState:
        """``"joined"``, ``"waiting for interface"``, or ``"unknown"``.

        ``"unknown"`` where the receiver cannot follow its interface: the
        platform has no rtnetlink (not Linux), or the kernel refused the
        subscription. The memberships are then not followed.
        """
        if self._watch is None:
            return "unknown"
        return "waiting for interface" if self._watch.waiting else "joined"

    def events(self) -> AsyncIterator[ReceiverEvent]:
        """What happens to the interface from now on: an async iterator of events.

        Calling it is opting in: events before the call are not kept, and
        a receiver nobody asked pays nothing for them. Each call gets every
        event from then on. Iteration ends when the receiver closes. A reader
        that falls 1024 events behind loses the oldest.

        Yields:
            :class:`InterfaceLost`, :class:`InterfaceReturned`,
            :class:`Rejoined` and :class:`RejoinFailed`, in order. Where the
            state is ``"unknown"`` there are none.

        Example:
            >>> async def log_events(receiver):
            ...     async for event in receiver.events():
            ...         print(type(event).__name__, event.timestamp)
        """
        stream = EventStream()
        if self._closed:
            stream.close()
        else:
            self._event_streams.add(stream)
        return stream

    @property
    def socket(self) -> trio.socket.SocketType:
        """The underlying trio socket. Reading from it bypasses the receiver."""
        return self._trio_socket

    @property
    def receive_buffer_size(self) -> int:
        """The effective ``SO_RCVBUF`` in bytes (Linux reports twice the request)."""
        return self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)

    @property
    def max_datagram_size(self) -> int:
        """Datagrams longer than this are cut to it and flagged ``truncated``."""
        return self._max_datagram_size

    def statistics(self) -> ReceiverStatistics:
        """Counters since the receiver opened; ``kernel_drops`` is read now."""
        queue = self._queue.statistics()
        counters = self._counters
        watch = self._watch
        return ReceiverStatistics(
            datagrams=queue.received,
            bytes=counters.bytes,
            truncated=counters.truncated,
            queue_drops=queue.dropped,
            kernel_drops=None if self._closed else kernel_drops(self._sock),
            filtered=counters.filtered,
            pending=queue.pending,
            rejoins=0 if watch is None else watch.rejoins,
            interface_losses=0 if watch is None else watch.interface_losses,
        )

    def __aiter__(self) -> MulticastReceiver:
        return self

    async def receive(self) -> Datagram:
        """The next datagram, waiting for one if none is queued.

        Raises:
            trio.BusyResourceError: Another task is already waiting here.
            trio.ClosedResourceError: The receiver is closed: its block has
                exited, or its socket was closed.
        """
        # _until_schedule is 0 while another task waits, which sends us to
        # the slow path and its BusyResourceError.
        if self._until_schedule and self._pending:
            self._until_schedule -= 1
            if not self._until_schedule & _CANCEL_CHECK_MASK:
                await _checkpoint_if_cancelled()
            return self._pending.popleft()
        return (await self._wait_for_datagrams())[0]

    async def __anext__(self) -> Datagram:
        # Not an alias of receive(): the fast path must stay one frame deep.
        # _until_schedule is 0 while another task waits, which sends us to
        # the slow path and its BusyResourceError.
        if self._until_schedule and self._pending:
            self._until_schedule -= 1
            if not self._until_schedule & _CANCEL_CHECK_MASK:
                await _checkpoint_if_cancelled()
            return self._pending.popleft()
        return (await self._wait_for_datagrams())[0]

    def receive_nowait(self) -> Datagram:
        """The next queued datagram, without waiting.

        Raises:
            trio.WouldBlock: Nothing is queued.
            trio.ClosedResourceError: Nothing is queued and the receiver is
                closed (its block has exited, or its socket was closed).
        """
        if not self._pending:
            self._check_open()
            raise trio.WouldBlock
        datagram = self._pending.popleft()
        self._room_made()
        return datagram

    async def receive_batch(self, max_count: int) -> list[Datagram]:
        """Between 1 and ``max_count`` datagrams, waiting for the first.

        Args:
            max_count: The most datagrams to return.

        Returns:
            The queued datagrams, oldest first.

        Raises:
            MulticastError: ``max_count`` is not a positive int.
            trio.BusyResourceError: Another task is already waiting here.
            trio.ClosedResourceError: The receiver is closed.
        """
        count = validate_positive_int(max_count, "max_count", MAX_COUNT)
        return await self._wait_for_datagrams(count)

    async def _wait_for_datagrams(self, count: int = 1) -> list[Datagram]:
        if self._receiving:
            raise trio.BusyResourceError("another task is already receiving from this receiver")
        self._receiving = True
        self._until_schedule = 0
        try:
            if self._pending:
                await trio.lowlevel.checkpoint()
            while not self._pending:
                self._check_open()
                self._room_made()
                if self._pump_waits_on_socket:
                    await self._waiting_for_data.park()
                else:
                    await self._read_socket(count)
        finally:
            self._receiving = False
            self._until_schedule = _SCHEDULE_EVERY
            # The pump stands by only while a consumer is in here.
            if self._standing_by is not None:
                _reschedule(self._standing_by)
                self._standing_by = None
        batch = self._queue.pop_many(count)
        self._room_made()
        return batch

    async def _read_socket(self, count: int) -> None:
        # A consumer that waits on the socket itself gets a datagram in the
        # scheduler pass that sees it arrive. Through the pump it would take
        # one more pass (the pump's wake-up, then the consumer's): about
        # 10 us more latency on every datagram of a quiet stream.
        self._consumer_reads_socket = True
        try:
            limit = self._batch_limit()
            batch = self._drain(limit)
            if batch:
                self._queue.push_many(batch)
                await trio.lowlevel.checkpoint()
                return
            await _wait_readable(self._sock)
            # Only what the caller asked for: one more receive call to learn
            # that nothing else is waiting would delay the datagram that woke
            # us. A backlog is taken by the drain above, on the next call.
            batch = self._drain(min(limit, count))
            if batch:
                self._queue.push_many(batch)
        finally:
            self._consumer_reads_socket = False

    def _check_open(self) -> None:
        if self._closed or self._sock.fileno() == -1:
            raise trio.ClosedResourceError("the receiver's socket is closed")

    def _batch_limit(self) -> int:
        """The most datagrams the next drain may take: 0 when drop-newest has no room."""
        if self._overflow is OverflowPolicy.DROP_NEWEST:
            return min(self._batch_size, self._queue.free)
        return self._batch_size

    def _room_made(self) -> None:
        if self._waiting_for_room:
            self._waiting_for_room.unpark_all()

    def _deliver(self, batch: list[Datagram]) -> None:
        self._queue.push_many(batch)
        if self._waiting_for_data:
            self._waiting_for_data.unpark_all()

    async def _stand_by(self) -> None:
        self._standing_by = trio.lowlevel.current_task()
        await trio.lowlevel.wait_task_rescheduled(self._abort_standing_by)

    def _abort_standing_by(self, _: trio.lowlevel.RaiseCancelT) -> trio.lowlevel.Abort:
        self._standing_by = None
        return trio.lowlevel.Abort.SUCCEEDED

    async def _run(self) -> None:
        """The pump: drain the socket into the queue while the consumer is busy.

        It returns when the socket is closed under it (``receiver.socket.close()``),
        after waking a consumer that waits for it; that consumer, and every
        later receive call, then raises :exc:`trio.ClosedResourceError`.
        """
        try:
            await self._pump()
        except trio.ClosedResourceError:
            pass
        except (OSError, ValueError):
            # A socket closed while the pump was not waiting on it fails with
            # EBADF (receiving) or ValueError (waiting on descriptor -1).
            if self._sock.fileno() != -1:
                raise
        finally:
            self._waiting_for_data.unpark_all()

    async def _follow_interface(self) -> None:
        """Keep the memberships on the interface; returns at once where that is unknown."""
        if self._watch is not None:
            await self._watch.run()

    async def _pump(self) -> NoReturn:
        # self._drain is looked up per batch: a rejoin may replace it.
        deliver = self._deliver
        # A full batch means the kernel likely holds more: a plain schedule
        # point is cheaper than another round through epoll.
        more_waiting = False
        while True:
            if self._receiving and (self._consumer_reads_socket or self._pending):
                # A consumer reads the socket, or is about to take what was
                # just queued and may come straight back for more: leave the
                # socket to it until it returns from its receive call.
                await self._stand_by()
                continue
            limit = self._batch_limit()
            if not limit:
                await self._waiting_for_room.park()
                continue
            if not more_waiting:
                self._pump_waits_on_socket = True
                try:
                    await _wait_readable(self._sock)
                finally:
                    self._pump_waits_on_socket = False
            batch = self._drain(limit)
            more_waiting = len(batch) == limit
            if batch:
                deliver(batch)
            if more_waiting:
                await _checkpoint()

    async def join(
        self,
        group: AddressLike,
        sources: AddressesLike | None = None,
        *,
        exclude: AddressesLike | None = None,
    ) -> None:
        """Join another group, or add sources to a source-specific one, while receiving.

        Joining a group that is already joined the same way does nothing.

        Args:
            group: A multicast group of the receiver's family.
            sources: Source-specific multicast (include mode): only these
                senders; on a group joined that way, these are added.
            exclude: Any-source, but not these senders (exclude mode).

        Raises:
            MulticastError: The group or a source is invalid; the change
                would switch the group between include and exclude mode
                (leave it first), or replace what it excludes (use
                :meth:`block` and :meth:`unblock`); or the receiver is bound
                to a single group (open it with ``bind_to_group=False`` to
                join at run time).
            JoinError: The kernel refused (for example, the membership
                limit); nothing was changed.
        """
        await trio.lowlevel.checkpoint()
        spec = validate_join_args(
            group,
            self.port,
            self._spec.iface,
            sources=sources,
            exclude=exclude,
            interface_parameter="interface",
        )
        address = spec.groups[0]
        if spec.family != self._family:
            raise InvalidGroupError(
                f"group {str(address)!r} is not of the receiver's family"
                f" ({'IPv6' if self._family == socket.AF_INET6 else 'IPv4'})",
                value=group,
            )
        bound = self._joined.bound_group
        if bound is not None and address != bound:
            raise InvalidGroupError(
                f"group {str(address)!r} cannot be joined at run time: this receiver is bound"
                f" to group {str(bound)!r}, so the kernel delivers only that group;"
                " open it with bind_to_group=False to join groups at run time",
                value=group,
            )
        current = self._memberships.get(address)
        steps = join_steps(address, current, spec.sources, spec.exclude, value=group)
        self._memberships.change(address, steps)

    async def leave(self, group: AddressLike, *, source: AddressLike | None = None) -> None:
        """Leave a joined group, or one source of a source-specific membership.

        Args:
            group: A joined group.
            source: Leave only this source of the group's source-specific
                membership; the others go on being delivered (the group is
                left with its last source).

        Raises:
            MulticastError: The group is invalid or not joined; or
                ``source`` is given but the membership is not source-specific
                (use :meth:`block` instead), or does not include it.
            JoinError: The kernel refused.
        """
        await trio.lowlevel.checkpoint()
        address = validate_group(group)
        sender = None if source is None else validate_source(source, self._family)
        current = self._memberships.get(address)
        if current is None:
            raise InvalidGroupError(
                f"group {str(address)!r} is not joined by this receiver"
                f" (joined: {', '.join(self.groups) or 'none'})",
                value=group,
            )
        self._memberships.change(address, leave_steps(address, current, sender, value=group))

    async def block(self, group: AddressLike, source: AddressLike) -> None:
        """Stop delivery from ``source`` on an any-source membership, without leaving it.

        The kernel filters the sender out, and IGMPv3 or MLDv2 tells the
        routers, which may stop forwarding its traffic. Blocking a blocked
        source does nothing.

        Args:
            group: A group joined for any source (or with ``exclude=``).
            source: The sender to block.

        Raises:
            MulticastError: The group or source is invalid, the group is not
                joined, or its membership is source-specific (leave the
                source instead: ``leave(group, source=...)``).
            JoinError: The kernel refused (for example, the per-group source
                limit, ``net.ipv4.igmp_max_msf`` or ``net.ipv6.mld_max_msf``).
        """
        await trio.lowlevel.checkpoint()
        address = validate_group(group)
        sender = validate_source(source, self._family)
        current = self._memberships.get(address)
        self._memberships.change(address, block_steps(address, current, sender, value=group))

    async def unblock(self, group: AddressLike, source: AddressLike) -> None:
        """Resume delivery from a source that :meth:`block` (or ``exclude=``) filtered out.

        Args:
            group: A group joined for any source.
            source: A blocked sender.

        Raises:
            MulticastError: The group or source is invalid, the group is not
                joined, its membership is source-specific, or ``source`` is
                not blocked.
            JoinError: The kernel refused.
        """
        await trio.lowlevel.checkpoint()
        address = validate_group(group)
        sender = validate_source(source, self._family)
        current = self._memberships.get(address)
        self._memberships.change(address, unblock_steps(address, current, sender, value=group))

    def _close(self) -> None:
        """Drop every membership and close the socket; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        # What is still queued can no longer be received: receive() raises.
        self._queue.clear()
        try:
            if self._watch is not None:
                self._watch.close()
            self._memberships.close()
        finally:
            self._trio_socket.close()
            for stream in list(self._event_streams):
                stream.close()
