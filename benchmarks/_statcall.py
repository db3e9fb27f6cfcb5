"""The cost of ``statistics()`` with many other UDP sockets on the host.

``kernel_drops`` used to come from ``/proc/net/udp``, which the kernel
renders in full on every read: its cost grows with every UDP socket on the
host. Now it comes from the socket (``SO_MEMINFO``). This workload opens N
other bound UDP sockets in the benchmark's namespace and times, per call,
the receiver's whole ``statistics()``, the ``SO_MEMINFO`` read alone, and the
``/proc`` read that remains as the fallback, side by side.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Final

import trio

import trio_mcast
from trio_mcast import _procnet

from ._net import group_addresses, next_port

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from ._stats import Sample

#: How each contender reads the drop count of one receiver's socket.
CONTENDERS: Final = ("statistics()", "SO_MEMINFO", "/proc/net/udp")


#: Sockets per helper process: well inside the usual descriptor limits.
_PER_PROCESS: Final = 5_000
_HOLDER: Final = """
import socket, sys
held = []
for _ in range(int(sys.argv[1])):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    held.append(sock)
print("ready", flush=True)
sys.stdin.read()
"""


@contextlib.contextmanager
def other_sockets(count: int) -> Iterator[None]:
    """``count`` UDP sockets bound to loopback ports, each a line in /proc/net/udp.

    They are held by helper processes in this (private) network namespace:
    one process may not open that many descriptors.
    """
    holders: list[subprocess.Popen[str]] = []
    try:
        for start in range(0, count, _PER_PROCESS):
            holder = subprocess.Popen(
                [sys.executable, "-c", _HOLDER, str(min(_PER_PROCESS, count - start))],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            holders.append(holder)
        for holder in holders:
            assert holder.stdout is not None
            if holder.stdout.readline().strip() != "ready":
                raise RuntimeError("a socket-holding helper process failed")
        yield
    finally:
        for holder in holders:
            assert holder.stdin is not None
            holder.stdin.close()
        for holder in holders:
            holder.wait()
            if holder.stdout is not None:
                holder.stdout.close()


def _per_call_us(call: Callable[[], object], calls: int) -> Sample:
    call()
    started, cpu_started = time.perf_counter(), time.process_time()
    for _ in range(calls):
        call()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {"us_per_call": elapsed / calls * 1e6, "cpu_us_per_call": cpu / calls * 1e6}


def measure(others: int, calls: int, order: list[str]) -> dict[str, Sample]:
    """One repetition: each contender's time per call, in ``order``."""

    async def main() -> dict[str, Sample]:
        (group,) = group_addresses(1, offset=200)
        async with trio_mcast.open_multicast_receiver(
            group, next_port(), interface="lo"
        ) as receiver:
            sock = socket.socket(fileno=receiver.socket.fileno())
            try:
                readers: dict[str, Callable[[], object]] = {
                    "statistics()": receiver.statistics,
                    "SO_MEMINFO": lambda: _procnet._meminfo_drops(sock),
                    "/proc/net/udp": lambda: _procnet._proc_net_drops(sock),
                }
                for name in CONTENDERS:
                    if readers[name]() is None:
                        raise RuntimeError(f"{name} gave no drop count here")
                # /proc costs up to half a second per call with 20,000 sockets: few calls.
                return {
                    name: _per_call_us(
                        readers[name], calls if name != "/proc/net/udp" else max(calls // 400, 2)
                    )
                    for name in order
                }
            finally:
                sock.detach()

    with other_sockets(others):
        return trio.run(main)
