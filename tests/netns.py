"""Private network namespaces for the test suite.

No test may send a datagram through the machine's real interfaces. The test
process therefore moves itself into a fresh network namespace, with only
``lo``, before any test runs (:func:`enter_private_network`). Tests that need
more than loopback build hosts: child processes in namespaces of their own,
linked to the test process by veth pairs on a bridge (:class:`Lan`).

As real root only a network namespace is needed; otherwise a user namespace
maps the caller to root first. Either way the namespace dies with the process.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import ipaddress
import itertools
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

CLONE_NEWNET: Final = 0x40000000
CLONE_NEWUSER: Final = 0x10000000
_SIOCGIFFLAGS: Final = 0x8913
_SIOCSIFFLAGS: Final = 0x8914
_IFF_UP: Final = 0x1
_IFREQ_FLAGS: Final = struct.Struct("16sH14x")

LAN_PREFIX4: Final = ipaddress.IPv4Network("10.213.0.0/24")
LAN_PREFIX6: Final = ipaddress.IPv6Network("fd99:213::/64")


def lan_prefixes(subnet: int) -> tuple[ipaddress.IPv4Network, ipaddress.IPv6Network]:
    """The IPv4 and IPv6 prefixes of LAN number ``subnet`` (0 is the default LAN)."""
    return (
        ipaddress.IPv4Network((int(LAN_PREFIX4.network_address) + (subnet << 8), 24)),
        ipaddress.IPv6Network((int(LAN_PREFIX6.network_address) + (subnet << 64), 64)),
    )


#: The test process's own address on a LAN (the bridge device).
SWITCH_HOST_NUMBER: Final = 254


@dataclass(frozen=True, slots=True)
class NamespaceState:
    """Whether the test process got its private network namespace.

    Attributes:
        active: True when the process runs in a private namespace.
        reason: Why not, when ``active`` is False.
    """

    active: bool
    reason: str = ""


_state: NamespaceState | None = None


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def _net_ns_inode(path: str = "/proc/thread-self/ns/net") -> int:
    return os.stat(path).st_ino


def _set_link_up(name: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = _IFREQ_FLAGS.pack(name.encode(), 0)
        flags = _IFREQ_FLAGS.unpack(fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, _IFREQ_FLAGS.pack(name.encode(), flags | _IFF_UP))


def _write(path: str, text: str) -> None:
    with open(path, "w") as file:
        file.write(text)


def enter_private_network() -> NamespaceState:
    """Move this process into a new network namespace with ``lo`` up.

    Must run while the process has a single thread (a user namespace demands
    it). Idempotent: later calls return the first result.

    Returns:
        The outcome; when inactive, ``reason`` says why.
    """
    global _state
    if _state is not None:
        return _state
    _state = _enter()
    return _state


def _enter() -> NamespaceState:
    if not sys.platform.startswith("linux"):
        return NamespaceState(False, f"network namespaces need Linux, not {sys.platform}")
    libc = _libc()
    before = _net_ns_inode("/proc/self/ns/net")
    uid, gid = os.getuid(), os.getgid()
    try:
        if os.geteuid() == 0:
            try:
                _check(libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
            except PermissionError:
                # Root inside a container without CAP_SYS_ADMIN: a user namespace may still work.
                _enter_user_namespace(libc, uid, gid)
        else:
            _enter_user_namespace(libc, uid, gid)
        _set_link_up("lo")
    except OSError as exc:
        return NamespaceState(False, f"cannot create a private network namespace: {exc}")
    if _net_ns_inode("/proc/self/ns/net") == before:
        return NamespaceState(False, "unshare() returned but the network namespace is unchanged")
    names = sorted(name for _, name in socket.if_nameindex())
    if names != ["lo"]:
        return NamespaceState(False, f"the new namespace is not empty: {names}")
    return NamespaceState(True)


def _enter_user_namespace(libc: ctypes.CDLL, uid: int, gid: int) -> None:
    _check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNET), "unshare(CLONE_NEWUSER|CLONE_NEWNET)")
    with contextlib.suppress(FileNotFoundError):
        _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"0 {uid} 1")
    _write("/proc/self/gid_map", f"0 {gid} 1")


def namespace_state() -> NamespaceState:
    """The result of :func:`enter_private_network` (entering it if needed)."""
    return enter_private_network()


def run_ip(*args: str, netns_pid: int | None = None) -> None:
    """Run ``ip ARGS``, in the namespace of ``netns_pid`` when given.

    Raises:
        RuntimeError: ``ip`` failed; the message carries its stderr.
    """
    command = ["ip", *args]
    if netns_pid is not None:
        command = ["nsenter", "-t", str(netns_pid), "-n", *command]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {result.stderr.strip()}")


_RTMGRP_LINK: Final = 0x1
_RTMGRP_IPV4_ROUTE: Final = 0x40
_RTMGRP_IPV6_ROUTE: Final = 0x400
_ROUTE_WAIT_SECONDS: Final = 5.0


def _routes_multicast(device: str, netns_pid: int | None) -> bool:
    try:
        run_ip("-6", "route", "get", "ff15::1", "oif", device, netns_pid=netns_pid)
        run_ip("route", "get", "239.0.0.1", "oif", device, netns_pid=netns_pid)
    except RuntimeError:
        return False
    return True


def wait_for_multicast_routes(device: str, *, netns_pid: int | None = None) -> None:
    """Block until ``device`` can send IPv4 and IPv6 multicast.

    A new veth gets its carrier, and with it its IPv6 multicast route, a
    moment after it comes up (the kernel's link watcher runs later); sending
    before that fails with ENETUNREACH. This listens to the namespace's
    routing notifications and asks the kernel again (``ip route get``) after
    each one, for at most five seconds.

    Raises:
        RuntimeError: The routes did not appear in time.
    """
    namespace = (
        entered(f"/proc/{netns_pid}/ns/net") if netns_pid is not None else contextlib.nullcontext()
    )
    with namespace:
        notifications = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    with notifications:
        # Subscribe before the first look, so no change can slip in between.
        notifications.bind((0, _RTMGRP_LINK | _RTMGRP_IPV4_ROUTE | _RTMGRP_IPV6_ROUTE))
        deadline = time.monotonic() + _ROUTE_WAIT_SECONDS
        while not _routes_multicast(device, netns_pid):
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([notifications], [], [], max(remaining, 0))
            if not ready:
                raise RuntimeError(
                    f"{device} cannot route multicast after {_ROUTE_WAIT_SECONDS} s"
                )
            notifications.recv(65536)


@contextlib.contextmanager
def entered(ns_path: str) -> Iterator[None]:
    """Switch the calling thread into another network namespace, and back.

    Sockets created inside stay in that namespace for life, so a test can
    create a socket for a host here and use it from trio afterwards. Keep the
    block synchronous: an ``await`` inside would run other tasks in the
    wrong namespace.
    """
    libc = _libc()
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    target = os.open(ns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _check(libc.setns(target, CLONE_NEWNET), f"setns({ns_path})")
        try:
            yield
        finally:
            _check(libc.setns(home, CLONE_NEWNET), "setns(back home)")
    finally:
        os.close(target)
        os.close(home)


@dataclass(slots=True)
class Host:
    """A host on a :class:`Lan`: a child process holding a network namespace.

    Attributes:
        name: Short name, for messages.
        number: The host part of its addresses.
        process: The child keeping the namespace alive.
        interface: The name of its LAN interface.
    """

    name: str
    number: int
    process: subprocess.Popen[str]
    interface: str = "eth0"
    prefix4: ipaddress.IPv4Network = LAN_PREFIX4
    prefix6: ipaddress.IPv6Network = LAN_PREFIX6
    _ifindex: int | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def ns_path(self) -> str:
        return f"/proc/{self.pid}/ns/net"

    @property
    def ipv4(self) -> str:
        return str(self.prefix4[self.number])

    @property
    def ipv6(self) -> str:
        return str(self.prefix6[self.number])

    def address(self, family: socket.AddressFamily) -> str:
        """The host's address of ``family`` on the LAN."""
        return self.ipv4 if family == socket.AF_INET else self.ipv6

    @property
    def ifindex(self) -> int:
        """The index of the LAN interface inside the host's namespace."""
        if self._ifindex is None:
            with entered(self.ns_path):
                self._ifindex = socket.if_nametoindex(self.interface)
        return self._ifindex

    def ip(self, *args: str) -> None:
        """Run ``ip ARGS`` inside the host."""
        run_ip(*args, netns_pid=self.pid)

    def stop(self) -> None:
        """Kill the host's process, so its namespace goes with it; safe to call twice."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def command(self, argv: Sequence[str]) -> list[str]:
        """An argv that runs ``argv`` inside this host's network namespace."""
        return ["nsenter", "-t", str(self.pid), "-n", *argv]

    def open_socket(
        self, family: socket.AddressFamily, kind: socket.SocketKind = socket.SOCK_DGRAM
    ) -> socket.socket:
        """A new socket that lives in this host's network namespace."""
        with entered(self.ns_path):
            return socket.socket(family, kind)

    def sender(self, family: socket.AddressFamily, *, ttl: int = 1) -> socket.socket:
        """A UDP socket in the host, set to send multicast out of its LAN link."""
        sock = self.open_socket(family)
        if family == socket.AF_INET:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(self.ipv4))
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
        else:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, self.ifindex)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, ttl)
        return sock


