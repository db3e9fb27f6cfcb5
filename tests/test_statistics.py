"""Kernel drop counts: read from the socket itself, and equal to what /proc shows."""

from __future__ import annotations

import contextlib
import socket
from typing import TYPE_CHECKING, Final

import trio

import trio_mcast
from tests import netns
from trio_mcast import _procnet

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pytest

PORT: Final = 40911
GROUP: Final = "239.91.0.1"


@contextlib.contextmanager
def _overflowed_sink(datagrams: int) -> Iterator[socket.socket]:
    """A socket with the smallest receive buffer, sent ``datagrams`` 1000-byte datagrams."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink, netns.loopback_sender() as tx:
        sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
        sink.bind(("127.0.0.1", 0))
        for _ in range(datagrams):
            tx.sendto(bytes(1000), sink.getsockname())
        yield sink


def test_the_socket_counter_agrees_with_proc_net_udp() -> None:
    with _overflowed_sink(200) as sink:
        from_socket = _procnet._meminfo_drops(sink)
        from_proc = _procnet._proc_net_drops(sink)
    assert from_socket is not None
    assert from_socket > 0
    assert from_socket == from_proc


async def test_statistics_reads_no_proc_file_when_the_socket_can_say(
    monkeypatch: pytest.MonkeyPatch, loopback_sender: socket.socket
) -> None:
    def refuse(sock: socket.socket) -> int | None:
        raise AssertionError("read /proc/net/udp although SO_MEMINFO is there")

    monkeypatch.setattr(_procnet, "_proc_net_drops", refuse)
    async with trio_mcast.open_multicast_receiver(
        GROUP, PORT, interface="lo", receive_buffer_size=1, queue_size=1
    ) as receiver:
        for number in range(200):
            loopback_sender.sendto(b"%d" % number + bytes(1000), (GROUP, PORT))
        await trio.testing.wait_all_tasks_blocked()
        statistics = receiver.statistics()
    assert statistics.kernel_drops is not None
    assert statistics.kernel_drops > 0
    # What was not dropped was taken (or still waits in the socket's buffer).
    assert statistics.datagrams + statistics.kernel_drops <= 200


def test_without_so_meminfo_the_count_comes_from_proc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_procnet, "_meminfo_drops", lambda sock: None)
    with _overflowed_sink(50) as sink:
        drops = _procnet.kernel_drops(sink)
    assert drops is not None
    assert drops > 0
