"""rtnetlink messages: parse what the kernel sends, build what we ask it.

Pure functions over bytes: nothing here opens a socket or imports trio.
Only the fields that following an interface needs are decoded (links by
index and name, addresses, a route's output interface); every other
message type is skipped. Malformed data raises :class:`NetlinkError`,
never anything else (see ``tests/test_netlink.py``).

The layouts are those of ``linux/netlink.h``, ``linux/rtnetlink.h``,
``linux/if_link.h`` and ``linux/if_addr.h``, in the host's byte order.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import TYPE_CHECKING, Final, NamedTuple, TypeAlias

from .._errors import NetlinkError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

__all__ = [
    "AF_INET",
    "AF_INET6",
    "AddressMessage",
    "Done",
    "ErrorMessage",
    "LinkMessage",
    "Message",
    "Overrun",
    "RouteMessage",
    "address_dump_request",
    "encode_message",
    "link_dump_request",
    "parse_messages",
    "route_request",
]

AF_INET: Final = 2
AF_INET6: Final = 10

NLMSG_ERROR: Final = 2
NLMSG_DONE: Final = 3
NLMSG_OVERRUN: Final = 4
RTM_NEWLINK: Final = 16
RTM_DELLINK: Final = 17
RTM_GETLINK: Final = 18
RTM_NEWADDR: Final = 20
RTM_DELADDR: Final = 21
RTM_GETADDR: Final = 22
RTM_NEWROUTE: Final = 24
RTM_DELROUTE: Final = 25
RTM_GETROUTE: Final = 26

NLM_F_REQUEST: Final = 0x1
NLM_F_DUMP: Final = 0x300

IFLA_IFNAME: Final = 3
IFLA_MASTER: Final = 10
IFLA_OPERSTATE: Final = 16
IFLA_LINKINFO: Final = 18
IFLA_INFO_KIND: Final = 1
IFLA_INFO_DATA: Final = 2
IFLA_BR_MCAST_SNOOPING: Final = 23
IFLA_BR_MCAST_QUERIER: Final = 25
IFA_ADDRESS: Final = 1
IFA_LOCAL: Final = 2
RTA_DST: Final = 1
RTA_OIF: Final = 4
RTA_GATEWAY: Final = 5
RTA_TABLE: Final = 15
#: rtm_flags of a route query: answer with the routing table entry that
#: matched (its prefix length), not the resolved host route.
RTM_F_FIB_MATCH: Final = 0x2000

IFF_UP: Final = 0x1
IFF_RUNNING: Final = 0x40
IFF_MULTICAST: Final = 0x1000

_HEADER: Final = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid
_IFINFOMSG: Final = struct.Struct("=BxHiII")  # family, type, index, flags, change
_IFADDRMSG: Final = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
_RTMSG: Final = struct.Struct("=BBBBBBBBI")  # family, dst_len, ... type, flags
_RTATTR: Final = struct.Struct("=HH")  # len, type
_ERROR: Final = struct.Struct("=i")
_U32: Final = struct.Struct("=I")
_U8: Final = struct.Struct("=B")
_ADDRESS_SIZES: Final = {AF_INET: 4, AF_INET6: 16}


class LinkMessage(NamedTuple):
    """An interface appeared, changed (``RTM_NEWLINK``) or was deleted (``RTM_DELLINK``).

    Attributes:
        deleted: True for ``RTM_DELLINK``.
        ifindex: The interface index.
        name: Its name, when the message carries one.
        flags: Its ``IFF_*`` flags (``IFF_UP``, ``IFF_RUNNING`` ...).
        master: The index of the bridge (or bond) it is a port of.
        kind: Its link kind (``"bridge"``, ``"veth"`` ...), when it has one.
        snooping: For a bridge: ``multicast_snooping`` (0 or 1).
        querier: For a bridge: ``multicast_querier`` (0 or 1).
    """

    deleted: bool
    ifindex: int
    name: str | None
    flags: int
    master: int | None = None
    kind: str | None = None
    snooping: int | None = None
    querier: int | None = None


class AddressMessage(NamedTuple):
    """An address was added (``RTM_NEWADDR``) or removed (``RTM_DELADDR``).

    Attributes:
        deleted: True for ``RTM_DELADDR``.
        ifindex: The interface that holds (or held) it.
        address: The local address; ``None`` when the message has none.
    """

    deleted: bool
    ifindex: int
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None


class RouteMessage(NamedTuple):
    """A route was added, removed, or is the answer to a route query.

    Attributes:
        deleted: True for ``RTM_DELROUTE``.
        family: ``AF_INET`` or ``AF_INET6`` (or another family, undecoded).
        oif: The output interface index, when the route has one.
        dst_len: The prefix length of the destination (0: a default route).
        gateway: The next hop, for a route through a router.
        table: The routing table.
    """

    deleted: bool
    family: int
    oif: int | None
    dst_len: int = 0
    gateway: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    table: int = 0


class ErrorMessage(NamedTuple):
    """The kernel's answer to a request: 0 acknowledges, a negative errno refuses."""

    error: int
    seq: int


