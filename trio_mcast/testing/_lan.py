"""Hosts on a private bridge: a multicast LAN for tests, with faults to inject.

Each host is a child process holding a network namespace of its own, linked
to a bridge in the test process's private namespace by a veth pair. The test
process is on the LAN too, through the bridge device. Nothing is linked to a
real interface, and nothing is built outside the private namespace
(:func:`~trio_mcast.testing.enter_private_network`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import subprocess
from dataclasses import dataclass, field
from socket import (
    AF_INET,
    IP_MULTICAST_IF,
    IP_MULTICAST_TTL,
    IPPROTO_IP,
    IPPROTO_IPV6,
    IPV6_MULTICAST_HOPS,
    IPV6_MULTICAST_IF,
    SOCK_DGRAM,
    AddressFamily,
    SocketKind,
    if_nametoindex,
    inet_aton,
)
from socket import socket as Socket
from typing import TYPE_CHECKING, Any, Final

from .._errors import NetworkSetupError
from ._namespace import (
    entered,
    in_netns,
    run_ip,
    run_ip_batch,
    wait_for_multicast_routes,
)

if TYPE_CHECKING:
    import os
    from collections.abc import Iterator, Mapping, Sequence

LAN_PREFIX4: Final = ipaddress.IPv4Network("10.213.0.0/24")
LAN_PREFIX6: Final = ipaddress.IPv6Network("fd99:213::/64")
#: The test process's own host number on a LAN (the bridge device).
SWITCH_HOST_NUMBER: Final = 254


def lan_prefixes(subnet: int) -> tuple[ipaddress.IPv4Network, ipaddress.IPv6Network]:
    """The IPv4 and IPv6 prefixes of subnet number ``subnet``.

    Args:
        subnet: 0 is the default LAN, 10.213.0.0/24 and fd99:213::/64.

    Returns:
        The two prefixes.

    Example:
        >>> [str(prefix) for prefix in lan_prefixes(2)]
        ['10.213.2.0/24', 'fd99:213:0:2::/64']
    """
    return (
        ipaddress.IPv4Network((int(LAN_PREFIX4.network_address) + (subnet << 8), 24)),
        ipaddress.IPv6Network((int(LAN_PREFIX6.network_address) + (subnet << 64), 64)),
    )


@dataclass(frozen=True, slots=True)
class _Link:
    """Where a host's interface plugs in, so that it can be made again."""

    bridge: str
    port: str
    #: ``ip`` commands run inside the host once its interface is up (routes).
    routes: tuple[str, ...]


