"""Kernel drop counters, read on demand so the receive path pays nothing."""

from __future__ import annotations

import os
import socket
import sys

__all__ = ["kernel_drops"]


def kernel_drops(sock: socket.socket) -> int | None:
    """How many datagrams the kernel dropped on ``sock`` (Linux).

    Reads the ``drops`` column of ``/proc/net/udp`` or ``/proc/net/udp6`` for
    the socket's inode. Datagrams are dropped there when the receive buffer
    is full.

    Returns:
        The count, or ``None`` where the platform or namespace hides it.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        inode = str(os.fstat(sock.fileno()).st_ino)
    except (OSError, ValueError):
        return None
    table = "/proc/self/net/udp6" if sock.family == socket.AF_INET6 else "/proc/self/net/udp"
    try:
        with open(table) as file:
            next(file)
            for line in file:
                fields = line.split()
                # sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
                if len(fields) >= 13 and fields[9] == inode:
                    return int(fields[12])
    except OSError:
        return None
    return None
