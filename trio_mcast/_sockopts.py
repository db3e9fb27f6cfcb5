"""Socket option numbers and C structure layouts, per platform.

CPython's :mod:`socket` lacks many multicast constants (which ones depends on
the version), and the structures passed to ``setsockopt`` differ between
kernels in field order, padding and address-family encoding. This module holds
the numbers and the byte layouts as plain data and pure functions, so every
platform's encoding can be tested on any host. It never imports trio and never
creates a socket.

Integers inside the structures are in the host's byte order, because the
kernel reading them is the host's; addresses and ports are in network order.
"""

from __future__ import annotations

import dataclasses
import enum
import struct
import sys
from ipaddress import IPv4Address, IPv6Address
from typing import Final, NamedTuple

__all__ = [
    "CURRENT",
    "FREEBSD",
    "LINUX",
    "MACOS",
    "UNKNOWN",
    "WINDOWS",
    "GroupReq",
    "GroupSourceReq",
    "IpMreq",
    "IpMreqSource",
    "IpMreqn",
    "Ipv6Mreq",
    "MreqSourceLayout",
    "PlatformOptions",
    "SockaddrEncoding",
    "Timespec",
    "options_for",
    "pack_group_req",
    "pack_group_source_req",
    "pack_in6_pktinfo",
    "pack_in_pktinfo",
    "pack_ip_mreq",
    "pack_ip_mreq_source",
    "pack_ip_mreqn",
    "pack_ipv6_mreq",
    "pack_rxq_ovfl",
    "pack_timespec",
    "parse_in6_pktinfo",
    "parse_in_pktinfo",
    "parse_rxq_ovfl",
    "parse_timespec",
    "unpack_group_req",
    "unpack_group_source_req",
    "unpack_ip_mreq",
    "unpack_ip_mreq_source",
    "unpack_ip_mreqn",
    "unpack_ipv6_mreq",
    "unpack_timespec",
]


class MreqSourceLayout(enum.Enum):
    """The field order of ``struct ip_mreq_source`` (three ``in_addr``)."""

    #: Linux: ``imr_multiaddr, imr_interface, imr_sourceaddr``.
    GROUP_INTERFACE_SOURCE = "group-interface-source"
    #: RFC 3678, as BSD, macOS and Windows define it:
    #: ``imr_multiaddr, imr_sourceaddr, imr_interface``.
    GROUP_SOURCE_INTERFACE = "group-source-interface"


class SockaddrEncoding(enum.Enum):
    """How a ``sockaddr`` begins."""

    #: Linux and Windows: a 2-byte ``sa_family_t`` in host byte order.
    FAMILY_U16 = "family-u16"
    #: BSD and macOS: a 1-byte ``sin_len`` (the sockaddr's size), then a
    #: 1-byte ``sa_family_t``.
    LEN_FAMILY_U8 = "len-family-u8"


