"""A small multicast sender, for tests, the CLI and anyone checking a receiver."""

from __future__ import annotations

import ipaddress
import socket
import sys
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import trio

from . import _sockopts
from ._config import default_group, default_port, default_ttl
from ._errors import InvalidArgumentError, join_error_from_oserror
from ._netif import resolve_interface
from ._validate import (
    max_udp_payload,
    validate_bool,
    validate_group,
    validate_interface,
    validate_port,
    validate_ttl,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from ._netif import ResolvedInterface
    from ._validate import AddressLike, InterfaceLike, IPAddress

__all__ = ["MulticastSender", "open_multicast_sender"]

_ANY4 = ipaddress.IPv4Address(0)


class MulticastSender:
    """Sends datagrams to one group; made by :func:`open_multicast_sender`."""

    def __init__(
        self,
        sock: trio.socket.SocketType,
        group: IPAddress,
        port: int,
        ttl: int,
        interface: ResolvedInterface,
        stdlib_socket: socket.socket | None = None,
    ) -> None:
        self._sock = sock
        self._stdlib_socket = stdlib_socket
        self._group = group
        self._port = port
        self._ttl = ttl
        self._interface = interface
        self._destination = (str(group), port)
        self._max_payload = max_udp_payload(sock.family)

    def __repr__(self) -> str:
        return f"<MulticastSender group={self.group} port={self.port} ttl={self.ttl}>"

    @property
    def group(self) -> str:
        """The destination group."""
        return str(self._group)

    @property
    def port(self) -> int:
        """The destination port."""
        return self._port

    @property
    def ttl(self) -> int:
        """The multicast TTL (IPv6 hop limit)."""
        return self._ttl

    @property
    def interface(self) -> str | int | None:
        """The outgoing interface as given; ``None`` means by the routing table."""
        return self._interface.label

    @property
    def socket(self) -> trio.socket.SocketType:
        """The underlying trio socket."""
        return self._sock

    async def send(self, data: bytes) -> None:
        """Send one datagram to the group.

        Args:
            data: The payload; at most 65507 bytes over IPv4, 65527 over IPv6.

        Raises:
            InvalidArgumentError: ``data`` is longer than one datagram carries.
            OSError: The kernel refused (``ENETUNREACH`` without a multicast
                route, for example).
        """
        self._check_size(data)
        await self._sock.sendto(data, self._destination)

    def send_nowait(self, data: bytes) -> None:
        """Send one datagram if the socket can take it now, without waiting.

        For senders that pace themselves: a burst of these costs one system
        call each and no pass through the scheduler.

        Args:
            data: The payload, as for :meth:`send`.

        Raises:
            trio.WouldBlock: The socket's send buffer is full; :meth:`send`
                waits for room.
            InvalidArgumentError: ``data`` is longer than one datagram carries.
            OSError: The kernel refused.
        """
        self._check_size(data)
        if self._stdlib_socket is None:
            raise trio.WouldBlock
        try:
            self._stdlib_socket.sendto(data, self._destination)
        except BlockingIOError:
            raise trio.WouldBlock from None

    def _check_size(self, data: bytes) -> None:
        if len(data) > self._max_payload:
            raise InvalidArgumentError(
                f"data is {len(data)} bytes, more than the {self._max_payload} bytes an"
                f" IPv{self._group.version} datagram carries",
                parameter="data",
                value=f"<{len(data)} bytes>",
            )


def _configure_sender(
    sock: socket.socket, group: IPAddress, ttl: int, loopback: bool, interface: ResolvedInterface
) -> None:
    if isinstance(group, ipaddress.IPv4Address):
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, int(loopback))
        if interface.ifindex or interface.address is not None:
            if sys.platform.startswith("linux"):
                value = _sockopts.pack_ip_mreqn(
                    _ANY4, interface.address or _ANY4, interface.ifindex
                )
            else:
                value = (interface.address or _ANY4).packed
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, value)
    else:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, ttl)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, int(loopback))
        if interface.ifindex:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, interface.ifindex)


@asynccontextmanager
async def open_multicast_sender(
    group: AddressLike | None = None,
    port: int | None = None,
    *,
    interface: InterfaceLike | None = None,
    ttl: int | None = None,
    loopback: bool = True,
) -> AsyncIterator[MulticastSender]:
    """A sender to ``group``:``port``, closed when the block exits.

    Args:
        group: The destination group; ``None`` is ``MULTICAST_GROUP`` or 224.0.0.1.
        port: The destination port; ``None`` is ``MULTICAST_PORT`` or 59259.
        interface: Outgoing interface name, index or local IPv4 address;
            ``None`` follows the routing table.
        ttl: Multicast TTL (hop limit) in 0..255; ``None`` is
            ``MULTICAST_TTL`` or 1, which keeps datagrams on the local link.
        loopback: Also deliver to receivers on this host.

    Yields:
        The sender.

    Raises:
        MulticastError: An argument is invalid.
        InterfaceNotFoundError: The interface does not exist.
        JoinError: The OS refused to set the socket up.

    Example:
        >>> async def main():
        ...     async with open_multicast_sender("239.1.2.3", 5000, ttl=1) as sender:
        ...         await sender.send(b"hello")
    """
    await trio.lowlevel.checkpoint()
    address = validate_group(default_group() if group is None else group)
    destination_port = default_port() if port is None else validate_port(port)
    hops = default_ttl() if ttl is None else validate_ttl(ttl)
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    # The address also picks the datagrams' source address: an index alone
    # leaves Linux to choose, and it will not choose a host-scoped 127.0.0.1.
    validate_bool(loopback, "loopback")
    resolved = resolve_interface(
        validate_interface(interface, family, parameter="interface"), need_address=True
    )
    try:
        sock = socket.socket(family, socket.SOCK_DGRAM)
    except OSError as exc:
        raise join_error_from_oserror(exc, operation="create a UDP socket") from exc
    try:
        _configure_sender(sock, address, hops, loopback, resolved)
    except OSError as exc:
        sock.close()
        raise join_error_from_oserror(
            exc, operation="configure the sender", group=str(address), interface=resolved.label
        ) from exc
    except BaseException:
        sock.close()
        raise
    with trio.socket.from_stdlib_socket(sock) as trio_sock:
        yield MulticastSender(trio_sock, address, destination_port, hops, resolved, sock)
