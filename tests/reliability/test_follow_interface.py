"""Memberships follow the interface: recreated, renumbered, down and up, and a storm.

The receiver is in this namespace, joined on ``LINK``, a veth whose other end
(``PEER``) is in a host that sends. Tests delete and recreate ``LINK``
(which takes ``PEER`` with it), move its addresses and take it down, and
check what the receiver reports and delivers, and what ``/proc/net/igmp``
and ``igmp6`` hold.

The interface is named three ways: by name, by IPv4 address, and not at all
(the kernel's route for the group, which the tests point at ``LINK`` with a
route of its own).
"""

from __future__ import annotations

import errno
import json
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pytest
import trio
import trio.testing

import trio_mcast
import trio_mcast._netlink
import trio_mcast._receiver
from tests import netns
from tests.cli_process import LISTENING, cli_argv, running_cli
from tests.receiving import DEADLINE, receive_n, receive_until
from tests.reliability._support import MIB, rss_bytes
from trio_mcast import testing

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

PORT: Final = 40911
REPOSITORY: Final = Path(__file__).resolve().parents[2]
LINK: Final = "tmfollow0"
#: Where an address moves to in the test that follows it to another interface.
OTHER_LINK: Final = "tmfollow1"
PEER: Final = "eth1"
OURS: Final = {socket.AF_INET: "10.216.0.1", socket.AF_INET6: "fd99:216::1"}
RENUMBERED: Final = {socket.AF_INET: "10.216.0.3", socket.AF_INET6: "fd99:216::3"}
THEIRS: Final = {socket.AF_INET: "10.216.0.2", socket.AF_INET6: "fd99:216::2"}
PREFIX: Final = {socket.AF_INET: 24, socket.AF_INET6: 64}
GROUPS: Final = {socket.AF_INET: "239.62.0.1", socket.AF_INET6: "ff15::62:1"}
SSM_GROUPS: Final = {socket.AF_INET: "232.62.0.1", socket.AF_INET6: "ff35::62:1"}
#: Joined and left at run time: never to be joined again.
LEFT_GROUPS: Final = {socket.AF_INET: "239.62.0.2", socket.AF_INET6: "ff15::62:2"}
SECOND_GROUPS: Final = {socket.AF_INET: "239.62.0.3", socket.AF_INET6: "ff15::62:3"}
#: Routes that make the kernel choose LINK for the test groups. IPv6 looks in
#: the local table first, where every interface has ff00::/8.
KERNEL_ROUTES: Final = (
    "route add 239.62.0.0/16 dev {link}",
    "route add 232.62.0.0/16 dev {link}",
    "route add ff15::62:0/112 dev {link} table local",
    "route add ff35::62:0/112 dev {link} table local",
)
#: The issue's promise: memberships are back within a second of the interface.
REJOIN_DEADLINE: Final = 1.0
FAMILIES: Final = [
    pytest.param(socket.AF_INET, id="ipv4"),
    pytest.param(socket.AF_INET6, id="ipv6"),
]
MODES: Final = [pytest.param(False, id="any-source"), pytest.param(True, id="ssm")]
#: How each test names the interface; by address is IPv4 only.
NAMINGS: Final = [
    pytest.param(socket.AF_INET, "name", id="ipv4-by-name"),
    pytest.param(socket.AF_INET, "address", id="ipv4-by-address"),
    pytest.param(socket.AF_INET, "kernel", id="ipv4-kernel-choice"),
    pytest.param(socket.AF_INET6, "name", id="ipv6-by-name"),
    pytest.param(socket.AF_INET6, "kernel", id="ipv6-kernel-choice"),
]


