"""The test harness's own promises: isolation, and real traffic between hosts."""

from __future__ import annotations

import socket

import trio

from tests import netns
from trio_mcast import testing


def test_process_is_in_a_private_namespace_with_only_loopback() -> None:
    assert testing.namespace_state().active
    assert [name for _, name in socket.if_nameindex()] == ["lo"]


async def test_two_hosts_exchange_one_multicast_datagram(
    multicast_lan: testing.LanFactory,
) -> None:
    lan = multicast_lan(2)
    sender_host, receiver_host = lan.hosts
    group = "239.1.2.3"
    receiver = receiver_host.socket(socket.AF_INET)
    sender = sender_host.sender(socket.AF_INET)
    with receiver, sender:
        receiver.bind((group, 40001))
        mreqn = socket.inet_aton(group) + socket.inet_aton("0.0.0.0")
        mreqn += receiver_host.ifindex.to_bytes(4, "little")
        receiver.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
        trio_receiver = trio.socket.from_stdlib_socket(receiver)
        trio_sender = trio.socket.from_stdlib_socket(sender)
        with trio.fail_after(5):
            await trio_sender.sendto(b"across the link", (group, 40001))
            payload, source = await trio_receiver.recvfrom(100)
    assert payload == b"across the link"
    assert source[0] == sender_host.ipv4


async def test_ipv6_multicast_crosses_the_link(multicast_lan: testing.LanFactory) -> None:
    lan = multicast_lan(2)
    sender_host, receiver_host = lan.hosts
    group = "ff12::1234"
    receiver = receiver_host.socket(socket.AF_INET6)
    sender = sender_host.sender(socket.AF_INET6)
    with receiver, sender:
        receiver.bind((group, 40002, 0, receiver_host.ifindex))
        mreq = socket.inet_pton(socket.AF_INET6, group)
        mreq += receiver_host.ifindex.to_bytes(4, "little")
        receiver.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
        trio_receiver = trio.socket.from_stdlib_socket(receiver)
        trio_sender = trio.socket.from_stdlib_socket(sender)
        with trio.fail_after(5):
            await trio_sender.sendto(b"v6", (group, 40002))
            payload, source = await trio_receiver.recvfrom(100)
    assert payload == b"v6"
    assert source[0] == sender_host.ipv6


def test_memberships_lists_a_join_and_forgets_it_after_close() -> None:
    group = "239.9.9.9"
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with sock:
        mreq = socket.inet_aton(group) + socket.inet_aton("127.0.0.1")
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        assert ("lo", group) in netns.memberships(socket.AF_INET)
    assert ("lo", group) not in netns.memberships(socket.AF_INET)
