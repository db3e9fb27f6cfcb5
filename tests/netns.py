"""Helpers of the test suite's own around :mod:`trio_mcast.testing`.

The private namespace, hosts and LANs are :mod:`trio_mcast.testing`'s (the
same module users get). What is here is the suite's own: a loopback sender,
a descriptor count, and an independent reader of ``/proc/net/igmp(6)`` that
serves as the oracle for the memberships the code under test makes.
"""

from __future__ import annotations

import errno
import os
import socket
import struct


def loopback_sender() -> socket.socket:
    """An IPv4 UDP socket in this namespace that sends multicast out of ``lo``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    return sock


def open_fd_count() -> int:
    """How many file descriptors this process has open."""
    return len(os.listdir("/proc/self/fd"))


def memberships(family: socket.AddressFamily, *, pid: int | str = "self") -> set[tuple[str, str]]:
    """Group memberships in a namespace, as ``(interface, group)`` pairs.

    Reads ``/proc/PID/net/igmp`` or ``igmp6``: this namespace's, or with
    ``pid`` the one that process is in (a host's). The kernel's own
    all-hosts memberships (224.0.0.1, ff01::1, ff02::1 ...) are included.
    """
    result: set[tuple[str, str]] = set()
    if family == socket.AF_INET:
        interface = ""
        with open(f"/proc/{pid}/net/igmp") as file:
            next(file)
            for line in file:
                if not line.startswith(("\t", " ")):
                    interface = line.split()[1].rstrip(":")
                    continue
                hex_group = line.split()[0]
                # The kernel prints the __be32 as a host-order hex number.
                packed = struct.pack("=I", int(hex_group, 16))
                result.add((interface, socket.inet_ntoa(packed)))
    else:
        with open(f"/proc/{pid}/net/igmp6") as file:
            for line in file:
                parts = line.split()
                packed6 = bytes.fromhex(parts[2])
                result.add((parts[1], socket.inet_ntop(socket.AF_INET6, packed6)))
    return result


def errno_name(code: int) -> str:
    return errno.errorcode.get(code, str(code))
