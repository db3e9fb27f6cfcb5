"""``trio-mcast demo``: send datagrams to ourselves over loopback and show them.

The demo is ``recv`` (:mod:`trio_mcast._cli._recv`) with a sender running
alongside, on the loopback interface with TTL 0, so it needs no root and
nothing leaves the host.
"""

from __future__ import annotations

import socket
import time
from ipaddress import IPv4Address
from typing import TYPE_CHECKING, Final

import trio

from .._config import MAX_DATAGRAM_SIZE
from .._sender import open_multicast_sender
from .._sequence import new_stream_id, pack_header
from .._validate import Interface
from ._options import DEMO_GROUP, RecvOptions
from ._output import format_endpoint
from ._recv import ReceiveSession, receive
from ._run import note, run_session
from ._send import send_datagram

if TYPE_CHECKING:
    from ._options import DemoOptions

__all__ = ["run_demo"]

_DEMO_INTERFACE: Final = "127.0.0.1"
_DEMO_INTERVAL: Final = 0.05


def _free_udp_port() -> int:
    """A UDP port nobody uses on 127.0.0.1 right now, so demos never meet."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((_DEMO_INTERFACE, 0))
        port: int = probe.getsockname()[1]
    return port


async def _send_demo_datagrams(port: int, count: int) -> None:
    stream_id = new_stream_id()
    # TTL 0: the kernel loops the datagrams back to us and sends nothing on a wire.
    async with open_multicast_sender(
        DEMO_GROUP, port, interface=_DEMO_INTERFACE, ttl=0, loopback=True
    ) as sender:
        start = trio.current_time()
        for number in range(count):
            await trio.sleep_until(start + number * _DEMO_INTERVAL)
            text = f"hello from the trio-mcast demo, datagram {number + 1} of {count}"
            header = pack_header(number, time.time_ns(), stream_id)
            await send_datagram(sender.send, header + text.encode(), DEMO_GROUP, port)


def run_demo(options: DemoOptions) -> int:
    """Run ``demo``: send to ourselves over loopback and show it as ``recv``."""
    port = _free_udp_port()
    receive_options = RecvOptions(
        groups=(DEMO_GROUP,),
        port=port,
        interface=Interface(address=IPv4Address(_DEMO_INTERFACE)),
        count=options.count,
        duration=options.timeout,
        sequence=True,
        # Explicit values throughout: the demo must not depend on MULTICAST_*.
        max_size=MAX_DATAGRAM_SIZE,
    )
    session = ReceiveSession(receive_options)
    note(
        f"demo: sending {options.count} datagrams to {format_endpoint(DEMO_GROUP, port)}"
        " over loopback (127.0.0.1, TTL 0) and receiving them"
    )
    return run_session(
        session,
        lambda: receive(session, lambda: _send_demo_datagrams(port, options.count)),
    )
