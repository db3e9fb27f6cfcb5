"""Tests for the per-platform option tables and structure packers."""

from __future__ import annotations

import ast
import dataclasses
import socket
import struct
import sys
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_mcast import _sockopts
from trio_mcast._sockopts import (
    CURRENT,
    FREEBSD,
    LINUX,
    MACOS,
    UNKNOWN,
    WINDOWS,
    GroupReq,
    GroupSourceReq,
    IpMreq,
    IpMreqn,
    IpMreqSource,
    Ipv6Mreq,
    MreqSourceLayout,
    PlatformOptions,
    SockaddrEncoding,
    Timespec,
    options_for,
    pack_group_req,
    pack_group_source_req,
    pack_in6_pktinfo,
    pack_in_pktinfo,
    pack_ip_mreq,
    pack_ip_mreq_source,
    pack_ip_mreqn,
    pack_ipv6_mreq,
    pack_rxq_ovfl,
    pack_timespec,
    parse_in6_pktinfo,
    parse_in_pktinfo,
    parse_rxq_ovfl,
    parse_timespec,
    unpack_group_req,
    unpack_group_source_req,
    unpack_ip_mreq,
    unpack_ip_mreq_source,
    unpack_ip_mreqn,
    unpack_ipv6_mreq,
    unpack_timespec,
)

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = pytest.mark.no_network

LINUX_ILP32: Final = options_for("linux", pointer_size=4)
TABLES: Final = (LINUX, LINUX_ILP32, MACOS, FREEBSD, WINDOWS)

IPV4: Final = st.ip_addresses(v=4)
IPV6: Final = st.ip_addresses(v=6)
IPS: Final = IPV4 | IPV6
UINT32: Final = st.integers(min_value=0, max_value=2**32 - 1)
C_INT_INDEX: Final = st.integers(min_value=0, max_value=2**31 - 1)
LAYOUTS: Final = st.sampled_from(MreqSourceLayout)
PLATFORMS: Final = st.sampled_from(TABLES)
NANOSECONDS: Final = st.integers(min_value=0, max_value=999_999_999)
SECONDS_64: Final = st.integers(min_value=-(2**63), max_value=2**63 - 1)
SECONDS_32: Final = st.integers(min_value=-(2**31), max_value=2**31 - 1)

# Every expected byte string below writes the host-order integers little-endian.
little_endian_only = pytest.mark.skipif(
    sys.byteorder != "little", reason="expected bytes are written for a little-endian host"
)
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")

GROUP4: Final = IPv4Address("239.255.0.1")
SSM_GROUP4: Final = IPv4Address("232.1.1.1")
SOURCE4: Final = IPv4Address("198.51.100.7")
LOCAL4: Final = IPv4Address("192.0.2.1")
GROUP6: Final = IPv6Address("ff02::1:3")
SOURCE6: Final = IPv6Address("2001:db8::7")


def test_table_values_match_the_headers() -> None:
    # Spot checks against the headers named in _sockopts, one per table, so a
    # careless edit of a table shows up as a failure naming the platform.
    assert (LINUX.ip_pktinfo, LINUX.ip_multicast_all, LINUX.ipv6_multicast_all) == (8, 49, 29)
    assert (LINUX.mcast_join_group, LINUX.mcast_leave_source_group) == (42, 47)
    assert (LINUX.so_rxq_ovfl, LINUX.so_timestamp, LINUX.so_timestampns) == (40, 29, 35)
    assert (LINUX.so_bindtoifindex, LINUX.so_meminfo) == (62, 55)
    # include/uapi/linux/in.h: IP_UNBLOCK_SOURCE 37, IP_BLOCK_SOURCE 38,
    # MCAST_BLOCK_SOURCE 43, MCAST_UNBLOCK_SOURCE 44.
    assert (LINUX.ip_block_source, LINUX.ip_unblock_source) == (38, 37)
    assert (LINUX.mcast_block_source, LINUX.mcast_unblock_source) == (43, 44)
    assert (MACOS.ip_pktinfo, MACOS.ipv6_recvpktinfo, MACOS.ipv6_pktinfo) == (26, 61, 46)
    assert (MACOS.mcast_join_group, MACOS.so_timestamp, MACOS.af_inet6) == (80, 0x400, 30)
    assert (FREEBSD.ip_pktinfo, FREEBSD.ipv6_recvpktinfo, FREEBSD.af_inet6) == (None, 36, 28)
    assert (WINDOWS.ip_pktinfo, WINDOWS.ipv6_recvpktinfo, WINDOWS.ipv6_pktinfo) == (19, 19, 19)
    assert (WINDOWS.ip_add_source_membership, WINDOWS.mcast_join_source_group) == (15, 45)
    assert (WINDOWS.so_timestamp, WINDOWS.af_inet6) == (None, 23)


