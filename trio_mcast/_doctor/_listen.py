"""The doctor's live listen: join for real, and note what arrives, from whom, with what TTL.

It joins the way a receiver does (:func:`trio_mcast._join.open_joined_socket`),
and also asks the kernel for each datagram's TTL or hop limit. As root (or
with ``CAP_NET_RAW``) it also watches the interface for IGMP or MLD queries
on a raw socket; otherwise that stays unknown, with the reason.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import socket
import struct
from typing import TYPE_CHECKING, Final

import trio

from .._errors import MulticastError, NetlinkError
from .._join import close_joined, initial_filter, open_joined_socket
from .._procnet import kernel_drops
from ._facts import Listen, SourceTraffic
from ._gather import groups_joined_on, route_to

if TYPE_CHECKING:
    from .._validate import JoinSpec
    from ._facts import Link

__all__ = ["listen"]

# Linux's values (include/uapi/linux/in.h, in6.h).
_IP_TTL: Final = 2
_IP_RECVTTL: Final = 12
_IPV6_RECVHOPLIMIT: Final = 51
_IPV6_HOPLIMIT: Final = 52
_IGMP_QUERY: Final = 0x11
_MLD_QUERY: Final = 130
_SO_BINDTODEVICE: Final = 25
_INT: Final = struct.Struct("=i")
_RECEIVE_SIZE: Final = 65535


class _Tally:
    def __init__(self) -> None:
        self.datagrams: dict[str, int] = {}
        self.hop_limits: dict[str, set[int]] = {}
        self.query_seen = False


def _enable_hop_limits(sock: socket.socket, ipv6: bool) -> None:
    if ipv6:
        sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_RECVHOPLIMIT, 1)
    else:
        sock.setsockopt(socket.IPPROTO_IP, _IP_RECVTTL, 1)


async def _count(sock: socket.socket, ipv6: bool, tally: _Tally) -> None:
    level, kind = (socket.IPPROTO_IPV6, _IPV6_HOPLIMIT) if ipv6 else (socket.IPPROTO_IP, _IP_TTL)
    space = socket.CMSG_SPACE(_INT.size) * 4
    while True:
        await trio.lowlevel.wait_readable(sock)
        while True:
            try:
                _, ancillary, _, address = sock.recvmsg(_RECEIVE_SIZE, space)
            except BlockingIOError:
                break
            source = address[0]
            tally.datagrams[source] = tally.datagrams.get(source, 0) + 1
            for cmsg_level, cmsg_type, data in ancillary:
                if cmsg_level == level and cmsg_type == kind and len(data) >= _INT.size:
                    tally.hop_limits.setdefault(source, set()).add(_INT.unpack_from(data)[0])


def _query_socket(ipv6: bool, interface: str) -> socket.socket:
    """A raw socket that sees the IGMP (or ICMPv6) packets arriving on ``interface``.

    Raises:
        OSError: Not permitted (it needs ``CAP_NET_RAW``), or not supported.
    """
    if ipv6:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_IGMP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_BINDTODEVICE, interface.encode())
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def _watch_queries(sock: socket.socket, ipv6: bool, tally: _Tally) -> None:
    while True:
        await trio.lowlevel.wait_readable(sock)
        while True:
            try:
                packet = sock.recv(_RECEIVE_SIZE)
            except BlockingIOError:
                break
            if ipv6:
                # Raw ICMPv6 sockets get the message without the IPv6 header.
                kind = packet[0] if packet else None
                seen = kind == _MLD_QUERY
            else:
                # Raw IPv4 sockets get the IP header first; its length is in words.
                offset = (packet[0] & 0x0F) * 4 if packet else 0
                seen = len(packet) > offset and packet[offset] == _IGMP_QUERY
            tally.query_seen = tally.query_seen or seen


def _membership_shown(ipv6: bool, interface: Link | None, group: str) -> bool | None:
    if interface is None:
        return None
    try:
        return group in groups_joined_on(interface.name, ipv6)
    except OSError:
        return None


def _on_link(source: str, interface: Link | None) -> bool | None:
    if interface is None:
        return None
    try:
        route = route_to(ipaddress.ip_address(source.split("%", 1)[0]))
    except (NetlinkError, OSError, ValueError):
        return None
    return route is not None and route.gateway is None and route.oif == interface.index


async def listen(spec: JoinSpec, interface: Link | None, seconds: float) -> Listen:
    """Join ``spec`` for ``seconds`` and report what arrived."""
    ipv6 = spec.family == socket.AF_INET6
    try:
        joined = open_joined_socket(spec)
    except MulticastError as exc:
        return Listen(seconds, error=str(exc))
    tally = _Tally()
    query: socket.socket | None = None
    query_reason = ""
    try:
        # Without it the listen still counts; the TTLs stay unknown.
        with contextlib.suppress(OSError):
            _enable_hop_limits(joined.sock, ipv6)
        if interface is None:
            query_reason = "no interface to watch"
        else:
            try:
                query = _query_socket(ipv6, interface.name)
            except OSError as exc:
                query_reason = (
                    "watching needs CAP_NET_RAW (run as root)"
                    if exc.errno in (errno.EPERM, errno.EACCES)
                    else str(exc)
                )
        shown = _membership_shown(ipv6, interface, str(spec.groups[0]))
        with trio.move_on_after(seconds):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_count, joined.sock, ipv6, tally)
                if query is not None:
                    nursery.start_soon(_watch_queries, query, ipv6, tally)
        drops = kernel_drops(joined.sock)
    finally:
        if query is not None:
            query.close()
        close_joined(
            joined.sock, spec.family, {spec.groups[0]: initial_filter(spec)}, joined.interface
        )
    sources = {
        source: SourceTraffic(
            count,
            tuple(sorted(tally.hop_limits.get(source, ()))),
            _on_link(source, interface),
        )
        for source, count in tally.datagrams.items()
    }
    return Listen(
        seconds,
        sources,
        drops,
        shown,
        None if query is None else tally.query_seen,
        query_reason,
    )
