"""Drain throughput: how fast each contender empties a pre-filled socket.

Each run opens its receiving socket (joined, with a receive buffer large
enough for the whole pre-fill), sends ``count`` datagrams into it from this
same process, checks the kernel dropped none, then times draining them: from
the start of the drain until the last datagram's payload and source address
are in hand. Start-up of event loops (``trio.run``, ``asyncio.run``) and of
the receiver stays outside the timed region.

Every contender does the same per-datagram work on top of receiving: it
counts the datagram, adds the payload's length and keeps the source address.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
import struct
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypeAlias

import trio

from trio_mcast import open_multicast_receiver

from ._net import (
    IN_PKTINFO,
    IP_PKTINFO,
    LOOPBACK_INTERFACE,
    PKTINFO_SPACE,
    RECV_BUFSIZE,
    open_raw_receiver,
    open_sender,
    prefill,
    socket_drops,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._stats import Sample

#: The largest receive buffer the drain workloads ask for (the kernel doubles it).
#: A loopback datagram of 200 bytes costs ~1.3 KB of buffer (skb truesize).
DRAIN_RECEIVE_BUFFER: Final = 256 << 20
#: trio_mcast-batch asks for this many datagrams per call: the receiver's queue size.
BATCH_COUNT: Final = 1024


@dataclass(frozen=True, slots=True)
class DrainCase:
    """One drain run's parameters.

    Attributes:
        groups: The groups the receiver joins.
        targets: The groups the pre-fill sends to, round-robin.
        port: The UDP port (fresh for every run).
        count: How many datagrams to pre-fill and drain.
        size: Payload bytes per datagram.
        receive_buffer: ``SO_RCVBUF`` to force.
        timeout: Give up draining after this many seconds (a shortfall is
            reported, the run does not hang).
    """

    groups: tuple[str, ...]
    targets: tuple[str, ...]
    port: int
    count: int
    size: int
    receive_buffer: int = DRAIN_RECEIVE_BUFFER
    timeout: float = 60.0


#: ``contender(case) -> sample``: one drain run.
DrainContender: TypeAlias = "Callable[[DrainCase], Sample]"


class Stopwatch:
    """Wall-clock and CPU time of this process, from creation to :meth:`stop`.

    The drain is CPU-bound and single-threaded, so on an idle machine both
    agree. On a shared one, wall time also counts the time other processes
    held the CPU; CPU time does not, which makes it the steadier figure for
    what draining itself costs.
    """

    __slots__ = ("cpu", "cpu_start", "wall", "wall_start")

    def __init__(self) -> None:
        self.wall = self.cpu = math.nan
        self.cpu_start = time.process_time()
        self.wall_start = time.perf_counter()

    def stop(self) -> Stopwatch:
        """Stop the clocks; returns ``self``."""
        self.wall = time.perf_counter() - self.wall_start
        self.cpu = time.process_time() - self.cpu_start
        return self


def _sample(case: DrainCase, clock: Stopwatch, received: int, drops: int | None) -> Sample:
    seconds = clock.wall
    return {
        "rate": received / seconds if seconds > 0 else math.nan,
        "cpu_rate": received / clock.cpu if clock.cpu > 0 else math.nan,
        "seconds": seconds,
        "cpu_seconds": clock.cpu,
        "sent": case.count,
        "received": received,
        "kernel_drops": math.nan if drops is None else drops,
        "shortfall": case.count - received,
    }


def _fill(case: DrainCase, drops_of: Callable[[], int | None]) -> tuple[int | None, int]:
    """Pre-fill; the kernel's drop count and how many datagrams should be waiting."""
    with open_sender() as sender:
        prefill(sender, case.targets, case.port, case.count, case.size)
    drops = drops_of()
    return drops, case.count - (drops or 0)


def _drops_of(sock: socket.socket) -> Callable[[], int | None]:
    return lambda: socket_drops(sock)


def run_raw_recvfrom(case: DrainCase) -> Sample:
    """The reference: a non-blocking stdlib socket drained with ``recvfrom``."""
    with open_raw_receiver(case.groups, case.port, receive_buffer=case.receive_buffer) as sock:
        drops, expected = _fill(case, _drops_of(sock))
        recvfrom = sock.recvfrom
        received = total = 0
        source = None
        clock = Stopwatch()
        try:
            for _ in range(expected):
                data, source = recvfrom(RECV_BUFSIZE)
                total += len(data)
                received += 1
        except BlockingIOError:
            pass
        clock.stop()
    del source
    return _sample(case, clock, received, drops)