@dataclasses.dataclass(frozen=True, slots=True)
class PlatformOptions:
    """One platform's option numbers and structure layouts.

    Option fields are ``None`` where the platform does not have the option.

    Attributes:
        name: A short label for messages, e.g. ``"linux"``.
        ip_pktinfo: ``IP_PKTINFO`` (level ``IPPROTO_IP``); also its cmsg type.
        ip_multicast_all: ``IP_MULTICAST_ALL``.
        ipv6_multicast_all: ``IPV6_MULTICAST_ALL``.
        ip_add_source_membership: ``IP_ADD_SOURCE_MEMBERSHIP``.
        ip_drop_source_membership: ``IP_DROP_SOURCE_MEMBERSHIP``.
        ip_block_source: ``IP_BLOCK_SOURCE``.
        ip_unblock_source: ``IP_UNBLOCK_SOURCE``.
        mcast_join_group: ``MCAST_JOIN_GROUP``.
        mcast_leave_group: ``MCAST_LEAVE_GROUP``.
        mcast_join_source_group: ``MCAST_JOIN_SOURCE_GROUP``.
        mcast_leave_source_group: ``MCAST_LEAVE_SOURCE_GROUP``.
        mcast_block_source: ``MCAST_BLOCK_SOURCE``.
        mcast_unblock_source: ``MCAST_UNBLOCK_SOURCE``.
        ipv6_recvpktinfo: ``IPV6_RECVPKTINFO``, the option that turns the
            ancillary data on.
        ipv6_pktinfo: ``IPV6_PKTINFO``, the cmsg type the data arrives as.
        so_rxq_ovfl: ``SO_RXQ_OVFL`` (level ``SOL_SOCKET``).
        so_timestamp: ``SO_TIMESTAMP``; its cmsg carries a ``struct timeval``.
        so_timestampns: ``SO_TIMESTAMPNS``; its cmsg carries a ``struct timespec``.
        so_bindtoifindex: ``SO_BINDTOIFINDEX``: deliver only what arrives on
            one interface (Linux 5.0+; unprivileged while the socket is not
            yet bound to a device, since 5.7).
        so_meminfo: ``SO_MEMINFO``: the socket's memory counters, the drop
            count among them (Linux 4.12+).
        ip_mreq_source_layout: The field order of ``struct ip_mreq_source``.
        sockaddr_encoding: How a ``sockaddr`` encodes its family.
        af_inet: The ``AF_INET`` number.
        af_inet6: The ``AF_INET6`` number, ``None`` when unknown.
        group_req_align: The alignment of the ``sockaddr_storage`` members of
            ``group_req`` and ``group_source_req``: the padding after the
            4-byte interface index is ``group_req_align - 4`` bytes.
        ip_recvttl: ``IP_RECVTTL``: report each datagram's TTL.
        ip_ttl: ``IP_TTL``, the cmsg type the TTL arrives as (an int).
        ip_recvtos: ``IP_RECVTOS``: report each datagram's TOS byte.
        ip_tos: ``IP_TOS``, the cmsg type the TOS arrives as (one byte).
        ipv6_recvhoplimit: ``IPV6_RECVHOPLIMIT``: report the hop limit.
        ipv6_hoplimit: ``IPV6_HOPLIMIT``, its cmsg type (an int).
        ipv6_recvtclass: ``IPV6_RECVTCLASS``: report the traffic class.
        ipv6_tclass: ``IPV6_TCLASS``, its cmsg type (an int).
    """

    name: str
    ip_pktinfo: int | None
    ip_multicast_all: int | None
    ipv6_multicast_all: int | None
    ip_add_source_membership: int | None
    ip_drop_source_membership: int | None
    ip_block_source: int | None
    ip_unblock_source: int | None
    mcast_join_group: int | None
    mcast_leave_group: int | None
    mcast_join_source_group: int | None
    mcast_leave_source_group: int | None
    mcast_block_source: int | None
    mcast_unblock_source: int | None
    ipv6_recvpktinfo: int | None
    ipv6_pktinfo: int | None
    so_rxq_ovfl: int | None
    so_timestamp: int | None
    so_timestampns: int | None
    so_bindtoifindex: int | None
    so_meminfo: int | None
    ip_mreq_source_layout: MreqSourceLayout
    sockaddr_encoding: SockaddrEncoding
    af_inet: int
    af_inet6: int | None
    group_req_align: int
    # Known for Linux only; elsewhere the datagrams' fields stay None.
    ip_recvttl: int | None = None
    ip_ttl: int | None = None
    ip_recvtos: int | None = None
    ip_tos: int | None = None
    ipv6_recvhoplimit: int | None = None
    ipv6_hoplimit: int | None = None
    ipv6_recvtclass: int | None = None
    ipv6_tclass: int | None = None

    @property
    def group_req_size(self) -> int:
        """``sizeof(struct group_req)``."""
        return self.group_req_align + _SOCKADDR_STORAGE_SIZE

    @property
    def group_source_req_size(self) -> int:
        """``sizeof(struct group_source_req)``."""
        return self.group_req_align + 2 * _SOCKADDR_STORAGE_SIZE


_SOCKADDR_STORAGE_SIZE: Final = 128
_SOCKADDR_IN_SIZE: Final = 16
_SOCKADDR_IN6_SIZE: Final = 28
_AF_INET: Final = 2

_UINT32_MAX: Final = 2**32 - 1
_INT_MAX: Final = 2**31 - 1
_HOST_POINTER_SIZE: Final = struct.calcsize("P")
_HOST_LONG_SIZE: Final = struct.calcsize("@l")

# include/uapi/linux/in.h, include/uapi/linux/in6.h (glibc's bits/in.h agrees),
# include/uapi/asm-generic/socket.h. The SO_* numbers are the generic ones
# that x86, arm, arm64, riscv, powerpc and s390 use; parisc (SO_RXQ_OVFL is
# 0x4021 there) and a few other architectures number them differently.
# SO_TIMESTAMP/SO_TIMESTAMPNS are the *_OLD values, which every libc maps to
# on 64-bit; on 32-bit they yield 32-bit fields, which parse_timespec reads.
# struct group_req holds a __kernel_sockaddr_storage aligned like a pointer:
# 8 here (LP64); options_for() gives 32-bit processes the 4-aligned layout
# that the kernel's compat_group_req also uses.
LINUX: Final = PlatformOptions(
    name="linux",
    ip_pktinfo=8,
    ip_multicast_all=49,
    ipv6_multicast_all=29,
    ip_add_source_membership=39,
    ip_drop_source_membership=40,
    ip_block_source=38,
    ip_unblock_source=37,
    mcast_join_group=42,
    mcast_leave_group=45,
    mcast_join_source_group=46,
    mcast_leave_source_group=47,
    mcast_block_source=43,
    mcast_unblock_source=44,
    ipv6_recvpktinfo=49,
    ipv6_pktinfo=50,
    so_rxq_ovfl=40,
    so_timestamp=29,
    so_timestampns=35,
    so_bindtoifindex=62,
    so_meminfo=55,
    ip_mreq_source_layout=MreqSourceLayout.GROUP_INTERFACE_SOURCE,
    sockaddr_encoding=SockaddrEncoding.FAMILY_U16,
    af_inet=_AF_INET,
    af_inet6=10,
    group_req_align=8,
    ip_recvttl=12,
    ip_ttl=2,
    ip_recvtos=13,
    ip_tos=1,
    ipv6_recvhoplimit=51,
    ipv6_hoplimit=52,
    ipv6_recvtclass=66,
    ipv6_tclass=67,
)

