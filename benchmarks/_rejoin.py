"""How soon a receiver is joined again, and delivering, after its link is recreated.

A veth pair (``tmrejoin0``, ``tmrejoin1``) is deleted and created again, over
and over, under a receiver joined by name on ``tmrejoin0``. A sender in the
same namespace sends to the group out of ``tmrejoin0`` every millisecond; the
kernel loops each datagram back to local members on that interface, so one
arrives once the receiver is a member again.

The ``ip`` commands run synchronously, blocking the receiver's tasks, so
that the clock starts exactly when the link is made. Per recreation, from
just before the ``ip`` command that creates the link:

* ``ip``: until the command returned (the link exists, addressed and up):
  the reference, as nothing can be joined before it;
* ``rejoined``: until the receiver's :class:`~trio_mcast.Rejoined` event;
* ``delivered``: until the first datagram after the recreation arrived.
"""

from __future__ import annotations

import contextlib
import socket
import time
from typing import TYPE_CHECKING, Final

import trio

import trio_mcast
from trio_mcast import testing

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from ._stats import Sample

LINK: Final = "tmrejoin0"
PEER: Final = "tmrejoin1"
ADDRESS: Final = "10.218.0.1"
GROUP: Final = "239.78.0.1"
#: What each sample reports, in milliseconds.
METRICS: Final = ("ip", "rejoined", "delivered")
_SEND_INTERVAL: Final = 0.001
_DEADLINE: Final = 10.0


def _create() -> None:
    testing.run_ip_batch(
        [
            f"link add {LINK} type veth peer name {PEER}",
            f"addr add {ADDRESS}/24 dev {LINK}",
            f"link set {LINK} up",
            f"link set {PEER} up",
        ]
    )


async def _send_forever(port: int) -> None:
    interface = socket.inet_aton(ADDRESS)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        while True:
            # Both fail while the link (and with it the address) is gone.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, interface)
                sock.sendto(b"x", (GROUP, port))
            await trio.sleep(_SEND_INTERVAL)


async def _next(events: AsyncIterator[trio_mcast.ReceiverEvent]) -> trio_mcast.ReceiverEvent:
    with trio.fail_after(_DEADLINE):
        return await events.__anext__()


async def _cycles(count: int, port: int) -> list[Sample]:
    samples: list[Sample] = []
    _create()
    try:
        async with (
            trio_mcast.open_multicast_receiver(GROUP, port, interface=LINK) as receiver,
            trio.open_nursery() as nursery,
        ):
            events = receiver.events()
            nursery.start_soon(_send_forever, port)
            for _ in range(count):
                testing.run_ip("link", "del", LINK)
                lost = await _next(events)
                assert isinstance(lost, trio_mcast.InterfaceLost), lost
                while True:
                    try:
                        receiver.receive_nowait()
                    except trio.WouldBlock:
                        break
                started = time.time()
                _create()
                created = time.time()
                returned, rejoined = await _next(events), await _next(events)
                assert isinstance(returned, trio_mcast.InterfaceReturned), returned
                assert isinstance(rejoined, trio_mcast.Rejoined), rejoined
                with trio.fail_after(_DEADLINE):
                    await receiver.receive()
                delivered = time.time()
                samples.append(
                    {
                        "ip": (created - started) * 1e3,
                        "rejoined": (rejoined.timestamp - started) * 1e3,
                        "delivered": (delivered - started) * 1e3,
                    }
                )
            nursery.cancel_scope.cancel()
    finally:
        if LINK in {name for _, name in socket.if_nameindex()}:
            with contextlib.suppress(RuntimeError):
                testing.run_ip("link", "del", LINK)
    return samples


def measure(count: int, port: int) -> list[Sample]:
    """``count`` recreations; one sample (milliseconds) per recreation."""
    return trio.run(_cycles, count, port)
