"""Live rate and latency: a paced sender in another process, one receiver here.

The sender (``benchmarks/sender.py``) stamps each payload with its send time
from CLOCK_MONOTONIC; the receiver takes the same clock the moment it holds
the datagram's payload and source, and keeps the difference: the one-way
latency through the kernel and the receiving stack. Both processes are on one
host, so the clocks agree. The receiver also counts what arrived, for the
loss ratio.

Each contender opens and joins its socket, then starts the sender (so nothing
is sent before anyone listens), and reads until the sender's end marker or a
deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypeAlias

import trio

from trio_mcast import open_multicast_receiver

from ._net import (
    LOOPBACK_INTERFACE,
    RECV_BUFSIZE,
    ROOT,
    force_receive_buffer,
    network_namespace_inode,
    open_raw_receiver,
)
from ._stats import percentile
from .sender import END_SEQUENCE, HEADER

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._stats import Sample

#: Receive buffer for the live runs: what a tuned high-rate receiver would ask for.
LIVE_RECEIVE_BUFFER: Final = 4 << 20
#: Payload bytes per datagram (header included).
LIVE_SIZE: Final = 200
#: After the sender's planned duration, wait at most this long for its end marker.
_GRACE: Final = 3.0
# struct timeval for SO_RCVTIMEO: the blocking loop wakes up this often when
# nothing arrives, to notice a lost end marker, at no cost per datagram.
_RCVTIMEO: Final = struct.pack("@ll", 0, 200_000)


@dataclass(frozen=True, slots=True)
class LiveCase:
    """One live run's parameters.

    Attributes:
        group: The group the sender sends to.
        port: The UDP port.
        rate: Datagrams per second the sender aims for.
        seconds: How long the sender sends.
        size: Payload bytes.
    """

    group: str
    port: int
    rate: float
    seconds: float
    size: int = LIVE_SIZE

    @property
    def deadline(self) -> float:
        """Seconds after the start when the receiver gives up waiting."""
        return self.seconds + _GRACE


@dataclass(slots=True)
class Tally:
    """What a receiver saw: latencies in ns, the datagrams counted, the last source."""

    latencies: list[int]
    received: int = 0
    source: object = None


#: ``contender(case, launch_sender) -> tally``; it calls ``launch_sender()``
#: once its socket is joined.
LiveContender: TypeAlias = "Callable[[LiveCase, Callable[[], None]], Tally]"


def run_stdlib_blocking(case: LiveCase, launch: Callable[[], None]) -> Tally:
    """The reference: a blocking ``recvfrom`` loop on a stdlib socket."""
    tally = Tally([])
    append = tally.latencies.append
    unpack = HEADER.unpack_from
    clock = time.monotonic_ns
    with open_raw_receiver([case.group], case.port, blocking=True) as sock:
        force_receive_buffer(sock, LIVE_RECEIVE_BUFFER)
        # A kernel-side timeout keeps the loop at one system call per datagram
        # (settimeout() would add a poll() before each one).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _RCVTIMEO)
        recvfrom = sock.recvfrom
        launch()
        deadline = time.monotonic() + case.deadline
        received = 0
        while True:
            try:
                data, source = recvfrom(RECV_BUFSIZE)
            except BlockingIOError:
                if time.monotonic() > deadline:
                    break
                continue
            now = clock()
            tally.source = source
            sequence, sent = unpack(data)
            if sequence == END_SEQUENCE:
                break
            append(now - sent)
            received += 1
    tally.received = received
    return tally


class _LatencyProtocol(asyncio.DatagramProtocol):
    """Keeps latencies; resolves ``done`` at the end marker."""

    def __init__(self, tally: Tally, done: asyncio.Future[None]) -> None:
        self.tally = tally
        self.done = done
        self.append = tally.latencies.append

    def datagram_received(self, data: bytes, addr: tuple[str | bytes, int]) -> None:
        now = time.monotonic_ns()
        self.tally.source = addr
        sequence, sent = HEADER.unpack_from(data)
        if sequence == END_SEQUENCE:
            if not self.done.done():
                self.done.set_result(None)
            return
        self.append(now - sent)
        self.tally.received += 1


def run_asyncio_protocol(case: LiveCase, launch: Callable[[], None]) -> Tally:
    """An ``asyncio.DatagramProtocol`` on the same kind of joined socket."""
    tally = Tally([])
    sock = open_raw_receiver([case.group], case.port)
    force_receive_buffer(sock, LIVE_RECEIVE_BUFFER)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _LatencyProtocol(tally, done), sock=sock
        )
        launch()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(done, case.deadline)
        transport.close()

    try:
        asyncio.run(main())
    finally:
        sock.close()
    return tally


def run_trio_naive(case: LiveCase, launch: Callable[[], None]) -> Tally:
    """``await sock.recvfrom()`` per datagram on a ``trio.socket``."""
    tally = Tally([])

    async def main() -> None:
        raw = open_raw_receiver([case.group], case.port)
        force_receive_buffer(raw, LIVE_RECEIVE_BUFFER)
        append = tally.latencies.append
        unpack = HEADER.unpack_from
        clock = time.monotonic_ns
        with trio.socket.from_stdlib_socket(raw) as sock:
            launch()
            with trio.move_on_after(case.deadline):
                while True:
                    data, source = await sock.recvfrom(RECV_BUFSIZE)
                    now = clock()
                    tally.source = source
                    sequence, sent = unpack(data)
                    if sequence == END_SEQUENCE:
                        break
                    append(now - sent)
                    tally.received += 1

    trio.run(main)
    return tally


def _trio_mcast_run(case: LiveCase, launch: Callable[[], None], *, batch: bool) -> Tally:
    tally = Tally([])

    async def main() -> None:
        append = tally.latencies.append
        unpack = HEADER.unpack_from
        clock = time.monotonic_ns
        async with open_multicast_receiver(
            case.group,
            case.port,
            interface=LOOPBACK_INTERFACE,
            receive_buffer_size=LIVE_RECEIVE_BUFFER,
        ) as receiver:
            launch()
            with trio.move_on_after(case.deadline):
                if batch:
                    while True:
                        for datagram in await receiver.receive_batch(1024):
                            now = clock()
                            tally.source = datagram.source
                            sequence, sent = unpack(datagram.payload)
                            if sequence == END_SEQUENCE:
                                return
                            append(now - sent)
                            tally.received += 1
                else:
                    async for datagram in receiver:
                        now = clock()
                        tally.source = datagram.source
                        sequence, sent = unpack(datagram.payload)
                        if sequence == END_SEQUENCE:
                            return
                        append(now - sent)
                        tally.received += 1

    trio.run(main)
    return tally


def run_trio_mcast_iter(case: LiveCase, launch: Callable[[], None]) -> Tally:
    """``async for datagram in receiver``."""
    return _trio_mcast_run(case, launch, batch=False)


def run_trio_mcast_batch(case: LiveCase, launch: Callable[[], None]) -> Tally:
    """``await receiver.receive_batch(1024)``."""
    return _trio_mcast_run(case, launch, batch=True)


def sender_command(case: LiveCase, *, flood: bool = False, end_markers: bool = True) -> list[str]:
    """The argv that starts ``benchmarks.sender`` for ``case``."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.sender",
        "--netns-inode",
        str(network_namespace_inode()),
        "--group",
        case.group,
        "--port",
        str(case.port),
        "--rate",
        "0" if flood else repr(case.rate),
        "--seconds",
        repr(case.seconds),
        "--size",
        str(case.size),
    ]
    if end_markers:
        command.append("--end-markers")
    return command


