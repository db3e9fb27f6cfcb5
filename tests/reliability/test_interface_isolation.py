"""Isolation across the interfaces of one host: a receiver hears its group only from its link.

The test process is a host with two links, one bridge per LAN; sender A is on
LAN 1 and sender B on LAN 2. Linux hands an IPv6 multicast datagram to every
socket that joined its group on *any* interface, so without the receiver's
own binding a receiver joined on LAN 1 would also deliver B's datagrams as
soon as another socket joined the group on LAN 2. IPv4 checks the interface
of each membership itself; the same tests show it.

As in ``test_isolation``, every unwanted datagram is witnessed first (by the
other receiver, on the link where it arrives), then a marker is sent on the
receiver's own link: its socket is FIFO, so once the marker is out,
everything before it has been handled.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Final

import pytest
import trio

import trio_mcast
from tests.receiving import receive_n, receive_until
from trio_mcast import _join

if TYPE_CHECKING:
    from trio_mcast import testing

PORT: Final = 40621
COUNT: Final = 20
MARKER: Final = b"marker"

GROUPS: Final = pytest.mark.parametrize(
    ("family", "group"),
    [
        (socket.AF_INET, "239.82.0.1"),
        (socket.AF_INET6, "ff15::82:1"),
        (socket.AF_INET6, "ff1e::82:1"),
        (socket.AF_INET6, "ff12::82:1"),
    ],
    ids=["ipv4", "ipv6-site", "ipv6-global", "ipv6-link"],
)
#: The kernel binds the socket to its interface, or (where it refuses) the
#: receiver checks each datagram's ingress interface itself.
ENFORCERS: Final = pytest.mark.parametrize("enforcer", ["kernel", "receiver"])


def _use(enforcer: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if enforcer == "receiver":
        monkeypatch.setattr(_join, "bind_to_interface", lambda sock, ifindex: False)


def _two_lans(
    multicast_lan: testing.LanFactory,
) -> tuple[testing.MulticastLan, testing.MulticastLan]:
    return multicast_lan(1, names=("a",), subnet=1), multicast_lan(1, names=("b",), subnet=2)


@GROUPS
@ENFORCERS
@pytest.mark.parametrize("bind_to_group", [None, False], ids=["bound", "wildcard"])
async def test_a_receiver_hears_its_group_only_from_its_own_interface(
    multicast_lan: testing.LanFactory,
    monkeypatch: pytest.MonkeyPatch,
    family: socket.AddressFamily,
    group: str,
    enforcer: str,
    bind_to_group: bool | None,
) -> None:
    _use(enforcer, monkeypatch)
    lan_1, lan_2 = _two_lans(multicast_lan)
    (host_a,), (host_b,) = lan_1.hosts, lan_2.hosts
    with host_a.sender(family) as from_a, host_b.sender(family) as from_b:
        async with (
            trio_mcast.open_multicast_receiver(
                group, PORT, interface=lan_1.bridge, bind_to_group=bind_to_group
            ) as ours,
            trio_mcast.open_multicast_receiver(group, PORT, interface=lan_2.bridge) as other,
        ):
            for number in range(COUNT):
                from_b.sendto(b"B %d" % number, (group, PORT))
            witnessed = await receive_n(other, COUNT)
            assert {d.source[0] for d in witnessed} == {host_b.address(family)}

            from_a.sendto(MARKER, (group, PORT))
            received = await receive_until(ours, MARKER)
            with pytest.raises(trio.WouldBlock):
                ours.receive_nowait()
            statistics = ours.statistics()

    assert [(d.payload, d.source[0]) for d in received] == [(MARKER, host_a.address(family))]
    assert statistics.datagrams == 1
    # Where the kernel binds the socket, B's datagrams never reach it; where
    # the receiver checks, they do, and each is counted as filtered. (Binding
    # to a link-scope group names its link, which binds the socket as well.)
    bound_by_scope = bind_to_group is None and group.startswith("ff12")
    checks_itself = enforcer == "receiver" and family == socket.AF_INET6 and not bound_by_scope
    assert statistics.filtered == (COUNT if checks_itself else 0)


@pytest.mark.parametrize(
    ("family", "group"),
    [(socket.AF_INET, "232.82.0.1"), (socket.AF_INET6, "ff3e::82:1")],
    ids=["ipv4", "ipv6"],
)
@ENFORCERS
async def test_an_any_source_receiver_does_not_hear_a_source_specific_join_on_another_link(
    multicast_lan: testing.LanFactory,
    monkeypatch: pytest.MonkeyPatch,
    family: socket.AddressFamily,
    group: str,
    enforcer: str,
) -> None:
    _use(enforcer, monkeypatch)
    lan_1, lan_2 = _two_lans(multicast_lan)
    (host_a,), (host_b,) = lan_1.hosts, lan_2.hosts
    with host_a.sender(family) as from_a, host_b.sender(family) as from_b:
        async with (
            trio_mcast.open_multicast_receiver(
                group, PORT, interface=lan_1.bridge, sources=[host_a.address(family)]
            ) as source_specific,
            trio_mcast.open_multicast_receiver(group, PORT, interface=lan_2.bridge) as anyone,
        ):
            for number in range(COUNT):
                from_a.sendto(b"A %d" % number, (group, PORT))
            assert len(await receive_n(source_specific, COUNT)) == COUNT

            from_b.sendto(MARKER, (group, PORT))
            received = await receive_until(anyone, MARKER)

    assert [(d.payload, d.source[0]) for d in received] == [(MARKER, host_b.address(family))]
