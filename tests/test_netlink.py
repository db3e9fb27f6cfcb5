"""rtnetlink parsing: arbitrary bytes parse or raise NetlinkError; real layouts round-trip."""

from __future__ import annotations

import contextlib
import ipaddress
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_mcast._errors import NetlinkError
from trio_mcast._netlink import _messages as nl
from trio_mcast._netlink._messages import (
    AddressMessage,
    Done,
    ErrorMessage,
    LinkMessage,
    Overrun,
    RouteMessage,
    encode_message,
    parse_messages,
)

pytestmark = pytest.mark.no_network

IFINFOMSG = struct.Struct("=BxHiII")
IFADDRMSG = struct.Struct("=BBBBI")
RTMSG = struct.Struct("=BBBBBBBBI")

ANY_BYTES = st.binary(max_size=512)
IFINDEXES = st.integers(min_value=1, max_value=2**31 - 1)
#: Interface names as the kernel allows them: 1-15 bytes, no NUL, '/' or whitespace.
NAMES = st.text(
    st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters="/:"),
    min_size=1,
    max_size=15,
)
FLAGS = st.integers(min_value=0, max_value=2**32 - 1)
IPV4 = st.ip_addresses(v=4)
IPV6 = st.ip_addresses(v=6)
SEQUENCES = st.integers(min_value=0, max_value=2**32 - 1)