@dataclass(slots=True, eq=False)
class Host:
    """A host: a child process holding a network namespace of its own.

    Attributes:
        name: Short name, for messages.
        number: The host part of its addresses.
        process: The child keeping the namespace alive.
        interface: The name of its LAN interface (``eth0``).
        prefix4: Its IPv4 subnet.
        prefix6: Its IPv6 subnet.
    """

    name: str
    number: int
    process: subprocess.Popen[str]
    interface: str = "eth0"
    prefix4: ipaddress.IPv4Network = LAN_PREFIX4
    prefix6: ipaddress.IPv6Network = LAN_PREFIX6
    _link: _Link | None = field(default=None, repr=False)
    _ifindex: int | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        """The process whose network namespace is the host."""
        return self.process.pid

    @property
    def ns_path(self) -> str:
        """The host's namespace file, for ``setns()`` or ``ip netns attach``."""
        return f"/proc/{self.pid}/ns/net"

    @property
    def ipv4(self) -> str:
        """Its IPv4 address on its subnet."""
        return str(self.prefix4[self.number])

    @property
    def ipv6(self) -> str:
        """Its IPv6 address on its subnet."""
        return str(self.prefix6[self.number])

    def address(self, family: AddressFamily) -> str:
        """Its address of one family.

        Args:
            family: ``AF_INET`` or ``AF_INET6``.

        Returns:
            The address, as text.
        """
        return self.ipv4 if family == AF_INET else self.ipv6

    @property
    def ifindex(self) -> int:
        """The index of its LAN interface in its namespace; new after :meth:`recreate_link`."""
        if self._ifindex is None:
            with entered(self.ns_path):
                self._ifindex = if_nametoindex(self.interface)
        return self._ifindex

    def ip(self, *args: str) -> None:
        """Run ``ip ARGS`` inside the host.

        Args:
            *args: The arguments of ``ip``.

        Raises:
            NetworkSetupError: ``ip`` failed.
        """
        run_ip(*args, netns_pid=self.pid)

    def command(self, argv: Sequence[str]) -> list[str]:
        """A command line that runs ``argv`` inside the host's network namespace.

        Args:
            argv: The program and its arguments.

        Returns:
            ``nsenter`` with ``argv``: give it to :mod:`subprocess` or :func:`trio.run_process`.
        """
        return in_netns(argv, self.pid)

    def run(
        self,
        argv: Sequence[str],
        *,
        input: str | None = None,
        timeout: float | None = 60.0,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a program inside the host and wait for it, capturing its output as text.

        Args:
            argv: The program and its arguments.
            input: Text for its standard input.
            timeout: Seconds before it is killed and :class:`subprocess.TimeoutExpired`
                is raised; ``None`` waits for ever.
            cwd: Its working directory; the caller's when ``None``.
            env: Its environment; the caller's when ``None``.

        Returns:
            Its exit status, standard output and standard error.

        Example:
            >>> with MulticastLan(hosts=1) as lan:
            ...     print(lan.hosts[0].run(["ip", "-brief", "-4", "address"]).stdout.split())
            ['lo', 'UNKNOWN', '127.0.0.1/8', 'eth0@if...', 'UP', '10.213.0.1/24']
        """
        return subprocess.run(
            self.command(argv),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            env=env,
            check=False,
        )

    def popen(self, argv: Sequence[str], **options: Any) -> subprocess.Popen[Any]:
        """Start a program inside the host, without waiting for it.

        Args:
            argv: The program and its arguments.
            **options: Passed to :class:`subprocess.Popen` (``stdout=``, ``text=`` ...).

        Returns:
            The running process; the caller waits for it (use it as a context manager).
        """
        return subprocess.Popen(self.command(argv), **options)

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """Switch the calling thread into the host's network namespace for a synchronous block."""
        with entered(self.ns_path):
            yield

    def socket(
        self, family: AddressFamily = AF_INET, kind: SocketKind = SOCK_DGRAM, proto: int = 0
    ) -> Socket:
        """A new socket that lives in the host's network namespace.

        Use it from Trio with :func:`trio.socket.from_stdlib_socket`, or hand
        it to :func:`trio_mcast.open_multicast_receiver` as ``isock``.

        Args:
            family: ``AF_INET`` or ``AF_INET6``.
            kind: ``SOCK_DGRAM`` by default.
            proto: The protocol number.

        Returns:
            The socket; the caller closes it.
        """
        with entered(self.ns_path):
            return Socket(family, kind, proto)

    def sender(self, family: AddressFamily = AF_INET, *, ttl: int = 1) -> Socket:
        """A UDP socket in the host, set to send multicast out of its LAN interface.

        Args:
            family: ``AF_INET`` or ``AF_INET6``.
            ttl: The multicast TTL or hop limit.

        Returns:
            The socket; the caller closes it.
        """
        sock = self.socket(family)
        if family == AF_INET:
            sock.setsockopt(IPPROTO_IP, IP_MULTICAST_IF, inet_aton(self.ipv4))
            sock.setsockopt(IPPROTO_IP, IP_MULTICAST_TTL, ttl)
        else:
            sock.setsockopt(IPPROTO_IPV6, IPV6_MULTICAST_IF, self.ifindex)
            sock.setsockopt(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, ttl)
        return sock

    def link_down(self) -> None:
        """Set the host's LAN interface down (its memberships stay, as the kernel keeps them)."""
        self.ip("link", "set", self.interface, "down")

    def link_up(self) -> None:
        """Set the host's LAN interface up again, and wait until it routes multicast."""
        self.ip("link", "set", self.interface, "up")
        wait_for_multicast_routes(self.interface, netns_pid=self.pid)

    def recreate_link(self) -> None:
        """Delete the host's LAN interface and make it again, as a restarted container's is.

        The new interface has the same name and addresses and a new index;
        the kernel drops every membership the old one had.

        Raises:
            NetworkSetupError: The host has no LAN link (:func:`spawn_host`), or
                ``ip`` failed.
        """
        if self._link is None:
            raise NetworkSetupError(f"host {self.name} was not built on a LAN: no link to remake")
        run_ip("link", "del", self._link.port)
        _attach(self, self._link)

    def stop(self) -> None:
        """Kill the host's process, so its namespace goes with it; safe to call twice."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def spawn_host(name: str, number: int, *, interface: str = "eth0") -> Host:
    """A host with no links yet: a child holding a fresh network namespace.

    For topologies of your own: link it with ``ip link add ... netns
    <host.pid>``, and :meth:`Host.stop` it when done.

    Args:
        name: Short name, for messages.
        number: The host part of its addresses on :data:`LAN_PREFIX4` and ``LAN_PREFIX6``.
        interface: The name its link will have.

    Returns:
        The host.

    Raises:
        NetworkSetupError: The namespace could not be made.
    """
    # The child says "ready" only after unshare() succeeded, so the namespace
    # exists once the line is read: no polling.
    process = subprocess.Popen(
        ["unshare", "--net", "--", "sh", "-c", "echo ready; exec sleep 86400"],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if line.strip() != "ready":
        process.kill()
        process.wait()
        process.stdout.close()
        raise NetworkSetupError(f"host namespace did not start (unshare said {line!r})")
    return Host(name, number, process, interface=interface)


def _attach(host: Host, link: _Link) -> None:
    """Link ``host`` to ``link.bridge`` with a veth pair, and configure its end."""
    run_ip_batch(
        [
            f"link add {link.port} type veth peer name {host.interface} netns {host.pid}",
            f"link set {link.port} master {link.bridge} up",
        ]
    )
    run_ip_batch(
        [
            "link set lo up",
            f"addr add {host.ipv4}/{host.prefix4.prefixlen} dev {host.interface}",
            f"addr add {host.ipv6}/{host.prefix6.prefixlen} dev {host.interface} nodad",
            f"link set {host.interface} up",
            f"route add 224.0.0.0/4 dev {host.interface}",
            *link.routes,
        ],
        netns_pid=host.pid,
    )
    host._link = link
    host._ifindex = None
    wait_for_multicast_routes(host.interface, netns_pid=host.pid)