@dataclass
class RecreatableLink:
    """``LINK`` between this namespace and a sending host, made and unmade at will."""

    host: testing.Host

    def create(self, name: str = LINK, *, address: str | None = None) -> int:
        """Create ``name`` with our addresses (IPv4 ``address`` if given) and routes; its index."""
        ours4 = address or OURS[socket.AF_INET]
        testing.run_ip_batch(
            [
                f"link add {name} type veth peer name {PEER} netns {self.host.pid}",
                f"addr add {ours4}/24 dev {name}",
                f"addr add {OURS[socket.AF_INET6]}/64 dev {name} nodad",
                f"link set {name} up",
                *(route.format(link=name) for route in KERNEL_ROUTES),
            ]
        )
        return socket.if_nametoindex(name)

    def connect_peer(self) -> None:
        """Configure the host's end and wait until it can send multicast."""
        testing.run_ip_batch(
            [
                f"addr add {THEIRS[socket.AF_INET]}/24 dev {PEER}",
                f"addr add {THEIRS[socket.AF_INET6]}/64 dev {PEER} nodad",
                f"link set {PEER} up",
                f"route add 224.0.0.0/4 dev {PEER}",
            ],
            netns_pid=self.host.pid,
        )
        testing.wait_for_multicast_routes(PEER, netns_pid=self.host.pid)

    def delete(self, name: str = LINK) -> None:
        testing.run_ip("link", "del", name)

    def sender(self, family: socket.AddressFamily, *, bind: bool = True) -> socket.socket:
        """A socket in the host that sends out of ``PEER`` (as it is now), from ``THEIRS``."""
        sock = self.host.socket(family)
        if family == socket.AF_INET:
            sock.setsockopt(
                socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(THEIRS[family])
            )
        else:
            with testing.entered(self.host.ns_path):
                index = socket.if_nametoindex(PEER)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
        if bind:
            # The source is THEIRS even when the host holds other addresses.
            sock.bind((THEIRS[family], 0))
        return sock


@pytest.fixture
def link() -> Iterator[RecreatableLink]:
    host = testing.spawn_host("sender", 2, interface=PEER)
    recreatable = RecreatableLink(host)
    try:
        recreatable.create()
        recreatable.connect_peer()
        yield recreatable
    finally:
        present = {name for _, name in socket.if_nameindex()}
        for name in (LINK, OTHER_LINK):
            if name in present:
                testing.run_ip("link", "del", name)
        host.stop()


def interface_for(naming: str) -> str | None:
    return {"name": LINK, "address": OURS[socket.AF_INET], "kernel": None}[naming]


def channel(family: socket.AddressFamily, ssm: bool) -> tuple[str, list[str] | None]:
    """A test's group, and its one source (the sending host) when source-specific."""
    return (SSM_GROUPS if ssm else GROUPS)[family], [THEIRS[family]] if ssm else None


def groups_on(family: socket.AddressFamily, name: str = LINK) -> set[str]:
    return {group for interface, group in netns.memberships(family) if interface == name}


async def next_event(events: AsyncIterator[trio_mcast.ReceiverEvent]) -> trio_mcast.ReceiverEvent:
    with trio.fail_after(DEADLINE):
        return await events.__anext__()


async def delivers(
    link: RecreatableLink,
    receiver: trio_mcast.MulticastReceiver,
    group: str,
    count: int = 1,
    tag: bytes = b"",
) -> None:
    """``count`` datagrams sent now all arrive, in order, and nothing else does."""
    family = socket.AF_INET6 if ":" in group else socket.AF_INET
    payloads = [b"%s %d" % (tag, number) for number in range(count)]
    with link.sender(family) as sender:
        for payload in payloads:
            sender.sendto(payload, (group, PORT))
        received = await receive_n(receiver, count)
    assert [(d.payload, d.source[0], d.group) for d in received] == [
        (payload, THEIRS[family], group) for payload in payloads
    ]


