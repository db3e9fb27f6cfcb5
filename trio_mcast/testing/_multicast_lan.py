"""``MulticastLan``: hosts on a private bridge, optionally a router to a second subnet."""

from __future__ import annotations

import contextlib
import itertools
import operator
from socket import AF_INET, AddressFamily, if_nametoindex
from typing import TYPE_CHECKING, Final, Protocol

from .._errors import InvalidArgumentError, NetworkSetupError
from ._lan import SWITCH_HOST_NUMBER, Host, _attach, _Link, lan_prefixes, spawn_host
from ._namespace import (
    entered,
    missing_tools,
    require_private_network,
    run_ip,
    run_ip_batch,
    wait_for_multicast_routes,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import TracebackType

#: The router's host number, on both of its subnets.
ROUTER_HOST_NUMBER: Final = 253
MAX_HOSTS: Final = 200
#: Subnets are 10.213.N.0/24 and fd99:213:0:N::/64; a router's far side uses N + 1.
MAX_SUBNET: Final = 255
#: Read in the router's namespace: ``/proc/sys/net`` shows the opener's.
FORWARDING: Final = ("/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding")

_bridges = itertools.count()
#: Subnets of the LANs open in this process: two at once must not share one.
_subnets_in_use: set[int] = set()


def _count(value: object, parameter: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(
            f"{parameter} must be an int, not {type(value).__name__}",
            parameter=parameter,
            value=value,
        )
    if not low <= value <= MAX_HOSTS:
        raise InvalidArgumentError(
            f"{parameter}={value} is out of range ({low}..{MAX_HOSTS})",
            parameter=parameter,
            value=value,
        )
    return value


class MulticastLan:
    """A multicast LAN inside the test process: hosts on a bridge, and the process itself.

    Each host is a network namespace of its own with ``lo``, an ``eth0``
    holding an IPv4 and an IPv6 address (no duplicate address detection, so
    they work at once), and a route for 224.0.0.0/4. The test process is on
    the LAN through the bridge device (address ``.254``), which snoops no
    IGMP or MLD, so every host sees every group's traffic, as on a switch
    without snooping. With ``far_hosts``, a router host (``.253``) links the
    LAN to a second subnet holding those hosts, and forwards unicast between
    them (multicast routing needs a daemon, which it does not run).

    It builds only inside the process's private network namespace, and
    nothing it makes has a route off the LAN, so no datagram can leave the
    machine. Leaving the ``with`` block, however it is left, removes every
    link and ends every host.

    Args:
        hosts: How many hosts on the LAN, 1..200; numbered from 1.
        names: Names for the first hosts (default ``h1``, ``h2`` ...).
        subnet: The LAN's subnet number N: 10.213.N.0/24 and
            fd99:213:0:N::/64. ``None`` takes the lowest one that no open
            LAN of this process uses (a router's far side uses N + 1).
        far_hosts: Hosts behind a router, on subnet N + 1; 0 builds no router.

    Attributes:
        bridge: The bridge device's name, in the test process's namespace.
        hosts: The hosts on the LAN, numbered from 1.
        router: The router host (``.253``), or ``None`` without ``far_hosts``.
        far_hosts: The hosts behind the router, on subnet N + 1.
        prefix4: The LAN's IPv4 prefix (known once the LAN is open).
        prefix6: The LAN's IPv6 prefix.

    Raises:
        InvalidArgumentError: A count or subnet out of range, or a subnet in use.

    Example:
        >>> with MulticastLan(hosts=2) as lan:
        ...     sender, receiver = lan.hosts
        ...     print(receiver.name, receiver.ipv4, receiver.ipv6, receiver.interface)
        h2 10.213.0.2 fd99:213::2 eth0
    """

    def __init__(
        self,
        hosts: int = 2,
        *,
        names: Sequence[str] = (),
        subnet: int | None = None,
        far_hosts: int = 0,
    ) -> None:
        self._count = _count(hosts, "hosts", 1)
        self._far_count = _count(far_hosts, "far_hosts", 0)
        names = tuple(names)
        if len(names) > self._count or not all(isinstance(name, str) for name in names):
            raise InvalidArgumentError(
                f"names must be at most {self._count} strings, one per host, not {names!r}",
                parameter="names",
                value=names,
            )
        self._names = names
        self._subnet = subnet
        self.bridge = f"tmbr{next(_bridges)}"
        self.hosts: list[Host] = []
        self.far_hosts: list[Host] = []
        self.router: Host | None = None
        self._taken: tuple[int, ...] = ()
        self.prefix4, self.prefix6 = lan_prefixes(0)

    def _claim_subnets(self) -> None:
        width = 2 if self._far_count else 1
        subnet = self._subnet
        if subnet is None:
            subnet = next(
                number
                for number in range(MAX_SUBNET)
                if not {number, number + width - 1} & _subnets_in_use
            )
        elif isinstance(subnet, bool) or not isinstance(subnet, int):
            raise InvalidArgumentError(
                f"subnet must be an int or None, not {type(subnet).__name__}",
                parameter="subnet",
                value=subnet,
            )
        last = MAX_SUBNET - width
        if not 0 <= subnet <= last:
            raise InvalidArgumentError(
                f"subnet={subnet} is out of range (0..{last})", parameter="subnet", value=subnet
            )
        taken = tuple(range(subnet, subnet + width))
        if set(taken) & _subnets_in_use:
            raise InvalidArgumentError(
                f"subnet={subnet} is used by another open MulticastLan of this process",
                parameter="subnet",
                value=subnet,
            )
        _subnets_in_use.update(taken)
        self._taken = taken
        self.prefix4, self.prefix6 = lan_prefixes(subnet)

    @property
    def ifindex(self) -> int:
        """The bridge's index: where the test process joins groups and sends."""
        return if_nametoindex(self.bridge)

    @property
    def ipv4(self) -> str:
        """The test process's IPv4 address on the LAN."""
        return str(self.prefix4[SWITCH_HOST_NUMBER])

    @property
    def ipv6(self) -> str:
        """The test process's IPv6 address on the LAN."""
        return str(self.prefix6[SWITCH_HOST_NUMBER])

    def address(self, family: AddressFamily) -> str:
        """The test process's address on the LAN.

        Args:
            family: ``AF_INET`` or ``AF_INET6``.

        Returns:
            The address, as text.
        """
        return self.ipv4 if family == AF_INET else self.ipv6

    def __enter__(self) -> MulticastLan:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> None:
        """Build the LAN; :meth:`close` undoes it. ``with`` calls both.

        Raises:
            NetworkSetupError: Not in the private namespace, a tool missing, or
                ``ip`` failed; whatever was built is removed first.
        """
        require_private_network("a MulticastLan")
        missing = missing_tools()
        if missing:
            raise NetworkSetupError(f"a MulticastLan needs {', '.join(missing)} on PATH")
        self._claim_subnets()
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def _make_bridge(self, name: str, addresses: tuple[str, ...]) -> None:
        # Snooping off: without a querier the bridge's IGMP/MLD snooping makes
        # delivery depend on report timing, and stops it after a few minutes.
        run_ip_batch(
            [
                f"link add {name} type bridge mcast_snooping 0",
                *(f"{address} dev {name}" for address in addresses),
                f"link set {name} up",
            ]
        )

    def _build(self) -> None:
        self._make_bridge(
            self.bridge,
            (
                f"addr add {self.ipv4}/{self.prefix4.prefixlen}",
                f"addr add {self.ipv6}/{self.prefix6.prefixlen} nodad",
            ),
        )
        # Only the first LAN of the process gets it: the kernel keeps one such route.
        with contextlib.suppress(NetworkSetupError):
            run_ip("route", "add", "224.0.0.0/4", "dev", self.bridge)
        lan_routes: tuple[str, ...] = ()
        if self._far_count:
            lan_routes = self._build_router()
        for number in range(1, self._count + 1):
            name = self._names[number - 1] if number <= len(self._names) else f"h{number}"
            host = spawn_host(name, number)
            host.prefix4, host.prefix6 = self.prefix4, self.prefix6
            self.hosts.append(host)
            _attach(host, _Link(self.bridge, f"{self.bridge}p{number}", lan_routes))
        wait_for_multicast_routes(self.bridge)

    def _build_router(self) -> tuple[str, ...]:
        far4, far6 = lan_prefixes(self._taken[1])
        far_bridge = f"{self.bridge}f"
        self._make_bridge(far_bridge, ())
        router = spawn_host("router", ROUTER_HOST_NUMBER)
        router.prefix4, router.prefix6 = self.prefix4, self.prefix6
        self.router = router
        _attach(router, _Link(self.bridge, f"{self.bridge}p{ROUTER_HOST_NUMBER}", ()))
        far_address4, far_address6 = far4[ROUTER_HOST_NUMBER], far6[ROUTER_HOST_NUMBER]
        run_ip_batch(
            [
                f"link add {far_bridge}p{ROUTER_HOST_NUMBER} type veth peer name eth1"
                f" netns {router.pid}",
                f"link set {far_bridge}p{ROUTER_HOST_NUMBER} master {far_bridge} up",
                f"route add {far4} via {router.ipv4}",
                f"route add {far6} via {router.ipv6}",
            ]
        )
        run_ip_batch(
            [
                f"addr add {far_address4}/{far4.prefixlen} dev eth1",
                f"addr add {far_address6}/{far6.prefixlen} dev eth1 nodad",
                "link set eth1 up",
            ],
            netns_pid=router.pid,
        )
        with entered(router.ns_path):
            for path in FORWARDING:
                with open(path, "w") as file:
                    file.write("1")
        back = (
            f"route add {self.prefix4} via {far_address4}",
            f"route add {self.prefix6} via {far_address6}",
        )
        for number in range(1, self._far_count + 1):
            host = spawn_host(f"f{number}", number)
            host.prefix4, host.prefix6 = far4, far6
            self.far_hosts.append(host)
            _attach(host, _Link(far_bridge, f"{far_bridge}p{number}", back))
        return (f"route add {far4} via {router.ipv4}", f"route add {far6} via {router.ipv6}")

    @property
    def all_hosts(self) -> list[Host]:
        """Every host: the LAN's, the router (if any) and those behind it."""
        router = [self.router] if self.router is not None else []
        return [*self.hosts, *router, *self.far_hosts]

    def close(self) -> None:
        """Remove every link and bridge and end every host; safe to call twice."""
        hosts = self.all_hosts
        bridges = [self.bridge, f"{self.bridge}f"] if self._far_count else [self.bridge]
        ports = [host._link.port for host in hosts if host._link is not None]
        if self.router is not None:
            ports.append(f"{bridges[-1]}p{ROUTER_HOST_NUMBER}")
        # Delete our veth ends first: that removes both ends at once, whereas a
        # dying namespace releases its links later, in the background.
        for name in [*ports, *reversed(bridges)]:
            with contextlib.suppress(NetworkSetupError):
                run_ip("link", "del", name)
        for host in hosts:
            host.stop()
        _subnets_in_use.difference_update(self._taken)
        self._taken = ()

    def __repr__(self) -> str:
        hosts = ", ".join(map(operator.attrgetter("name"), self.all_hosts))
        return f"<MulticastLan {self.bridge} {self.prefix4} [{hosts}]>"


class LanFactory(Protocol):
    """The ``multicast_lan`` fixture: builds LANs that end with the test.

    Takes the arguments of :class:`MulticastLan`.
    """

    def __call__(
        self,
        hosts: int = 2,
        *,
        names: Sequence[str] = (),
        subnet: int | None = None,
        far_hosts: int = 0,
    ) -> MulticastLan: ...
