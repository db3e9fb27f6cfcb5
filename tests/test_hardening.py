"""Bad arguments and kernel limits: a clear error, and nothing left behind.

Every refused call must leave no descriptor and no membership behind, at
once (not at garbage collection), and its message must name the parameter
as the caller spelled it.
"""

from __future__ import annotations

import errno
import os
import socket
from typing import TYPE_CHECKING, Any, Final

import pytest
import trio

import trio_mcast
from tests import netns
from tests.receiving import recv_exactly
from trio_mcast import InvalidArgumentError, InvalidInterfaceError, testing

if TYPE_CHECKING:
    from collections.abc import Iterator

PORT: Final = 40811
GROUP: Final = "239.81.0.1"


def _our_memberships() -> set[tuple[str, str]]:
    return {m for m in netns.memberships(socket.AF_INET) if m[1].startswith("239.81.")}


@pytest.fixture
def nothing_leaks() -> Iterator[None]:
    """Fails the test if it leaves a descriptor or a membership of ours behind."""
    fds, memberships = netns.open_fd_count(), _our_memberships()
    yield
    assert (netns.open_fd_count(), _our_memberships()) == (fds, memberships)


BAD_RECEIVER_ARGUMENTS: Final = [
    pytest.param(
        {"queue_size": 2**63},
        r"^queue_size must be an int in 1\.\.2147483647, got 9223372036854775808$",
        id="queue-size-huge",
    ),
    pytest.param(
        {"batch_size": 2**31},
        r"^batch_size must be an int in 1\.\.2147483647, got 2147483648$",
        id="batch-size-huge",
    ),
    pytest.param(
        {"receive_buffer_size": 2**31},
        r"^receive_buffer_size must be an int in 1\.\.2147483647, got 2147483648$",
        id="receive-buffer-huge",
    ),
    pytest.param(
        {"metadata": "no"}, r"^metadata must be True or False, got 'no'$", id="metadata-str"
    ),
    pytest.param(
        {"bind_to_group": "no"},
        r"^bind_to_group must be True or False, got 'no'$",
        id="bind-to-group-str",
    ),
    pytest.param(
        {"interface": "bad name!"},
        r"^interface 'bad name!' is not a valid interface name: .*$",
        id="interface-named-interface",
    ),
]


@pytest.mark.usefixtures("nothing_leaks")
@pytest.mark.parametrize(("options", "message"), BAD_RECEIVER_ARGUMENTS)
async def test_bad_receiver_arguments_are_refused_and_leak_nothing(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message) as caught:
        async with trio_mcast.open_multicast_receiver(GROUP, PORT, **options):
            raise AssertionError("opened")
    assert caught.value.parameter in options


class _Pipe:
    """Something with a file descriptor that is not a socket."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def fileno(self) -> int:
        return self._fd


@pytest.mark.usefixtures("nothing_leaks")
async def test_an_isock_that_is_not_a_socket_is_refused_and_its_duplicate_closed() -> None:
    read_end, write_end = os.pipe()
    try:
        with pytest.raises(
            InvalidArgumentError,
            match=r"^isock <tests\.test_hardening\._Pipe .*> is not a socket$",
        ) as caught:
            async with trio_mcast.open_multicast_receiver(GROUP, PORT, isock=_Pipe(read_end)):  # type: ignore[arg-type]  # not a socket on purpose: it must be rejected
                raise AssertionError("opened")
        assert caught.value.parameter == "isock"
    finally:
        os.close(read_end)
        os.close(write_end)


@pytest.mark.usefixtures("nothing_leaks")
async def test_an_isock_of_the_wrong_kind_is_refused_and_its_duplicate_closed() -> None:
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as wrong_family:
        with pytest.raises(
            InvalidArgumentError, match=r"^isock .* is not a UDP socket of the groups' family"
        ):
            async with trio_mcast.open_multicast_receiver(GROUP, PORT, isock=wrong_family):
                raise AssertionError("opened")
        assert wrong_family.fileno() != -1


@pytest.mark.usefixtures("nothing_leaks")
async def test_a_failure_after_the_join_releases_the_socket_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Anything failing between the join and the block (here: a KeyboardInterrupt)."""

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(trio_mcast.MulticastReceiver, "__init__", interrupted)
    with pytest.raises(KeyboardInterrupt):
        async with trio_mcast.open_multicast_receiver(GROUP, PORT, interface="lo"):
            raise AssertionError("opened")


