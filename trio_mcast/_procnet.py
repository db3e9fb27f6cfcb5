"""Kernel drop counters, read on demand so the receive path pays nothing."""

from __future__ import annotations

import os
import socket
import struct
import sys
from typing import Final

from ._sockopts import CURRENT

# include/uapi/linux/sock_diag.h: SK_MEMINFO_RMEM_ALLOC (0) ... SK_MEMINFO_BACKLOG (7),
# SK_MEMINFO_DROPS (8): nine u32 slots, the last added in Linux 4.15.
_SK_MEMINFO_DROPS: Final = 8
_MEMINFO: Final = struct.Struct("=9I")

__all__ = ["kernel_drops"]


def kernel_drops(sock: socket.socket) -> int | None:
    """How many datagrams the kernel dropped on ``sock`` (Linux).

    Datagrams are dropped there when the receive buffer is full. The count
    comes from the socket itself (``SO_MEMINFO``): one system call, whatever
    the number of sockets on the host. Kernels without it (before 4.15) are
    served from the ``drops`` column of ``/proc/net/udp`` or ``/proc/net/udp6``,
    which takes time in proportion to the host's UDP sockets.

    Returns:
        The count, or ``None`` where the platform or namespace hides it.
    """
    if not sys.platform.startswith("linux"):
        return None
    counted = _meminfo_drops(sock)
    if counted is not None:
        return counted
    return _proc_net_drops(sock)


def _meminfo_drops(sock: socket.socket) -> int | None:
    option = CURRENT.so_meminfo
    if option is None:
        return None
    try:
        info = sock.getsockopt(socket.SOL_SOCKET, option, _MEMINFO.size)
    except (OSError, ValueError):
        return None
    # The kernel returns as many u32 slots as it has; older ones lack DROPS.
    if len(info) < _MEMINFO.size:
        return None
    return int(_MEMINFO.unpack(info)[_SK_MEMINFO_DROPS])


def _proc_net_drops(sock: socket.socket) -> int | None:
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
