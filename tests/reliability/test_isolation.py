"""Isolation across hosts: a source-specific receiver hears its source and group, nothing else.

The LAN has three hosts: senders A and B, and the receiver R. R joins group
G with sources [A]. A and B both send to G, to another group G' on the same
port, and unicast to R's address on that port. R must deliver exactly A's
datagrams to G, in order.

"R never receives X" is only meaningful once X has certainly reached R, so
every unwanted datagram is *witnessed* on R before the final check: plain
observer sockets on R join G and G' any-source (so R as a host is a member of
both, for every source, and B's datagrams to G pass the interface filter),
and the unicast datagrams are seen by an observer bound to R's address (or,
when the receiver itself is bound to the wildcard and so is offered them, by
its ``filtered`` counter). Then A sends a marker to G; the receiver's socket
is FIFO, so once the marker is out, everything before it has been handled.
"""

from __future__ import annotations

import contextlib
import json
import socket
from pathlib import Path
from typing import Final

import pytest
import trio

import trio_mcast
from tests.cli_process import LISTENING, cli_argv, running_cli
from tests.receiving import DEADLINE, receive_n, receive_until, recv_exactly
from tests.reliability._support import observer, wait_until
from trio_mcast import testing

PORT: Final = 40601
ROUNDS: Final = 50
MARKER: Final = b"A marker"
REPOSITORY: Final = Path(__file__).resolve().parents[2]
#: Groups per family: G (source-specific range) and another group on the same port.
GROUPS: Final = {
    socket.AF_INET: ("232.30.0.1", "232.30.0.2", "232.30.0.3"),
    socket.AF_INET6: ("ff3e::30:1", "ff3e::30:2", "ff3e::30:3"),
}
#: Sender sockets per host in the port-sharing test: each has its own source
#: port, so its datagrams hash differently in any kernel socket selection.
SENDER_SOCKETS: Final = 16
FAMILIES: Final = pytest.mark.parametrize(
    "family", [socket.AF_INET, socket.AF_INET6], ids=["ipv4", "ipv6"]
)


def unicast_observer(family: socket.AddressFamily, local: str) -> socket.socket:
    """A socket bound to ``local``:PORT, sharing the port, to witness unicast."""
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((local, PORT))
    return sock


def a_payload(number: int) -> bytes:
    return b"A to G %d" % number


def send_unwanted(
    number: int,
    group: str,
    other_group: str,
    unicast_to: str,
    a: socket.socket,
    b: socket.socket,
) -> None:
    """One of each datagram R must not deliver, from A and from B."""
    b.sendto(b"B to G %d" % number, (group, PORT))
    a.sendto(b"A to G' %d" % number, (other_group, PORT))
    b.sendto(b"B to G' %d" % number, (other_group, PORT))
    a.sendto(b"A unicast %d" % number, (unicast_to, PORT))
    b.sendto(b"B unicast %d" % number, (unicast_to, PORT))


@FAMILIES
@pytest.mark.parametrize("bind_to_group", [None, False], ids=["bound", "wildcard"])
async def test_receiver_hears_only_its_source_on_its_group(
    multicast_lan: testing.LanFactory, family: socket.AddressFamily, bind_to_group: bool | None
) -> None:
    lan = multicast_lan(2, names=("a", "b"))
    host_a, host_b = lan.hosts
    group, other_group, _ = GROUPS[family]
    here = lan.address(family)
    # With a wildcard-bound receiver the kernel offers it unicast to the port
    # and the receiver must discard it (counted as filtered); a group-bound
    # receiver is never offered unicast, so an observer witnesses it instead.
    wildcard = bind_to_group is False
    with contextlib.ExitStack() as stack:
        watch_group = stack.enter_context(observer(family, group, PORT, lan.ifindex))
        watch_other = stack.enter_context(observer(family, other_group, PORT, lan.ifindex))
        watch_unicast = None if wildcard else stack.enter_context(unicast_observer(family, here))
        from_a = stack.enter_context(host_a.sender(family))
        from_b = stack.enter_context(host_b.sender(family))
        async with trio_mcast.open_multicast_receiver(
            group,
            PORT,
            interface=lan.bridge,
            sources=[host_a.address(family)],
            bind_to_group=bind_to_group,
        ) as receiver:
            for number in range(ROUNDS):
                send_unwanted(number, group, other_group, here, from_a, from_b)
                from_a.sendto(a_payload(number), (group, PORT))

            seen_on_g = await recv_exactly(watch_group, 2 * ROUNDS)
            assert sum(payload.startswith(b"B to G ") for payload in seen_on_g) == ROUNDS
            seen_on_other = await recv_exactly(watch_other, 2 * ROUNDS)
            assert all(payload.startswith((b"A to G' ", b"B to G' ")) for payload in seen_on_other)
            if watch_unicast is None:
                await wait_until(
                    lambda: receiver.statistics().filtered == 2 * ROUNDS,
                    "the receiver has discarded every unicast datagram",
                )
            else:
                seen_unicast = await recv_exactly(watch_unicast, 2 * ROUNDS)
                assert all(payload.split()[1] == b"unicast" for payload in seen_unicast)

            from_a.sendto(MARKER, (group, PORT))
            received = await receive_until(receiver, MARKER)
            with pytest.raises(trio.WouldBlock):
                receiver.receive_nowait()
            statistics = receiver.statistics()

    assert [d.payload for d in received] == [a_payload(n) for n in range(ROUNDS)] + [MARKER]
    assert {(d.source[0], d.group) for d in received} == {(host_a.address(family), group)}
    assert statistics.datagrams == ROUNDS + 1
    assert statistics.filtered == (2 * ROUNDS if wildcard else 0)
    assert (statistics.queue_drops, statistics.kernel_drops) == (0, 0)


