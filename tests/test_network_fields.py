"""Per-datagram network fields with metadata=True: TTL, DSCP and ECN, destination."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Final

import pytest
import trio

import trio_mcast
from tests.receiving import DEADLINE

if TYPE_CHECKING:
    from trio_mcast import testing

PORT: Final = 40611
GROUPS: Final = {socket.AF_INET: "239.6.1.1", socket.AF_INET6: "ff15::6:1"}
FAMILIES: Final = pytest.mark.parametrize(
    "family", [socket.AF_INET, socket.AF_INET6], ids=["ipv4", "ipv6"]
)


def _mark(sock: socket.socket, family: socket.AddressFamily, ttl: int, tos: int) -> None:
    if family == socket.AF_INET:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, tos)
    else:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, ttl)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, tos)


@FAMILIES
@pytest.mark.parametrize(("ttl", "tos"), [(7, 0xB8), (1, 0x01), (255, 0x00)])
@pytest.mark.parametrize("bind_to_group", [None, False], ids=["bound", "wildcard"])
async def test_each_datagram_says_how_it_arrived(
    multicast_lan: testing.LanFactory,
    family: socket.AddressFamily,
    ttl: int,
    tos: int,
    bind_to_group: bool | None,
) -> None:
    lan = multicast_lan(hosts=1)
    (host,) = lan.hosts
    group = GROUPS[family]
    async with trio_mcast.open_multicast_receiver(
        group, PORT, interface=lan.bridge, metadata=True, bind_to_group=bind_to_group
    ) as receiver:
        with host.sender(family) as out:
            _mark(out, family, ttl, tos)
            out.sendto(b"marked", (group, PORT))
        with trio.fail_after(DEADLINE):
            datagram = await receiver.receive()
    assert (datagram.ttl, datagram.traffic_class) == (ttl, tos)
    assert (datagram.dscp, datagram.ecn) == (tos >> 2, tos & 3)
    assert datagram.destination == group
    assert datagram.interface == lan.ifindex


@FAMILIES
async def test_without_metadata_the_fields_are_none(
    multicast_lan: testing.LanFactory, family: socket.AddressFamily
) -> None:
    lan = multicast_lan(hosts=1)
    (host,) = lan.hosts
    group = GROUPS[family]
    async with trio_mcast.open_multicast_receiver(group, PORT, interface=lan.bridge) as receiver:
        with host.sender(family) as out:
            _mark(out, family, 9, 0xB8)
            out.sendto(b"plain", (group, PORT))
        with trio.fail_after(DEADLINE):
            datagram = await receiver.receive()
    assert (datagram.ttl, datagram.traffic_class, datagram.destination) == (None, None, None)
    assert (datagram.dscp, datagram.ecn) == (None, None)
