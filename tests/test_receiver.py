"""The receiver core on real sockets, inside the test's private network."""

from __future__ import annotations

import errno
import functools
import random
import socket
import time
from typing import TYPE_CHECKING

import pytest
import trio
import trio.lowlevel
import trio.testing

import trio_mcast
from tests import netns
from tests.receiving import DEADLINE, receive_n, send_loopback
from trio_mcast import testing

if TYPE_CHECKING:
    from trio_mcast import Datagram

PORT = 40100


async def test_loopback_round_trip_names_group_and_source(loopback_sender: socket.socket) -> None:
    async with trio_mcast.open_multicast_receiver("239.1.0.1", PORT, interface="lo") as receiver:
        send_loopback(loopback_sender, "239.1.0.1", [b"one", b"two"], PORT)
        first = await receiver.receive()
        second = await receiver.receive()
    assert [first.payload, second.payload] == [b"one", b"two"]
    assert first.group == "239.1.0.1"
    assert first.source == ("127.0.0.1", loopback_sender.getsockname()[1])
    assert (first.interface, first.timestamp, first.truncated) == (None, None, False)


async def test_three_groups_from_another_host_all_delivered_in_order(
    multicast_lan: testing.LanFactory,
) -> None:
    lan = multicast_lan(1)
    (host,) = lan.hosts
    groups = ["239.2.0.1", "239.2.0.2", "239.2.0.3"]
    per_group = 1000
    async with trio_mcast.open_multicast_receiver(
        groups, PORT, interface=lan.bridge, receive_buffer_size=4 << 20
    ) as receiver:
        sender = trio.socket.from_stdlib_socket(host.sender(socket.AF_INET))
        with sender:
            for number in range(per_group):
                for group in groups:
                    await sender.sendto(f"{group} {number}".encode(), (group, PORT))
        received = await receive_n(receiver, per_group * len(groups), deadline=20)
        statistics = receiver.statistics()
    by_group: dict[str, list[int]] = {group: [] for group in groups}
    for datagram in received:
        group_text, number_text = datagram.payload.decode().split()
        assert datagram.group == group_text
        assert datagram.source[0] == host.ipv4
        by_group[group_text].append(int(number_text))
    assert all(numbers == list(range(per_group)) for numbers in by_group.values())
    assert statistics.kernel_drops == 0
    assert statistics.datagrams == per_group * len(groups)


async def test_ipv6_across_two_hosts(multicast_lan: testing.LanFactory) -> None:
    lan = multicast_lan(2)
    sender_host, receiver_host = lan.hosts
    group = "ff12::4242"
    async with trio_mcast.open_multicast_receiver(group, PORT, interface=lan.bridge) as receiver:
        with sender_host.sender(socket.AF_INET6) as sender:
            sender.sendto(b"over v6", (group, PORT))
        (datagram,) = await receive_n(receiver, 1)
    assert datagram.payload == b"over v6"
    assert datagram.group == group
    assert datagram.source[0] == sender_host.ipv6
    assert receiver_host.ipv6 != datagram.source[0]


@pytest.mark.parametrize(
    ("family", "group"), [(socket.AF_INET, "232.1.1.1"), (socket.AF_INET6, "ff32::8000:1")]
)
async def test_source_specific_receiver_hears_only_its_source(
    multicast_lan: testing.LanFactory, family: socket.AddressFamily, group: str
) -> None:
    lan = multicast_lan(2)
    wanted, unwanted = lan.hosts
    wanted_source = wanted.ipv4 if family == socket.AF_INET else wanted.ipv6
    async with trio_mcast.open_multicast_receiver(
        group, PORT, interface=lan.bridge, sources=[wanted_source]
    ) as receiver:
        with wanted.sender(family) as good, unwanted.sender(family) as bad:
            for number in range(20):
                bad.sendto(b"bad %d" % number, (group, PORT))
                good.sendto(b"good %d" % number, (group, PORT))
        received = await receive_n(receiver, 20)
        with pytest.raises(trio.WouldBlock):
            receiver.receive_nowait()
        statistics = receiver.statistics()
    assert [d.payload for d in received] == [b"good %d" % n for n in range(20)]
    assert {d.source[0] for d in received} == {wanted_source}
    assert statistics.datagrams == 20