# xnu bsd/netinet/in.h, bsd/netinet6/in6.h (the RFC 3542 numbers, enabled by
# __APPLE_USE_RFC_3542; without it IPV6_PKTINFO is the RFC 2292 option 19),
# bsd/sys/socket.h. in.h wraps ip_mreq_source and group_req in
# "#pragma pack(4)", so gr_group follows gr_interface with no padding.
MACOS: Final = PlatformOptions(
    name="macos",
    ip_pktinfo=26,
    ip_multicast_all=None,
    ipv6_multicast_all=None,
    ip_add_source_membership=70,
    ip_drop_source_membership=71,
    ip_block_source=72,
    ip_unblock_source=73,
    mcast_join_group=80,
    mcast_leave_group=81,
    mcast_join_source_group=82,
    mcast_leave_source_group=83,
    mcast_block_source=84,
    mcast_unblock_source=85,
    ipv6_recvpktinfo=61,
    ipv6_pktinfo=46,
    so_rxq_ovfl=None,
    so_timestamp=0x400,
    so_timestampns=None,
    so_bindtoifindex=None,
    so_meminfo=None,
    ip_mreq_source_layout=MreqSourceLayout.GROUP_SOURCE_INTERFACE,
    sockaddr_encoding=SockaddrEncoding.LEN_FAMILY_U8,
    af_inet=_AF_INET,
    af_inet6=30,
    group_req_align=4,
)

# FreeBSD sys/netinet/in.h, sys/netinet6/in6.h, sys/sys/socket.h. There is
# no IP_PKTINFO: FreeBSD reports the destination with IP_RECVDSTADDR and the
# interface with IP_RECVIF instead. sockaddr_storage holds an __int64_t, so
# group_req is padded to 8 on 64-bit targets (4 on i386).
FREEBSD: Final = PlatformOptions(
    name="freebsd",
    ip_pktinfo=None,
    ip_multicast_all=None,
    ipv6_multicast_all=None,
    ip_add_source_membership=70,
    ip_drop_source_membership=71,
    ip_block_source=72,
    ip_unblock_source=73,
    mcast_join_group=80,
    mcast_leave_group=81,
    mcast_join_source_group=82,
    mcast_leave_source_group=83,
    mcast_block_source=84,
    mcast_unblock_source=85,
    ipv6_recvpktinfo=36,
    ipv6_pktinfo=46,
    so_rxq_ovfl=None,
    so_timestamp=0x400,
    so_timestampns=None,
    so_bindtoifindex=None,
    so_meminfo=None,
    ip_mreq_source_layout=MreqSourceLayout.GROUP_SOURCE_INTERFACE,
    sockaddr_encoding=SockaddrEncoding.LEN_FAMILY_U8,
    af_inet=_AF_INET,
    af_inet6=28,
    group_req_align=8,
)

# Windows SDK ws2ipdef.h (options, IP_MREQ_SOURCE, GROUP_REQ) and ws2def.h
# (SOCKADDR_STORAGE: 128 bytes holding an __int64, so 8-aligned on x86 and
# x64 alike). Windows enables and reports IPv6 packet info with the one
# option IPV6_PKTINFO. mstcpip.h's SO_TIMESTAMP (0x300A) is switched on by
# the SIO_TIMESTAMPING ioctl and carries a UINT64 performance-counter value,
# not a timeval, so it is not the option this table describes.
WINDOWS: Final = PlatformOptions(
    name="windows",
    ip_pktinfo=19,
    ip_multicast_all=None,
    ipv6_multicast_all=None,
    ip_add_source_membership=15,
    ip_drop_source_membership=16,
    ip_block_source=17,
    ip_unblock_source=18,
    mcast_join_group=41,
    mcast_leave_group=42,
    mcast_join_source_group=45,
    mcast_leave_source_group=46,
    mcast_block_source=43,
    mcast_unblock_source=44,
    ipv6_recvpktinfo=19,
    ipv6_pktinfo=19,
    so_rxq_ovfl=None,
    so_timestamp=None,
    so_timestampns=None,
    so_bindtoifindex=None,
    so_meminfo=None,
    ip_mreq_source_layout=MreqSourceLayout.GROUP_SOURCE_INTERFACE,
    sockaddr_encoding=SockaddrEncoding.FAMILY_U16,
    af_inet=_AF_INET,
    af_inet6=23,
    group_req_align=8,
)

