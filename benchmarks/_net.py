"""Sockets, namespace checks and /proc readings shared by every workload.

Everything here assumes the process already runs in the private network
namespace that ``benchmarks.__main__`` entered; :func:`require_private_network`
lets a child process check that it inherited it before opening a socket.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import struct
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ._stats import Sample

#: The repository root: subprocesses run from here so ``-m benchmarks...`` resolves.
ROOT: Final = Path(__file__).resolve().parent.parent
#: Loopback is the only interface in the namespace; multicast goes out of it.
LOOPBACK: Final = "127.0.0.1"
LOOPBACK_INTERFACE: Final = "lo"
#: Administratively scoped groups; only ``lo`` exists, so they go nowhere else anyway.
GROUP_PREFIX: Final = "239.77"

# Linux option numbers the socket module does not export (asm-generic/socket.h, linux/in.h).
SO_SNDBUFFORCE: Final = 32
SO_RCVBUFFORCE: Final = 33
IP_PKTINFO: Final = 8
IP_MULTICAST_ALL: Final = 49
# struct in_pktinfo { int ipi_ifindex; struct in_addr ipi_spec_dst; struct in_addr ipi_addr; }
IN_PKTINFO: Final = struct.Struct("=i4x4s")
PKTINFO_SPACE: Final = socket.CMSG_SPACE(IN_PKTINFO.size)
#: Every receiver in the benchmarks reads with a buffer this big, as trio_mcast does
#: by default (65535 + 1): the allocation is part of what a datagram costs.
RECV_BUFSIZE: Final = 65536
#: The sender's buffer: large, so a burst from Python never blocks on it.
SEND_BUFFER: Final = 64 << 20

_ports = itertools.count(41000)


class NotInPrivateNetworkError(RuntimeError):
    """The process is not in the namespace it must be in: refuse to send anything."""


def next_port() -> int:
    """A port no earlier run in this process used, so runs never hear each other."""
    return next(_ports)


def group_addresses(count: int, *, offset: int = 0) -> list[str]:
    """``count`` distinct multicast groups (239.77.x.y)."""
    return [
        f"{GROUP_PREFIX}.{(index + offset) // 250}.{(index + offset) % 250 + 1}"
        for index in range(count)
    ]


def network_namespace_inode() -> int:
    """The inode of this process's network namespace; children compare against it."""
    return os.stat("/proc/self/ns/net").st_ino


def require_private_network(expected_inode: int) -> None:
    """Refuse to go on unless this process is in the benchmark's private namespace.

    A child process inherits the namespace of the parent that entered it; this
    check makes sure it really did (and that nothing but ``lo`` is in it)
    before the child opens a socket.

    Raises:
        NotInPrivateNetworkError: Wrong namespace, or it has other interfaces.
    """
    actual = network_namespace_inode()
    if actual != expected_inode:
        raise NotInPrivateNetworkError(
            f"network namespace {actual} is not the benchmark's private one ({expected_inode})"
        )
    names = sorted(name for _, name in socket.if_nameindex())
    if names != [LOOPBACK_INTERFACE]:
        raise NotInPrivateNetworkError(f"the namespace has interfaces other than lo: {names}")


