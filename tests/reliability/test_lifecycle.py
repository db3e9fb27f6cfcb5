"""Leak-free lifecycle: thousands of open, receive and exit cycles, by every exit route.

Each cycle opens a receiver, receives one datagram sent on a local link, and
leaves the ``async with`` block by one of five routes, in turn:

* ``normal``: the body ends;
* ``exception``: the body raises;
* ``cancel``: a sibling task cancels the nursery while the body waits;
* ``move_on``: a ``move_on_after`` deadline expires while the body waits;
* ``keyboard_interrupt``: SIGINT arrives while the body waits, and trio
  delivers ``KeyboardInterrupt`` into it; that ends ``trio.run``, so each
  round of five cycles runs in its own ``trio.run``.

Afterwards no descriptor, socket, group membership or task may be left.
"""

from __future__ import annotations

import signal
import socket
from collections import Counter
from typing import TYPE_CHECKING, Final

import pytest
import trio
import trio.lowlevel

import trio_mcast
from tests import netns
from tests.receiving import DEADLINE
from tests.reliability._support import link_sender6

if TYPE_CHECKING:
    from collections.abc import Iterator

PORT: Final = 40501
CYCLES: Final = 2000
ROUTES: Final = ("normal", "exception", "cancel", "move_on", "keyboard_interrupt")
#: Every fourth round of five cycles is IPv6, on the ``ipv6_link`` veth.
IPV6_EVERY: Final = 4
#: How long the ``move_on`` route waits in ``receive()`` before its deadline ends the block.
MOVE_ON_SECONDS: Final = 0.001


class BodyError(Exception):
    """Raised by the body of the ``exception`` route."""


def cycle_group(family: socket.AddressFamily, cycle: int) -> str:
    """A group of its own for each cycle, so a leftover names its cycle."""
    if family == socket.AF_INET:
        return f"239.201.{cycle // 250}.{cycle % 250 + 1}"
    return f"ff15::201:{cycle:x}"


class Round:
    """Five cycles, one per route, inside one ``trio.run``."""

    def __init__(
        self,
        first_cycle: int,
        family: socket.AddressFamily,
        interface: str | int,
        sender: socket.socket,
        routes_done: Counter[str],
    ) -> None:
        self.first_cycle = first_cycle
        self.family = family
        self.interface = interface
        self.sender = sender
        self.routes_done = routes_done

    async def run(self) -> None:
        living = trio.lowlevel.current_statistics().tasks_living
        for offset, route in enumerate(ROUTES):
            cycle = self.first_cycle + offset
            group = cycle_group(self.family, cycle)
            payload = b"cycle %d" % cycle
            if route == "normal":
                await self.normal(group, payload)
            elif route == "exception":
                await self.exception(group, payload)
            elif route == "cancel":
                await self.cancel(group, payload)
            elif route == "move_on":
                await self.move_on(group, payload)
            else:
                # Everything before the interrupt must be gone already.
                assert trio.lowlevel.current_statistics().tasks_living == living
                await self.keyboard_interrupt(group, payload)
                raise AssertionError("KeyboardInterrupt did not end the receiver block")
            assert trio.lowlevel.current_statistics().tasks_living == living, route
            self.routes_done[route] += 1

    async def receive_own(self, receiver: trio_mcast.MulticastReceiver, payload: bytes) -> None:
        self.sender.sendto(payload, (receiver.groups[0], PORT))
        with trio.fail_after(DEADLINE):
            datagram = await receiver.receive()
        assert datagram.payload == payload

    async def normal(self, group: str, payload: bytes) -> None:
        async with trio_mcast.open_multicast_receiver(
            group, PORT, interface=self.interface
        ) as receiver:
            await self.receive_own(receiver, payload)

    async def exception(self, group: str, payload: bytes) -> None:
        async def fail_in_the_body() -> None:
            async with trio_mcast.open_multicast_receiver(
                group, PORT, interface=self.interface
            ) as receiver:
                await self.receive_own(receiver, payload)
                raise BodyError(payload)

        with pytest.raises(BodyError):
            await fail_in_the_body()

    async def cancel(self, group: str, payload: bytes) -> None:
        received = trio.Event()

        async def receive_then_wait() -> None:
            async with trio_mcast.open_multicast_receiver(
                group, PORT, interface=self.interface
            ) as receiver:
                await self.receive_own(receiver, payload)
                received.set()
                await receiver.receive()
            raise AssertionError("nothing else was sent, yet receive() returned")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(receive_then_wait)
            await received.wait()
            nursery.cancel_scope.cancel()
        assert nursery.cancel_scope.cancelled_caught

    async def move_on(self, group: str, payload: bytes) -> None:
        with trio.CancelScope() as scope:
            async with trio_mcast.open_multicast_receiver(
                group, PORT, interface=self.interface
            ) as receiver:
                await self.receive_own(receiver, payload)
                # Only now, so that the deadline cannot cut the first receive short.
                scope.deadline = trio.current_time() + MOVE_ON_SECONDS
                await receiver.receive()
        assert scope.cancelled_caught

    async def keyboard_interrupt(self, group: str, payload: bytes) -> None:
        async with trio_mcast.open_multicast_receiver(
            group, PORT, interface=self.interface
        ) as receiver:
            await self.receive_own(receiver, payload)
            # The signal arrives while trio itself runs (KI-protected code), so
            # trio delivers KeyboardInterrupt to the main task: this one, waiting
            # in receive(). That is what Ctrl-C does to a waiting receiver.
            self.routes_done["keyboard_interrupt"] += 1
            trio.lowlevel.current_trio_token().run_sync_soon(signal.raise_signal, signal.SIGINT)
            await receiver.receive()


@pytest.fixture
def default_sigint_handler() -> Iterator[None]:
    """Python's own SIGINT handler, over which trio.run installs its KI delivery.

    A test runner started in the background of a shell inherits SIGINT ignored.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("default_sigint_handler")
def test_2000_cycles_by_every_exit_route_leave_nothing_behind(ipv6_link: int) -> None:
    routes_done: Counter[str] = Counter()
    with netns.loopback_sender() as sender4, link_sender6(ipv6_link) as sender6:
        fds_before = netns.open_fd_count()
        for first_cycle in range(0, CYCLES, len(ROUTES)):
            ipv6 = (first_cycle // len(ROUTES)) % IPV6_EVERY == IPV6_EVERY - 1
            round_ = Round(
                first_cycle,
                socket.AF_INET6 if ipv6 else socket.AF_INET,
                ipv6_link if ipv6 else "lo",
                sender6 if ipv6 else sender4,
                routes_done,
            )
            with pytest.raises(KeyboardInterrupt):
                trio.run(round_.run)
            assert netns.open_fd_count() == fds_before, (
                f"descriptor leaked by cycles {first_cycle}+"
            )
        fds_after = netns.open_fd_count()
    assert routes_done == dict.fromkeys(ROUTES, CYCLES // len(ROUTES))
    assert fds_after == fds_before
    leftover4 = [m for m in netns.memberships(socket.AF_INET) if m[1].startswith("239.201.")]
    leftover6 = [m for m in netns.memberships(socket.AF_INET6) if m[1].startswith("ff15::201:")]
    assert (leftover4, leftover6) == ([], [])
    assert _udp_sockets_on_port(PORT) == 0


def _udp_sockets_on_port(port: int) -> int:
    count = 0
    for table in ("/proc/self/net/udp", "/proc/self/net/udp6"):
        with open(table) as file:
            next(file)
            for line in file:
                local = line.split()[1]
                if int(local.rsplit(":", 1)[1], 16) == port:
                    count += 1
    return count