# No option is assumed on an unknown platform. The layouts are the standard
# ones: RFC 3678's ip_mreq_source order and POSIX's plain sa_family_t.
UNKNOWN: Final = PlatformOptions(
    name="unknown",
    ip_pktinfo=None,
    ip_multicast_all=None,
    ipv6_multicast_all=None,
    ip_add_source_membership=None,
    ip_drop_source_membership=None,
    ip_block_source=None,
    ip_unblock_source=None,
    mcast_join_group=None,
    mcast_leave_group=None,
    mcast_join_source_group=None,
    mcast_leave_source_group=None,
    mcast_block_source=None,
    mcast_unblock_source=None,
    ipv6_recvpktinfo=None,
    ipv6_pktinfo=None,
    so_rxq_ovfl=None,
    so_timestamp=None,
    so_timestampns=None,
    so_bindtoifindex=None,
    so_meminfo=None,
    ip_mreq_source_layout=MreqSourceLayout.GROUP_SOURCE_INTERFACE,
    sockaddr_encoding=SockaddrEncoding.FAMILY_U16,
    af_inet=_AF_INET,
    af_inet6=None,
    group_req_align=8,
)


def options_for(
    platform: str = sys.platform, *, pointer_size: int = _HOST_POINTER_SIZE
) -> PlatformOptions:
    """The option table for a platform.

    Args:
        platform: A :data:`sys.platform` value. ``linux*`` and ``android``
            give :data:`LINUX`; ``darwin`` and ``ios`` give :data:`MACOS`;
            ``freebsd*`` gives :data:`FREEBSD`; ``win32`` and ``cygwin``
            give :data:`WINDOWS`; anything else gives :data:`UNKNOWN`.
        pointer_size: The process's pointer size in bytes, 4 or 8; defaults
            to the running interpreter's. On Linux and FreeBSD a 32-bit
            process aligns ``gr_group`` to 4 bytes instead of 8, making
            ``group_req`` 132 bytes and ``group_source_req`` 260.

    Returns:
        The table.

    Raises:
        ValueError: ``pointer_size`` is neither 4 nor 8.
    """
    if pointer_size not in (4, 8):
        raise ValueError(f"pointer_size must be 4 or 8, got {pointer_size!r}")
    if platform.startswith("linux") or platform == "android":
        table = LINUX
    elif platform in ("darwin", "ios"):
        return MACOS
    elif platform.startswith("freebsd"):
        table = FREEBSD
    elif platform in ("win32", "cygwin"):
        return WINDOWS
    else:
        return UNKNOWN
    if pointer_size == 4:
        return dataclasses.replace(table, name=f"{table.name}-ilp32", group_req_align=4)
    return table


CURRENT: Final = options_for()


class IpMreq(NamedTuple):
    """A decoded ``struct ip_mreq``."""

    group: IPv4Address
    interface: IPv4Address


class IpMreqn(NamedTuple):
    """A decoded ``struct ip_mreqn``."""

    group: IPv4Address
    interface_address: IPv4Address
    ifindex: int


class IpMreqSource(NamedTuple):
    """A decoded ``struct ip_mreq_source``."""

    group: IPv4Address
    interface: IPv4Address
    source: IPv4Address


class Ipv6Mreq(NamedTuple):
    """A decoded ``struct ipv6_mreq``."""

    group: IPv6Address
    ifindex: int


class GroupReq(NamedTuple):
    """A decoded ``struct group_req``."""

    ifindex: int
    group: IPv4Address | IPv6Address


class GroupSourceReq(NamedTuple):
    """A decoded ``struct group_source_req``."""

    ifindex: int
    group: IPv4Address | IPv6Address
    source: IPv4Address | IPv6Address


class Timespec(NamedTuple):
    """A decoded ``struct timespec``."""

    seconds: int
    nanoseconds: int


_IP_MREQN: Final = struct.Struct("@4s4si")
_IPV6_MREQ: Final = struct.Struct("@16sI")
_U16: Final = struct.Struct("@H")
_U32: Final = struct.Struct("@I")
_IN_PKTINFO: Final = struct.Struct("@i4s4s")
_IN6_PKTINFO: Final = struct.Struct("@16si")
_TIMESPEC_64: Final = struct.Struct("@qq")
_TIMESPEC_32: Final = struct.Struct("@ii")
_TIMESPEC_BY_LONG_SIZE: Final = {8: _TIMESPEC_64, 4: _TIMESPEC_32}