def test_unknown_table_assumes_no_option() -> None:
    numbers = {
        field.name: getattr(UNKNOWN, field.name)
        for field in dataclasses.fields(PlatformOptions)
        if field.type == "int | None"
    }
    assert numbers
    assert set(numbers.values()) == {None}


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ("linux", LINUX),
        ("linux2", LINUX),
        ("android", LINUX),
        ("darwin", MACOS),
        ("ios", MACOS),
        ("freebsd14", FREEBSD),
        ("win32", WINDOWS),
        ("cygwin", WINDOWS),
        ("sunos5", UNKNOWN),
        ("openbsd7", UNKNOWN),
        ("", UNKNOWN),
    ],
)
def test_options_for_maps_sys_platform(platform: str, expected: PlatformOptions) -> None:
    assert options_for(platform, pointer_size=8) is expected


def test_options_for_defaults_to_the_running_interpreter() -> None:
    assert options_for() == options_for(sys.platform, pointer_size=struct.calcsize("P"))
    assert options_for() == CURRENT


@pytest.mark.parametrize(
    ("platform", "group_req_size", "group_source_req_size"),
    [
        ("linux", 132, 260),
        ("freebsd13", 132, 260),
        ("darwin", 132, 260),
        ("win32", 136, 264),
    ],
)
def test_32_bit_processes_pad_group_req_like_their_kernel(
    platform: str, group_req_size: int, group_source_req_size: int
) -> None:
    table = options_for(platform, pointer_size=4)
    assert table.group_req_size == group_req_size
    assert table.group_source_req_size == group_source_req_size


def test_options_for_rejects_an_odd_pointer_size() -> None:
    with pytest.raises(ValueError, match=r"^pointer_size must be 4 or 8, got 2$"):
        options_for("linux", pointer_size=2)


@pytest.mark.parametrize(
    ("table", "group_req_size", "group_source_req_size"),
    [(LINUX, 136, 264), (FREEBSD, 136, 264), (WINDOWS, 136, 264), (MACOS, 132, 260)],
)
def test_group_req_sizes(
    table: PlatformOptions, group_req_size: int, group_source_req_size: int
) -> None:
    assert table.group_req_size == group_req_size
    assert table.group_source_req_size == group_source_req_size


def test_layouts_and_encodings_per_platform() -> None:
    assert LINUX.ip_mreq_source_layout is MreqSourceLayout.GROUP_INTERFACE_SOURCE
    for table in (MACOS, FREEBSD, WINDOWS):
        assert table.ip_mreq_source_layout is MreqSourceLayout.GROUP_SOURCE_INTERFACE
    for table in (LINUX, WINDOWS):
        assert table.sockaddr_encoding is SockaddrEncoding.FAMILY_U16
    for table in (MACOS, FREEBSD):
        assert table.sockaddr_encoding is SockaddrEncoding.LEN_FAMILY_U8


