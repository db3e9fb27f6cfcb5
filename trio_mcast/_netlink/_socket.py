"""rtnetlink sockets: subscribe to interface changes, and ask the kernel questions.

Thin I/O over :mod:`._messages`. The questions (a route, the addresses) are
answered by the kernel inside the ``send`` call, so they are quick synchronous
calls like the interface look-ups in :mod:`trio_mcast._netif`.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import itertools
import socket
import sys
from typing import TYPE_CHECKING, Final

from .._errors import NetlinkError
from ._messages import (
    AF_INET,
    AddressMessage,
    Done,
    ErrorMessage,
    LinkMessage,
    RouteMessage,
    address_dump_request,
    link_dump_request,
    parse_messages,
    route_request,
)

if TYPE_CHECKING:
    from ._messages import Message

__all__ = [
    "AVAILABLE",
    "addresses",
    "ipv4_addresses",
    "links",
    "open_notifications",
    "read_notifications",
    "route_interface",
    "route_lookup",
]

#: Whether this platform has rtnetlink at all.
AVAILABLE: Final = sys.platform.startswith("linux") and hasattr(socket, "AF_NETLINK")

_RTMGRP_LINK: Final = 0x1
_RTMGRP_IPV4_IFADDR: Final = 0x10
_RTMGRP_IPV4_ROUTE: Final = 0x40
_RTMGRP_IPV6_IFADDR: Final = 0x100
_RTMGRP_IPV6_ROUTE: Final = 0x400
_GROUPS: Final = (
    _RTMGRP_LINK
    | _RTMGRP_IPV4_IFADDR
    | _RTMGRP_IPV4_ROUTE
    | _RTMGRP_IPV6_IFADDR
    | _RTMGRP_IPV6_ROUTE
)
#: Room for a burst of notifications (a recreation storm) before the kernel
#: reports an overrun; an overrun is survived by a fresh look at everything.
_NOTIFICATION_BUFFER: Final = 1 << 20
_RECEIVE_SIZE: Final = 1 << 16
#: The kernel answers within the send call; this only bounds a broken kernel.
_QUERY_TIMEOUT: Final = 1.0
_sequence = itertools.count(1)


def _netlink_socket() -> socket.socket:
    return socket.socket(
        socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE
    )


def open_notifications() -> socket.socket:
    """A non-blocking socket subscribed to link, address and route changes.

    Raises:
        OSError: The kernel refused the socket.
    """
    sock = _netlink_socket()
    try:
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _NOTIFICATION_BUFFER)
        sock.bind((0, _GROUPS))
    except BaseException:
        sock.close()
        raise
    return sock


def read_notifications(sock: socket.socket) -> list[Message] | None:
    """Every notification queued on ``sock``, without blocking.

    Returns:
        The messages (possibly none); ``None`` when the kernel dropped some
        because the socket's buffer was full: the caller must look at the
        current state afresh.

    Raises:
        NetlinkError: The kernel sent data that does not parse.
    """
    messages: list[Message] = []
    while True:
        try:
            data = sock.recv(_RECEIVE_SIZE)
        except BlockingIOError:
            return messages
        except OSError as exc:
            if exc.errno == errno.ENOBUFS:
                # Drain what is left: the fresh look replaces all of it.
                _discard(sock)
                return None
            raise
        messages.extend(parse_messages(data))


def _discard(sock: socket.socket) -> None:
    while True:
        try:
            sock.recv(_RECEIVE_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            if exc.errno != errno.ENOBUFS:
                return


def _ask(request_for: int, build: bytes) -> list[Message]:
    """Send one request; return the answer's messages up to its end.

    Raises:
        NetlinkError: The kernel refused, or did not answer in time.
    """
    answer: list[Message] = []
    with _netlink_socket() as sock:
        sock.settimeout(_QUERY_TIMEOUT)
        try:
            sock.sendto(build, (0, 0))
            while True:
                for message in parse_messages(sock.recv(_RECEIVE_SIZE)):
                    if isinstance(message, ErrorMessage) and message.seq == request_for:
                        if message.error:
                            code = -message.error
                            name = errno.errorcode.get(code, str(code))
                            raise NetlinkError(
                                f"the kernel refused an rtnetlink request: {name}",
                                errno=code,
                            )
                        return answer
                    if isinstance(message, Done):
                        return answer
                    answer.append(message)
                if answer and isinstance(answer[-1], RouteMessage):
                    # A route query has a single answer, not a dump.
                    return answer
        except OSError as exc:
            raise NetlinkError(f"rtnetlink request failed: {exc}", errno=exc.errno) from exc


def route_lookup(
    destination: ipaddress.IPv4Address | ipaddress.IPv6Address, *, fib_match: bool = False
) -> RouteMessage | None:
    """The kernel's route to ``destination``; ``None`` when there is none.

    Args:
        destination: Where to.
        fib_match: Answer with the routing table entry that matched (its
            prefix length tells a default route apart).

    Raises:
        NetlinkError: The kernel refused the question for another reason.
    """
    seq = next(_sequence)
    try:
        answer = _ask(seq, route_request(destination, seq, fib_match=fib_match))
    except NetlinkError as exc:
        if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENODEV, errno.EINVAL):
            return None
        raise
    for message in answer:
        if isinstance(message, RouteMessage):
            return message
    return None


def route_interface(destination: ipaddress.IPv4Address | ipaddress.IPv6Address) -> int | None:
    """The output interface of the kernel's route to ``destination``; ``None`` if no route.

    This is the interface a membership joined without one lands on.
    """
    route = route_lookup(destination)
    return None if route is None or not route.oif else route.oif


def links() -> list[LinkMessage]:
    """Every interface of this network namespace, with its flags, kind and bridge settings."""
    seq = next(_sequence)
    return [m for m in _ask(seq, link_dump_request(seq)) if isinstance(m, LinkMessage)]


def addresses(family: int) -> list[AddressMessage]:
    """Every address of ``family`` (``AF_INET`` or ``AF_INET6``) in this namespace."""
    seq = next(_sequence)
    return [
        m for m in _ask(seq, address_dump_request(family, seq)) if isinstance(m, AddressMessage)
    ]


def ipv4_addresses() -> list[tuple[int, ipaddress.IPv4Address]]:
    """Every IPv4 address on this host, as ``(ifindex, address)``."""
    return [
        (message.ifindex, message.address)
        for message in addresses(AF_INET)
        if isinstance(message.address, ipaddress.IPv4Address)
    ]