# Bound once so the receive path skips the attribute lookups.
_unpack_in_pktinfo: Final = _IN_PKTINFO.unpack
_unpack_in6_pktinfo: Final = _IN6_PKTINFO.unpack
_unpack_timespec_64: Final = _TIMESPEC_64.unpack
_unpack_timespec_32: Final = _TIMESPEC_32.unpack
_unpack_u32: Final = _U32.unpack

_ZERO_PORT: Final = bytes(2)
_ZERO_FLOWINFO_PORT: Final = bytes(6)
_ZERO_SCOPE: Final = bytes(4)
_ZERO_SIN: Final = bytes(8)


def _check_range(parameter: str, value: int, high: int) -> None:
    if not 0 <= value <= high:
        raise ValueError(f"{parameter} must be in 0..{high}, got {value!r}")


def _v4(parameter: str, address: object) -> bytes:
    # A runtime check as well as the annotation: IPv6Address.packed would
    # otherwise produce a struct of the wrong size without complaint.
    if not isinstance(address, IPv4Address):
        raise ValueError(f"{parameter} must be an IPv4Address, got {address!r}")
    return address.packed


def _v6(parameter: str, address: object) -> bytes:
    if not isinstance(address, IPv6Address):
        raise ValueError(f"{parameter} must be an IPv6Address, got {address!r}")
    return address.packed


def _check_size(structure: str, data: bytes, size: int) -> None:
    if len(data) != size:
        raise ValueError(f"{structure} must be {size} bytes, got {len(data)}")


def pack_ip_mreq(group: IPv4Address, interface: IPv4Address) -> bytes:
    """Encode ``struct ip_mreq`` for ``IP_ADD_MEMBERSHIP``/``IP_DROP_MEMBERSHIP``.

    Args:
        group: ``imr_multiaddr``.
        interface: ``imr_interface``, the local address of the interface;
            ``0.0.0.0`` lets the kernel choose.

    Returns:
        The 8-byte structure.

    Raises:
        ValueError: An address is not an :class:`~ipaddress.IPv4Address`.
    """
    return _v4("group", group) + _v4("interface", interface)


def unpack_ip_mreq(data: bytes) -> IpMreq:
    """Decode ``struct ip_mreq``; the inverse of :func:`pack_ip_mreq`.

    Raises:
        ValueError: ``data`` is not 8 bytes.
    """
    _check_size("struct ip_mreq", data, 8)
    return IpMreq(IPv4Address(data[:4]), IPv4Address(data[4:8]))


def pack_ip_mreqn(group: IPv4Address, interface_address: IPv4Address, ifindex: int) -> bytes:
    """Encode Linux's ``struct ip_mreqn``, which names the interface by index.

    Args:
        group: ``imr_multiaddr``.
        interface_address: ``imr_address``; ignored by the kernel when
            ``ifindex`` is not 0.
        ifindex: ``imr_ifindex``, a C ``int``; 0 means "any".

    Returns:
        The 12-byte structure.

    Raises:
        ValueError: ``ifindex`` is outside 0..2**31-1, or an address is not
            an :class:`~ipaddress.IPv4Address`.
    """
    _check_range("ifindex", ifindex, _INT_MAX)
    return _IP_MREQN.pack(
        _v4("group", group), _v4("interface_address", interface_address), ifindex
    )


def unpack_ip_mreqn(data: bytes) -> IpMreqn:
    """Decode ``struct ip_mreqn``; the inverse of :func:`pack_ip_mreqn`.

    Raises:
        ValueError: ``data`` is not 12 bytes.
    """
    _check_size("struct ip_mreqn", data, _IP_MREQN.size)
    group, address, ifindex = _IP_MREQN.unpack(data)
    return IpMreqn(IPv4Address(group), IPv4Address(address), ifindex)


def pack_ip_mreq_source(
    group: IPv4Address,
    interface: IPv4Address,
    source: IPv4Address,
    layout: MreqSourceLayout = CURRENT.ip_mreq_source_layout,
) -> bytes:
    """Encode ``struct ip_mreq_source`` for ``IP_ADD_SOURCE_MEMBERSHIP``.

    Args:
        group: ``imr_multiaddr``.
        interface: ``imr_interface``, the local address of the interface.
        source: ``imr_sourceaddr``, the one sender to accept.
        layout: The platform's field order; defaults to the running host's.

    Returns:
        The 12-byte structure.

    Raises:
        ValueError: An address is not an :class:`~ipaddress.IPv4Address`.
    """
    group_bytes = _v4("group", group)
    interface_bytes = _v4("interface", interface)
    source_bytes = _v4("source", source)
    if layout is MreqSourceLayout.GROUP_INTERFACE_SOURCE:
        return group_bytes + interface_bytes + source_bytes
    return group_bytes + source_bytes + interface_bytes