@dataclass(slots=True)
class Lan:
    """A bridge in the test process's namespace with hosts hanging off it.

    The test process itself is on the LAN too, through the bridge device,
    with host number :data:`SWITCH_HOST_NUMBER`.
    """

    bridge: str
    hosts: list[Host]
    prefix4: ipaddress.IPv4Network = LAN_PREFIX4
    prefix6: ipaddress.IPv6Network = LAN_PREFIX6

    @property
    def ifindex(self) -> int:
        """The bridge's index: where the test process joins groups."""
        return socket.if_nametoindex(self.bridge)

    @property
    def ipv4(self) -> str:
        return str(self.prefix4[SWITCH_HOST_NUMBER])

    @property
    def ipv6(self) -> str:
        return str(self.prefix6[SWITCH_HOST_NUMBER])

    def address(self, family: socket.AddressFamily) -> str:
        """The test process's address of ``family`` on the LAN."""
        return self.ipv4 if family == socket.AF_INET else self.ipv6

    def close(self) -> None:
        # Delete our veth ends first: that removes both ends at once, whereas
        # a dying namespace releases its links later, in the background.
        for host in self.hosts:
            with contextlib.suppress(RuntimeError):
                run_ip("link", "del", f"{self.bridge}p{host.number}")
        for host in self.hosts:
            host.stop()
        with contextlib.suppress(RuntimeError):
            run_ip("link", "del", self.bridge)