@pytest.mark.usefixtures("nothing_leaks")
async def test_an_adopted_socket_keeps_no_membership_when_a_later_join_fails() -> None:
    """The caller's socket outlives our duplicate: its memberships must be undone."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as mine:
        mine.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        mine.bind(("0.0.0.0", PORT))
        # One group more than the kernel allows: the join of the last is refused.
        limit = int(await trio.Path("/proc/sys/net/ipv4/igmp_max_memberships").read_text())
        groups = [f"239.81.1.{n}" for n in range(1, limit + 2)]
        with pytest.raises(trio_mcast.JoinError) as caught:
            async with trio_mcast.open_multicast_receiver(
                groups, PORT, interface="lo", isock=mine
            ):
                raise AssertionError("opened")
        assert caught.value.errno == errno.ENOBUFS
        assert _our_memberships() == set()


@pytest.mark.usefixtures("nothing_leaks")
async def test_an_interface_address_of_no_local_interface_is_refused_before_any_socket() -> None:
    message = r"^no interface on this host has the address 10\.9\.9\.9$"
    with pytest.raises(trio_mcast.InterfaceNotFoundError, match=message):
        async with trio_mcast.open_multicast_receiver(GROUP, PORT, interface="10.9.9.9"):
            raise AssertionError("opened")
    with pytest.raises(trio_mcast.InterfaceNotFoundError, match=message):
        async with trio_mcast.open_multicast_sender(GROUP, PORT, interface="10.9.9.9"):
            raise AssertionError("opened")


async def test_a_secondary_local_address_still_names_its_interface(
    loopback_sender: socket.socket,
) -> None:
    testing.run_ip("addr", "add", "127.81.0.2/32", "dev", "lo")
    try:
        async with trio_mcast.open_multicast_receiver(
            GROUP, PORT, interface="127.81.0.2"
        ) as receiver:
            loopback_sender.sendto(b"via a secondary address", (GROUP, PORT))
            assert (await receiver.receive()).payload == b"via a secondary address"
    finally:
        testing.run_ip("addr", "del", "127.81.0.2/32", "dev", "lo")


async def test_the_sender_names_interface_and_loopback_as_spelled() -> None:
    with pytest.raises(InvalidInterfaceError, match=r"^interface 'no such!' ") as caught:
        async with trio_mcast.open_multicast_sender(GROUP, PORT, interface="no such!"):
            raise AssertionError("opened")
    assert caught.value.parameter == "interface"
    with pytest.raises(InvalidArgumentError, match=r"^loopback must be True or False, got 'no'$"):
        async with trio_mcast.open_multicast_sender(GROUP, PORT, loopback="no"):  # type: ignore[arg-type]  # wrong type on purpose: it must be rejected
            raise AssertionError("opened")


@pytest.mark.parametrize(
    ("group", "limit"), [("239.81.2.1", 65507), ("ff15::81:1", 65527)], ids=["ipv4", "ipv6"]
)
async def test_the_sender_refuses_a_datagram_larger_than_its_family_carries(
    group: str, limit: int, ipv6_link: int
) -> None:
    interface = ipv6_link if ":" in group else "lo"
    async with trio_mcast.open_multicast_sender(group, PORT, interface=interface) as sender:
        with pytest.raises(
            InvalidArgumentError,
            match=rf"^data is {limit + 1} bytes, more than the {limit} bytes an IPv\d datagram"
            r" carries$",
        ):
            await sender.send(bytes(limit + 1))


async def test_a_digit_string_interface_is_an_index(loopback_sender: socket.socket) -> None:
    index = str(socket.if_nametoindex("lo"))
    async with trio_mcast.open_multicast_receiver(GROUP, PORT, interface=index) as receiver:
        assert receiver.interface == int(index)
        loopback_sender.sendto(b"by index", (GROUP, PORT))
        assert (await receiver.receive()).payload == b"by index"


async def test_a_link_scope_group_without_an_interface_is_a_usage_error() -> None:
    with pytest.raises(
        InvalidInterfaceError,
        match=r"^group 'ff02::81' is link-scoped, so it needs an interface: pass interface"
        r" \(a name or an index\)$",
    ):
        async with trio_mcast.open_multicast_receiver("ff02::81", PORT):
            raise AssertionError("opened")


async def _join_until_refused(receiver: trio_mcast.MulticastReceiver) -> int:
    """Join one IPv6 group after another until the kernel refuses; how many joined."""
    for number in range(1, 1 << 16):
        await receiver.join(f"ff15::81:{number:x}")
    raise AssertionError("the kernel never refused")


async def test_ipv6_option_memory_exhaustion_names_optmem_max(ipv6_link: int) -> None:
    async with trio_mcast.open_multicast_receiver(
        "ff15::81:0", PORT, interface=ipv6_link, bind_to_group=False
    ) as receiver:
        with pytest.raises(trio_mcast.JoinError) as caught:
            await _join_until_refused(receiver)
        assert caught.value.errno == errno.ENOMEM
        assert caught.value.hint is not None
        assert "net.core.optmem_max" in caught.value.hint
        assert "mld_max_msf" not in caught.value.hint
        refused = caught.value.group
        assert refused is not None
        assert len(receiver.groups) == int(refused.rsplit(":", 1)[1], 16)


async def test_too_many_ipv6_sources_names_mld_max_msf(ipv6_link: int) -> None:
    # net.ipv6.mld_max_msf is one value for the whole kernel, shown only in the
    # first network namespace: offer more sources than any sane setting.
    sources = [f"fd99:81::{n:x}" for n in range(1, 4097)]
    async with trio_mcast.open_multicast_receiver(
        "ff15::81:1", PORT, interface=ipv6_link, bind_to_group=False
    ) as receiver:
        with pytest.raises(trio_mcast.JoinError) as caught:
            await receiver.join("ff35::81:2", sources=sources)
        assert caught.value.errno == errno.ENOBUFS
        assert caught.value.source in sources[1:]
        assert caught.value.hint is not None
        assert "net.ipv6.mld_max_msf" in caught.value.hint
        assert "igmp" not in caught.value.hint
        assert receiver.groups == ("ff15::81:1",)


def test_send_size_is_the_datagram_size_with_the_sequence_header() -> None:
    receiving = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with receiving:
        receiving.bind(("239.81.3.1", PORT))
        receiving.setsockopt(
            socket.IPPROTO_IP,
            socket.IP_ADD_MEMBERSHIP,
            socket.inet_aton("239.81.3.1") + socket.inet_aton("127.0.0.1"),
        )
        argv = ["send", "239.81.3.1", "-p", str(PORT), "-i", "127.0.0.1", "-q"]
        assert trio_mcast.main([*argv, "--sequence", "--size", "100", "--count", "2"]) == 0
        assert trio_mcast.main([*argv, "--size", "100", "-m", "padded"]) == 0
        payloads = trio.run(recv_exactly, receiving, 3)
    assert [len(payload) for payload in payloads] == [100, 100, 100]
    assert [payload[:4] for payload in payloads[:2]] == [b"TMSQ", b"TMSQ"]
    assert payloads[2] == b"padded".ljust(100, b"\0")


async def test_send_nowait_sends_without_a_checkpoint() -> None:
    group = "239.81.4.1"
    async with (
        trio_mcast.open_multicast_receiver(group, PORT, interface="lo") as receiver,
        trio_mcast.open_multicast_sender(group, PORT, interface="127.0.0.1") as sender,
    ):
        for number in range(3):
            sender.send_nowait(b"now %d" % number)
        with trio.fail_after(5):
            received = [(await receiver.receive()).payload for _ in range(3)]
        with pytest.raises(InvalidArgumentError, match=r"^data is 65508 bytes"):
            sender.send_nowait(bytes(65508))
    assert received == [b"now 0", b"now 1", b"now 2"]
