"""The libraries a user would pick instead, as drain contenders.

Each is used the way its documentation shows, on ``lo``, with the receive
buffer forced large enough for the pre-fill (the one change made to their
sockets, so that every contender drains the same datagrams). A library that
is not installed (``pip install .[bench]``) is skipped with a note.

* ``multicast_expert`` 1.6: ``McastRxSocket.recvfrom`` (non-blocking; it runs
  ``select()`` before each receive) and ``AsyncMcastRxSocket.recvfrom`` on
  asyncio.
* the seed package, ``multicast`` 2.1: its ``joinstep`` socket drained with
  its ``tryrecv``, which decodes each datagram into one growing string.
* ``anyio`` 4: a UDP socket bound to the wildcard and joined with
  ``setsockopt``, wrapped by ``UDPSocket.from_socket``, ``await receive()``
  per datagram, on the trio and on the asyncio backends.
  ``create_udp_socket()`` itself fails where only ``lo`` exists, for a group
  as ``local_host`` and even for ``0.0.0.0``: anyio resolves the address
  with ``AI_ADDRCONFIG``, which finds no configured address there.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import math
import socket
from typing import TYPE_CHECKING, Any, Final

from ._net import LOOPBACK, LOOPBACK_INTERFACE, RECV_BUFSIZE, SO_RCVBUFFORCE
from ._throughput import DrainCase, Stopwatch, _drops_of, _fill, _sample

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ._stats import Sample
    from ._throughput import DrainContender

__all__ = ["CONTENDERS", "missing"]


def _force_receive_buffer(sock: socket.socket, size: int) -> None:
    # Real root may exceed rmem_max; the benchmark runs as root, as the
    # other contenders' sockets do.
    sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, size)


def run_multicast_expert_sync(case: DrainCase) -> Sample:
    """``multicast_expert.McastRxSocket.recvfrom``, non-blocking."""
    import multicast_expert

    with multicast_expert.McastRxSocket(
        socket.AF_INET, list(case.groups), case.port, iface=LOOPBACK_INTERFACE, timeout=0
    ) as receiver:
        (sock,) = receiver.sockets
        _force_receive_buffer(sock, case.receive_buffer)
        drops, expected = _fill(case, _drops_of(sock))
        recvfrom = receiver.recvfrom
        received = total = 0
        source: Any = None
        clock = Stopwatch()
        while received < expected:
            packet = recvfrom(RECV_BUFSIZE)
            if packet is None:
                break
            data, source = packet
            total += len(data)
            received += 1
        clock.stop()
    del source
    return _sample(case, clock, received, drops)


def run_multicast_expert_asyncio(case: DrainCase) -> Sample:
    """``await multicast_expert.AsyncMcastRxSocket.recvfrom()`` per datagram."""
    import multicast_expert

    async def main() -> Sample:
        with multicast_expert.AsyncMcastRxSocket(
            socket.AF_INET, list(case.groups), case.port, iface=LOOPBACK_INTERFACE
        ) as receiver:
            (sock,) = receiver.sockets
            _force_receive_buffer(sock, case.receive_buffer)
            drops, expected = _fill(case, _drops_of(sock))
            counts = [0, 0]

            async def drain() -> None:
                recvfrom = receiver.recvfrom
                while counts[0] < expected:
                    data, _source = await recvfrom()
                    counts[1] += len(data)
                    counts[0] += 1

            clock = Stopwatch()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(drain(), case.timeout)
            clock.stop()
        return _sample(case, clock, counts[0], drops)

    return asyncio.run(main())


def run_seed_tryrecv(case: DrainCase) -> Sample:
    """The seed: ``multicast.recv.joinstep``, then its ``tryrecv`` per datagram."""
    from multicast import recv as seed

    # Bound to the group, as its RECV command binds ('--group'); unbound, it
    # would bind its default address instead.
    sock = seed.joinstep(list(case.groups), case.port, LOOPBACK, case.groups[0], None)
    try:
        _force_receive_buffer(sock, case.receive_buffer)
        drops, expected = _fill(case, _drops_of(sock))
        sock.setblocking(False)
        tryrecv = seed.tryrecv
        buffer: Any = ""
        received = 0
        clock = Stopwatch()
        try:
            for _ in range(expected):
                buffer = tryrecv(buffer, None, sock)
                received += 1
        except BlockingIOError:
            pass
        clock.stop()
    finally:
        sock.close()
    del buffer
    return _sample(case, clock, received, drops)


def _anyio_run(case: DrainCase, backend: str) -> Sample:
    import anyio
    from anyio.abc import UDPSocket

    async def main() -> Sample:
        # create_udp_socket() resolves even "0.0.0.0" with AI_ADDRCONFIG,
        # which fails where only lo exists: the socket is made here instead.
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("0.0.0.0", case.port))
        for group in case.groups:
            request = socket.inet_aton(group) + socket.inet_aton(LOOPBACK)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, request)
        _force_receive_buffer(sock, case.receive_buffer)
        async with await UDPSocket.from_socket(sock) as udp:
            drops, expected = _fill(case, _drops_of(sock))
            received = total = 0
            source: Any = None
            clock = Stopwatch()
            with anyio.move_on_after(case.timeout):
                while received < expected:
                    data, source = await udp.receive()
                    total += len(data)
                    received += 1
            clock.stop()
        del source
        return _sample(case, clock, received, drops)

    result: Sample = anyio.run(main, backend=backend)
    return result


def run_anyio_trio(case: DrainCase) -> Sample:
    """``await udp.receive()`` on anyio's trio backend."""
    return _anyio_run(case, "trio")