@pytest.mark.parametrize(
    "groups", [["239.3.0.1"], ["239.3.0.1", "239.3.0.9"]], ids=["bound", "wildcard"]
)
async def test_isolated_from_other_groups_and_unicast_on_the_same_port(
    loopback_sender: socket.socket, groups: list[str]
) -> None:
    # Another socket on this host joins group B, so the host is a member of it.
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    other.bind(("", PORT))
    other.setsockopt(
        socket.IPPROTO_IP,
        socket.IP_ADD_MEMBERSHIP,
        socket.inet_aton("239.3.0.2") + socket.inet_aton("127.0.0.1"),
    )
    with other:
        async with trio_mcast.open_multicast_receiver(groups, PORT, interface="lo") as receiver:
            loopback_sender.sendto(b"group B", ("239.3.0.2", PORT))
            loopback_sender.sendto(b"unicast", ("127.0.0.1", PORT))
            loopback_sender.sendto(b"group A", ("239.3.0.1", PORT))
            (datagram,) = await receive_n(receiver, 1)
            # The socket that joined B got B: it was sent, and sent before A.
            assert other.recv(100) == b"group B"
            with pytest.raises(trio.WouldBlock):
                receiver.receive_nowait()
            assert receiver.statistics().datagrams == 1
    assert datagram.payload == b"group A"


@pytest.mark.parametrize("metadata", [False, True])
async def test_truncation_is_flagged_and_keeps_the_start(
    loopback_sender: socket.socket, metadata: bool
) -> None:
    async with trio_mcast.open_multicast_receiver(
        "239.4.0.1", PORT, interface="lo", max_datagram_size=100, metadata=metadata
    ) as receiver:
        long_payload = bytes(range(150))
        send_loopback(loopback_sender, "239.4.0.1", [long_payload, long_payload[:100]], PORT)
        cut, exact = await receive_n(receiver, 2)
        statistics = receiver.statistics()
    assert (cut.payload, cut.truncated) == (long_payload[:100], True)
    assert (exact.payload, exact.truncated) == (long_payload[:100], False)
    assert (statistics.truncated, statistics.bytes) == (1, 200)


async def test_empty_maximum_and_random_payloads_arrive_byte_exact(
    loopback_sender: socket.socket,
) -> None:
    generator = random.Random(1234)
    payloads = [b"", bytes(generator.getrandbits(8) for _ in range(65507))]
    payloads += [generator.randbytes(generator.randrange(1, 2000)) for _ in range(50)]
    async with trio_mcast.open_multicast_receiver(
        "239.5.0.1", PORT, interface="lo", receive_buffer_size=8 << 20
    ) as receiver:
        send_loopback(loopback_sender, "239.5.0.1", payloads, PORT)
        received = await receive_n(receiver, len(payloads))
    assert [d.payload for d in received] == payloads
    assert not any(d.truncated for d in received)


async def test_metadata_reports_interface_and_kernel_timestamp(
    loopback_sender: socket.socket,
) -> None:
    start = time.time()
    async with trio_mcast.open_multicast_receiver(
        ["239.6.0.1", "239.6.0.2"], PORT, interface="lo", metadata=True
    ) as receiver:
        send_loopback(loopback_sender, "239.6.0.2", [b"meta"], PORT)
        (datagram,) = await receive_n(receiver, 1)
    assert datagram.group == "239.6.0.2"
    assert datagram.interface == socket.if_nametoindex("lo")
    assert datagram.timestamp is not None
    assert start - 1 <= datagram.timestamp <= time.time() + 1


async def test_runtime_join_and_leave(loopback_sender: socket.socket) -> None:
    async with trio_mcast.open_multicast_receiver(
        "239.7.0.1", PORT, interface="lo", bind_to_group=False
    ) as receiver:
        await receiver.join("239.7.0.2")
        assert list(receiver.groups) == ["239.7.0.1", "239.7.0.2"]
        assert ("lo", "239.7.0.2") in netns.memberships(socket.AF_INET)
        send_loopback(loopback_sender, "239.7.0.2", [b"joined"], PORT)
        (datagram,) = await receive_n(receiver, 1)
        assert datagram.group == "239.7.0.2"
        await receiver.leave("239.7.0.1")
        assert list(receiver.groups) == ["239.7.0.2"]
        assert ("lo", "239.7.0.1") not in netns.memberships(socket.AF_INET)
        send_loopback(loopback_sender, "239.7.0.1", [b"left"], PORT)
        send_loopback(loopback_sender, "239.7.0.2", [b"still here"], PORT)
        (datagram,) = await receive_n(receiver, 1)
        assert datagram.payload == b"still here"
        not_joined = (
            r"^group '239\.7\.0\.1' is not joined by this receiver \(joined: 239\.7\.0\.2\)$"
        )
        with pytest.raises(trio_mcast.InvalidGroupError, match=not_joined):
            await receiver.leave("239.7.0.1")


