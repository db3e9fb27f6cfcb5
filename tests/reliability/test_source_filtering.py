"""Exclude mode, block and unblock, and leaving one source, across a namespace LAN.

Senders A, B and C are hosts on a LAN; the receiver is the test process, on
the bridge. As in ``test_isolation``, "the receiver never gets X" is only
checked once X has certainly reached the host: an observer socket joined for
any source witnesses it, and then a marker from another sender is sent last
(the receiver's socket is FIFO).
"""

from __future__ import annotations

import errno
import json
import socket
from pathlib import Path
from typing import Final

import pytest
import trio

import trio_mcast
from tests.cli_process import LISTENING, cli_argv, running_cli
from tests.membership_reports import (
    ALLOW_NEW_SOURCES,
    BLOCK_OLD_SOURCES,
    CHANGE_TO_EXCLUDE,
    capture,
    packet_socket,
)
from tests.receiving import DEADLINE, receive_n, receive_until, recv_exactly
from tests.reliability._support import observer
from trio_mcast import Membership, testing

PORT: Final = 40641
COUNT: Final = 10
MARKER: Final = b"marker"
REPOSITORY: Final = Path(__file__).resolve().parents[2]
#: Per family: an any-source group, a source-specific group, and one for the
#: report capture (no other member on the link, so the link's filter is ours).
GROUPS: Final = {
    socket.AF_INET: ("239.64.0.1", "232.64.0.1", "239.64.0.2"),
    socket.AF_INET6: ("ff15::64:1", "ff3e::64:1", "ff15::64:2"),
}
FAMILIES: Final = pytest.mark.parametrize(
    "family", [socket.AF_INET, socket.AF_INET6], ids=["ipv4", "ipv6"]
)


def send(sender: socket.socket, label: bytes, group: str, count: int = COUNT) -> list[bytes]:
    payloads = [b"%s %d" % (label, number) for number in range(count)]
    for payload in payloads:
        sender.sendto(payload, (group, PORT))
    return payloads


def mcfilter(family: socket.AddressFamily) -> list[str]:
    """The kernel's source filters in this namespace, one line each."""
    path = "/proc/self/net/mcfilter" if family == socket.AF_INET else "/proc/self/net/mcfilter6"
    with open(path) as file:
        return sorted(file.readlines()[1:])


@FAMILIES
async def test_exclude_delivers_every_sender_but_the_excluded(
    multicast_lan: testing.LanFactory, family: socket.AddressFamily
) -> None:
    lan = multicast_lan(3, names=("a", "b", "c"))
    host_a, host_b, host_c = lan.hosts
    group = GROUPS[family][0]
    with (
        observer(family, group, PORT, lan.ifindex) as witness,
        host_a.sender(family) as from_a,
        host_b.sender(family) as from_b,
        host_c.sender(family) as from_c,
    ):
        async with trio_mcast.open_multicast_receiver(
            group, PORT, interface=lan.bridge, exclude=[host_b.address(family)]
        ) as receiver:
            assert receiver.memberships == (
                Membership(group, "exclude", (host_b.address(family),)),
            )
            expected = send(from_a, b"A", group) + send(from_c, b"C", group)
            send(from_b, b"B", group)
            assert len(await recv_exactly(witness, 3 * COUNT)) == 3 * COUNT
            from_a.sendto(MARKER, (group, PORT))
            received = await receive_until(receiver, MARKER)
    assert [d.payload for d in received] == [*expected, MARKER]
    assert host_b.address(family) not in {d.source[0] for d in received}