LINUX_SOCKET_CONSTANTS: Final = [
    ("ip_pktinfo", "IP_PKTINFO"),
    ("ip_multicast_all", "IP_MULTICAST_ALL"),
    ("ipv6_multicast_all", "IPV6_MULTICAST_ALL"),
    ("ip_add_source_membership", "IP_ADD_SOURCE_MEMBERSHIP"),
    ("ip_drop_source_membership", "IP_DROP_SOURCE_MEMBERSHIP"),
    ("mcast_join_group", "MCAST_JOIN_GROUP"),
    ("mcast_leave_group", "MCAST_LEAVE_GROUP"),
    ("mcast_join_source_group", "MCAST_JOIN_SOURCE_GROUP"),
    ("mcast_leave_source_group", "MCAST_LEAVE_SOURCE_GROUP"),
    ("ipv6_recvpktinfo", "IPV6_RECVPKTINFO"),
    ("ipv6_pktinfo", "IPV6_PKTINFO"),
    ("so_rxq_ovfl", "SO_RXQ_OVFL"),
    ("so_timestamp", "SO_TIMESTAMP"),
    ("so_timestampns", "SO_TIMESTAMPNS"),
    ("so_bindtoifindex", "SO_BINDTOIFINDEX"),
    ("ip_block_source", "IP_BLOCK_SOURCE"),
    ("ip_unblock_source", "IP_UNBLOCK_SOURCE"),
    ("mcast_block_source", "MCAST_BLOCK_SOURCE"),
    ("mcast_unblock_source", "MCAST_UNBLOCK_SOURCE"),
    ("so_meminfo", "SO_MEMINFO"),
    ("ip_recvttl", "IP_RECVTTL"),
    ("ip_ttl", "IP_TTL"),
    ("ip_recvtos", "IP_RECVTOS"),
    ("ip_tos", "IP_TOS"),
    ("ipv6_recvhoplimit", "IPV6_RECVHOPLIMIT"),
    ("ipv6_hoplimit", "IPV6_HOPLIMIT"),
    ("ipv6_recvtclass", "IPV6_RECVTCLASS"),
    ("ipv6_tclass", "IPV6_TCLASS"),
    ("af_inet", "AF_INET"),
    ("af_inet6", "AF_INET6"),
]


@linux_only
@pytest.mark.parametrize(("field", "constant"), LINUX_SOCKET_CONSTANTS)
def test_linux_table_agrees_with_cpython(field: str, constant: str) -> None:
    value = getattr(socket, constant, None)
    if value is None:
        pytest.skip(f"socket.{constant} is not defined by this Python")
    if constant.startswith("SO_TIMESTAMP") and struct.calcsize("P") == 4:
        pytest.skip("32-bit libcs with 64-bit time_t map SO_TIMESTAMP* to the _NEW options")
    assert getattr(LINUX, field) == int(value)