def run_child(
    module: str,
    arguments: Sequence[str],
    *,
    timeout: float,
    environment: Mapping[str, str] | None = None,
) -> Sample:
    """Run ``python -m module --netns-inode N ...`` and return its figures.

    The child inherits this process's private namespace and checks, with
    :func:`require_private_network`, that it did; it prints its figures as
    JSON on its last line of output.

    Raises:
        RuntimeError: The child failed.
    """
    command = [
        sys.executable,
        "-m",
        module,
        "--netns-inode",
        str(network_namespace_inode()),
        *arguments,
    ]
    result = subprocess.run(
        command,
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{module} failed with exit status {result.returncode}")
    sample: Sample = json.loads(result.stdout.strip().splitlines()[-1])
    return sample


def allow_memberships(count: int) -> None:
    """Let one socket join ``count`` groups: raise ``igmp_max_memberships`` if below.

    The limit (default 20) is a per-namespace sysctl; this process writes the
    copy of its private namespace, never the host's.
    """
    path = "/proc/sys/net/ipv4/igmp_max_memberships"
    with open(path) as file:
        current = int(file.read())
    if current < count:
        with open(path, "w") as file:
            file.write(str(count))


def _force_buffer(sock: socket.socket, forced: int, plain: int, size: int) -> int:
    # The *FORCE options ignore net.core.[rw]mem_max but need CAP_NET_ADMIN;
    # without it, take what the plain option gives.
    try:
        sock.setsockopt(socket.SOL_SOCKET, forced, size)
    except PermissionError:
        sock.setsockopt(socket.SOL_SOCKET, plain, size)
    return sock.getsockopt(socket.SOL_SOCKET, plain)


def force_receive_buffer(sock: socket.socket, size: int) -> int:
    """Set ``SO_RCVBUF`` to ``size`` past ``rmem_max`` if allowed; the effective size."""
    return _force_buffer(sock, SO_RCVBUFFORCE, socket.SO_RCVBUF, size)


def open_sender() -> socket.socket:
    """A plain UDP socket that sends multicast out of ``lo`` with a large send buffer."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(LOOPBACK))
    # TTL 1 (the default) is needed: Linux drops TTL 0 multicast before lo loops it back.
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    _force_buffer(sock, SO_SNDBUFFORCE, socket.SO_SNDBUF, SEND_BUFFER)
    return sock


def open_raw_receiver(
    groups: Sequence[str],
    port: int,
    *,
    pktinfo: bool = False,
    receive_buffer: int | None = None,
    blocking: bool = False,
) -> socket.socket:
    """A stdlib UDP socket joined to ``groups`` on ``lo``, set up as trio_mcast would.

    One group without ``pktinfo`` binds to the group (the kernel filters by
    destination, and ``recvfrom`` is enough); otherwise it binds the wildcard
    and asks for ``IP_PKTINFO`` so the reader can tell the groups apart.
    ``IP_MULTICAST_ALL`` is off in both cases, as trio_mcast does.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
        if receive_buffer is not None:
            force_receive_buffer(sock, receive_buffer)
        wildcard = pktinfo or len(groups) != 1
        if wildcard:
            sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        sock.bind(("0.0.0.0" if wildcard else groups[0], port))
        local = socket.inet_aton(LOOPBACK)
        for group in groups:
            sock.setsockopt(
                socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(group) + local
            )
        sock.setblocking(blocking)
    except BaseException:
        sock.close()
        raise
    return sock


def prefill(
    sender: socket.socket, groups: Sequence[str], port: int, count: int, size: int
) -> None:
    """Send ``count`` datagrams of ``size`` bytes, round-robin over ``groups``.

    On loopback the kernel delivers each datagram into the receiving socket
    before ``sendto`` returns, so afterwards they all wait there (or were
    dropped, which the caller checks with :func:`socket_drops`).
    """
    payload = bytes(size)
    sendto = sender.sendto
    if len(groups) == 1:
        destination = (groups[0], port)
        for _ in range(count):
            sendto(payload, destination)
        return
    destinations = [(group, port) for group in groups]
    rounds, rest = divmod(count, len(destinations))
    for _ in range(rounds):
        for destination in destinations:
            sendto(payload, destination)
    for destination in destinations[:rest]:
        sendto(payload, destination)


def socket_drops(sock: socket.socket) -> int | None:
    """The kernel's drop counter for ``sock`` (``/proc/net/udp``), as trio_mcast reads it."""
    # The library's own reader; importing it lazily keeps sender.py-style users stdlib-only.
    from trio_mcast._procnet import kernel_drops

    return kernel_drops(sock)


def udp_counters() -> dict[str, int]:
    """The namespace's ``Udp:`` counters from ``/proc/self/net/snmp``.

    Per network namespace, and nothing else runs in ours, so differences
    across a workload are exactly its own (``RcvbufErrors`` = drops for a full
    receive buffer).
    """
    with open("/proc/self/net/snmp") as file:
        rows = [line.split() for line in file if line.startswith("Udp:")]
    names, values = rows[0][1:], rows[1][1:]
    return {name: int(value) for name, value in zip(names, values, strict=True)}


def memory_status() -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` (peak RSS) of this process, in bytes."""
    result: dict[str, int] = {}
    with open("/proc/self/status") as file:
        for line in file:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                result[key] = int(value.split()[0]) * 1024
    return result


def reset_peak_rss() -> bool:
    """Reset ``VmHWM`` to the current RSS (Linux >= 4.0); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as file:
            file.write("5")
    except OSError:
        return False
    return True


#: A block just under glibc's largest dynamic mmap threshold (32 MiB on 64-bit).
_SETTLE_BLOCK: Final = 31 << 20


def settle_allocator() -> None:
    """Put glibc's malloc into its steady state before anything is measured.

    glibc serves blocks above its mmap threshold (128 KiB at start) with
    mmap(); freeing such a block raises the threshold to its size. Until that
    happens, asyncio's datagram reads (a 256 KiB buffer each) cost an mmap,
    an mremap and a munmap per datagram, and whether it has happened depends
    on what the process did before: asyncio-protocol measured 50-70k/s or
    ~285k/s in otherwise identical fresh processes. Freeing one large block
    now makes every contender, whatever its position in the order, run with
    the same (raised) threshold.
    """
    block = bytearray(_SETTLE_BLOCK)
    del block


def machine_description() -> dict[str, str]:
    """What the numbers were measured on."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    model = line.partition(":")[2].strip()
                    break
    except OSError:
        pass
    return {
        "cpus": str(os.cpu_count()),
        "cpu_model": model,
        "kernel": os.uname().release,
        "python": sys.version.split()[0],
        "implementation": sys.implementation.name,
    }