def start_sender(command: list[str]) -> subprocess.Popen[str]:
    """Start the sender; it inherits this process's (private) network namespace."""
    return subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True
    )


def finish_sender(process: subprocess.Popen[str] | None) -> dict[str, float]:
    """Wait for the sender and return its summary line."""
    if process is None:
        raise RuntimeError("the contender never started the sender")
    output, _ = process.communicate(timeout=60)
    if process.returncode != 0:
        raise RuntimeError(f"the sender failed with exit status {process.returncode}")
    figures: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return figures


def measure(contender: LiveContender, case: LiveCase) -> Sample:
    """Run ``contender`` against a paced sender; its loss and latency figures."""
    process: subprocess.Popen[str] | None = None

    def launch() -> None:
        nonlocal process
        process = start_sender(sender_command(case))

    try:
        tally = contender(case, launch)
    finally:
        if process is not None and process.poll() is None:
            # Normally it has finished by now; give it its own time before judging.
            try:
                process.wait(timeout=case.seconds + 10)
            except subprocess.TimeoutExpired:
                process.kill()
    figures = finish_sender(process)
    sent = int(figures["sent"])
    ordered = sorted(tally.latencies)
    sample: Sample = {
        "sent": sent,
        "received": tally.received,
        "loss_pct": 100.0 * (sent - tally.received) / sent if sent else math.nan,
        "send_rate": sent / figures["seconds"] if figures["seconds"] else math.nan,
        "sender_late_p99_us": figures["late_p99_us"],
        "sender_late_max_us": figures["late_max_us"],
    }
    if ordered:
        sample["p50_us"] = percentile(ordered, 0.50) / 1000
        sample["p99_us"] = percentile(ordered, 0.99) / 1000
        sample["max_us"] = ordered[-1] / 1000
    return sample
