"""IGMPv3 and MLDv2 membership reports, captured on a link inside the test namespace.

A packet socket (``AF_PACKET``) on the test process's side of a LAN sees the
reports the kernel sends when a receiver joins, blocks or unblocks, so a test
can check what the routers are told without tcpdump. :func:`parse_report`
is pure; :func:`capture` reads frames with a deadline.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import struct
from typing import TYPE_CHECKING, Final, NamedTuple

import trio

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

# RFC 3376 4.2.12 and RFC 3810 5.2.12: the record types.
MODE_IS_INCLUDE: Final = 1
MODE_IS_EXCLUDE: Final = 2
CHANGE_TO_INCLUDE: Final = 3
CHANGE_TO_EXCLUDE: Final = 4
ALLOW_NEW_SOURCES: Final = 5
BLOCK_OLD_SOURCES: Final = 6

_ETH_P_ALL: Final = 0x0003
_ETHERTYPE_IPV4: Final = 0x0800
_ETHERTYPE_IPV6: Final = 0x86DD
_IGMP: Final = 2
_IGMPV3_REPORT: Final = 0x22
_HOP_BY_HOP: Final = 0
_ICMPV6: Final = 58
_MLDV2_REPORT: Final = 143


class GroupRecord(NamedTuple):
    """One group record of a report: its type, group and sources, as text."""

    record_type: int
    group: str
    sources: tuple[str, ...]


def _records(body: bytes, count: int, address_size: int) -> list[GroupRecord]:
    records = []
    offset = 0
    for _ in range(count):
        record_type, aux_words, sources = struct.unpack_from("!BBH", body, offset)
        offset += 4
        group = ipaddress.ip_address(body[offset : offset + address_size])
        offset += address_size
        listed = tuple(
            str(
                ipaddress.ip_address(
                    body[offset + i * address_size : offset + (i + 1) * address_size]
                )
            )
            for i in range(sources)
        )
        offset += sources * address_size + aux_words * 4
        if offset > len(body):
            raise ValueError("truncated group record")
        records.append(GroupRecord(record_type, str(group), listed))
    return records


def parse_report(frame: bytes) -> list[GroupRecord] | None:
    """The group records of an Ethernet frame carrying an IGMPv3 or MLDv2 report.

    Returns:
        The records, or ``None`` when the frame is not such a report.

    Raises:
        ValueError: The frame claims to be a report but is cut short.
    """
    if len(frame) < 14:
        return None
    (ethertype,) = struct.unpack_from("!H", frame, 12)
    packet = frame[14:]
    if ethertype == _ETHERTYPE_IPV4 and len(packet) >= 20:
        header_size = (packet[0] & 0x0F) * 4
        if packet[9] != _IGMP:
            return None
        igmp = packet[header_size:]
        if len(igmp) < 8 or igmp[0] != _IGMPV3_REPORT:
            return None
        (count,) = struct.unpack_from("!H", igmp, 6)
        return _records(igmp[8:], count, 4)
    if ethertype == _ETHERTYPE_IPV6 and len(packet) >= 40:
        next_header, offset = packet[6], 40
        # MLD reports carry a hop-by-hop header (the router alert) first.
        while next_header == _HOP_BY_HOP and offset + 2 <= len(packet):
            next_header = packet[offset]
            offset += (packet[offset + 1] + 1) * 8
        icmp = packet[offset:]
        if next_header != _ICMPV6 or len(icmp) < 8 or icmp[0] != _MLDV2_REPORT:
            return None
        (count,) = struct.unpack_from("!H", icmp, 6)
        return _records(icmp[8:], count, 16)
    return None


@contextlib.contextmanager
def packet_socket(interface: str) -> Iterator[socket.socket]:
    """A packet socket that sees every frame sent or received on ``interface``."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_ALL))
    with sock:
        sock.bind((interface, 0))
        sock.setblocking(False)
        yield sock


async def capture(
    sock: socket.socket, wanted: Callable[[GroupRecord], bool], *, deadline: float
) -> GroupRecord:
    """The first record of a report on ``sock`` that ``wanted`` accepts.

    Raises:
        trio.TooSlowError: None came within ``deadline`` seconds.
    """
    with trio.fail_after(deadline):
        while True:
            await trio.lowlevel.wait_readable(sock)
            while True:
                try:
                    frame = sock.recv(65535)
                except BlockingIOError:
                    break
                for record in parse_report(frame) or ():
                    if wanted(record):
                        return record