@FAMILIES
async def test_receivers_sharing_a_port_each_get_exactly_their_own_datagrams(
    multicast_lan: testing.LanFactory, family: socket.AddressFamily
) -> None:
    """Four receivers on one port and host: source-specific, any-source, two wildcard.

    A regression test: while receivers set SO_REUSEPORT, the kernel's UDP
    early demux could hand a multicast datagram to a single member of the
    reuseport group, whatever that member had joined: the source-specific
    receiver got B's datagrams, and wildcard receivers lost theirs to each
    other (counted only as ``filtered`` on the wrong one).
    """
    lan = multicast_lan(2, names=("a", "b"))
    host_a, host_b = lan.hosts
    group, second, third = GROUPS[family]
    with contextlib.ExitStack() as stack:
        senders = [
            (name, stack.enter_context(host.sender(family)))
            for _ in range(SENDER_SOCKETS)
            for name, host in (("A", host_a), ("B", host_b))
        ]
        async with (
            trio_mcast.open_multicast_receiver(
                group, PORT, interface=lan.bridge, sources=[host_a.address(family)]
            ) as only_a,
            trio_mcast.open_multicast_receiver(group, PORT, interface=lan.bridge) as anyone,
            trio_mcast.open_multicast_receiver(
                second, PORT, interface=lan.bridge, bind_to_group=False
            ) as on_second,
            trio_mcast.open_multicast_receiver(
                third, PORT, interface=lan.bridge, bind_to_group=False
            ) as on_third,
        ):
            for number, (name, sender) in enumerate(senders):
                for destination in (group, second, third):
                    sender.sendto(f"{name} {number} {destination}".encode(), (destination, PORT))
            everyone = [f"{name} {n}" for n, (name, _) in enumerate(senders)]
            # "anyone" hears B: from here on, only_a has been offered B's datagrams.
            heard: dict[str, list[str]] = {}
            for label, receiver, destination, count in (
                ("anyone", anyone, group, len(senders)),
                ("second", on_second, second, len(senders)),
                ("third", on_third, third, len(senders)),
            ):
                received = await receive_n(receiver, count)
                assert {d.group for d in received} == {destination}
                heard[label] = sorted(d.payload.decode().rsplit(" ", 1)[0] for d in received)
            _, last_a = senders[-2]
            for destination in (group, second, third):
                last_a.sendto(MARKER, (destination, PORT))
            received = await receive_until(only_a, MARKER)
            heard["only_a"] = sorted(d.payload.decode().rsplit(" ", 1)[0] for d in received[:-1])
            for receiver in (anyone, on_second, on_third):
                assert [d.payload for d in await receive_until(receiver, MARKER)] == [MARKER]
            for receiver in (only_a, anyone, on_second, on_third):
                with pytest.raises(trio.WouldBlock):
                    receiver.receive_nowait()
            statistics = [r.statistics() for r in (only_a, anyone, on_second, on_third)]

    assert heard == {
        "anyone": sorted(everyone),
        "second": sorted(everyone),
        "third": sorted(everyone),
        "only_a": sorted(line for line in everyone if line.startswith("A ")),
    }
    assert [s.datagrams for s in statistics] == [SENDER_SOCKETS + 1] + [2 * SENDER_SOCKETS + 1] * 3
    assert [s.filtered for s in statistics] == [0, 0, 0, 0]


@FAMILIES
async def test_cli_recv_in_a_host_prints_only_its_source(
    multicast_lan: testing.LanFactory, family: socket.AddressFamily
) -> None:
    lan = multicast_lan(3, names=("a", "b", "r"))
    host_a, host_b, host_r = lan.hosts
    group, other_group, _ = GROUPS[family]
    r_address = host_r.address(family)
    argv = cli_argv(
        "recv",
        group,
        "--port",
        str(PORT),
        "--interface",
        host_r.interface,
        "--source",
        host_a.address(family),
        "--count",
        str(ROUNDS),
        "--format",
        "jsonl",
    )
    r_index = host_r.ifindex
    with testing.entered(host_r.ns_path):
        watch_group = observer(family, group, PORT, r_index)
        watch_other = observer(family, other_group, PORT, r_index)
        watch_unicast = unicast_observer(family, r_address)
    with (
        watch_group,
        watch_other,
        watch_unicast,
        host_a.sender(family) as from_a,
        host_b.sender(family) as from_b,
    ):
        async with running_cli(host_r.command(argv), cwd=REPOSITORY) as recv:
            with trio.fail_after(DEADLINE):
                await recv.stderr.expect(LISTENING)
            # Everything unwanted first, witnessed on R, then A's datagrams: had
            # the CLI accepted an unwanted one, it would be among its first
            # --count lines.
            for number in range(ROUNDS):
                send_unwanted(number, group, other_group, r_address, from_a, from_b)
            await recv_exactly(watch_group, ROUNDS)
            await recv_exactly(watch_other, 2 * ROUNDS)
            await recv_exactly(watch_unicast, 2 * ROUNDS)
            for number in range(ROUNDS):
                from_a.sendto(a_payload(number), (group, PORT))
            with trio.fail_after(DEADLINE):
                returncode, output, errors = await recv.read_to_end()

    assert returncode == 0, (output, errors)
    records = [json.loads(line) for line in output.decode("ascii").splitlines()]
    assert [record["payload"] for record in records] == [
        a_payload(n).decode() for n in range(ROUNDS)
    ]
    assert {(record["source"], record["group"]) for record in records} == {
        (host_a.address(family), group)
    }