def run_anyio_asyncio(case: DrainCase) -> Sample:
    """``await udp.receive()`` on anyio's asyncio backend."""
    return _anyio_run(case, "asyncio")


#: name -> (contender, the module it needs).
CONTENDERS: Final[Mapping[str, tuple[DrainContender, str]]] = {
    "multicast_expert-sync": (run_multicast_expert_sync, "multicast_expert"),
    "multicast_expert-asyncio": (run_multicast_expert_asyncio, "multicast_expert"),
    "seed-tryrecv": (run_seed_tryrecv, "multicast"),
    "anyio-trio": (run_anyio_trio, "anyio"),
    "anyio-asyncio": (run_anyio_asyncio, "anyio"),
}


def missing(name: str) -> str | None:
    """Why contender ``name`` cannot run here, or ``None`` when it can."""
    module = CONTENDERS[name][1]
    if importlib.util.find_spec(module) is None:
        return f"{module} is not installed (pip install .[bench])"
    return None


def measure_seed_mcastrecv(rate: float, seconds: float, group: str, port: int) -> Sample:
    """What the seed's ``McastRECV`` delivers from a paced sender, and how fast.

    ``McastRECV().doStep()`` joins, waits for one datagram, decodes it as
    UTF-8 and closes the socket; a receiver calls it in a loop. Whatever
    arrives while no socket is open is lost. The sender here (a thread)
    sends numbered ASCII payloads, since the seed cannot decode others.
    """
    import threading
    import time

    from multicast import recv as seed

    stop = threading.Event()
    sent = [0]

    def send() -> None:
        with open_text_sender() as sock:
            interval = 1.0 / rate
            start = time.monotonic()
            while not stop.is_set() and time.monotonic() - start < seconds:
                sock.sendto(f"{sent[0]:012d}".encode(), (group, port))
                sent[0] += 1
                pause = start + sent[0] * interval - time.monotonic()
                if pause > 0:
                    time.sleep(pause)

    delivered: set[str] = set()
    calls = 0
    thread = threading.Thread(target=send)
    clock = Stopwatch()
    thread.start()
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            calls += 1
            response = seed.McastRECV._hearstep([group], port, LOOPBACK, group)
            if response:
                delivered.add(response)
    finally:
        stop.set()
        thread.join()
    clock.stop()
    return {
        "sent": sent[0],
        "delivered": len(delivered),
        "delivered_pct": 100.0 * len(delivered) / sent[0] if sent[0] else math.nan,
        "calls_per_second": calls / clock.wall if clock.wall > 0 else math.nan,
    }


def open_text_sender() -> socket.socket:
    """A sender out of ``lo`` for :func:`measure_seed_mcastrecv`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(LOOPBACK))
    return sock