@FAMILIES
async def test_block_stops_a_sender_at_once_and_unblock_resumes_it(
    multicast_lan: testing.LanFactory, family: socket.AddressFamily
) -> None:
    lan = multicast_lan(2, names=("a", "c"))
    host_a, host_c = lan.hosts
    group = GROUPS[family][0]
    c = host_c.address(family)
    with (
        observer(family, group, PORT, lan.ifindex) as witness,
        host_a.sender(family) as from_a,
        host_c.sender(family) as from_c,
    ):
        async with trio_mcast.open_multicast_receiver(
            group, PORT, interface=lan.bridge
        ) as receiver:
            before = send(from_c, b"C before", group)
            assert [d.payload for d in await receive_n(receiver, COUNT)] == before

            await receiver.block(group, c)
            assert receiver.memberships == (Membership(group, "exclude", (c,)),)
            send(from_c, b"C blocked", group)
            await recv_exactly(witness, 2 * COUNT)  # before and blocked: both reached the host
            from_a.sendto(MARKER, (group, PORT))
            assert [d.payload for d in await receive_until(receiver, MARKER)] == [MARKER]

            await receiver.unblock(group, c)
            assert receiver.memberships == (Membership(group, "exclude", ()),)
            after = send(from_c, b"C after", group)
            assert [d.payload for d in await receive_n(receiver, COUNT)] == after


@FAMILIES
async def test_leaving_one_source_keeps_the_other(
    multicast_lan: testing.LanFactory, family: socket.AddressFamily
) -> None:
    lan = multicast_lan(2, names=("a", "b"))
    host_a, host_b = lan.hosts
    group = GROUPS[family][1]
    a, b = host_a.address(family), host_b.address(family)
    with (
        observer(family, group, PORT, lan.ifindex) as witness,
        host_a.sender(family) as from_a,
        host_b.sender(family) as from_b,
    ):
        async with trio_mcast.open_multicast_receiver(
            group, PORT, interface=lan.bridge, sources=[a, b]
        ) as receiver:
            both = send(from_a, b"A", group, 1) + send(from_b, b"B", group, 1)
            assert [d.payload for d in await receive_n(receiver, 2)] == both

            await receiver.leave(group, source=a)
            assert list(receiver.memberships) == [Membership(group, "include", (b,))]
            send(from_a, b"A after", group)
            await recv_exactly(witness, 2 + COUNT)
            from_b.sendto(MARKER, (group, PORT))
            assert [d.payload for d in await receive_until(receiver, MARKER)] == [MARKER]

            await receiver.leave(group, source=b)
            assert list(receiver.memberships) == []
            assert list(receiver.groups) == []


@FAMILIES
async def test_reports_on_the_wire_carry_the_block_and_allow_records(
    multicast_lan: testing.LanFactory, family: socket.AddressFamily
) -> None:
    lan = multicast_lan(1, names=("c",))
    (host_c,) = lan.hosts
    group = GROUPS[family][2]
    c = host_c.address(family)
    with packet_socket(lan.bridge) as wire:
        async with trio_mcast.open_multicast_receiver(
            group, PORT, interface=lan.bridge, bind_to_group=False
        ) as receiver:
            joined = await capture(
                wire,
                lambda r: r.group == group and r.record_type == CHANGE_TO_EXCLUDE,
                deadline=DEADLINE,
            )
            assert joined.sources == ()
            await receiver.block(group, c)
            blocked = await capture(
                wire,
                lambda r: r.group == group and r.record_type == BLOCK_OLD_SOURCES,
                deadline=DEADLINE,
            )
            assert blocked.sources == (c,)
            await receiver.unblock(group, c)
            allowed = await capture(
                wire,
                lambda r: r.group == group and r.record_type == ALLOW_NEW_SOURCES,
                deadline=DEADLINE,
            )
            assert allowed.sources == (c,)


def _many_sources(family: socket.AddressFamily, count: int) -> list[str]:
    if family == socket.AF_INET:
        return [f"10.65.{n // 250}.{n % 250 + 1}" for n in range(count)]
    return [f"fd99:65::{n + 1:x}" for n in range(count)]


async def _source_limit(family: socket.AddressFamily) -> int:
    if family == socket.AF_INET:
        return int(await trio.Path("/proc/sys/net/ipv4/igmp_max_msf").read_text())
    # net.ipv6.mld_max_msf is one value for the whole kernel, shown only in
    # the first network namespace; more sources than any sane setting.
    return 4096


