"""Helpers shared by the reliability tests.

The helpers that wait for datagrams are in :mod:`tests.receiving`, shared with
the rest of the suite.
"""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Final

import trio

from tests.receiving import DEADLINE

if TYPE_CHECKING:
    from collections.abc import Callable

#: Set by ``tox -e soak``: the soak-style tests run for this long instead of briefly.
SOAK_SECONDS_VARIABLE: Final = "TRIO_MCAST_SOAK_SECONDS"
MIB: Final = 1 << 20


def soak_seconds(default: float) -> float:
    """The soak duration from the environment, or ``default`` for the normal run."""
    raw = os.environ.get(SOAK_SECONDS_VARIABLE, "").strip()
    return float(raw) if raw else default


def rss_bytes() -> int:
    """This process's resident set size, from ``/proc/self/status``."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("/proc/self/status has no VmRSS line")


def link_sender6(ifindex: int) -> socket.socket:
    """An IPv6 UDP socket that sends multicast out of ``ifindex`` and loops it back."""
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)
    return sock


def observer(family: socket.AddressFamily, group: str, port: int, ifindex: int) -> socket.socket:
    """A plain socket bound to ``group``:``port`` that joins it any-source on ``ifindex``.

    It sees every datagram the host accepts for the group, so a test can wait
    for it to prove that datagrams which must *not* reach a receiver did reach
    the host (the kernel hands a datagram to every matching socket at once).
    """
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        packed = socket.inet_pton(family, group)
        if family == socket.AF_INET:
            sock.bind((group, port))
            request = packed + bytes(4) + ifindex.to_bytes(4, "little")  # ip_mreqn
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, request)
        else:
            sock.bind((group, port, 0, ifindex))
            request = packed + ifindex.to_bytes(4, "little")  # ipv6_mreq
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, request)
    except BaseException:
        sock.close()
        raise
    return sock


async def wait_until(
    predicate: Callable[[], bool], what: str, *, deadline: float = DEADLINE
) -> None:
    """Wait until ``predicate()`` holds, checking every millisecond, failing after ``deadline``.

    For conditions the kernel or the receiver's background task makes true
    with no event to wait on (a counter reaching a value).
    """
    with trio.move_on_after(deadline):
        # Polling is the only way: nothing signals when a counter changes.
        while not predicate():  # noqa: ASYNC110
            await trio.sleep(0.001)
        return
    raise AssertionError(f"timed out after {deadline} s waiting until {what}")
