"""Resolve interfaces to the index and IPv4 address that socket options need.

These are quick, non-blocking kernel look-ups (``if_nametoindex`` and an
``ioctl``), so they are plain synchronous functions.
"""

from __future__ import annotations

import errno
import fcntl
import ipaddress
import socket
import struct
import sys
from typing import TYPE_CHECKING, Final, NamedTuple

from ._errors import InterfaceNotFoundError

if TYPE_CHECKING:
    from ._validate import Interface

__all__ = ["ResolvedInterface", "interface_ipv4_address", "resolve_interface"]

_SIOCGIFADDR: Final = 0x8915  # Linux
_IFREQ: Final = struct.Struct("16s16x")


class ResolvedInterface(NamedTuple):
    """An interface as the socket options want it.

    Attributes:
        ifindex: The interface index; 0 means "the kernel's choice".
        address: Its IPv4 address where one was given or is needed.
        label: How the caller named it, for messages.
    """

    ifindex: int
    address: ipaddress.IPv4Address | None
    label: str | int | None


def interface_ipv4_address(name: str) -> ipaddress.IPv4Address | None:
    """The primary IPv4 address of interface ``name``, or ``None``."""
    if not sys.platform.startswith("linux"):
        return None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            answer = fcntl.ioctl(sock, _SIOCGIFADDR, _IFREQ.pack(name.encode()))
        except OSError:
            return None
    # struct ifreq: 16-byte name, then a sockaddr_in (family, port, address).
    return ipaddress.IPv4Address(answer[20:24])


def _index_of_address(address: ipaddress.IPv4Address) -> int:
    """The index of the interface whose primary address is ``address``, else 0.

    Raises:
        InterfaceNotFoundError: No interface on this host has that address.
    """
    for index, name in socket.if_nameindex():
        if interface_ipv4_address(name) == address:
            return index
    # Not a primary address; a secondary one still names its interface to
    # the kernel (which finds it by address at the join), if it is local.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((str(address), 0))
        except OSError as exc:
            if exc.errno != errno.EADDRNOTAVAIL:
                return 0
            raise InterfaceNotFoundError(
                f"no interface on this host has the address {address}",
                value=str(address),
            ) from None
    return 0


def resolve_interface(
    interface: Interface | None, *, need_address: bool = False
) -> ResolvedInterface:
    """Turn a validated interface into an index and, if needed, an address.

    Args:
        interface: The validated interface, or ``None`` for the kernel's choice.
        need_address: Also look up the IPv4 address when given a name or an
            index (platforms without ``ip_mreqn`` join by address).

    Returns:
        The index (0 when unknown or unspecified) and the address.

    Raises:
        InterfaceNotFoundError: No interface has that name or index, or no
            interface on this host has that address.
    """
    if interface is None:
        return ResolvedInterface(0, None, None)
    if interface.address is not None:
        # An address is what the caller gave; the index helps group_req joins.
        return ResolvedInterface(
            _index_of_address(interface.address), interface.address, str(interface.address)
        )
    if interface.name is not None:
        try:
            index = socket.if_nametoindex(interface.name)
        except OSError as exc:
            raise InterfaceNotFoundError(
                f"interface {interface.name!r} does not exist on this host",
                value=interface.name,
            ) from exc
        name = interface.name
        label: str | int = interface.name
    else:
        assert interface.index is not None
        index = interface.index
        try:
            name = socket.if_indextoname(index)
        except OSError as exc:
            raise InterfaceNotFoundError(
                f"interface index {index} does not exist on this host", value=index
            ) from exc
        label = index
    address = interface_ipv4_address(name) if need_address else None
    return ResolvedInterface(index, address, label)
