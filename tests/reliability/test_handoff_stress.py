"""Stress of the hand-over between the pump task and a consumer that reads the socket.

Many short bursts at random moments, from a task of their own; a consumer
that alternates ``receive()``, ``receive_batch()`` and ``receive_nowait()``
with random pauses, so the socket passes between the pump (while the consumer
is away) and the consumer (while it waits) in every order the scheduler
allows; small queues and batches, so that the queue's room and both overflow
policies take part. A wake-up lost anywhere in the hand-over shows as a
datagram that is never delivered: every wait here has a deadline, and every
datagram sent is accounted for at the end, in order.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Final

import pytest
import trio
import trio.testing

import trio_mcast
from tests.receiving import DEADLINE

if TYPE_CHECKING:
    import socket

    from trio_mcast._open_receiver import Overflow

PORT: Final = 40631
GROUP: Final = "239.63.0.1"
BURSTS: Final = 300
END: Final = b"end"
SEEDS: Final = range(4)
#: The most datagrams the sender lets run ahead of the consumer: what the
#: kernel's default receive buffer (about 270 small datagrams) surely holds,
#: so that no datagram, and never the end marker, is dropped by the kernel.
WINDOW: Final = 150


class _Progress:
    """How far the consumer has got, for the sender's flow control."""

    def __init__(self) -> None:
        self.next_expected = 0
        self._changed = trio.Event()

    def advance(self, number: int) -> None:
        self.next_expected = max(self.next_expected, number + 1)
        self._changed.set()
        self._changed = trio.Event()

    async def wait_until(self, sent: int) -> None:
        while sent - self.next_expected > WINDOW:
            await self._changed.wait()


async def _pause(rng: random.Random) -> None:
    """Nothing, a checkpoint, a short sleep, or until every other task waits."""
    choice = rng.random()
    if choice < 0.25:
        return
    if choice < 0.5:
        await trio.lowlevel.checkpoint()
    elif choice < 0.8:
        await trio.sleep(rng.random() * 0.001)
    else:
        await trio.testing.wait_all_tasks_blocked()


async def _send_bursts(sender: socket.socket, rng: random.Random, progress: _Progress) -> int:
    """``BURSTS`` bursts of 1 to 40 datagrams at random moments; returns how many were sent."""
    sent = 0
    for _ in range(BURSTS):
        await _pause(rng)
        with trio.fail_after(DEADLINE):
            await progress.wait_until(sent)
        for _ in range(rng.randint(1, 40)):
            sender.sendto(b"%d" % sent, (GROUP, PORT))
            sent += 1
            if rng.random() < 0.05:
                await trio.lowlevel.checkpoint()
    sender.sendto(END, (GROUP, PORT))
    return sent


async def _consume(
    receiver: trio_mcast.MulticastReceiver, rng: random.Random, progress: _Progress
) -> list[int]:
    """Every datagram up to ``END``, by randomly chosen calls with random pauses."""
    seen: list[int] = []
    while True:
        choice = rng.random()
        # Each wait has its own deadline: a lost wake-up fails here, at once.
        with trio.fail_after(DEADLINE):
            if choice < 0.4:
                batch = [await receiver.receive()]
            elif choice < 0.8:
                batch = await receiver.receive_batch(rng.randint(1, 16))
            else:
                try:
                    batch = [receiver.receive_nowait()]
                except trio.WouldBlock:
                    batch = []
        for datagram in batch:
            if datagram.payload == END:
                return seen
            seen.append(int(datagram.payload))
        if seen:
            progress.advance(seen[-1])
        await _pause(rng)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("overflow", ["drop-newest", "drop-oldest"])
async def test_the_socket_hand_over_loses_no_wake_up(
    loopback_sender: socket.socket, overflow: Overflow, seed: int
) -> None:
    rng = random.Random(seed)
    sender_rng = random.Random(rng.random())
    sent = 0
    progress = _Progress()

    async def send() -> None:
        nonlocal sent
        sent = await _send_bursts(loopback_sender, sender_rng, progress)

    async with (
        trio_mcast.open_multicast_receiver(
            GROUP,
            PORT,
            interface="lo",
            queue_size=rng.choice([1, 2, 7, 64, 1024]),
            batch_size=rng.choice([1, 3, 16, 256]),
            overflow=overflow,
        ) as receiver,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(send)
        seen = await _consume(receiver, rng, progress)
        statistics = receiver.statistics()

    assert sent > BURSTS
    # In order, each once, and every datagram not seen is counted as dropped.
    assert seen == sorted(set(seen))
    assert set(seen) <= set(range(sent))
    assert statistics.kernel_drops == 0
    assert len(seen) + statistics.queue_drops == sent
    if overflow == "drop-newest":
        # The queue never drops: it stops reading, and the kernel holds the rest.
        assert seen == list(range(sent))