@pytest.mark.parametrize("ssm", MODES)
@pytest.mark.parametrize(("family", "naming"), NAMINGS)
async def test_a_recreated_link_is_rejoined_within_a_second_and_loses_nothing_after(
    link: RecreatableLink, family: socket.AddressFamily, naming: str, ssm: bool
) -> None:
    group, sources = channel(family, ssm)
    interface = interface_for(naming)
    async with trio_mcast.open_multicast_receiver(
        group, PORT, interface=interface, sources=sources
    ) as receiver:
        events = receiver.events()
        await delivers(link, receiver, group, tag=b"before")
        old = socket.if_nametoindex(LINK)
        assert (receiver.state, receiver.interface_index) == ("joined", old)

        link.delete()
        lost = await next_event(events)
        assert lost == trio_mcast.InterfaceLost(lost.timestamp, interface, old, LINK)
        assert (receiver.state, receiver.interface_index) == ("waiting for interface", None)
        assert receiver.groups == (group,)

        started = time.time()
        new = link.create()
        with trio.fail_after(REJOIN_DEADLINE):
            returned = await events.__anext__()
            rejoined = await events.__anext__()
        assert returned == trio_mcast.InterfaceReturned(returned.timestamp, interface, new, LINK)
        assert rejoined == trio_mcast.Rejoined(rejoined.timestamp, (group,), new)
        assert started <= rejoined.timestamp
        assert (receiver.state, receiver.interface_index) == ("joined", new)
        assert group in groups_on(family)

        link.connect_peer()
        await delivers(link, receiver, group, 50, tag=b"after")
        statistics = receiver.statistics()
        assert (statistics.rejoins, statistics.interface_losses) == (1, 1)
        assert (statistics.kernel_drops, statistics.filtered) == (0, 0)
    assert group not in groups_on(family)


@pytest.mark.parametrize("family", FAMILIES)
async def test_an_ssm_channel_rejoined_delivers_only_its_sources(
    link: RecreatableLink, family: socket.AddressFamily
) -> None:
    group = SSM_GROUPS[family]
    async with trio_mcast.open_multicast_receiver(
        group, PORT, interface=LINK, sources=[THEIRS[family]]
    ) as receiver:
        events = receiver.events()
        link.delete()
        assert isinstance(await next_event(events), trio_mcast.InterfaceLost)
        link.create()
        assert isinstance(await next_event(events), trio_mcast.InterfaceReturned)
        assert isinstance(await next_event(events), trio_mcast.Rejoined)
        link.connect_peer()
        # A second address on the host's end: a sender the channel excludes.
        stranger = "10.216.0.9" if family == socket.AF_INET else "fd99:216::9"
        testing.run_ip_batch(
            [
                f"addr add {stranger}/{PREFIX[family]} dev {PEER}"
                + (" nodad" if ":" in stranger else "")
            ],
            netns_pid=link.host.pid,
        )
        with link.sender(family, bind=False) as other:
            other.bind((stranger, 0))
            other.sendto(b"stranger", (group, PORT))
        await delivers(link, receiver, group, tag=b"channel")
        statistics = receiver.statistics()
    assert statistics.datagrams == 1


@pytest.mark.parametrize("family", FAMILIES)
async def test_memberships_joined_and_left_at_run_time_are_rebuilt_exactly(
    link: RecreatableLink, family: socket.AddressFamily
) -> None:
    kept, left = GROUPS[family], LEFT_GROUPS[family]
    channel = SSM_GROUPS[family]
    async with trio_mcast.open_multicast_receiver(
        kept, PORT, interface=LINK, bind_to_group=False
    ) as receiver:
        events = receiver.events()
        await receiver.join(channel, sources=[THEIRS[family]])
        await receiver.join(left)
        await receiver.leave(left)
        link.delete()
        assert isinstance(await next_event(events), trio_mcast.InterfaceLost)
        # Changes while the interface is away are kept, and made when it returns.
        blocked = "10.216.0.77" if family == socket.AF_INET else "fd99:216::77"
        await receiver.block(kept, blocked)
        new = link.create()
        assert isinstance(await next_event(events), trio_mcast.InterfaceReturned)
        rejoined = await next_event(events)
        assert rejoined == trio_mcast.Rejoined(rejoined.timestamp, (kept, channel), new)
        assert groups_on(family) >= {kept, channel}
        assert left not in groups_on(family)
        assert [(m.group, m.mode, m.sources) for m in receiver.memberships] == [
            (kept, "exclude", (blocked,)),
            (channel, "include", (THEIRS[family],)),
        ]
        link.connect_peer()
        with link.sender(family) as sender:
            for group in (left, kept, channel):
                sender.sendto(group.encode(), (group, PORT))
        received = await receive_until(receiver, channel.encode())
        assert [d.group for d in received] == [kept, channel]


