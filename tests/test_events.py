"""Interface events: the stream that hands them out, and how the CLI words them."""

from __future__ import annotations

import errno
import json

import pytest
import trio
import trio.testing

from trio_mcast import InterfaceLost, InterfaceReturned, JoinError, Rejoined, RejoinFailed
from trio_mcast._cli._event_output import EventLines, event_record
from trio_mcast._interface_watch import EVENT_BACKLOG, EventStream

pytestmark = pytest.mark.no_network

REFUSAL = JoinError(
    "cannot join group 239.1.1.2 on interface 'eth0': No buffer space available (errno 105)",
    errno=errno.ENOBUFS,
    group="239.1.1.2",
    interface="eth0",
)


async def test_a_stream_hands_out_events_in_order_then_ends_when_closed() -> None:
    stream = EventStream()
    first = InterfaceLost(1.0, "eth0", 3, "eth0")
    second = Rejoined(2.0, ("239.1.1.1",), 4)
    received: list[object] = []

    async def read() -> None:
        received.extend([event async for event in stream])

    async with trio.open_nursery() as nursery:
        nursery.start_soon(read)
        await trio.testing.wait_all_tasks_blocked()
        stream.put(first)
        stream.put(second)
        stream.close()
    assert received == [first, second]


async def test_a_slow_reader_loses_the_oldest_events_only() -> None:
    stream = EventStream()
    events = [Rejoined(float(n), (), n) for n in range(EVENT_BACKLOG + 5)]
    for event in events:
        stream.put(event)
    stream.close()
    assert [event async for event in stream] == events[5:]


async def test_next_event_is_a_checkpoint_even_when_one_is_queued() -> None:
    stream = EventStream()
    stream.put(Rejoined(0.0, (), 1))
    with trio.CancelScope() as scope:
        scope.cancel()
        await stream.__anext__()
    assert scope.cancelled_caught


@pytest.mark.parametrize(
    ("lost", "rejoined_line"),
    [
        (
            InterfaceLost(0.0, "eth0", 3, "eth0"),
            "eth0 disappeared; waiting for it to return",
        ),
        (
            InterfaceLost(0.0, 3, 3, "eth0"),
            "interface index 3 (eth0, index 3) disappeared; waiting for it to return",
        ),
        (
            InterfaceLost(0.0, "10.0.0.1", 3, "eth0"),
            "10.0.0.1 is gone from eth0, index 3; waiting for it to return",
        ),
        (
            InterfaceLost(0.0, None, 3, None),
            "the interface the kernel chose for the groups (index 3) disappeared;"
            " waiting for a route to the groups",
        ),
    ],
)
def test_loss_lines_name_the_interface_as_the_user_did(
    lost: InterfaceLost, rejoined_line: str
) -> None:
    assert EventLines().line(lost) == rejoined_line


@pytest.mark.parametrize(
    ("interface", "expected"),
    [
        ("eth0", "eth0 is back (index 7); re-joined 3 groups"),
        (7, "interface index 7 is back (eth0, index 7); re-joined 3 groups"),
        ("10.0.0.1", "10.0.0.1 is back, on eth0, index 7; re-joined 3 groups"),
        (None, "a route to the groups is back, through eth0, index 7; re-joined 3 groups"),
    ],
)
def test_a_return_is_told_with_its_outcome(interface: str | int | None, expected: str) -> None:
    lines = EventLines()
    assert lines.line(InterfaceReturned(1.0, interface, 7, "eth0")) is None
    assert lines.line(Rejoined(1.1, ("a", "b", "c"), 7)) == expected
    assert lines.line(RejoinFailed(1.2, "239.1.1.2", REFUSAL, 0.4)) == (
        f"{expected.split(';')[0]}, but re-joining group 239.1.1.2 failed: {REFUSAL};"
        " retrying in 0.4 s"
    )


def test_each_event_is_a_jsonl_record_of_its_own_type() -> None:
    records = [
        json.loads(event_record(event))
        for event in (
            InterfaceLost(1.5, "eth0", 3, "eth0"),
            InterfaceReturned(2.5, "eth0", 4, "eth0"),
            Rejoined(2.75, ("239.1.1.1",), 4),
            RejoinFailed(3.0, "239.1.1.2", REFUSAL, 0.2),
        )
    ]
    assert records == [
        {"type": "interface_lost", "time": 1.5, "interface": "eth0", "index": 3, "name": "eth0"},
        {
            "type": "interface_returned",
            "time": 2.5,
            "interface": "eth0",
            "index": 4,
            "name": "eth0",
        },
        {"type": "rejoined", "time": 2.75, "groups": ["239.1.1.1"], "index": 4},
        {
            "type": "rejoin_failed",
            "time": 3.0,
            "group": "239.1.1.2",
            "error": str(REFUSAL),
            "errno": errno.ENOBUFS,
            "retry_in": 0.2,
        },
    ]


def test_a_refusal_about_no_one_group_is_worded_without_one() -> None:
    lines = EventLines()
    lines.line(InterfaceReturned(1.0, "eth0", 7, "eth0"))
    refusal = JoinError("cannot bind the socket to interface index 7", errno=errno.EPERM)
    assert lines.line(RejoinFailed(1.2, None, refusal, 5.0)) == (
        "eth0 is back (index 7), but re-joining failed: cannot bind the socket to interface"
        " index 7; retrying in 5.0 s"
    )