def unpack_ip_mreq_source(
    data: bytes, layout: MreqSourceLayout = CURRENT.ip_mreq_source_layout
) -> IpMreqSource:
    """Decode ``struct ip_mreq_source``; the inverse of :func:`pack_ip_mreq_source`.

    Raises:
        ValueError: ``data`` is not 12 bytes.
    """
    _check_size("struct ip_mreq_source", data, 12)
    group = IPv4Address(data[:4])
    second = IPv4Address(data[4:8])
    third = IPv4Address(data[8:12])
    if layout is MreqSourceLayout.GROUP_INTERFACE_SOURCE:
        return IpMreqSource(group, interface=second, source=third)
    return IpMreqSource(group, interface=third, source=second)


def pack_ipv6_mreq(group: IPv6Address, ifindex: int) -> bytes:
    """Encode ``struct ipv6_mreq`` for ``IPV6_JOIN_GROUP``/``IPV6_LEAVE_GROUP``.

    Args:
        group: ``ipv6mr_multiaddr``.
        ifindex: ``ipv6mr_interface``, an unsigned int; 0 means "any".

    Returns:
        The 20-byte structure.

    Raises:
        ValueError: ``ifindex`` is outside 0..2**32-1, or ``group`` is not an
            :class:`~ipaddress.IPv6Address`.
    """
    _check_range("ifindex", ifindex, _UINT32_MAX)
    return _IPV6_MREQ.pack(_v6("group", group), ifindex)


def unpack_ipv6_mreq(data: bytes) -> Ipv6Mreq:
    """Decode ``struct ipv6_mreq``; the inverse of :func:`pack_ipv6_mreq`.

    Raises:
        ValueError: ``data`` is not 20 bytes.
    """
    _check_size("struct ipv6_mreq", data, _IPV6_MREQ.size)
    group, ifindex = _IPV6_MREQ.unpack(data)
    return Ipv6Mreq(IPv6Address(group), ifindex)


def _sockaddr_header(family: int, size: int, platform: PlatformOptions) -> bytes:
    if platform.sockaddr_encoding is SockaddrEncoding.LEN_FAMILY_U8:
        return bytes((size, family))
    return _U16.pack(family)


def _af_inet6(platform: PlatformOptions) -> int:
    if platform.af_inet6 is None:
        raise ValueError(f"the AF_INET6 number of platform {platform.name!r} is not known")
    return platform.af_inet6


def _pack_sockaddr_storage(parameter: str, address: object, platform: PlatformOptions) -> bytes:
    if isinstance(address, IPv4Address):
        sockaddr = (
            _sockaddr_header(platform.af_inet, _SOCKADDR_IN_SIZE, platform)
            + _ZERO_PORT
            + address.packed
            + _ZERO_SIN
        )
    elif isinstance(address, IPv6Address):
        sockaddr = (
            _sockaddr_header(_af_inet6(platform), _SOCKADDR_IN6_SIZE, platform)
            + _ZERO_FLOWINFO_PORT
            + address.packed
            + _ZERO_SCOPE
        )
    else:
        raise ValueError(f"{parameter} must be an IPv4Address or IPv6Address, got {address!r}")
    return sockaddr.ljust(_SOCKADDR_STORAGE_SIZE, b"\0")


def _unpack_sockaddr_storage(data: bytes, platform: PlatformOptions) -> IPv4Address | IPv6Address:
    length: int | None = None
    family: int
    if platform.sockaddr_encoding is SockaddrEncoding.LEN_FAMILY_U8:
        length, family = data[0], data[1]
    else:
        (family,) = _U16.unpack_from(data)
    address: IPv4Address | IPv6Address
    if family == platform.af_inet:
        expected, address = _SOCKADDR_IN_SIZE, IPv4Address(data[4:8])
    elif family == platform.af_inet6:
        expected, address = _SOCKADDR_IN6_SIZE, IPv6Address(data[8:24])
    else:
        raise ValueError(
            f"sockaddr family {family} is neither AF_INET nor AF_INET6 on {platform.name}"
        )
    if length is not None and length != expected:
        raise ValueError(f"sockaddr length byte is {length}, expected {expected}")
    return address


def pack_group_req(
    ifindex: int, group: IPv4Address | IPv6Address, platform: PlatformOptions
) -> bytes:
    """Encode ``struct group_req`` for ``MCAST_JOIN_GROUP``/``MCAST_LEAVE_GROUP``.

    Args:
        ifindex: ``gr_interface``, a ``uint32_t``; 0 means "any".
        group: The group, stored as a ``sockaddr_in`` or ``sockaddr_in6``
            with port, flow info and scope id 0.
        platform: The layout to use.

    Returns:
        ``platform.group_req_size`` bytes.

    Raises:
        ValueError: ``ifindex`` is outside 0..2**32-1, ``group`` is not an IP
            address, or the platform's ``AF_INET6`` is unknown.
    """
    _check_range("ifindex", ifindex, _UINT32_MAX)
    return _U32.pack(ifindex).ljust(platform.group_req_align, b"\0") + _pack_sockaddr_storage(
        "group", group, platform
    )


