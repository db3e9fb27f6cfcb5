"""Receiving helpers shared by the test modules: bounded waits for datagrams.

Each helper fails the test after ``deadline`` seconds instead of hanging, so
a datagram that never comes is a clear failure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import trio

if TYPE_CHECKING:
    import socket

    from trio_mcast import Datagram, MulticastReceiver

#: How long a wait for a datagram that has certainly been sent may take.
DEADLINE: Final = 10.0


async def receive_n(
    receiver: MulticastReceiver, count: int, *, deadline: float = DEADLINE
) -> list[Datagram]:
    """Exactly ``count`` datagrams, failing after ``deadline`` seconds."""
    received: list[Datagram] = []
    with trio.fail_after(deadline):
        while len(received) < count:
            received.extend(await receiver.receive_batch(count - len(received)))
    return received


async def receive_until(
    receiver: MulticastReceiver, marker: bytes, *, deadline: float = DEADLINE
) -> list[Datagram]:
    """Every datagram up to and including the one whose payload is ``marker``."""
    received: list[Datagram] = []
    with trio.fail_after(deadline):
        while not received or received[-1].payload != marker:
            received.append(await receiver.receive())
    return received


async def recv_exactly(
    sock: socket.socket, count: int, *, deadline: float = DEADLINE
) -> list[bytes]:
    """``count`` datagrams from a plain socket, failing after ``deadline`` seconds."""
    payloads: list[bytes] = []
    with trio.move_on_after(deadline), trio.socket.from_stdlib_socket(sock.dup()) as reader:
        while len(payloads) < count:
            payloads.append(await reader.recv(65535))
        return payloads
    raise AssertionError(f"timed out with {len(payloads)} of {count} datagrams: {payloads}")


def send_loopback(sender: socket.socket, group: str, payloads: list[bytes], port: int) -> None:
    """Send ``payloads`` to ``group``; on loopback each is queued at the receiver on return."""
    for payload in payloads:
        sender.sendto(payload, (group, port))
