"""Faults: the interface and the sender vanish, the membership limit, a taken port.

What happens when the receiver's interface is deleted while it receives
(Linux; how a recreated interface is followed is tested in
``test_follow_interface.py``):

* the kernel drops the interface's memberships with it (``/proc/net/igmp``
  and ``igmp6`` no longer list them), and the receiver drops its own stale
  ones on the deleted index;
* the receiver raises nothing: its ``state`` is ``"waiting for interface"``,
  ``interface_index`` is ``None``, and ``events()`` reports
  ``InterfaceLost``. ``statistics()`` still works;
* a run-time ``join()`` while waiting is recorded and made when the
  interface returns;
* leaving the ``async with`` block exits without error and releases the
  socket and the rtnetlink subscription.
"""

from __future__ import annotations

import errno
import json
import re
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pytest
import trio

import trio_mcast
from tests import netns
from tests.cli_process import LISTENING, cli_argv, running_cli
from tests.receiving import DEADLINE, receive_until
from trio_mcast import testing
from trio_mcast._cli import EXIT_STREAM_STOPPED

if TYPE_CHECKING:
    from collections.abc import Iterator

PORT: Final = 40901
REPOSITORY: Final = Path(__file__).resolve().parents[2]
#: The link between this namespace and the sending host, deleted by the tests.
LINK: Final = "tmfault0"
PEER: Final = "eth1"
LINK4: Final = ("10.214.0.1", "10.214.0.2")
LINK6: Final = ("fd99:214::1", "fd99:214::2")
#: How long a receiver must stay silent to count as quiet. Nothing can arrive
#: (the interface is gone), so this only bounds the test's run time.
QUIET_SECONDS: Final = 0.2
GROUPS: Final = {socket.AF_INET: "239.60.0.1", socket.AF_INET6: "ff12::60:1"}
SSM_GROUPS: Final = {socket.AF_INET: "232.60.0.1", socket.AF_INET6: "ff32::60:1"}


@pytest.fixture
def doomed_host(multicast_lan: testing.LanFactory) -> Iterator[testing.Host]:
    """A host linked to this namespace by a veth of its own (``LINK``), to be deleted."""
    (host,) = multicast_lan(1, names=("doomed",)).hosts
    testing.run_ip(
        "link", "add", LINK, "type", "veth", "peer", "name", PEER, "netns", str(host.pid)
    )
    try:
        testing.run_ip("addr", "add", f"{LINK4[0]}/24", "dev", LINK)
        testing.run_ip("-6", "addr", "add", f"{LINK6[0]}/64", "dev", LINK, "nodad")
        testing.run_ip("link", "set", LINK, "up")
        host.ip("addr", "add", f"{LINK4[1]}/24", "dev", PEER)
        host.ip("-6", "addr", "add", f"{LINK6[1]}/64", "dev", PEER, "nodad")
        host.ip("link", "set", PEER, "up")
        yield host
    finally:
        if LINK in {name for _, name in socket.if_nameindex()}:
            testing.run_ip("link", "del", LINK)


def link_sender(host: testing.Host, family: socket.AddressFamily) -> socket.socket:
    """A socket in ``host`` that sends multicast out of its end of ``LINK``."""
    sock = host.socket(family)
    if family == socket.AF_INET:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(LINK4[1]))
    else:
        with testing.entered(host.ns_path):
            index = socket.if_nametoindex(PEER)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
    return sock


def remove_link_and_host(host: testing.Host) -> None:
    testing.run_ip("link", "del", LINK)
    # Killed, not stopped: its pipe stays open until the LAN closes, so the
    # test's count of descriptors is not changed by it.
    host.process.kill()
    host.process.wait()