async def test_runtime_join_on_a_group_bound_receiver_is_refused() -> None:
    async with trio_mcast.open_multicast_receiver("239.7.1.1", PORT, interface="lo") as receiver:
        with pytest.raises(trio_mcast.InvalidGroupError, match=r"bind_to_group=False"):
            await receiver.join("239.7.1.2")


async def test_receive_times_out_under_autojump_clock(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio_mcast.open_multicast_receiver("239.8.0.1", PORT, interface="lo") as receiver:
        start = trio.current_time()
        with pytest.raises(trio.TooSlowError):
            with trio.fail_after(30):
                await receiver.receive()
        assert trio.current_time() - start == pytest.approx(30)


async def test_two_tasks_receiving_at_once_is_a_busy_error() -> None:
    async with (
        trio_mcast.open_multicast_receiver("239.9.0.1", PORT, interface="lo") as receiver,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(receiver.receive)
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(trio.BusyResourceError):
            await receiver.receive()
        with pytest.raises(trio.BusyResourceError):
            await receiver.receive_batch(10)
        nursery.cancel_scope.cancel()


async def _close_underneath_and_wait() -> None:
    async with trio_mcast.open_multicast_receiver("239.10.0.1", PORT, interface="lo") as receiver:
        await trio.testing.wait_all_tasks_blocked()
        receiver.socket.close()
        await receiver.receive()


async def test_error_in_the_loop_surfaces_unwrapped() -> None:
    with pytest.raises(trio.ClosedResourceError):
        await _close_underneath_and_wait()


async def test_body_exception_surfaces_unwrapped() -> None:
    with pytest.raises(LookupError, match=r"^from the body$"):
        async with trio_mcast.open_multicast_receiver("239.10.0.2", PORT, interface="lo"):
            raise LookupError("from the body")


def _leftovers(group: str) -> list[tuple[str, str]]:
    return [m for m in netns.memberships(socket.AF_INET) if m[1] == group]


@pytest.mark.parametrize("exit_route", ["normal", "exception", "cancel", "move_on"])
async def test_every_exit_closes_the_socket_and_drops_memberships(exit_route: str) -> None:
    group = "239.11.0.1"
    fds_before = netns.open_fd_count()
    with trio.move_on_after(5 if exit_route != "move_on" else 0.05) as scope:
        try:
            async with trio_mcast.open_multicast_receiver(
                [group, "239.11.0.2"], PORT, interface="lo"
            ) as receiver:
                assert ("lo", group) in netns.memberships(socket.AF_INET)
                if exit_route == "exception":
                    raise RuntimeError("boom")
                if exit_route == "cancel":
                    scope.cancel()
                    await trio.sleep_forever()
                if exit_route == "move_on":
                    await receiver.receive()
        except RuntimeError:
            assert exit_route == "exception"
    assert scope.cancelled_caught == (exit_route in {"cancel", "move_on"})
    assert _leftovers(group) == []
    assert netns.open_fd_count() == fds_before


def test_keyboard_interrupt_inside_trio_run_cleans_up() -> None:
    group = "239.11.0.3"
    fds_before = netns.open_fd_count()

    async def main() -> None:
        async with trio_mcast.open_multicast_receiver(group, PORT, interface="lo"):
            assert _leftovers(group) != []
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        trio.run(main)
    assert _leftovers(group) == []
    assert netns.open_fd_count() == fds_before


async def test_ipv6_cleanup_leaves_igmp6_clean(ipv6_link: int) -> None:
    group = "ff15::77"
    async with trio_mcast.open_multicast_receiver(group, PORT, interface=ipv6_link):
        assert ("tm6a", group) in netns.memberships(socket.AF_INET6)
    assert ("tm6a", group) not in netns.memberships(socket.AF_INET6)


async def test_ipv6_single_host_over_a_veth(ipv6_link: int) -> None:
    group = "ff15::78"
    async with trio_mcast.open_multicast_receiver(group, PORT, interface="tm6a") as receiver:
        async with trio_mcast.open_multicast_sender(group, PORT, interface=ipv6_link) as sender:
            await sender.send(b"v6 loop")
        (datagram,) = await receive_n(receiver, 1)
    assert (datagram.payload, datagram.group) == (b"v6 loop", group)


async def test_unknown_interface_is_a_clear_error() -> None:
    with pytest.raises(
        trio_mcast.InterfaceNotFoundError,
        match=r"^interface 'nosuch0' does not exist on this host$",
    ):
        async with trio_mcast.open_multicast_receiver("239.12.0.1", PORT, interface="nosuch0"):
            pass
    with pytest.raises(
        trio_mcast.InterfaceNotFoundError,
        match=r"^interface index 4242 does not exist on this host$",
    ):
        async with trio_mcast.open_multicast_receiver("239.12.0.1", PORT, interface=4242):
            pass


async def test_membership_limit_is_a_join_error_with_a_hint() -> None:
    limit = int(await trio.Path("/proc/sys/net/ipv4/igmp_max_memberships").read_text())
    groups = [f"239.13.{n // 250}.{n % 250 + 1}" for n in range(limit + 1)]
    fds_before = netns.open_fd_count()
    with pytest.raises(trio_mcast.JoinError) as caught:
        async with trio_mcast.open_multicast_receiver(groups, PORT, interface="lo"):
            pass
    assert caught.value.errno == errno.ENOBUFS
    assert caught.value.group == groups[-1]
    assert caught.value.hint is not None
    assert "igmp_max_memberships" in caught.value.hint
    assert netns.open_fd_count() == fds_before


async def test_joinstep_tryrecv_and_recvstep(loopback_sender: socket.socket) -> None:
    sock = await trio_mcast.joinstep(["239.14.0.1", "239.14.0.2"], PORT, "lo")
    with sock:
        assert trio_mcast.tryrecv(sock, ["239.14.0.1", "239.14.0.2"]) == []
        send_loopback(loopback_sender, "239.14.0.2", [b"a", b"b"], PORT)
        send_loopback(loopback_sender, "239.14.0.1", [b"c"], PORT)
        batches: list[list[Datagram]] = []
        with trio.move_on_after(5):
            async with trio.open_nursery() as nursery:

                def deliver(batch: list[Datagram]) -> None:
                    batches.append(batch)
                    if sum(map(len, batches)) == 3:
                        nursery.cancel_scope.cancel()

                nursery.start_soon(
                    trio_mcast.recvstep, sock, deliver, ["239.14.0.1", "239.14.0.2"]
                )
        received = [(d.payload, d.group) for batch in batches for d in batch]
        assert received == [(b"a", "239.14.0.2"), (b"b", "239.14.0.2"), (b"c", "239.14.0.1")]
        assert sock.fileno() != -1  # recvstep never closes a socket it did not open


async def test_serve_multicast_calls_the_handler_and_propagates_its_error(
    loopback_sender: socket.socket,
) -> None:
    seen: list[bytes] = []

    async def handler(datagram: Datagram) -> None:
        seen.append(datagram.payload)
        if datagram.payload == b"stop":
            raise LookupError("handler stopped")

    with pytest.RaisesGroup(pytest.RaisesExc(LookupError, match=r"^handler stopped$")):
        async with trio.open_nursery() as nursery:
            receiver = await nursery.start(
                functools.partial(trio_mcast.serve_multicast, interface="lo"),
                handler,
                "239.15.0.1",
                PORT,
            )
            assert receiver.groups == ("239.15.0.1",)
            send_loopback(loopback_sender, "239.15.0.1", [b"hello", b"stop"], PORT)
    assert seen == [b"hello", b"stop"]


async def test_sender_validates_ttl() -> None:
    with pytest.raises(
        trio_mcast.MulticastError, match=r"^ttl must be an int in 0\.\.255, got 256$"
    ):
        async with trio_mcast.open_multicast_sender("239.16.0.1", PORT, ttl=256):
            pass


async def test_queue_drop_oldest_keeps_the_freshest(loopback_sender: socket.socket) -> None:
    async with trio_mcast.open_multicast_receiver(
        "239.17.0.1", PORT, interface="lo", queue_size=4, overflow="drop-oldest", batch_size=64
    ) as receiver:
        send_loopback(loopback_sender, "239.17.0.1", [b"%d" % n for n in range(10)], PORT)
        # Loopback delivers inside sendto(), so the first wake-up drains all
        # ten into a queue of four.
        with trio.fail_after(5):
            received = await receiver.receive_batch(10)
        statistics = receiver.statistics()
    assert [d.payload for d in received] == [b"6", b"7", b"8", b"9"]
    assert statistics.queue_drops == 6


async def test_cancellation_reaches_a_consumer_of_a_full_queue(
    loopback_sender: socket.socket,
) -> None:
    async with trio_mcast.open_multicast_receiver("239.18.0.1", PORT, interface="lo") as receiver:
        send_loopback(loopback_sender, "239.18.0.1", [b"%d" % n for n in range(100)], PORT)
        # Loopback delivers inside sendto(), so the first wake-up drains all.
        await receive_n(receiver, 1)
        assert receiver.statistics().pending == 99
        taken = 0
        with trio.CancelScope() as scope:
            scope.cancel()
            async for _ in receiver:
                taken += 1
        assert scope.cancelled_caught
        # At most 15 datagrams already in memory pass before the check.
        assert taken <= 15
        with trio.CancelScope() as scope:
            scope.cancel()
            await receiver.receive_batch(10)
        assert scope.cancelled_caught


async def test_runtime_join_keeps_any_source_and_source_specific_apart() -> None:
    async with trio_mcast.open_multicast_receiver(
        ["239.19.0.1", "232.19.0.2"], PORT, interface="lo", bind_to_group=False
    ) as receiver:
        await receiver.join("239.19.0.1")
        assert list(receiver.groups) == ["239.19.0.1", "232.19.0.2"]
        with pytest.raises(
            trio_mcast.InvalidGroupError,
            match=r"^group '239\.19\.0\.1' is already joined for any source; leave it first"
            r" to join it for specific sources$",
        ):
            await receiver.join("239.19.0.1", sources=["127.0.0.1"])
        await receiver.join("232.19.0.3", sources=["127.0.0.1"])
        with pytest.raises(
            trio_mcast.InvalidGroupError,
            match=r"^group '232\.19\.0\.3' is already joined for sources 127\.0\.0\.1;"
            r" leave it first to join it for any source$",
        ):
            await receiver.join("232.19.0.3")


async def _recvstep_until_closed(sock: trio.socket.SocketType) -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio_mcast.recvstep, sock, lambda batch: None)
        await trio.testing.wait_all_tasks_blocked()
        sock.close()


async def test_recvstep_wakes_when_its_socket_is_closed_and_leaks_nothing() -> None:
    fds_before = netns.open_fd_count()
    sock = await trio_mcast.joinstep("239.20.0.1", PORT, "lo")
    with pytest.RaisesGroup(trio.ClosedResourceError):
        await _recvstep_until_closed(sock)
    assert netns.open_fd_count() == fds_before


async def test_the_receiver_shows_its_sources_and_interface_index() -> None:
    index = socket.if_nametoindex("lo")
    async with trio_mcast.open_multicast_receiver(
        "232.21.0.1", PORT, interface="lo", sources=["127.0.0.1", "127.0.0.2"], bind_to_group=False
    ) as receiver:
        assert list(receiver.sources) == ["127.0.0.1", "127.0.0.2"]
        assert receiver.interface_index == index
        await receiver.join("232.21.0.2", sources=["127.0.0.3"])
        assert list(receiver.sources) == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
        assert repr(receiver) == (
            f"<MulticastReceiver groups=['232.21.0.1', '232.21.0.2'] port={PORT}"
            f" interface='lo' interface_index={index}"
            " sources=['127.0.0.1', '127.0.0.2', '127.0.0.3']>"
        )
    # Left to the kernel, which needs a route to choose by: the index is the
    # interface that route takes.
    testing.run_ip("route", "add", "239.21.0.3/32", "dev", "lo")
    try:
        async with trio_mcast.open_multicast_receiver("239.21.0.3", PORT) as anyone:
            assert (anyone.sources, anyone.interface_index, anyone.state) == ((), index, "joined")
            assert repr(anyone) == (
                f"<MulticastReceiver groups=['239.21.0.3'] port={PORT} interface=None"
                f" interface_index={index}>"
            )
    finally:
        testing.run_ip("route", "del", "239.21.0.3/32", "dev", "lo")


async def test_serve_multicast_takes_keyword_options_through_partial(
    loopback_sender: socket.socket,
) -> None:
    received: list[trio_mcast.Datagram] = []
    done = trio.Event()

    async def handler(datagram: trio_mcast.Datagram) -> None:
        received.append(datagram)
        if datagram.payload == b"last":
            done.set()

    serve = functools.partial(
        trio_mcast.serve_multicast,
        interface="lo",
        bind_to_group=False,
        queue_size=8,
        overflow="drop-oldest",
        batch_size=4,
        metadata=True,
    )
    async with trio.open_nursery() as nursery:
        receiver = await nursery.start(serve, handler, "239.21.0.4", PORT)
        await receiver.join("239.21.0.5")
        send_loopback(loopback_sender, "239.21.0.4", [b"first"], PORT)
        send_loopback(loopback_sender, "239.21.0.5", [b"last"], PORT)
        with trio.fail_after(DEADLINE):
            await done.wait()
        nursery.cancel_scope.cancel()
    assert [(d.payload, d.group) for d in received] == [
        (b"first", "239.21.0.4"),
        (b"last", "239.21.0.5"),
    ]
    assert received[0].interface == socket.if_nametoindex("lo")