def unpack_group_req(data: bytes, platform: PlatformOptions) -> GroupReq:
    """Decode ``struct group_req``; the inverse of :func:`pack_group_req`.

    Raises:
        ValueError: ``data`` has the wrong size, or holds an address family
            or sockaddr length the platform does not use for IP.
    """
    _check_size("struct group_req", data, platform.group_req_size)
    (ifindex,) = _U32.unpack_from(data)
    return GroupReq(ifindex, _unpack_sockaddr_storage(data[platform.group_req_align :], platform))


def pack_group_source_req(
    ifindex: int,
    group: IPv4Address | IPv6Address,
    source: IPv4Address | IPv6Address,
    platform: PlatformOptions,
) -> bytes:
    """Encode ``struct group_source_req`` for ``MCAST_JOIN_SOURCE_GROUP``.

    Args:
        ifindex: ``gsr_interface``, a ``uint32_t``; 0 means "any".
        group: ``gsr_group``.
        source: ``gsr_source``; the same address family as ``group``.
        platform: The layout to use.

    Returns:
        ``platform.group_source_req_size`` bytes.

    Raises:
        ValueError: ``ifindex`` is outside 0..2**32-1, an address is not an
            IP address, the two families differ, or the platform's
            ``AF_INET6`` is unknown.
    """
    _check_range("ifindex", ifindex, _UINT32_MAX)
    group_storage = _pack_sockaddr_storage("group", group, platform)
    source_storage = _pack_sockaddr_storage("source", source, platform)
    if group.version != source.version:
        raise ValueError(
            f"source must have the address family of group: IPv{source.version} source"
            f" {source} for IPv{group.version} group {group}"
        )
    return (
        _U32.pack(ifindex).ljust(platform.group_req_align, b"\0") + group_storage + source_storage
    )


def unpack_group_source_req(data: bytes, platform: PlatformOptions) -> GroupSourceReq:
    """Decode ``struct group_source_req``; the inverse of :func:`pack_group_source_req`.

    Raises:
        ValueError: ``data`` has the wrong size, or holds an address family
            or sockaddr length the platform does not use for IP.
    """
    _check_size("struct group_source_req", data, platform.group_source_req_size)
    (ifindex,) = _U32.unpack_from(data)
    group_at = platform.group_req_align
    source_at = group_at + _SOCKADDR_STORAGE_SIZE
    return GroupSourceReq(
        ifindex,
        _unpack_sockaddr_storage(data[group_at:source_at], platform),
        _unpack_sockaddr_storage(data[source_at:], platform),
    )


def pack_in_pktinfo(ifindex: int, spec_dst: IPv4Address, addr: IPv4Address) -> bytes:
    """Encode ``struct in_pktinfo`` (Linux and macOS layout).

    Args:
        ifindex: ``ipi_ifindex``, a C ``int``.
        spec_dst: ``ipi_spec_dst``, the local address routing chose.
        addr: ``ipi_addr``, the datagram's destination address.

    Returns:
        The 12-byte structure.

    Raises:
        ValueError: ``ifindex`` is outside 0..2**31-1, or an address is not
            an :class:`~ipaddress.IPv4Address`.
    """
    _check_range("ifindex", ifindex, _INT_MAX)
    return _IN_PKTINFO.pack(ifindex, _v4("spec_dst", spec_dst), _v4("addr", addr))


def parse_in_pktinfo(data: bytes) -> tuple[int, bytes]:
    """Read an ``IP_PKTINFO`` control message.

    The layout is Linux's ``struct in_pktinfo { int ipi_ifindex; struct in_addr
    ipi_spec_dst; struct in_addr ipi_addr; }``, which macOS shares.

    Args:
        data: The cmsg data, 12 bytes.

    Returns:
        ``(ipi_ifindex, ipi_addr)``: the arrival interface and the 4-byte
        destination address of the datagram, in network order.

    Raises:
        ValueError: ``data`` is not 12 bytes.
    """
    try:
        ifindex, _spec_dst, addr = _unpack_in_pktinfo(data)
    except struct.error:
        raise ValueError(f"struct in_pktinfo must be 12 bytes, got {len(data)}") from None
    return ifindex, addr