def test_module_is_pure() -> None:
    tree = ast.parse(Path(_sockopts.__file__).read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            imported.add(node.module.split(".")[0])
    assert imported.isdisjoint({"trio", "socket"})


def test_pack_ip_mreq_bytes() -> None:
    # struct ip_mreq { struct in_addr imr_multiaddr; struct in_addr imr_interface; }
    assert pack_ip_mreq(IPv4Address("224.0.0.251"), LOCAL4) == bytes.fromhex("e00000fb c0000201")


@little_endian_only
def test_pack_ip_mreqn_bytes() -> None:
    # Linux struct ip_mreqn { struct in_addr imr_multiaddr; struct in_addr
    # imr_address; int imr_ifindex; }
    assert pack_ip_mreqn(GROUP4, IPv4Address("0.0.0.0"), 7) == bytes.fromhex(
        "efff0001 00000000 07000000"
    )


def test_pack_ip_mreq_source_linux_order() -> None:
    # Linux struct ip_mreq_source { __be32 imr_multiaddr; __be32 imr_interface;
    # __be32 imr_sourceaddr; }
    packed = pack_ip_mreq_source(SSM_GROUP4, LOCAL4, SOURCE4, LINUX.ip_mreq_source_layout)
    assert packed == bytes.fromhex("e8010101 c0000201 c6336407")


@pytest.mark.parametrize("table", [MACOS, FREEBSD, WINDOWS])
def test_pack_ip_mreq_source_rfc3678_order(table: PlatformOptions) -> None:
    # BSD/macOS struct ip_mreq_source and Windows IP_MREQ_SOURCE:
    # { imr_multiaddr; imr_sourceaddr; imr_interface; }
    packed = pack_ip_mreq_source(SSM_GROUP4, LOCAL4, SOURCE4, table.ip_mreq_source_layout)
    assert packed == bytes.fromhex("e8010101 c6336407 c0000201")


def test_pack_ip_mreq_source_defaults_to_the_host_layout() -> None:
    assert pack_ip_mreq_source(SSM_GROUP4, LOCAL4, SOURCE4) == pack_ip_mreq_source(
        SSM_GROUP4, LOCAL4, SOURCE4, CURRENT.ip_mreq_source_layout
    )


@little_endian_only
def test_pack_ipv6_mreq_bytes() -> None:
    # struct ipv6_mreq { struct in6_addr ipv6mr_multiaddr; unsigned int ipv6mr_interface; }
    assert pack_ipv6_mreq(IPv6Address("ff02::fb"), 3) == bytes.fromhex(
        "ff020000 00000000 00000000 000000fb 03000000"
    )


@little_endian_only
def test_pack_group_req_linux_ipv4() -> None:
    # Linux struct group_req { __u32 gr_interface; struct __kernel_sockaddr_storage
    # gr_group; } with gr_group 8-aligned: 4 bytes of padding, then a
    # sockaddr_in { sa_family_t sin_family = 2; __be16 sin_port; in_addr;
    # zero[8] } at the start of the 128-byte storage.
    expected = bytes.fromhex("02000000 000000000200 0000 efff0001 0000000000000000") + bytes(112)
    assert len(expected) == 136
    assert pack_group_req(2, GROUP4, LINUX) == expected


@little_endian_only
def test_pack_group_req_macos_ipv4_has_sin_len_and_no_padding() -> None:
    # macOS wraps struct group_req in #pragma pack(4): gr_group follows the
    # index directly. sockaddr_in { uint8 sin_len = 16; sa_family_t sin_family
    # = 2; in_port_t sin_port; in_addr; zero[8] }.
    expected = bytes.fromhex("0200000010 02 0000 efff0001 0000000000000000") + bytes(112)
    assert len(expected) == 132
    assert pack_group_req(2, GROUP4, MACOS) == expected


@little_endian_only
@pytest.mark.parametrize(
    ("table", "expected"),
    [
        # Linux sockaddr_in6 { u16 family = 10; be16 port; be32 flowinfo;
        # in6_addr; u32 scope_id } after 4 bytes of padding.
        (
            LINUX,
            bytes.fromhex(
                "05000000 000000000a00 0000 00000000 ff020000000000000000000000010003 00000000"
            )
            + bytes(100),
        ),
        # Windows SOCKADDR_IN6 with AF_INET6 = 23.
        (
            WINDOWS,
            bytes.fromhex(
                "05000000 000000001700 0000 00000000 ff020000000000000000000000010003 00000000"
            )
            + bytes(100),
        ),
        # FreeBSD: sin6_len = 28, AF_INET6 = 28, padded like Linux.
        (
            FREEBSD,
            bytes.fromhex(
                "05000000 000000001c 1c 0000 00000000 ff020000000000000000000000010003 00000000"
            )
            + bytes(100),
        ),
        # macOS: sin6_len = 28, AF_INET6 = 30, no padding (pack(4)).
        (
            MACOS,
            bytes.fromhex("050000001c 1e 0000 00000000 ff020000000000000000000000010003 00000000")
            + bytes(100),
        ),
    ],
    ids=["linux", "windows", "freebsd", "macos"],
)
def test_pack_group_req_ipv6(table: PlatformOptions, expected: bytes) -> None:
    assert len(expected) == table.group_req_size
    assert pack_group_req(5, GROUP6, table) == expected


@little_endian_only
def test_pack_group_source_req_linux_ipv4() -> None:
    # Linux struct group_source_req { __u32 gsr_interface; (4 bytes padding)
    # storage gsr_group; storage gsr_source; }
    sockaddr_group = bytes.fromhex("0200 0000 e8010101 0000000000000000") + bytes(112)
    sockaddr_source = bytes.fromhex("0200 0000 c6336407 0000000000000000") + bytes(112)
    expected = bytes.fromhex("02000000 00000000") + sockaddr_group + sockaddr_source
    assert len(expected) == 264
    assert pack_group_source_req(2, SSM_GROUP4, SOURCE4, LINUX) == expected


@little_endian_only
def test_pack_group_source_req_macos_ipv4() -> None:
    # macOS struct group_source_req under #pragma pack(4), BSD sockaddr_in.
    sockaddr_group = bytes.fromhex("10 02 0000 e8010101 0000000000000000") + bytes(112)
    sockaddr_source = bytes.fromhex("10 02 0000 c6336407 0000000000000000") + bytes(112)
    expected = bytes.fromhex("02000000") + sockaddr_group + sockaddr_source
    assert len(expected) == 260
    assert pack_group_source_req(2, SSM_GROUP4, SOURCE4, MACOS) == expected


@little_endian_only
def test_pack_group_req_linux_ilp32_has_no_padding() -> None:
    # 32-bit Linux: __kernel_sockaddr_storage is aligned like a 4-byte pointer.
    expected = bytes.fromhex("020000000200 0000 efff0001 0000000000000000") + bytes(112)
    assert pack_group_req(2, GROUP4, LINUX_ILP32) == expected


@little_endian_only
def test_pack_in_pktinfo_bytes() -> None:
    # Linux struct in_pktinfo { int ipi_ifindex; struct in_addr ipi_spec_dst;
    # struct in_addr ipi_addr; }
    packed = pack_in_pktinfo(3, LOCAL4, IPv4Address("239.1.2.3"))
    assert packed == bytes.fromhex("03000000 c0000201 ef010203")
    assert parse_in_pktinfo(packed) == (3, bytes.fromhex("ef010203"))


@little_endian_only
def test_pack_in6_pktinfo_bytes() -> None:
    # struct in6_pktinfo { struct in6_addr ipi6_addr; int ipi6_ifindex; }
    packed = pack_in6_pktinfo(IPv6Address("ff02::fb"), 4)
    assert packed == bytes.fromhex("ff020000 00000000 00000000 000000fb 04000000")
    assert parse_in6_pktinfo(packed) == (4, IPv6Address("ff02::fb").packed)


@little_endian_only
def test_pack_timespec_bytes() -> None:
    # struct timespec { long tv_sec; long tv_nsec; }: 1700000000 = 0x6553f100,
    # 123456789 = 0x075bcd15.
    wide = pack_timespec(1_700_000_000, 123_456_789, long_size=8)
    assert wide == bytes.fromhex("00f1536500000000 15cd5b0700000000")
    narrow = pack_timespec(1_700_000_000, 123_456_789, long_size=4)
    assert narrow == bytes.fromhex("00f15365 15cd5b07")
    assert parse_timespec(wide) == parse_timespec(narrow) == 1_700_000_000 + 123_456_789 / 1e9


@little_endian_only
def test_pack_rxq_ovfl_bytes() -> None:
    # SO_RXQ_OVFL carries the socket's drop counter as a __u32.
    assert pack_rxq_ovfl(0x01020304) == bytes.fromhex("04030201")
    assert parse_rxq_ovfl(bytes.fromhex("04030201")) == 0x01020304


@given(group=IPV4, interface=IPV4)
def test_ip_mreq_round_trip(group: IPv4Address, interface: IPv4Address) -> None:
    assert unpack_ip_mreq(pack_ip_mreq(group, interface)) == IpMreq(group, interface)


@given(group=IPV4, address=IPV4, ifindex=C_INT_INDEX)
def test_ip_mreqn_round_trip(group: IPv4Address, address: IPv4Address, ifindex: int) -> None:
    packed = pack_ip_mreqn(group, address, ifindex)
    assert len(packed) == 12
    assert unpack_ip_mreqn(packed) == IpMreqn(group, address, ifindex)


@given(group=IPV4, interface=IPV4, source=IPV4, layout=LAYOUTS)
def test_ip_mreq_source_round_trip(
    group: IPv4Address, interface: IPv4Address, source: IPv4Address, layout: MreqSourceLayout
) -> None:
    packed = pack_ip_mreq_source(group, interface, source, layout)
    assert len(packed) == 12
    assert unpack_ip_mreq_source(packed, layout) == IpMreqSource(group, interface, source)


@given(group=IPV6, ifindex=UINT32)
def test_ipv6_mreq_round_trip(group: IPv6Address, ifindex: int) -> None:
    packed = pack_ipv6_mreq(group, ifindex)
    assert len(packed) == 20
    assert unpack_ipv6_mreq(packed) == Ipv6Mreq(group, ifindex)


@given(ifindex=UINT32, group=IPS, table=PLATFORMS)
def test_group_req_round_trip(
    ifindex: int, group: IPv4Address | IPv6Address, table: PlatformOptions
) -> None:
    packed = pack_group_req(ifindex, group, table)
    assert len(packed) == table.group_req_size
    assert unpack_group_req(packed, table) == GroupReq(ifindex, group)


@given(
    ifindex=UINT32,
    pair=st.tuples(IPV4, IPV4) | st.tuples(IPV6, IPV6),
    table=PLATFORMS,
)
def test_group_source_req_round_trip(
    ifindex: int,
    pair: tuple[IPv4Address, IPv4Address] | tuple[IPv6Address, IPv6Address],
    table: PlatformOptions,
) -> None:
    group, source = pair
    packed = pack_group_source_req(ifindex, group, source, table)
    assert len(packed) == table.group_source_req_size
    assert unpack_group_source_req(packed, table) == GroupSourceReq(ifindex, group, source)


@given(ifindex=C_INT_INDEX, spec_dst=IPV4, addr=IPV4)
def test_in_pktinfo_round_trip(ifindex: int, spec_dst: IPv4Address, addr: IPv4Address) -> None:
    assert parse_in_pktinfo(pack_in_pktinfo(ifindex, spec_dst, addr)) == (ifindex, addr.packed)


@given(addr=IPV6, ifindex=C_INT_INDEX)
def test_in6_pktinfo_round_trip(addr: IPv6Address, ifindex: int) -> None:
    assert parse_in6_pktinfo(pack_in6_pktinfo(addr, ifindex)) == (ifindex, addr.packed)


@given(
    fields=st.tuples(st.just(8), SECONDS_64, NANOSECONDS)
    | st.tuples(st.just(4), SECONDS_32, NANOSECONDS)
)
def test_timespec_round_trip(fields: tuple[int, int, int]) -> None:
    long_size, seconds, nanoseconds = fields
    packed = pack_timespec(seconds, nanoseconds, long_size=long_size)
    assert len(packed) == 2 * long_size
    assert unpack_timespec(packed) == Timespec(seconds, nanoseconds)
    assert parse_timespec(packed) == seconds + nanoseconds / 1_000_000_000


@given(dropped=UINT32)
def test_rxq_ovfl_round_trip(dropped: int) -> None:
    assert parse_rxq_ovfl(pack_rxq_ovfl(dropped)) == dropped


def test_pack_timespec_defaults_to_the_host_long() -> None:
    assert len(pack_timespec(1, 2)) == 2 * struct.calcsize("@l")


IFINDEX_OUT_OF_RANGE: Final[list[tuple[Callable[[int], bytes], int, str]]] = [
    (lambda i: pack_ipv6_mreq(GROUP6, i), -1, r"^ifindex must be in 0\.\.4294967295, got -1$"),
    (
        lambda i: pack_ipv6_mreq(GROUP6, i),
        2**32,
        r"^ifindex must be in 0\.\.4294967295, got 4294967296$",
    ),
    (
        lambda i: pack_group_req(i, GROUP4, LINUX),
        -1,
        r"^ifindex must be in 0\.\.4294967295, got -1$",
    ),
    (
        lambda i: pack_group_source_req(i, GROUP6, SOURCE6, MACOS),
        2**32,
        r"^ifindex must be in 0\.\.4294967295, got 4294967296$",
    ),
    (
        lambda i: pack_ip_mreqn(GROUP4, LOCAL4, i),
        2**31,
        r"^ifindex must be in 0\.\.2147483647, got 2147483648$",
    ),
    (
        lambda i: pack_ip_mreqn(GROUP4, LOCAL4, i),
        -5,
        r"^ifindex must be in 0\.\.2147483647, got -5$",
    ),
    (
        lambda i: pack_in_pktinfo(i, LOCAL4, GROUP4),
        2**31,
        r"^ifindex must be in 0\.\.2147483647, got 2147483648$",
    ),
    (
        lambda i: pack_in6_pktinfo(GROUP6, i),
        -1,
        r"^ifindex must be in 0\.\.2147483647, got -1$",
    ),
]


@pytest.mark.parametrize(("pack", "ifindex", "message"), IFINDEX_OUT_OF_RANGE)
def test_out_of_range_ifindex_is_rejected(
    pack: Callable[[int], bytes], ifindex: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        pack(ifindex)


def test_out_of_range_counters_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"^dropped must be in 0\.\.4294967295, got -1$"):
        pack_rxq_ovfl(-1)
    with pytest.raises(
        ValueError, match=r"^nanoseconds must be in 0\.\.999999999, got 1000000000$"
    ):
        pack_timespec(0, 10**9)
    with pytest.raises(
        ValueError, match=r"^seconds must be in -2147483648\.\.2147483647, got 2147483648$"
    ):
        pack_timespec(2**31, 0, long_size=4)
    with pytest.raises(ValueError, match=r"^long_size must be 4 or 8, got 2$"):
        pack_timespec(0, 0, long_size=2)


def test_wrong_address_family_is_rejected() -> None:
    with pytest.raises(
        ValueError, match=r"^group must be an IPv4Address, got IPv6Address\('ff02::1:3'\)$"
    ):
        pack_ip_mreq(GROUP6, LOCAL4)  # type: ignore[arg-type]  # wrong type on purpose: it must be rejected
    with pytest.raises(
        ValueError, match=r"^group must be an IPv6Address, got IPv4Address\('239\.255\.0\.1'\)$"
    ):
        pack_ipv6_mreq(GROUP4, 0)  # type: ignore[arg-type]  # wrong type on purpose: it must be rejected
    with pytest.raises(
        ValueError,
        match=r"^source must have the address family of group: IPv4 source 198\.51\.100\.7"
        r" for IPv6 group ff02::1:3$",
    ):
        pack_group_source_req(1, GROUP6, SOURCE4, LINUX)


def test_unknown_platform_cannot_encode_ipv6() -> None:
    assert len(pack_group_req(1, GROUP4, UNKNOWN)) == UNKNOWN.group_req_size
    with pytest.raises(
        ValueError, match=r"^the AF_INET6 number of platform 'unknown' is not known$"
    ):
        pack_group_req(1, GROUP6, UNKNOWN)


@pytest.mark.parametrize(
    ("parse", "size", "message"),
    [
        (parse_in_pktinfo, 8, r"^struct in_pktinfo must be 12 bytes, got 8$"),
        (parse_in6_pktinfo, 24, r"^struct in6_pktinfo must be 20 bytes, got 24$"),
        (parse_timespec, 12, r"^struct timespec must be 16 or 8 bytes, got 12$"),
        (unpack_timespec, 0, r"^struct timespec must be 16 or 8 bytes, got 0$"),
        (parse_rxq_ovfl, 8, r"^the SO_RXQ_OVFL counter must be 4 bytes, got 8$"),
        (unpack_ip_mreq, 12, r"^struct ip_mreq must be 8 bytes, got 12$"),
        (unpack_ip_mreqn, 8, r"^struct ip_mreqn must be 12 bytes, got 8$"),
        (unpack_ipv6_mreq, 16, r"^struct ipv6_mreq must be 20 bytes, got 16$"),
    ],
)
def test_wrong_sized_data_is_rejected(
    parse: Callable[[bytes], object], size: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        parse(bytes(size))


def test_unpack_group_req_checks_size_family_and_length() -> None:
    with pytest.raises(ValueError, match=r"^struct group_req must be 132 bytes, got 136$"):
        unpack_group_req(pack_group_req(1, GROUP4, LINUX), MACOS)
    with pytest.raises(
        ValueError, match=r"^sockaddr family 23 is neither AF_INET nor AF_INET6 on linux$"
    ):
        unpack_group_req(pack_group_req(1, GROUP6, WINDOWS), LINUX)
    bad_length = bytearray(pack_group_req(1, GROUP4, FREEBSD))
    bad_length[8] = 28
    with pytest.raises(ValueError, match=r"^sockaddr length byte is 28, expected 16$"):
        unpack_group_req(bytes(bad_length), FREEBSD)
