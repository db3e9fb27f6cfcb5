"""Soak: a steady high rate for a long time, with a second group joined and left every second.

The normal run soaks for 5 s; ``tox -e soak`` sets ``TRIO_MCAST_SOAK_SECONDS=60``
(any value works). Pacing uses trio's clock: each burst is sent at a fixed
point of a schedule (``trio.sleep_until``), so a late burst does not push the
later ones back.

Checked at the end, exactly:

* no loss other than counted kernel drops: every datagram sent to the main
  group arrived, in order, or is one of ``kernel_drops``;
* the second group's datagrams sent while it was joined were delivered, or
  discarded as ``filtered`` when they were still queued in the socket at the
  moment of the leave; those sent while it was left never arrive;
* RSS stays flat: it grows by less than 5 MiB after the first second.
"""

from __future__ import annotations

import struct
from typing import Final

import pytest
import trio

import trio_mcast
from tests import netns
from tests.receiving import DEADLINE
from tests.reliability._support import MIB, rss_bytes, soak_seconds

PORT: Final = 41001
GROUP: Final = "239.70.0.1"
SECOND_GROUP: Final = "239.70.0.2"
SOAK_SECONDS: Final = soak_seconds(5.0)
TICK: Final = 0.001
PER_TICK: Final = 20  # 20,000 datagrams a second
PAYLOAD_SIZE: Final = 200
SECOND_GROUP_BURST: Final = 10
WARM_UP_SECONDS: Final = 1.0
RSS_GROWTH_LIMIT: Final = 5 * MIB
SEQUENCE: Final = struct.Struct(">Q")
MARKER: Final = b"end of soak"


class Soak:
    """Counters shared by the soak's tasks."""

    def __init__(self) -> None:
        self.sent = 0
        self.received = 0
        self.last_sequence = -1
        self.second_sent_joined = 0
        self.second_sent_left = 0
        self.second_received: list[bytes] = []
        self.rss: list[int] = []


@pytest.mark.soak
async def test_soak_at_a_steady_rate_with_join_and_leave_every_second() -> None:
    soak = Soak()
    body = bytes(PAYLOAD_SIZE - SEQUENCE.size)
    with netns.loopback_sender() as sender:
        async with trio_mcast.open_multicast_receiver(
            GROUP, PORT, interface="lo", bind_to_group=False, receive_buffer_size=4 * MIB
        ) as receiver:
            start = trio.current_time()
            end = start + SOAK_SECONDS

            async def send_steadily() -> None:
                tick = 0
                while (due := start + tick * TICK) < end:
                    await trio.sleep_until(due)
                    for _ in range(PER_TICK):
                        sender.sendto(SEQUENCE.pack(soak.sent) + body, (GROUP, PORT))
                        soak.sent += 1
                    tick += 1

            async def join_and_leave_every_second() -> None:
                second = 0
                while (due := start + second) < end:
                    await trio.sleep_until(due)
                    await receiver.join(SECOND_GROUP)
                    for number in range(SECOND_GROUP_BURST):
                        sender.sendto(b"joined %d %d" % (second, number), (SECOND_GROUP, PORT))
                        soak.second_sent_joined += 1
                    await trio.sleep_until(due + 0.5)
                    await receiver.leave(SECOND_GROUP)
                    for number in range(SECOND_GROUP_BURST):
                        sender.sendto(b"left %d %d" % (second, number), (SECOND_GROUP, PORT))
                        soak.second_sent_left += 1
                    second += 1

            async def sample_rss() -> None:
                second = 1
                while (due := start + second) <= end:
                    await trio.sleep_until(due)
                    soak.rss.append(rss_bytes())
                    second += 1

            async def consume() -> None:
                async for datagram in receiver:
                    if datagram.group == GROUP:
                        if datagram.payload == MARKER:
                            return
                        (sequence,) = SEQUENCE.unpack_from(datagram.payload)
                        assert sequence > soak.last_sequence, "out of order"
                        soak.last_sequence = sequence
                        soak.received += 1
                    else:
                        soak.second_received.append(datagram.payload)

            with trio.fail_after(SOAK_SECONDS + DEADLINE):
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(consume)
                    async with trio.open_nursery() as schedule:
                        schedule.start_soon(send_steadily)
                        schedule.start_soon(join_and_leave_every_second)
                        schedule.start_soon(sample_rss)
                    # All sent; the socket is FIFO, so the consumer sees the marker last.
                    sender.sendto(MARKER, (GROUP, PORT))
            statistics = receiver.statistics()

    kernel_drops = statistics.kernel_drops
    assert kernel_drops is not None
    assert statistics.queue_drops == 0
    lost = soak.sent - soak.received
    second_lost = soak.second_sent_joined - len(soak.second_received) - statistics.filtered
    assert lost + second_lost == kernel_drops, (soak.sent, soak.received, statistics)
    assert statistics.datagrams == soak.received + 1 + len(soak.second_received)
    assert all(payload.startswith(b"joined ") for payload in soak.second_received)
    assert soak.second_sent_left > 0
    assert soak.sent >= SOAK_SECONDS * PER_TICK / TICK * 0.99
    warm = [rss for second, rss in enumerate(soak.rss, 1) if second >= WARM_UP_SECONDS]
    growth = max(warm) - warm[0]
    assert growth < RSS_GROWTH_LIMIT, f"RSS grew by {growth / MIB:.1f} MiB: {soak.rss}"
