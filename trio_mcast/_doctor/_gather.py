"""Read the host's state for the doctor: rtnetlink, ``/proc/self/net`` and ``/proc/sys/net``.

Nothing is read from ``/sys``: it shows the network namespace it was
*mounted* in, so a process that only entered another namespace (``nsenter
-n``) would see the wrong interfaces there. rtnetlink and ``/proc/self/net``
follow the process's own namespace, and ``/proc/sys/net`` the namespace of
whoever opens it. Every read that fails is recorded as unreadable, with the
reason; nothing here raises.
"""

from __future__ import annotations

import contextlib
import errno
import shutil
import socket
import subprocess
import sys
from typing import TYPE_CHECKING, Final

from .. import _netlink
from .._errors import NetlinkError
from .._netlink._messages import AF_INET, AF_INET6
from ._facts import Facts, Firewall, Link, PortProbe, Route
from ._proc import group_memberships, udp_counters, udp_sockets_on_port

if TYPE_CHECKING:
    import ipaddress

    from .._validate import Interface, IPAddress

__all__ = ["gather", "groups_joined_on", "read_udp_counters", "route_to"]

_FIREWALL_TIMEOUT: Final = 5.0
_FIREWALL_COMMANDS: Final = {
    "nft": ["nft", "list", "ruleset"],
    "iptables": ["iptables-save"],
}


def _read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as file:
        return file.read()


def _links() -> dict[int, Link]:
    """Every interface with its addresses, from rtnetlink."""
    addresses: dict[int, list[ipaddress.IPv4Address | ipaddress.IPv6Address]] = {}
    for family in (AF_INET, AF_INET6):
        for message in _netlink.addresses(family):
            if message.address is not None:
                addresses.setdefault(message.ifindex, []).append(message.address)
    return {
        message.ifindex: Link(
            message.ifindex,
            message.name or f"index {message.ifindex}",
            message.flags,
            tuple(addresses.get(message.ifindex, ())),
            message.kind,
            message.master,
            message.snooping,
            message.querier,
        )
        for message in _netlink.links()
    }


def route_to(destination: IPAddress, *, fib_match: bool = False) -> Route | None:
    """The route to ``destination``, or ``None``.

    Raises:
        NetlinkError: The question could not be asked.
    """
    try:
        message = _netlink.route_lookup(destination, fib_match=fib_match)
    except NetlinkError as exc:
        if not fib_match or exc.errno != errno.EINVAL:
            raise
        # Before Linux 4.13: no table entry, only the resolved route.
        message = _netlink.route_lookup(destination)
    if message is None:
        return None
    return Route(message.oif, message.dst_len, message.gateway)


def _find(links: dict[int, Link], requested: Interface) -> Link | None:
    if requested.name is not None:
        return next((link for link in links.values() if link.name == requested.name), None)
    if requested.index is not None:
        return links.get(requested.index)
    return next((link for link in links.values() if requested.address in link.addresses), None)


def _sysctl_names(ipv6: bool, interface: str | None) -> list[str]:
    names = ["net.core.rmem_max", "net.core.rmem_default"]
    if ipv6:
        names.append("net.ipv6.mld_max_msf")
        conf = ["net.ipv6.conf.{}.force_mld_version"]
    else:
        names.extend(["net.ipv4.igmp_max_memberships", "net.ipv4.igmp_max_msf"])
        conf = ["net.ipv4.conf.{}.rp_filter", "net.ipv4.conf.{}.force_igmp_version"]
    for pattern in conf:
        names.append(pattern.format("all"))
        if interface is not None:
            names.append(pattern.format(interface))
    return names


def _sysctl(name: str) -> int:
    # A dotted interface name (eth0.100) is one path component.
    parts = name.split(".")
    if len(parts) > 5 and parts[2] == "conf":
        parts = [*parts[:3], ".".join(parts[3:-1]), parts[-1]]
    return int(_read("/proc/sys/" + "/".join(parts)).split()[0])


def groups_joined_on(interface: str, ipv6: bool) -> tuple[str, ...]:
    """The groups joined on ``interface`` now, by any socket (``/proc/net/igmp`` or ``igmp6``).

    Raises:
        OSError: The file cannot be read.
    """
    table = _read("/proc/self/net/igmp6" if ipv6 else "/proc/self/net/igmp")
    return tuple(group_memberships(table, ipv6=ipv6).get(interface, ()))