def groups_on_link(family: socket.AddressFamily) -> list[str]:
    return sorted(group for interface, group in netns.memberships(family) if interface == LINK)


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("source_specific", [False, True], ids=["any-source", "ssm"])
async def test_deleted_interface_and_vanished_sender_leave_the_receiver_waiting(
    doomed_host: testing.Host, family: socket.AddressFamily, source_specific: bool
) -> None:
    group = (SSM_GROUPS if source_specific else GROUPS)[family]
    sources = [(LINK4 if family == socket.AF_INET else LINK6)[1]] if source_specific else None
    fds_before = netns.open_fd_count()
    with link_sender(doomed_host, family) as sender:
        async with trio_mcast.open_multicast_receiver(
            group, PORT, interface=LINK, sources=sources, bind_to_group=False
        ) as receiver:
            events = receiver.events()
            sender.sendto(b"before", (group, PORT))
            with trio.fail_after(DEADLINE):
                assert (await receiver.receive()).payload == b"before"
            assert group in groups_on_link(family)

            remove_link_and_host(doomed_host)

            with trio.fail_after(DEADLINE):
                lost = await events.__anext__()
            assert isinstance(lost, trio_mcast.InterfaceLost)
            assert (receiver.state, receiver.interface_index) == ("waiting for interface", None)
            # The kernel dropped every membership on the interface with it...
            assert groups_on_link(family) == []
            # ...and the receiver waits: no error, no datagram.
            with trio.move_on_after(QUIET_SECONDS) as quiet:
                await receiver.receive()
            assert quiet.cancelled_caught
            statistics = receiver.statistics()
            assert (statistics.datagrams, statistics.kernel_drops) == (1, 0)
            assert (statistics.interface_losses, statistics.rejoins) == (1, 0)
            other = "239.60.0.9" if family == socket.AF_INET else "ff12::60:9"
            # Recorded, to be joined when the interface returns.
            await receiver.join(other)
            assert receiver.groups == (group, other)
            assert groups_on_link(family) == []
    # Leaving the block while waiting raised nothing and freed everything.
    assert receiver.socket.fileno() == -1
    assert receiver.state == "waiting for interface"
    assert netns.open_fd_count() == fds_before
    assert group not in {g for _, g in netns.memberships(family)}
    with trio.fail_after(DEADLINE):
        assert [event async for event in events] == []


async def test_cli_idle_timeout_notices_a_deleted_interface(doomed_host: testing.Host) -> None:
    group = GROUPS[socket.AF_INET]
    argv = cli_argv(
        "recv",
        group,
        "--port",
        str(PORT),
        "--interface",
        LINK,
        "--idle-timeout",
        "0.5",
        "--format",
        "jsonl",
    )
    with link_sender(doomed_host, socket.AF_INET) as sender:
        async with running_cli(argv, cwd=REPOSITORY) as recv:
            with trio.fail_after(DEADLINE):
                await recv.stderr.expect(LISTENING)
                sender.sendto(b"before", (group, PORT))
                assert '"payload": "before"' in (await recv.stdout.readline() or "")
                remove_link_and_host(doomed_host)
                returncode, output, errors = await recv.read_to_end()
    # It received something, then the stream stopped: its own exit code, so a
    # service manager can restart the receiver (Restart=on-failure).
    assert returncode == EXIT_STREAM_STOPPED, errors
    # The datagram, then the loss as a record of its own type; the idle
    # timeout keeps its meaning while the receiver waits for the interface.
    lines = output.splitlines()
    assert len(lines) == 2
    assert json.loads(lines[1])["type"] == "interface_lost"
    assert f"trio-mcast: {LINK} disappeared; waiting for it to return".encode() in errors
    assert b"idle timeout" in errors, errors
    assert b"Traceback" not in errors