@FAMILIES
async def test_every_refused_change_leaves_the_kernel_filter_as_it_was(
    family: socket.AddressFamily, ipv6_link: int
) -> None:
    interface = "lo" if family == socket.AF_INET else ipv6_link
    any_group, ssm_group, _ = GROUPS[family]
    limit = await _source_limit(family)
    too_many = _many_sources(family, limit + 1)
    untouched = mcfilter(family)

    # Opening with an exclude list past the limit: refused, nothing left.
    with pytest.raises(trio_mcast.JoinError) as caught:
        async with trio_mcast.open_multicast_receiver(
            any_group, PORT, interface=interface, exclude=too_many
        ):
            raise AssertionError("opened")
    assert caught.value.errno == errno.ENOBUFS
    assert caught.value.hint is not None
    assert ("igmp_max_msf" if family == socket.AF_INET else "mld_max_msf") in caught.value.hint
    assert mcfilter(family) == untouched

    async with trio_mcast.open_multicast_receiver(
        any_group, PORT, interface=interface, bind_to_group=False
    ) as receiver:
        joined = mcfilter(family)
        # Source-specific join past the limit: all or nothing.
        with pytest.raises(trio_mcast.JoinError):
            await receiver.join(ssm_group, sources=too_many)
        assert mcfilter(family) == joined
        # Blocking one by one up to the limit, then one more: only that one fails.
        refused = None
        for source in too_many:
            try:
                await receiver.block(any_group, source)
            except trio_mcast.JoinError as error:
                refused = error
                break
        assert refused is not None
        assert refused.errno == errno.ENOBUFS
        blocked = mcfilter(family)
        assert refused.source in too_many
        assert receiver.memberships[0].sources == tuple(too_many[: too_many.index(refused.source)])
        # Refused mode switches change nothing either.
        with pytest.raises(trio_mcast.MulticastError):
            await receiver.join(any_group, sources=[too_many[0]])
        with pytest.raises(trio_mcast.MulticastError):
            await receiver.leave(any_group, source=too_many[0])
        assert mcfilter(family) == blocked
    assert mcfilter(family) == untouched


@FAMILIES
async def test_cli_exclude_drops_the_excluded_sender(
    multicast_lan: testing.LanFactory, family: socket.AddressFamily
) -> None:
    lan = multicast_lan(3, names=("a", "b", "r"))
    host_a, host_b, host_r = lan.hosts
    group = GROUPS[family][0]
    argv = cli_argv(
        "recv",
        group,
        "--port",
        str(PORT),
        "--interface",
        host_r.interface,
        "--exclude",
        host_b.address(family),
        "--count",
        str(COUNT),
        "--format",
        "jsonl",
    )
    with testing.entered(host_r.ns_path):
        witness = observer(family, group, PORT, host_r.ifindex)
    with witness, host_a.sender(family) as from_a, host_b.sender(family) as from_b:
        async with running_cli(host_r.command(argv), cwd=REPOSITORY) as recv:
            with trio.fail_after(DEADLINE):
                listening = await recv.stderr.expect(LISTENING)
            send(from_b, b"B", group)
            await recv_exactly(witness, COUNT)
            expected = send(from_a, b"A", group)
            with trio.fail_after(DEADLINE):
                returncode, output, errors = await recv.read_to_end()
    assert returncode == 0, (output, errors)
    assert f"excluding {host_b.address(family)}" in listening
    records = [json.loads(line) for line in output.decode("ascii").splitlines()]
    assert [record["payload"].encode() for record in records] == expected


def test_cli_refuses_source_and_exclude_together(capsys: pytest.CaptureFixture[str]) -> None:
    code = trio_mcast.main(["recv", "232.1.1.1", "-s", "10.0.0.1", "--exclude", "10.0.0.2"])
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        "trio-mcast: error: --source and --exclude cannot be used together: --source accepts"
        " only those senders, --exclude every sender but those"
    )