@pytest.mark.parametrize("ssm", MODES)
@pytest.mark.parametrize(("family", "naming"), NAMINGS)
async def test_renumbering_follows_an_address_and_leaves_names_and_routes_alone(
    link: RecreatableLink, family: socket.AddressFamily, naming: str, ssm: bool
) -> None:
    group, sources = channel(family, ssm)
    interface = interface_for(naming)
    index = socket.if_nametoindex(LINK)
    async with trio_mcast.open_multicast_receiver(
        group, PORT, interface=interface, sources=sources
    ) as receiver:
        events = receiver.events()
        ours, prefix = OURS[family], PREFIX[family]
        renumbered = RENUMBERED[family]
        testing.run_ip_batch(
            [
                f"addr del {ours}/{prefix} dev {LINK}",
                f"addr add {renumbered}/{prefix} dev {LINK}" + (" nodad" if ":" in ours else ""),
            ]
        )
        if naming == "address":
            lost = await next_event(events)
            assert lost == trio_mcast.InterfaceLost(lost.timestamp, interface, index, LINK)
            assert receiver.state == "waiting for interface"
            assert group not in groups_on(family)
            testing.run_ip("addr", "add", f"{ours}/{prefix}", "dev", LINK)
            assert isinstance(await next_event(events), trio_mcast.InterfaceReturned)
            rejoined = await next_event(events)
            assert rejoined == trio_mcast.Rejoined(rejoined.timestamp, (group,), index)
        await delivers(link, receiver, group, 5)
        await trio.testing.wait_all_tasks_blocked()
        statistics = receiver.statistics()
        expected = (1, 1) if naming == "address" else (0, 0)
        assert (statistics.rejoins, statistics.interface_losses) == expected
        assert (receiver.state, receiver.interface_index) == ("joined", index)


async def test_an_address_is_followed_to_another_interface(link: RecreatableLink) -> None:
    group = GROUPS[socket.AF_INET]
    address = OURS[socket.AF_INET]
    async with trio_mcast.open_multicast_receiver(group, PORT, interface=address) as receiver:
        events = receiver.events()
        link.delete()
        assert isinstance(await next_event(events), trio_mcast.InterfaceLost)
        other = link.create(OTHER_LINK)
        returned = await next_event(events)
        assert returned == trio_mcast.InterfaceReturned(
            returned.timestamp, address, other, OTHER_LINK
        )
        assert isinstance(await next_event(events), trio_mcast.Rejoined)
        assert receiver.interface_index == other
        assert group in groups_on(socket.AF_INET, OTHER_LINK)
        link.connect_peer()
        await delivers(link, receiver, group, 5)


@pytest.mark.parametrize("ssm", MODES)
@pytest.mark.parametrize(("family", "naming"), NAMINGS)
async def test_link_down_then_up_keeps_the_memberships_and_rejoins_nothing(
    link: RecreatableLink, family: socket.AddressFamily, naming: str, ssm: bool
) -> None:
    group, sources = channel(family, ssm)
    index = socket.if_nametoindex(LINK)
    async with trio_mcast.open_multicast_receiver(
        group, PORT, interface=interface_for(naming), sources=sources
    ) as receiver:
        testing.run_ip("link", "set", LINK, "down")
        # The kernel keeps a down interface's memberships.
        assert group in groups_on(family)
        testing.run_ip("link", "set", LINK, "up")
        testing.wait_for_multicast_routes(PEER, netns_pid=link.host.pid)
        await delivers(link, receiver, group, 5)
        await trio.testing.wait_all_tasks_blocked()
        statistics = receiver.statistics()
        assert (statistics.rejoins, statistics.interface_losses) == (0, 0)
        assert (receiver.state, receiver.interface_index) == ("joined", index)


STORM_CYCLES: Final = 100
STORM_BURST: Final = 10