def pack_in6_pktinfo(addr: IPv6Address, ifindex: int) -> bytes:
    """Encode ``struct in6_pktinfo``.

    Args:
        addr: ``ipi6_addr``, the datagram's destination address.
        ifindex: ``ipi6_ifindex``, a C ``int`` on Linux.

    Returns:
        The 20-byte structure.

    Raises:
        ValueError: ``ifindex`` is outside 0..2**31-1, or ``addr`` is not an
            :class:`~ipaddress.IPv6Address`.
    """
    _check_range("ifindex", ifindex, _INT_MAX)
    return _IN6_PKTINFO.pack(_v6("addr", addr), ifindex)


def parse_in6_pktinfo(data: bytes) -> tuple[int, bytes]:
    """Read an ``IPV6_PKTINFO`` control message.

    The layout is ``struct in6_pktinfo { struct in6_addr ipi6_addr; int
    ipi6_ifindex; }``, the same on every platform listed here.

    Args:
        data: The cmsg data, 20 bytes.

    Returns:
        ``(ipi6_ifindex, ipi6_addr)``: the arrival interface and the 16-byte
        destination address of the datagram.

    Raises:
        ValueError: ``data`` is not 20 bytes.
    """
    try:
        addr, ifindex = _unpack_in6_pktinfo(data)
    except struct.error:
        raise ValueError(f"struct in6_pktinfo must be 20 bytes, got {len(data)}") from None
    return ifindex, addr


def pack_timespec(seconds: int, nanoseconds: int, *, long_size: int = _HOST_LONG_SIZE) -> bytes:
    """Encode ``struct timespec`` as an ``SO_TIMESTAMPNS`` message carries it.

    Args:
        seconds: ``tv_sec``.
        nanoseconds: ``tv_nsec``, 0..999999999.
        long_size: The size of each field, 8 or 4; defaults to the size of
            the host's C ``long``, which is what the kernel uses.

    Returns:
        ``2 * long_size`` bytes.

    Raises:
        ValueError: ``long_size`` is not 4 or 8, or a field is out of range.
    """
    layout = _TIMESPEC_BY_LONG_SIZE.get(long_size)
    if layout is None:
        raise ValueError(f"long_size must be 4 or 8, got {long_size!r}")
    _check_range("nanoseconds", nanoseconds, 999_999_999)
    limit = 2 ** (8 * long_size - 1)
    if not -limit <= seconds < limit:
        raise ValueError(f"seconds must be in {-limit}..{limit - 1}, got {seconds!r}")
    return layout.pack(seconds, nanoseconds)


def unpack_timespec(data: bytes) -> Timespec:
    """Decode ``struct timespec`` exactly; the inverse of :func:`pack_timespec`.

    Raises:
        ValueError: ``data`` is neither 16 nor 8 bytes.
    """
    if len(data) == _TIMESPEC_64.size:
        return Timespec._make(_unpack_timespec_64(data))
    if len(data) == _TIMESPEC_32.size:
        return Timespec._make(_unpack_timespec_32(data))
    raise ValueError(f"struct timespec must be 16 or 8 bytes, got {len(data)}")


def parse_timespec(data: bytes) -> float:
    """Read an ``SO_TIMESTAMPNS`` control message as seconds since the epoch.

    Args:
        data: The cmsg data: two native 64-bit fields (16 bytes), or two
            32-bit fields (8 bytes) from a 32-bit process.

    Returns:
        ``tv_sec + tv_nsec / 1e9``. A float holds about a quarter of a
        microsecond of precision for present-day times; use
        :func:`unpack_timespec` for the exact fields.

    Raises:
        ValueError: ``data`` is neither 16 nor 8 bytes.
    """
    seconds: int
    nanoseconds: int
    size = len(data)
    if size == 16:
        seconds, nanoseconds = _unpack_timespec_64(data)
    elif size == 8:
        seconds, nanoseconds = _unpack_timespec_32(data)
    else:
        raise ValueError(f"struct timespec must be 16 or 8 bytes, got {size}")
    return seconds + nanoseconds / 1_000_000_000


def pack_rxq_ovfl(dropped: int) -> bytes:
    """Encode an ``SO_RXQ_OVFL`` control message.

    Args:
        dropped: The socket's drop counter, a ``uint32_t``.

    Returns:
        The 4-byte message.

    Raises:
        ValueError: ``dropped`` is outside 0..2**32-1.
    """
    _check_range("dropped", dropped, _UINT32_MAX)
    return _U32.pack(dropped)


def parse_rxq_ovfl(data: bytes) -> int:
    """Read an ``SO_RXQ_OVFL`` control message.

    Args:
        data: The cmsg data, 4 bytes.

    Returns:
        The number of datagrams the socket has dropped since it was created,
        modulo 2**32.

    Raises:
        ValueError: ``data`` is not 4 bytes.
    """
    dropped: int
    try:
        (dropped,) = _unpack_u32(data)
    except struct.error:
        raise ValueError(f"the SO_RXQ_OVFL counter must be 4 bytes, got {len(data)}") from None
    return dropped