class Done(NamedTuple):
    """The end of a dump."""

    seq: int


class Overrun(NamedTuple):
    """The kernel reports that data was lost."""

    seq: int


Message: TypeAlias = "LinkMessage | AddressMessage | RouteMessage | ErrorMessage | Done | Overrun"


def _align(length: int) -> int:
    return (length + 3) & ~3


def _attributes(data: bytes, start: int, end: int) -> Iterator[tuple[int, bytes]]:
    """Each ``(type, payload)`` of the rtattr list in ``data[start:end]``.

    Raises:
        NetlinkError: An attribute's length runs past ``end`` or is too small.
    """
    offset = start
    while end - offset >= _RTATTR.size:
        length, kind = _RTATTR.unpack_from(data, offset)
        if length < _RTATTR.size or offset + length > end:
            raise NetlinkError(
                f"netlink attribute at offset {offset} has length {length}, outside its message",
                offset=offset,
            )
        # The top bits are flags (nested, byte order), not part of the type.
        yield kind & 0x3FFF, data[offset + _RTATTR.size : offset + length]
        offset += _align(length)


def _address(
    family: int, payload: bytes, offset: int
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    size = _ADDRESS_SIZES[family]
    if len(payload) != size:
        raise NetlinkError(
            f"netlink address at offset {offset} has {len(payload)} bytes, not {size}",
            offset=offset,
        )
    if family == AF_INET:
        return ipaddress.IPv4Address(payload)
    return ipaddress.IPv6Address(payload)


def _body(data: bytes, offset: int, end: int, layout: struct.Struct) -> tuple[int, ...]:
    if end - offset < layout.size:
        raise NetlinkError(
            f"netlink message at offset {offset - _HEADER.size} is too short for its type",
            offset=offset - _HEADER.size,
        )
    return layout.unpack_from(data, offset)


def _integer(payload: bytes, layout: struct.Struct, offset: int) -> int:
    if len(payload) != layout.size:
        raise NetlinkError(
            f"netlink attribute at offset {offset} has {len(payload)} bytes, not {layout.size}",
            offset=offset,
        )
    value: int = layout.unpack(payload)[0]
    return value


def _text(payload: bytes) -> str:
    # Names are bytes to the kernel; decoded as os.fsdecode would.
    return payload.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _link_info(payload: bytes, offset: int) -> tuple[str | None, int | None, int | None]:
    """The kind, and for a bridge its snooping and querier settings, from IFLA_LINKINFO."""
    kind = snooping = querier = None
    data = b""
    for attribute, value in _attributes(payload, 0, len(payload)):
        if attribute == IFLA_INFO_KIND:
            kind = _text(value)
        elif attribute == IFLA_INFO_DATA:
            data = value
    if kind == "bridge":
        for attribute, value in _attributes(data, 0, len(data)):
            if attribute == IFLA_BR_MCAST_SNOOPING:
                snooping = _integer(value, _U8, offset)
            elif attribute == IFLA_BR_MCAST_QUERIER:
                querier = _integer(value, _U8, offset)
    return kind, snooping, querier


def _link(data: bytes, kind: int, offset: int, end: int) -> LinkMessage:
    _, _, index, flags, _ = _body(data, offset, end, _IFINFOMSG)
    name = link_kind = snooping = querier = master = None
    for attribute, payload in _attributes(data, offset + _IFINFOMSG.size, end):
        if attribute == IFLA_IFNAME:
            name = _text(payload)
        elif attribute == IFLA_MASTER:
            master = _integer(payload, _U32, offset)
        elif attribute == IFLA_LINKINFO:
            try:
                link_kind, snooping, querier = _link_info(payload, offset)
            except NetlinkError as exc:
                raise NetlinkError(
                    f"netlink link at offset {offset} has malformed link info: {exc}",
                    offset=offset,
                ) from None
    return LinkMessage(
        kind == RTM_DELLINK, index, name, flags, master, link_kind, snooping, querier
    )


def _address_message(data: bytes, kind: int, offset: int, end: int) -> AddressMessage | None:
    family, _, _, _, index = _body(data, offset, end, _IFADDRMSG)
    if family not in _ADDRESS_SIZES:
        return None
    local = peer = None
    for attribute, payload in _attributes(data, offset + _IFADDRMSG.size, end):
        if attribute == IFA_LOCAL:
            local = _address(family, payload, offset)
        elif attribute == IFA_ADDRESS:
            peer = _address(family, payload, offset)
    # IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer's on
    # a point-to-point link, and the only one IPv6 sends.
    return AddressMessage(kind == RTM_DELADDR, index, local if local is not None else peer)


def _route(data: bytes, kind: int, offset: int, end: int) -> RouteMessage:
    family, dst_len, _, _, table, _, _, _, _ = _body(data, offset, end, _RTMSG)
    oif = gateway = None
    for attribute, payload in _attributes(data, offset + _RTMSG.size, end):
        if attribute == RTA_OIF:
            if len(payload) != _U32.size:
                raise NetlinkError(
                    f"netlink route at offset {offset} has an interface of {len(payload)} bytes",
                    offset=offset,
                )
            oif = _U32.unpack(payload)[0]
        elif attribute == RTA_GATEWAY and family in _ADDRESS_SIZES:
            gateway = _address(family, payload, offset)
        elif attribute == RTA_TABLE:
            table = _integer(payload, _U32, offset)
    return RouteMessage(kind == RTM_DELROUTE, family, oif, dst_len, gateway, table)


def parse_messages(data: bytes) -> list[Message]:
    """The messages in one datagram read from an rtnetlink socket.

    Message types this module does not decode are skipped.

    Args:
        data: What one ``recv`` returned.

    Returns:
        The decoded messages, in order.

    Raises:
        NetlinkError: The data is malformed: a length runs past the end, a
            message is too short for its type, an address has the wrong size.

    Example:
        >>> parse_messages(encode_message(3, 2, 7, b"\\0" * 4))
        [Done(seq=7)]
    """
    messages: list[Message] = []
    offset = 0
    total = len(data)
    while total - offset >= _HEADER.size:
        length, kind, _, seq, _ = _HEADER.unpack_from(data, offset)
        if length < _HEADER.size or offset + length > total:
            raise NetlinkError(
                f"netlink message at offset {offset} has length {length},"
                f" but {total - offset} bytes remain",
                offset=offset,
            )
        body = offset + _HEADER.size
        end = offset + length
        message: Message | None = None
        if kind in (RTM_NEWLINK, RTM_DELLINK):
            message = _link(data, kind, body, end)
        elif kind in (RTM_NEWADDR, RTM_DELADDR):
            message = _address_message(data, kind, body, end)
        elif kind in (RTM_NEWROUTE, RTM_DELROUTE):
            message = _route(data, kind, body, end)
        elif kind == NLMSG_ERROR:
            message = ErrorMessage(_body(data, body, end, _ERROR)[0], seq)
        elif kind == NLMSG_DONE:
            message = Done(seq)
        elif kind == NLMSG_OVERRUN:
            message = Overrun(seq)
        if message is not None:
            messages.append(message)
        offset += _align(length)
    if offset < total and any(data[offset:]):
        raise NetlinkError(
            f"netlink data ends with {total - offset} stray bytes at offset {offset}",
            offset=offset,
        )
    return messages


def encode_message(
    kind: int,
    flags: int,
    seq: int,
    body: bytes,
    attributes: Sequence[tuple[int, bytes]] = (),
) -> bytes:
    """One netlink message: header, fixed body, then attributes, each padded to 4 bytes.

    Args:
        kind: The message type (``RTM_GETROUTE`` ...).
        flags: ``NLM_F_*`` flags.
        seq: The sequence number the answer will carry.
        body: The type's fixed structure, already packed.
        attributes: ``(type, payload)`` pairs.

    Returns:
        The message bytes.
    """
    parts = [body + b"\0" * (_align(len(body)) - len(body))]
    for attribute, payload in attributes:
        length = _RTATTR.size + len(payload)
        parts.append(_RTATTR.pack(length, attribute) + payload + b"\0" * (_align(length) - length))
    content = b"".join(parts)
    return _HEADER.pack(_HEADER.size + len(content), kind, flags, seq, 0) + content


def route_request(
    destination: ipaddress.IPv4Address | ipaddress.IPv6Address,
    seq: int,
    *,
    fib_match: bool = False,
) -> bytes:
    """``RTM_GETROUTE``: which route (and output interface) ``destination`` takes.

    With ``fib_match`` the answer is the routing table entry that matched,
    with its prefix length, rather than the host route made from it.
    """
    family = AF_INET if destination.version == 4 else AF_INET6
    flags = RTM_F_FIB_MATCH if fib_match else 0
    body = _RTMSG.pack(family, destination.max_prefixlen, 0, 0, 0, 0, 0, 0, flags)
    return encode_message(RTM_GETROUTE, NLM_F_REQUEST, seq, body, [(RTA_DST, destination.packed)])


def address_dump_request(family: int, seq: int) -> bytes:
    """``RTM_GETADDR`` dump: every address of ``family``."""
    return encode_message(
        RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, seq, _IFADDRMSG.pack(family, 0, 0, 0, 0)
    )


def link_dump_request(seq: int) -> bytes:
    """``RTM_GETLINK`` dump: every interface."""
    return encode_message(
        RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq, _IFINFOMSG.pack(0, 0, 0, 0, 0)
    )