def read_udp_counters(ipv6: bool) -> dict[str, int]:
    """The host's UDP receive-error counters now (this namespace).

    Raises:
        OSError: The file cannot be read.
    """
    path = "/proc/self/net/snmp6" if ipv6 else "/proc/self/net/snmp"
    return udp_counters(_read(path), ipv6=ipv6)


def _probe_port(family: socket.AddressFamily, port: int, *, occupied: bool) -> PortProbe:
    """What binding to the port shows about the sockets already there.

    Two sockets may share a UDP port when both set ``SO_REUSEADDR``, or both
    ``SO_REUSEPORT``: a probe with only the first binds when every socket
    there allows that sharing, one with only the second when every socket
    there is in a reuseport group.
    """

    def binds(option: int) -> bool:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, option, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", port))
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
                return False
        return True

    shared = binds(socket.SO_REUSEADDR)
    reuseport = hasattr(socket, "SO_REUSEPORT") and binds(socket.SO_REUSEPORT)
    if reuseport:
        # Both bind when nothing is there, or when everything there set both.
        return "reuseport" if occupied else "free"
    return "shared" if shared else "exclusive"


def _firewall(port: int) -> Firewall:
    for tool, command in _FIREWALL_COMMANDS.items():
        if shutil.which(command[0]) is None:
            continue
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=_FIREWALL_TIMEOUT, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Firewall(tool, reason=str(exc))
        if result.returncode != 0:
            said = (result.stderr.strip().splitlines() or ["no output"])[0]
            return Firewall(tool, reason=f"{' '.join(command)} failed: {said}")
        lines = result.stdout.splitlines()
        words = (f" {port} ", f" {port},", f":{port} ", "igmp", "mld", "ipv6-icmp")
        mentions = tuple(
            line.strip() for line in lines if any(word in f" {line} " for word in words)
        )
        return Firewall(tool, len(lines), mentions)
    return Firewall(None, reason=" (cannot tell what a firewall would do)")


def gather(
    group: IPAddress,
    port: int,
    requested: Interface | None,
    sources: tuple[IPAddress, ...],
) -> Facts:
    """Everything but the live listen, read now."""
    ipv6 = group.version == 6
    unreadable: dict[str, str] = {}
    if not _netlink.AVAILABLE:
        reason = f"rtnetlink is Linux-only, not {sys.platform}"
        return Facts(
            group,
            port,
            None if requested is None else requested.label,
            sources,
            unreadable={"links": reason, "group_route": reason, "port_probe": reason},
        )
    links: dict[int, Link] | None = None
    try:
        links = _links()
    except (NetlinkError, OSError) as exc:
        unreadable["links"] = str(exc)
    group_route = None
    source_routes: dict[str, Route | None] = {}
    try:
        group_route = route_to(group, fib_match=True)
        for source in sources:
            source_routes[str(source)] = route_to(source)
    except (NetlinkError, OSError) as exc:
        unreadable["group_route"] = str(exc)
    interface = None
    if links is not None:
        if requested is not None:
            interface = _find(links, requested)
        elif group_route is not None and group_route.oif is not None:
            interface = links.get(group_route.oif)
    sysctl: dict[str, int] = {}
    for name in _sysctl_names(ipv6, None if interface is None else interface.name):
        with contextlib.suppress(OSError, ValueError, IndexError):
            sysctl[name] = _sysctl(name)
    memberships = None
    if interface is not None:
        with contextlib.suppress(OSError):
            memberships = groups_joined_on(interface.name, ipv6)
    counters = None
    try:
        counters = read_udp_counters(ipv6)
    except OSError as exc:
        unreadable["udp_counters"] = str(exc)
    family = socket.AF_INET6 if ipv6 else socket.AF_INET
    port_sockets = None
    with contextlib.suppress(OSError):
        port_sockets = udp_sockets_on_port(
            _read("/proc/self/net/udp6" if ipv6 else "/proc/self/net/udp"), port
        )
    probe: PortProbe | None = None
    try:
        probe = _probe_port(family, port, occupied=port_sockets != 0)
    except OSError as exc:
        unreadable["port_probe"] = f"a probe bind failed: {exc}"
    return Facts(
        group,
        port,
        requested=None if requested is None else requested.label,
        sources=sources,
        interface=interface,
        links=links,
        group_route=group_route,
        source_routes=source_routes,
        sysctl=sysctl,
        memberships=memberships,
        udp_counters=counters,
        port_sockets=port_sockets,
        port_probe=probe,
        firewall=_firewall(port),
        unreadable=unreadable,
    )