def run_raw_recvfrom_datagram(case: DrainCase) -> Sample:
    """The reference, also making a :class:`~trio_mcast.Datagram` per datagram.

    Its gap to ``raw-recvfrom`` is the cost of the object each receiver hands
    out; the gap from here to ``trio_mcast-batch`` is the queue and Trio.
    """
    from trio_mcast import Datagram

    group = case.groups[0]
    new = tuple.__new__
    with open_raw_receiver(case.groups, case.port, receive_buffer=case.receive_buffer) as sock:
        drops, expected = _fill(case, _drops_of(sock))
        recvfrom = sock.recvfrom
        received = total = 0
        datagram = None
        clock = Stopwatch()
        try:
            for _ in range(expected):
                data, source = recvfrom(RECV_BUFSIZE)
                datagram = new(
                    Datagram, (data, source, group, None, None, False, None, None, None)
                )
                total += len(datagram.payload)
                received += 1
        except BlockingIOError:
            pass
        clock.stop()
    del datagram
    return _sample(case, clock, received, drops)


def run_raw_recvmsg(case: DrainCase) -> Sample:
    """The metadata reference: ``recvmsg`` with ``IP_PKTINFO`` on a wildcard socket.

    It unpacks each datagram's packet info and maps the destination to its
    group, which is the least a reader of several groups has to do.
    """
    with open_raw_receiver(
        case.groups, case.port, pktinfo=True, receive_buffer=case.receive_buffer
    ) as sock:
        drops, expected = _fill(case, _drops_of(sock))
        names = {socket.inet_aton(group): group for group in case.groups}
        lookup = names.get
        unpack = IN_PKTINFO.unpack_from
        level_ip = socket.IPPROTO_IP
        recvmsg = sock.recvmsg
        received = total = 0
        source = group = None
        clock = Stopwatch()
        try:
            for _ in range(expected):
                data, ancillary, _flags, source = recvmsg(RECV_BUFSIZE, PKTINFO_SPACE)
                for level, kind, cdata in ancillary:
                    if kind == IP_PKTINFO and level == level_ip:
                        _index, destination = unpack(cdata)
                        group = lookup(destination)
                total += len(data)
                received += 1
        except BlockingIOError:
            pass
        clock.stop()
    del source, group
    return _sample(case, clock, received, drops)


# Linux (asm-generic/socket.h): SO_TIMESTAMPNS, and the cmsg type it arrives as.
_SO_TIMESTAMPNS: Final = 35
_TIMESPEC: Final = struct.Struct("@qq")
_METADATA_SPACE: Final = (
    PKTINFO_SPACE + socket.CMSG_SPACE(_TIMESPEC.size) + 2 * socket.CMSG_SPACE(8)
)
# Linux's IP_RECVTTL / IP_TTL and IP_RECVTOS / IP_TOS (the option, then its cmsg type).
_IP_RECVTTL: Final = 12
_IP_TTL: Final = 2
_IP_RECVTOS: Final = 13
_IP_TOS: Final = 1


def run_raw_recvmsg_metadata(case: DrainCase) -> Sample:
    """The reference for ``metadata=True``: ``recvmsg`` reading the same ancillary data.

    Packet info (the interface, and the destination mapped to its group and
    as text), the kernel's receive timestamp, and the TTL and TOS, as the
    receiver's metadata mode reads them.
    """
    with open_raw_receiver(
        case.groups, case.port, pktinfo=True, receive_buffer=case.receive_buffer
    ) as sock:
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        sock.setsockopt(socket.IPPROTO_IP, _IP_RECVTTL, 1)
        sock.setsockopt(socket.IPPROTO_IP, _IP_RECVTOS, 1)
        drops, expected = _fill(case, _drops_of(sock))
        names = {socket.inet_aton(group): group for group in case.groups}
        lookup = names.get
        unpack = IN_PKTINFO.unpack_from
        unpack_stamp = _TIMESPEC.unpack_from
        level_ip = socket.IPPROTO_IP
        level_socket = socket.SOL_SOCKET
        recvmsg = sock.recvmsg
        to_text = socket.inet_ntop
        from_native = int.from_bytes
        native = sys.byteorder
        received = total = 0
        source = group = interface = stamp = ttl = tos = address = None
        clock = Stopwatch()
        try:
            for _ in range(expected):
                data, ancillary, _flags, source = recvmsg(RECV_BUFSIZE, _METADATA_SPACE)
                for level, kind, cdata in ancillary:
                    if kind == IP_PKTINFO and level == level_ip:
                        interface, destination = unpack(cdata)
                        group = lookup(destination)
                        address = group or to_text(socket.AF_INET, destination)
                    elif kind == _SO_TIMESTAMPNS and level == level_socket:
                        seconds, nanoseconds = unpack_stamp(cdata)
                        stamp = seconds + nanoseconds * 1e-9
                    elif kind == _IP_TTL and level == level_ip:
                        ttl = from_native(cdata, native)
                    elif kind == _IP_TOS and level == level_ip:
                        tos = cdata[0]
                total += len(data)
                received += 1
        except BlockingIOError:
            pass
        clock.stop()
    del source, group, interface, stamp, ttl, tos, address
    return _sample(case, clock, received, drops)


