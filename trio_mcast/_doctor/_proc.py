"""Parse the ``/proc/net`` tables the doctor reads: pure functions over their text.

Each takes the file's text and returns plain values; text it does not
understand is skipped, never guessed at (``tests/test_doctor_decide.py``
feeds them arbitrary text).
"""

from __future__ import annotations

import ipaddress
import struct

__all__ = ["group_memberships", "udp_counters", "udp_sockets_on_port"]

_COUNTERS = ("RcvbufErrors", "InErrors")


def udp_counters(text: str, *, ipv6: bool) -> dict[str, int]:
    """``RcvbufErrors`` and ``InErrors`` from ``/proc/net/snmp`` (or ``snmp6``).

    Example:
        >>> udp_counters("Udp: InErrors RcvbufErrors\\nUdp: 3 4\\n", ipv6=False)
        {'RcvbufErrors': 4, 'InErrors': 3}
    """
    found: dict[str, int] = {}
    if ipv6:
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0].startswith("Udp6") and parts[1].isdigit():
                name = parts[0][len("Udp6") :]
                if name in _COUNTERS:
                    found[name] = int(parts[1])
    else:
        rows = [line.split() for line in text.splitlines() if line.startswith("Udp:")]
        if len(rows) >= 2:
            for name, value in zip(rows[0][1:], rows[1][1:], strict=False):
                if name in _COUNTERS and value.isdigit():
                    found[name] = int(value)
    return {name: found[name] for name in _COUNTERS if name in found}


def group_memberships(text: str, *, ipv6: bool) -> dict[str, list[str]]:
    """Groups joined per interface name, from ``/proc/net/igmp`` (or ``igmp6``).

    Example:
        >>> group_memberships("1 lo 010000e0 1 0 0\\n", ipv6=True)
        {}
    """
    groups: dict[str, list[str]] = {}
    if ipv6:
        for line in text.splitlines():
            parts = line.split()
            if len(parts) >= 3 and len(parts[2]) == 32:
                try:
                    address = ipaddress.IPv6Address(bytes.fromhex(parts[2]))
                except ValueError:
                    continue
                groups.setdefault(parts[1], []).append(str(address))
        return groups
    device = None
    for line in text.splitlines()[1:]:
        parts = line.split()
        if not parts:
            continue
        if not line[:1].isspace():
            device = parts[1].rstrip(":") if len(parts) > 1 else None
            continue
        if device is None or len(parts[0]) != 8:
            continue
        try:
            # The kernel prints the __be32 as a host-order hex number.
            packed = struct.pack("=I", int(parts[0], 16))
        except ValueError:
            continue
        groups.setdefault(device, []).append(str(ipaddress.IPv4Address(packed)))
    return groups


def udp_sockets_on_port(text: str, port: int) -> int:
    """How many sockets in ``/proc/net/udp`` (or ``udp6``) are bound to ``port``."""
    count = 0
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 2 or ":" not in parts[1]:
            continue
        try:
            if int(parts[1].rsplit(":", 1)[1], 16) == port:
                count += 1
        except ValueError:
            continue
    return count