def _spawn_host_process() -> subprocess.Popen[str]:
    # The child says "ready" only after unshare() succeeded, so the namespace
    # exists once the line is read: no polling.
    process = subprocess.Popen(
        ["unshare", "--net", "--", "sh", "-c", "echo ready; exec sleep 3600"],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if line.strip() != "ready":
        process.kill()
        process.wait()
        raise RuntimeError(f"host namespace did not start (said {line!r})")
    return process


def spawn_host(name: str, number: int, *, interface: str = "eth0") -> Host:
    """A host with no links yet: a child holding a fresh network namespace.

    The caller links it up (``ip link add ... netns <pid>``) and must
    :meth:`Host.stop` it when done.
    """
    return Host(name, number, _spawn_host_process(), interface=interface)


def run_ip_batch(commands: Sequence[str], *, netns_pid: int | None = None) -> None:
    """Run several ``ip`` commands in one process (``ip -batch``), in order.

    Raises:
        RuntimeError: A command failed; the message carries ``ip``'s stderr.
    """
    command = ["ip", "-batch", "-"]
    if netns_pid is not None:
        command = ["nsenter", "-t", str(netns_pid), "-n", *command]
    result = subprocess.run(
        command, input="\n".join(commands) + "\n", capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"ip -batch failed: {result.stderr.strip()}")


_lan_serial = itertools.count()


def build_lan(count: int, *, names: Sequence[str] = (), subnet: int = 0) -> Lan:
    """Create ``count`` hosts on a bridge, each with IPv4 and IPv6 addresses.

    Args:
        count: How many hosts.
        names: Optional names for the hosts (default ``h1``, ``h2`` ...).
        subnet: Which prefixes the LAN uses (:func:`lan_prefixes`); LANs that
            exist at the same time need different ones.

    Returns:
        The LAN; the caller must :meth:`Lan.close` it.
    """
    for tool in ("ip", "nsenter", "unshare"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"the LAN fixture needs '{tool}' on PATH")
    bridge = f"tmbr{next(_lan_serial)}"
    prefix4, prefix6 = lan_prefixes(subnet)
    lan = Lan(bridge, [], prefix4, prefix6)
    try:
        # Snooping off: without a querier the bridge's IGMP/MLD snooping makes
        # delivery depend on report timing; the hosts' own filtering is what we test.
        run_ip("link", "add", bridge, "type", "bridge", "mcast_snooping", "0")
        run_ip("addr", "add", f"{lan.ipv4}/{prefix4.prefixlen}", "dev", bridge)
        run_ip("-6", "addr", "add", f"{lan.ipv6}/{prefix6.prefixlen}", "dev", bridge, "nodad")
        run_ip("link", "set", bridge, "up")
        with contextlib.suppress(RuntimeError):
            run_ip("route", "add", "224.0.0.0/4", "dev", bridge)
        for number in range(1, count + 1):
            name = names[number - 1] if number - 1 < len(names) else f"h{number}"
            host = Host(name, number, _spawn_host_process(), prefix4=prefix4, prefix6=prefix6)
            lan.hosts.append(host)
            port = f"{bridge}p{number}"
            run_ip(
                "link",
                "add",
                port,
                "type",
                "veth",
                "peer",
                "name",
                host.interface,
                "netns",
                str(host.pid),
            )
            run_ip("link", "set", port, "master", bridge, "up")
            host.ip("link", "set", "lo", "up")
            host.ip("addr", "add", f"{host.ipv4}/{prefix4.prefixlen}", "dev", host.interface)
            host.ip(
                "-6",
                "addr",
                "add",
                f"{host.ipv6}/{prefix6.prefixlen}",
                "dev",
                host.interface,
                "nodad",
            )
            host.ip("link", "set", host.interface, "up")
            host.ip("route", "add", "224.0.0.0/4", "dev", host.interface)
            wait_for_multicast_routes(host.interface, netns_pid=host.pid)
        wait_for_multicast_routes(bridge)
    except BaseException:
        lan.close()
        raise
    return lan


def loopback_sender() -> socket.socket:
    """An IPv4 UDP socket in this namespace that sends multicast out of ``lo``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    return sock


def open_fd_count() -> int:
    """How many file descriptors this process has open."""
    return len(os.listdir("/proc/self/fd"))


def memberships(family: socket.AddressFamily) -> set[tuple[str, str]]:
    """Group memberships in this namespace, as ``(interface, group)`` pairs.

    Reads ``/proc/net/igmp`` or ``/proc/net/igmp6``. The kernel's own
    all-hosts memberships (224.0.0.1, ff01::1, ff02::1 ...) are included.
    """
    result: set[tuple[str, str]] = set()
    if family == socket.AF_INET:
        interface = ""
        with open("/proc/self/net/igmp") as file:
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
        with open("/proc/self/net/igmp6") as file:
            for line in file:
                parts = line.split()
                packed6 = bytes.fromhex(parts[2])
                result.add((parts[1], socket.inet_ntop(socket.AF_INET6, packed6)))
    return result


def errno_name(code: int) -> str:
    return errno.errorcode.get(code, str(code))