async def test_join_beyond_the_membership_limit_is_a_join_error_and_the_receiver_survives() -> (
    None
):
    limit = int(await trio.Path("/proc/sys/net/ipv4/igmp_max_memberships").read_text())
    groups = [f"239.61.0.{n}" for n in range(1, limit + 2)]
    with netns.loopback_sender() as sender:
        async with trio_mcast.open_multicast_receiver(
            groups[0], PORT, interface="lo", bind_to_group=False
        ) as receiver:
            for group in groups[1:limit]:
                await receiver.join(group)
            refused = groups[limit]
            expected = (
                f"cannot join group {refused} on interface 'lo': No buffer space available"
                " (errno 105); hint: the per-socket limit of IPv4 groups was reached; raise"
                " net.ipv4.igmp_max_memberships, or spread the groups over several receivers"
            )
            with pytest.raises(trio_mcast.JoinError, match=f"^{re.escape(expected)}$") as caught:
                await receiver.join(refused)
            assert (caught.value.errno, caught.value.group) == (errno.ENOBUFS, refused)
            assert caught.value.hint is not None
            assert "igmp_max_memberships" in caught.value.hint
            assert receiver.groups == tuple(groups[:limit])

            # Still receiving on the first and the last group it joined, and
            # not on the refused one (sent first, so the markers come after it).
            sender.sendto(b"refused", (refused, PORT))
            sender.sendto(b"first", (groups[0], PORT))
            sender.sendto(b"last", (groups[limit - 1], PORT))
            received = await receive_until(receiver, b"last")
            assert [(d.payload, d.group) for d in received] == [
                (b"first", groups[0]),
                (b"last", groups[limit - 1]),
            ]

            # Room made, the refused group joins and delivers.
            await receiver.leave(groups[0])
            await receiver.join(refused)
            sender.sendto(b"now joined", (refused, PORT))
            received = await receive_until(receiver, b"now joined")
            assert [d.group for d in received] == [refused]
            statistics = receiver.statistics()
    assert (statistics.datagrams, statistics.filtered, statistics.kernel_drops) == (3, 0, 0)


async def test_too_many_sources_is_a_join_error_that_leaves_nothing_half_joined() -> None:
    limit = int(await trio.Path("/proc/sys/net/ipv4/igmp_max_msf").read_text())
    group = "232.61.0.1"
    sources = [f"10.61.0.{n}" for n in range(1, limit + 2)]
    async with trio_mcast.open_multicast_receiver(
        "239.61.1.1", PORT, interface="lo", bind_to_group=False
    ) as receiver:
        with pytest.raises(trio_mcast.JoinError) as caught:
            await receiver.join(group, sources=sources)
        assert (caught.value.errno, caught.value.source) == (errno.ENOBUFS, sources[limit])
        assert caught.value.hint is not None
        assert "igmp_max_msf" in caught.value.hint
        assert "mld_max_msf" not in caught.value.hint
        # All or nothing: the sources joined before the refusal were undone.
        assert group not in {g for _, g in netns.memberships(socket.AF_INET)}
        assert receiver.groups == ("239.61.1.1",)
        await receiver.join(group, sources=sources[:limit])
        assert ("lo", group) in netns.memberships(socket.AF_INET)


def _exclusive_socket(family: socket.AddressFamily) -> socket.socket:
    """A socket holding PORT without SO_REUSEADDR or SO_REUSEPORT."""
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0" if family == socket.AF_INET else "::", PORT))
    return sock


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("bind_to_group", [None, False], ids=["bound", "wildcard"])
async def test_port_taken_without_reuse_is_a_clear_join_error(
    family: socket.AddressFamily, bind_to_group: bool | None
) -> None:
    group = GROUPS[family] if family == socket.AF_INET else "ff15::60:1"
    interface = "lo" if family == socket.AF_INET else 1
    where = f" group {group}" if bind_to_group is None else ""
    expected = (
        f"cannot bind to port {PORT}{where}: Address already in use (errno 98); hint: the port"
        " is taken by a socket that does not allow reuse; stop that program or choose"
        " another port"
    )
    with _exclusive_socket(family):
        fds_before = netns.open_fd_count()
        with pytest.raises(trio_mcast.JoinError, match=f"^{re.escape(expected)}$") as caught:
            async with trio_mcast.open_multicast_receiver(
                group, PORT, interface=interface, bind_to_group=bind_to_group
            ):
                pass
        assert netns.open_fd_count() == fds_before
    assert caught.value.errno == errno.EADDRINUSE
    assert caught.value.hint is not None
    assert "port" in caught.value.hint
    assert isinstance(caught.value, OSError)