class _CountingProtocol(asyncio.DatagramProtocol):
    """Counts datagrams and resolves a future at the expected count."""

    def __init__(self, expected: int, done: asyncio.Future[None]) -> None:
        self.expected = expected
        self.done = done
        self.received = 0
        self.total = 0
        self.source: object = None

    def datagram_received(self, data: bytes, addr: tuple[str | bytes, int]) -> None:
        self.total += len(data)
        self.source = addr
        self.received += 1
        if self.received == self.expected and not self.done.done():
            self.done.set_result(None)


def run_asyncio_protocol(case: DrainCase) -> Sample:
    """An ``asyncio.DatagramProtocol`` on the same kind of joined socket."""
    sock = open_raw_receiver(case.groups, case.port, receive_buffer=case.receive_buffer)

    async def main() -> Sample:
        loop = asyncio.get_running_loop()
        drops, expected = _fill(case, _drops_of(sock))
        done: asyncio.Future[None] = loop.create_future()
        protocol = _CountingProtocol(expected, done)
        if expected == 0:
            done.set_result(None)
        # The endpoint's reader is registered by a callback the loop runs
        # after this await: that is where draining starts, so the clock starts here.
        clock = Stopwatch()
        transport, _ = await loop.create_datagram_endpoint(lambda: protocol, sock=sock)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(done, case.timeout)
        clock.stop()
        transport.close()
        return _sample(case, clock, protocol.received, drops)

    try:
        return asyncio.run(main())
    finally:
        sock.close()


def run_trio_naive(case: DrainCase) -> Sample:
    """``await sock.recvfrom()`` per datagram on a ``trio.socket``."""

    async def main() -> Sample:
        raw = open_raw_receiver(case.groups, case.port, receive_buffer=case.receive_buffer)
        with trio.socket.from_stdlib_socket(raw) as sock:
            drops, expected = _fill(case, _drops_of(raw))
            received = total = 0
            source = None
            clock = Stopwatch()
            with trio.move_on_after(case.timeout):
                while received < expected:
                    data, source = await sock.recvfrom(RECV_BUFSIZE)
                    total += len(data)
                    received += 1
            clock.stop()
        del source
        return _sample(case, clock, received, drops)

    return trio.run(main)


def _trio_mcast_run(case: DrainCase, *, batch: bool, metadata: bool) -> Sample:
    async def main() -> Sample:
        async with open_multicast_receiver(
            list(case.groups),
            case.port,
            interface=LOOPBACK_INTERFACE,
            receive_buffer_size=case.receive_buffer,
            metadata=metadata,
        ) as receiver:
            drops, expected = _fill(case, lambda: receiver.statistics().kernel_drops)
            received = total = 0
            source = None
            clock = Stopwatch()
            with trio.move_on_after(case.timeout):
                if expected == 0:
                    pass
                elif batch:
                    receive_batch = receiver.receive_batch
                    while received < expected:
                        for datagram in await receive_batch(BATCH_COUNT):
                            total += len(datagram.payload)
                            source = datagram.source
                            received += 1
                else:
                    async for datagram in receiver:
                        total += len(datagram.payload)
                        source = datagram.source
                        received += 1
                        if received == expected:
                            break
            clock.stop()
        del source
        return _sample(case, clock, received, drops)

    return trio.run(main)


def run_trio_mcast_iter(case: DrainCase) -> Sample:
    """``async for datagram in receiver``."""
    return _trio_mcast_run(case, batch=False, metadata=False)


def run_trio_mcast_batch(case: DrainCase) -> Sample:
    """``await receiver.receive_batch(1024)``."""
    return _trio_mcast_run(case, batch=True, metadata=False)


def run_trio_mcast_metadata(case: DrainCase) -> Sample:
    """``async for`` on a receiver with ``metadata=True``."""
    return _trio_mcast_run(case, batch=False, metadata=True)