@pytest.mark.parametrize(("family", "naming"), NAMINGS)
async def test_a_storm_of_recreations_ends_with_exactly_the_right_memberships(
    link: RecreatableLink, family: socket.AddressFamily, naming: str
) -> None:
    kept = GROUPS[family]
    second = SECOND_GROUPS[family]
    left = LEFT_GROUPS[family]
    channel = SSM_GROUPS[family]
    cycle = [
        f"link del {LINK}",
        f"link add {LINK} type veth peer name {PEER} netns {link.host.pid}",
    ]
    if naming == "address":
        cycle.append(f"addr add {OURS[socket.AF_INET]}/24 dev {LINK}")
    elif naming == "kernel":
        cycle.append(f"link set {LINK} up")
        cycle.extend(route.format(link=LINK) for route in KERNEL_ROUTES)
    async with trio_mcast.open_multicast_receiver(
        [kept, second], PORT, interface=interface_for(naming), bind_to_group=False
    ) as receiver:
        events = receiver.events()
        await receiver.join(channel, sources=[THEIRS[family]])
        await receiver.join(left)
        await receiver.leave(left)
        rss_after_first_burst = 0
        for burst in range(STORM_CYCLES // STORM_BURST):
            testing.run_ip_batch(cycle * STORM_BURST)
            # Let the receiver keep up between bursts, as with a flapping link.
            await trio.testing.wait_all_tasks_blocked()
            if burst == 0:
                rss_after_first_burst = rss_bytes()
        # The storm ends with the link deleted and made again, fully configured.
        link.delete()
        final = link.create()
        last: trio_mcast.Rejoined | None = None
        with trio.fail_after(DEADLINE):
            async for event in events:
                if isinstance(event, trio_mcast.Rejoined) and event.ifindex == final:
                    last = event
                    break
        assert last is not None
        assert last.groups == (kept, second, channel)
        assert groups_on(family) & {kept, second, left, channel} == {kept, second, channel}
        assert rss_bytes() - rss_after_first_burst < 4 * MIB
        statistics = receiver.statistics()
        assert statistics.interface_losses == statistics.rejoins >= STORM_BURST
        link.connect_peer()
        with link.sender(family) as sender:
            for group in (left, kept, second, channel):
                sender.sendto(group.encode(), (group, PORT))
        received = await receive_until(receiver, channel.encode())
        assert [d.group for d in received] == [kept, second, channel]
    assert groups_on(family) & {kept, second, left, channel} == set()


@pytest.mark.parametrize("family", FAMILIES)
async def test_the_cli_reports_each_event_on_stderr_and_as_jsonl(
    link: RecreatableLink, family: socket.AddressFamily
) -> None:
    group = GROUPS[family]
    argv = cli_argv(
        "recv",
        group,
        "--port",
        str(PORT),
        "--interface",
        LINK,
        "--format",
        "jsonl",
        "--count",
        "2",
    )
    old = socket.if_nametoindex(LINK)
    async with running_cli(argv, cwd=REPOSITORY) as recv:
        with trio.fail_after(DEADLINE):
            await recv.stderr.expect(LISTENING)
            with link.sender(family) as sender:
                sender.sendto(b"before", (group, PORT))
            assert json.loads(await recv.stdout.readline() or "")["payload"] == "before"
            link.delete()
            assert await recv.stderr.readline() == (
                f"trio-mcast: {LINK} disappeared; waiting for it to return"
            )
            new = link.create()
            assert await recv.stderr.readline() == (
                f"trio-mcast: {LINK} is back (index {new}); re-joined 1 group"
            )
            records = [json.loads(await recv.stdout.readline() or "") for _ in range(3)]
            link.connect_peer()
            with link.sender(family) as sender:
                sender.sendto(b"after", (group, PORT))
            returncode, output, errors = await recv.finish()
    assert [(r["type"], r["index"]) for r in records] == [
        ("interface_lost", old),
        ("interface_returned", new),
        ("rejoined", new),
    ]
    assert records[0]["interface"] == records[0]["name"] == LINK
    assert records[2]["groups"] == [group]
    assert all(isinstance(r["time"], float) for r in records)
    assert returncode == 0, errors
    assert [json.loads(line)["payload"] for line in output] == ["after"]
    assert "trio-mcast: interface: lost 1 time, re-joined 1 time" in errors


MEMBERSHIP_LIMIT: Final = "/proc/sys/net/ipv4/igmp_max_memberships"


async def test_a_refused_rejoin_is_retried_with_back_off_and_leaves_nothing_half_joined(
    link: RecreatableLink,
) -> None:
    groups = ["239.62.0.1", "239.62.0.3", "239.62.0.4"]
    limit = await trio.Path(MEMBERSHIP_LIMIT).read_text()
    async with trio_mcast.open_multicast_receiver(
        groups, PORT, interface=LINK, bind_to_group=False
    ) as receiver:
        events = receiver.events()
        link.delete()
        assert isinstance(await next_event(events), trio_mcast.InterfaceLost)
        try:
            await trio.Path(MEMBERSHIP_LIMIT).write_text("1")
            new = link.create()
            assert isinstance(await next_event(events), trio_mcast.InterfaceReturned)
            failed = await next_event(events)
            assert isinstance(failed, trio_mcast.RejoinFailed)
            assert isinstance(failed.error, trio_mcast.JoinError)
            assert (failed.group, failed.error.errno) == (groups[1], errno.ENOBUFS)
            assert failed.retry_in == pytest.approx(0.1)
            # All or nothing: the first group, joined before the refusal, was left.
            assert groups_on(socket.AF_INET) & set(groups) == set()
            assert receiver.state == "waiting for interface"
            # Refused again, later each time, until the limit is raised.
            again = await next_event(events)
            assert isinstance(again, trio_mcast.RejoinFailed)
            assert again.retry_in == pytest.approx(0.2)
        finally:
            await trio.Path(MEMBERSHIP_LIMIT).write_text(limit)
        with trio.fail_after(DEADLINE):
            async for event in events:
                if isinstance(event, trio_mcast.Rejoined):
                    break
                assert isinstance(event, trio_mcast.RejoinFailed)
        assert event == trio_mcast.Rejoined(event.timestamp, tuple(groups), new)
        assert groups_on(socket.AF_INET) >= set(groups)
        link.connect_peer()
        await delivers(link, receiver, groups[2], 3)
        statistics = receiver.statistics()
        assert (statistics.rejoins, statistics.interface_losses) == (1, 1)


@pytest.mark.parametrize("failure", ["no rtnetlink", "subscription refused"])
async def test_without_rtnetlink_the_state_is_unknown_and_nothing_is_followed(
    link: RecreatableLink, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    if failure == "no rtnetlink":
        monkeypatch.setattr(trio_mcast._netlink, "AVAILABLE", False)
    else:

        def refuse() -> socket.socket:
            raise PermissionError(errno.EPERM, "Operation not permitted")

        monkeypatch.setattr(trio_mcast._netlink, "open_notifications", refuse)
    group = GROUPS[socket.AF_INET]
    index = socket.if_nametoindex(LINK)
    fds_before = netns.open_fd_count()
    async with trio_mcast.open_multicast_receiver(group, PORT, interface=LINK) as receiver:
        events = receiver.events()
        assert (receiver.state, receiver.interface_index) == ("unknown", index)
        await delivers(link, receiver, group)
        link.delete()
        link.create()
        await trio.testing.wait_all_tasks_blocked()
        # Not followed, and not pretended: still unknown, nothing rejoined.
        assert receiver.state == "unknown"
        assert group not in groups_on(socket.AF_INET)
        statistics = receiver.statistics()
        assert (statistics.rejoins, statistics.interface_losses) == (0, 0)
    assert [event async for event in events] == []
    assert netns.open_fd_count() == fds_before


async def test_an_ipv6_socket_that_may_not_move_to_the_new_interface_is_a_refused_rejoin(
    link: RecreatableLink, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As without CAP_NET_RAW: the kernel refuses to move a bound socket.
    monkeypatch.setattr(trio_mcast._receiver, "bind_to_interface", lambda sock, index: False)
    group = GROUPS[socket.AF_INET6]
    async with trio_mcast.open_multicast_receiver(group, PORT, interface=LINK) as receiver:
        events = receiver.events()
        link.delete()
        assert isinstance(await next_event(events), trio_mcast.InterfaceLost)
        new = link.create()
        assert isinstance(await next_event(events), trio_mcast.InterfaceReturned)
        failed = await next_event(events)
    assert isinstance(failed, trio_mcast.RejoinFailed)
    assert failed.group is None
    assert isinstance(failed.error, trio_mcast.JoinError)
    assert failed.error.errno == errno.EPERM
    assert str(failed.error).startswith(
        f"cannot bind the socket to interface index {new}: moving the socket to it needs"
        " CAP_NET_RAW (errno 1)"
    )
    assert receiver.statistics().rejoins == 0