def attribute(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def link(
    deleted: bool,
    index: int,
    name: str | None,
    flags: int,
    master: int | None = None,
    bridge: tuple[int, int] | None = None,
) -> bytes:
    kind = nl.RTM_DELLINK if deleted else nl.RTM_NEWLINK
    attributes = [] if name is None else [(nl.IFLA_IFNAME, name.encode() + b"\0")]
    if master is not None:
        attributes.append((nl.IFLA_MASTER, struct.pack("=I", master)))
    if bridge is not None:
        data = attribute(nl.IFLA_BR_MCAST_SNOOPING, bytes([bridge[0]])) + attribute(
            nl.IFLA_BR_MCAST_QUERIER, bytes([bridge[1]])
        )
        info = attribute(nl.IFLA_INFO_KIND, b"bridge\0") + attribute(nl.IFLA_INFO_DATA, data)
        attributes.append((nl.IFLA_LINKINFO, info))
    return encode_message(kind, 0, 0, IFINFOMSG.pack(0, 1, index, flags, 0), attributes)


def address(
    deleted: bool, index: int, value: ipaddress.IPv4Address | ipaddress.IPv6Address
) -> bytes:
    kind = nl.RTM_DELADDR if deleted else nl.RTM_NEWADDR
    family = nl.AF_INET if value.version == 4 else nl.AF_INET6
    attribute = nl.IFA_LOCAL if value.version == 4 else nl.IFA_ADDRESS
    body = IFADDRMSG.pack(family, value.max_prefixlen, 0, 0, index)
    return encode_message(kind, 0, 0, body, [(attribute, value.packed)])


def route(
    deleted: bool,
    family: int,
    oif: int | None,
    dst_len: int = 0,
    gateway: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None,
) -> bytes:
    kind = nl.RTM_DELROUTE if deleted else nl.RTM_NEWROUTE
    attributes = [] if oif is None else [(nl.RTA_OIF, struct.pack("=I", oif))]
    if gateway is not None:
        attributes.append((nl.RTA_GATEWAY, gateway.packed))
    body = RTMSG.pack(family, dst_len, 0, 0, 254, 0, 0, 1, 0)
    return encode_message(kind, 0, 0, body, attributes)


LINKS = st.builds(
    lambda deleted, index, name, flags, master, bridge: (
        link(deleted, index, name, flags, master, bridge),
        LinkMessage(
            deleted,
            index,
            name,
            flags,
            master,
            None if bridge is None else "bridge",
            None if bridge is None else bridge[0],
            None if bridge is None else bridge[1],
        ),
    ),
    st.booleans(),
    IFINDEXES,
    st.none() | NAMES,
    FLAGS,
    st.none() | IFINDEXES,
    st.none() | st.tuples(st.integers(0, 1), st.integers(0, 1)),
)
ADDRESSES = st.builds(
    lambda deleted, index, value: (
        address(deleted, index, value),
        AddressMessage(deleted, index, value),
    ),
    st.booleans(),
    IFINDEXES,
    IPV4 | IPV6,
)
ROUTES = st.sampled_from([4, 6]).flatmap(
    lambda version: st.builds(
        lambda deleted, oif, dst_len, gateway: (
            route(deleted, nl.AF_INET if version == 4 else nl.AF_INET6, oif, dst_len, gateway),
            RouteMessage(
                deleted,
                nl.AF_INET if version == 4 else nl.AF_INET6,
                oif,
                dst_len,
                gateway,
                254,
            ),
        ),
        st.booleans(),
        st.none() | IFINDEXES,
        st.integers(0, 32 if version == 4 else 128),
        st.none() | (IPV4 if version == 4 else IPV6),
    )
)
CONTROL = st.builds(
    lambda kind, seq: (
        encode_message(
            kind,
            0,
            seq,
            struct.pack("=i", -5) + b"\0" * 16 if kind == nl.NLMSG_ERROR else b"\0" * 4,
        ),
        {
            nl.NLMSG_ERROR: ErrorMessage(-5, seq),
            nl.NLMSG_DONE: Done(seq),
            nl.NLMSG_OVERRUN: Overrun(seq),
        }[kind],
    ),
    st.sampled_from([nl.NLMSG_ERROR, nl.NLMSG_DONE, nl.NLMSG_OVERRUN]),
    SEQUENCES,
)
MESSAGES = st.lists(LINKS | ADDRESSES | ROUTES | CONTROL, max_size=8)


@given(ANY_BYTES)
def test_arbitrary_bytes_parse_or_raise_netlink_error(data: bytes) -> None:
    error: NetlinkError | None = None
    try:
        messages = parse_messages(data)
    except NetlinkError as exc:
        error = exc
    if error is None:
        assert all(isinstance(message, tuple) for message in messages)
    else:
        assert error.offset is not None
        assert 0 <= error.offset <= len(data)


@given(MESSAGES)
def test_encoded_messages_parse_back_to_what_was_encoded(
    pairs: list[tuple[bytes, object]],
) -> None:
    data = b"".join(encoded for encoded, _ in pairs)
    assert parse_messages(data) == [message for _, message in pairs]


@given(MESSAGES, st.data())
def test_a_cut_or_corrupted_batch_raises_netlink_error_or_parses(
    pairs: list[tuple[bytes, object]], data: st.DataObject
) -> None:
    whole = bytearray(b"".join(encoded for encoded, _ in pairs))
    if whole:
        position = data.draw(st.integers(0, len(whole) - 1))
        whole[position] = data.draw(st.integers(0, 255))
        whole = whole[: data.draw(st.integers(0, len(whole)))]
    with contextlib.suppress(NetlinkError):
        parse_messages(bytes(whole))


def test_unknown_message_types_are_skipped() -> None:
    unknown = encode_message(0x7FFF, 0, 1, b"\1\2\3\4")
    assert parse_messages(unknown + link(False, 3, "eth0", 1)) == [
        LinkMessage(False, 3, "eth0", 1)
    ]


def test_ipv4_local_address_wins_over_the_peer_address() -> None:
    body = IFADDRMSG.pack(nl.AF_INET, 32, 0, 0, 4)
    peer = ipaddress.IPv4Address("10.0.0.2").packed
    local = ipaddress.IPv4Address("10.0.0.1").packed
    data = encode_message(
        nl.RTM_NEWADDR, 0, 0, body, [(nl.IFA_ADDRESS, peer), (nl.IFA_LOCAL, local)]
    )
    assert parse_messages(data) == [AddressMessage(False, 4, ipaddress.IPv4Address("10.0.0.1"))]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            struct.pack("=IHHII", 8, 16, 0, 0, 0),
            "^netlink message at offset 0 has length 8, but 16 bytes remain$",
        ),
        (
            struct.pack("=IHHII", 40, 16, 0, 0, 0),
            "^netlink message at offset 0 has length 40, but 16 bytes remain$",
        ),
        (
            struct.pack("=IHHII", 20, 16, 0, 0, 0) + b"\0" * 4,
            "^netlink message at offset 0 is too short for its type$",
        ),
        (
            encode_message(
                nl.RTM_NEWADDR,
                0,
                0,
                IFADDRMSG.pack(nl.AF_INET, 24, 0, 0, 2),
                [(nl.IFA_LOCAL, b"\1\2\3")],
            ),
            "^netlink address at offset 16 has 3 bytes, not 4$",
        ),
        (
            encode_message(nl.RTM_NEWLINK, 0, 0, IFINFOMSG.pack(0, 1, 2, 0, 0)) + b"\1\2",
            "^netlink data ends with 2 stray bytes at offset 32$",
        ),
    ],
)
def test_malformed_data_names_the_problem_and_where(data: bytes, message: str) -> None:
    with pytest.raises(NetlinkError, match=message):
        parse_messages(data)


def test_an_attribute_longer_than_its_message_is_refused() -> None:
    body = IFINFOMSG.pack(0, 1, 2, 0, 0)
    data = bytearray(encode_message(nl.RTM_NEWLINK, 0, 0, body, [(nl.IFLA_IFNAME, b"eth0\0")]))
    struct.pack_into("=H", data, 32, 200)
    with pytest.raises(
        NetlinkError, match=r"^netlink attribute at offset 32 has length 200, outside its message$"
    ):
        parse_messages(bytes(data))


def test_requests_are_well_formed() -> None:
    request = nl.route_request(ipaddress.IPv4Address("239.1.2.3"), 9)
    length, kind, flags, seq, _ = struct.unpack_from("=IHHII", request)
    assert (length, kind, flags, seq) == (len(request), nl.RTM_GETROUTE, nl.NLM_F_REQUEST, 9)
    assert request.endswith(struct.pack("=HH", 8, nl.RTA_DST) + bytes([239, 1, 2, 3]))
    for dump in (nl.address_dump_request(nl.AF_INET, 4), nl.link_dump_request(4)):
        assert struct.unpack_from("=IHHII", dump)[2] == nl.NLM_F_REQUEST | nl.NLM_F_DUMP
