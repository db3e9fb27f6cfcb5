"""Who reads the socket: the receiver's pump task, or a consumer waiting in receive().

A consumer that comes straight back for the next datagram waits on the socket
itself, so a datagram reaches it without a pass through the pump task. Once
the consumer is busy elsewhere (or gives up), the pump must take the socket
back, or the kernel buffer would fill while nobody reads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio
import trio.lowlevel
import trio.testing

import trio_mcast
from tests.receiving import DEADLINE, send_loopback

if TYPE_CHECKING:
    import socket

PORT = 40300


class _TaskSteps(trio.abc.Instrument):
    """The tasks that run, in order, while installed."""

    def __init__(self) -> None:
        self.tasks: list[trio.lowlevel.Task] = []

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self.tasks.append(task)


async def test_a_consumer_that_comes_straight_back_is_woken_by_the_datagram_itself(
    loopback_sender: socket.socket,
) -> None:
    group = "239.30.0.1"
    steps = _TaskSteps()
    consumer = trio.lowlevel.current_task()
    senders: list[trio.lowlevel.Task] = []
    async with trio_mcast.open_multicast_receiver(group, PORT, interface="lo") as receiver:

        async def send_once_everyone_waits() -> None:
            await trio.testing.wait_all_tasks_blocked()
            senders.append(trio.lowlevel.current_task())
            trio.lowlevel.add_instrument(steps)
            send_loopback(loopback_sender, group, [b"second"], PORT)

        send_loopback(loopback_sender, group, [b"first"], PORT)
        with trio.fail_after(DEADLINE):
            first = await receiver.receive()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(send_once_everyone_waits)
                second = await receiver.receive()
                trio.lowlevel.remove_instrument(steps)
    assert (first.payload, second.payload) == (b"first", b"second")
    # Loopback delivers inside sendto(), so the sending task's step ends with
    # the datagram waiting; the next task to run must be the consumer, not
    # the pump handing it over.
    woken = [task for task in steps.tasks if task not in senders]
    assert woken[:1] == [consumer]


async def test_the_pump_drains_the_socket_while_the_consumer_is_away(
    loopback_sender: socket.socket,
) -> None:
    group = "239.30.0.2"
    async with trio_mcast.open_multicast_receiver(group, PORT, interface="lo") as receiver:
        send_loopback(loopback_sender, group, [b"first"], PORT)
        with trio.fail_after(DEADLINE):
            await receiver.receive()
        # The consumer is now elsewhere; whatever arrives must still be read
        # off the socket into the queue.
        send_loopback(loopback_sender, group, [b"%d" % n for n in range(5)], PORT)
        await trio.testing.wait_all_tasks_blocked()
        assert receiver.statistics().pending == 5
        with trio.fail_after(DEADLINE):
            rest = await receiver.receive_batch(10)
    assert [datagram.payload for datagram in rest] == [b"0", b"1", b"2", b"3", b"4"]


async def test_a_consumer_cancelled_while_reading_the_socket_gives_it_back(
    loopback_sender: socket.socket,
) -> None:
    group = "239.30.0.3"
    async with trio_mcast.open_multicast_receiver(group, PORT, interface="lo") as receiver:
        send_loopback(loopback_sender, group, [b"first"], PORT)
        with trio.fail_after(DEADLINE):
            await receiver.receive()

        async with trio.open_nursery() as nursery:
            with trio.CancelScope() as scope:

                async def cancel_once_everyone_waits() -> None:
                    await trio.testing.wait_all_tasks_blocked()
                    scope.cancel()

                nursery.start_soon(cancel_once_everyone_waits)
                # Straight back: this call waits on the socket itself.
                await receiver.receive()
        assert scope.cancelled_caught
        send_loopback(loopback_sender, group, [b"%d" % n for n in range(3)], PORT)
        await trio.testing.wait_all_tasks_blocked()
        assert receiver.statistics().pending == 3
