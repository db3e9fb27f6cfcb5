"""A flood at full speed while the consumer does not read.

Another host on a LAN floods one group from a worker thread (a blocking
stdlib socket as fast as it goes) while the receiver runs in the trio loop
and its body does not read. Then:

* memory stays bounded by the queue (the kernel's receive buffer is kernel
  memory, not ours): RSS grows by at most ``queue_size`` datagrams plus slack;
* every datagram is accounted for, exactly: each one sent was either taken
  from the socket (``datagrams``) or dropped by the kernel because the
  receive buffer was full (``kernel_drops``), and each one taken was either
  delivered to the body or dropped by the queue (``queue_drops``);
* ``drop-newest`` stops reading, so the loss shows as ``kernel_drops`` and
  ``queue_drops`` stays 0; ``drop-oldest`` keeps reading, so the loss shows
  as ``queue_drops`` and the queue holds the newest datagrams;
* when the body reads again it gets the datagrams in order (sequence numbers
  strictly increasing), with ``drop-oldest`` from the end of the flood.

The flood lasts 10 s, as the reliability issue asks, in the normal run and
under ``tox -e soak`` alike.
"""

from __future__ import annotations

import socket
import struct
import time
from typing import TYPE_CHECKING, Final

import pytest
import trio
import trio.testing

import trio_mcast
from tests.reliability._support import MIB, rss_bytes

if TYPE_CHECKING:
    from trio_mcast import testing
    from trio_mcast._open_receiver import Overflow

PORT: Final = 40701
GROUP: Final = "239.40.0.1"
QUEUE_SIZE: Final = 1024
#: Fits one Ethernet frame: 1500 - 20 (IPv4) - 8 (UDP) = 1472.
PAYLOAD_SIZE: Final = 1400
FLOOD_SECONDS: Final = 10.0
SEQUENCE: Final = struct.Struct(">Q")
MARKER_SEQUENCE: Final = 2**64 - 1
#: Per queued datagram beyond its payload: the Datagram tuple, the bytes
#: header, the source tuple and its strings.
OVERHEAD_PER_DATAGRAM: Final = 512
#: Allocator and interpreter noise (arenas, the batch lists, the thread).
RSS_SLACK: Final = 8 * MIB
RSS_SAMPLE_SECONDS: Final = 0.05


def payload(sequence: int) -> bytes:
    return SEQUENCE.pack(sequence).ljust(PAYLOAD_SIZE, b"\xa5")


def flood(sender: socket.socket, seconds: float) -> int:
    """Send numbered datagrams as fast as possible for ``seconds``; return how many."""
    destination = (GROUP, PORT)
    body = payload(0)[SEQUENCE.size :]
    pack = SEQUENCE.pack
    sendto = sender.sendto
    sent = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(256):
            sendto(pack(sent) + body, destination)
            sent += 1
    return sent


def sequences(received: list[trio_mcast.Datagram]) -> list[int]:
    return [SEQUENCE.unpack_from(d.payload)[0] for d in received]


def take_queued(receiver: trio_mcast.MulticastReceiver) -> list[trio_mcast.Datagram]:
    taken = []
    while True:
        try:
            taken.append(receiver.receive_nowait())
        except trio.WouldBlock:
            return taken


@pytest.mark.soak
@pytest.mark.parametrize("overflow", ["drop-oldest", "drop-newest"])
async def test_flood_with_a_stalled_consumer_is_bounded_and_counted(
    multicast_lan: testing.LanFactory, overflow: Overflow
) -> None:
    lan = multicast_lan(1)
    (host,) = lan.hosts
    peak_rss = 0

    async def sample_rss() -> None:
        nonlocal peak_rss
        while True:
            peak_rss = max(peak_rss, rss_bytes())
            await trio.sleep(RSS_SAMPLE_SECONDS)

    with host.sender(socket.AF_INET) as sender:
        async with trio_mcast.open_multicast_receiver(
            GROUP, PORT, interface=lan.bridge, queue_size=QUEUE_SIZE, overflow=overflow
        ) as receiver:
            rss_before = rss_bytes()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(sample_rss)
                sent = await trio.to_thread.run_sync(flood, sender, FLOOD_SECONDS)
                # The flood is over and its datagrams are in the socket or
                # dropped. Once every task is blocked, the receiver has drained
                # the socket (drop-oldest) or stopped at a full queue (drop-newest).
                await trio.testing.wait_all_tasks_blocked()
                peak_rss = max(peak_rss, rss_bytes())
                stalled = receiver.statistics()
                nursery.cancel_scope.cancel()

            first_read = take_queued(receiver)
            # Read on until the socket is empty too, then a marker proves that
            # nothing is in flight any more: the socket queue is FIFO.
            rest: list[trio_mcast.Datagram] = []
            while True:
                await trio.testing.wait_all_tasks_blocked()
                more = take_queued(receiver)
                if not more:
                    break
                rest += more
            sender.sendto(SEQUENCE.pack(MARKER_SEQUENCE), (GROUP, PORT))
            with trio.fail_after(10):
                marker = await receiver.receive()
            with pytest.raises(trio.WouldBlock):
                receiver.receive_nowait()
            final = receiver.statistics()

    assert SEQUENCE.unpack(marker.payload) == (MARKER_SEQUENCE,)
    kernel_drops = final.kernel_drops
    assert kernel_drops is not None
    # Where every datagram went, exactly.
    assert sent + 1 == final.datagrams + kernel_drops, (sent, final)
    assert final.datagrams == len(first_read) + len(rest) + 1 + final.queue_drops
    assert final.pending == 0
    # The flood overflowed the queue and the receive buffer many times over.
    assert sent > 20 * QUEUE_SIZE, sent
    assert stalled.pending == QUEUE_SIZE
    assert len(first_read) == QUEUE_SIZE

    numbers = sequences(first_read + rest)
    assert numbers == sorted(set(numbers)), "datagrams out of order or duplicated"
    assert numbers[-1] < sent
    if overflow == "drop-newest":
        assert final.queue_drops == 0
        assert kernel_drops > 0
    else:
        assert final.queue_drops > 0
        # The queue held the newest datagrams taken from the socket: of those
        # sent after its first one, any it lacks was dropped by the kernel (or
        # came in late, after the first read, into ``rest``).
        queued = sequences(first_read)
        first, last = queued[0], queued[-1]
        assert (last - first + 1) - QUEUE_SIZE <= kernel_drops
        assert (sent - 1 - last) <= kernel_drops + len(rest)

    allowance = QUEUE_SIZE * (PAYLOAD_SIZE + OVERHEAD_PER_DATAGRAM) + RSS_SLACK
    assert peak_rss - rss_before <= allowance, (
        f"RSS grew by {(peak_rss - rss_before) / MIB:.1f} MiB during the flood,"
        f" more than {allowance / MIB:.1f} MiB: the queue is not bounding memory"
    )
