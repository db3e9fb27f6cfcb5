"""What ``doctor`` reads about the host, and what a diagnosis says: plain values.

:mod:`._gather` and :mod:`._listen` fill :class:`Facts` from the system;
:mod:`._decide` turns it into :class:`Finding` records without touching
anything. A fact that could not be read is ``None`` together with the reason
in :attr:`Facts.unreadable`, so that a check can say ``unknown`` and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal, TypeAlias

if TYPE_CHECKING:
    import ipaddress

__all__ = [
    "CHECKS",
    "Facts",
    "Finding",
    "Firewall",
    "Link",
    "Listen",
    "PortProbe",
    "Route",
    "SourceTraffic",
    "Status",
]

#: ``ok``: checked and fine. ``warning``: may explain a loss; does not fail.
#: ``problem``: this stops or will stop multicast; it comes with a fix.
#: ``unknown``: could not be checked, with the reason.
Status: TypeAlias = Literal["ok", "warning", "problem", "unknown"]

#: The checks, in the order they are reported.
CHECKS: Final = (
    "interface",
    "route",
    "rp_filter",
    "ssm",
    "limits",
    "buffers",
    "scope",
    "bridge",
    "port",
    "firewall",
    "listen",
)

IPAddress: TypeAlias = "ipaddress.IPv4Address | ipaddress.IPv6Address"


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's verdict.

    Attributes:
        check: Which check (``"interface"``, ``"rp_filter"`` ...).
        status: ``"ok"``, ``"warning"``, ``"problem"`` or ``"unknown"``.
        summary: One line: what was found.
        evidence: The values it was decided on, one per line.
        fix: For a problem (and some warnings): what to do, a command where
            one exists.
    """

    check: str
    status: Status
    summary: str
    evidence: tuple[str, ...] = ()
    fix: str | None = None


@dataclass(frozen=True, slots=True)
class Link:
    """An interface, as rtnetlink describes it.

    Attributes:
        index: Its index.
        name: Its name.
        flags: ``IFF_*`` flags.
        addresses: Its addresses, every family.
        kind: ``"bridge"``, ``"veth"`` ...; ``None`` for plain devices.
        master: The index of the bridge it is a port of.
        snooping: For a bridge, ``multicast_snooping``.
        querier: For a bridge, ``multicast_querier``.
    """

    index: int
    name: str
    flags: int
    addresses: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...] = ()
    kind: str | None = None
    master: int | None = None
    snooping: int | None = None
    querier: int | None = None


@dataclass(frozen=True, slots=True)
class Route:
    """The routing table entry a destination matched.

    Attributes:
        oif: The output interface, if any.
        prefix_length: 0 for a default route.
        gateway: The next hop, for a route through a router.
    """

    oif: int | None
    prefix_length: int
    gateway: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None


#: What binding probe sockets to the port showed about the sockets already on it:
#: ``"free"`` (none), ``"shared"`` (all allow SO_REUSEADDR sharing),
#: ``"reuseport"`` (they use SO_REUSEPORT), ``"exclusive"`` (one allows no sharing).
PortProbe: TypeAlias = Literal["free", "shared", "reuseport", "exclusive"]


@dataclass(frozen=True, slots=True)
class Firewall:
    """What the installed firewall tool said, if anything.

    Attributes:
        tool: ``"nft"`` or ``"iptables"``; ``None`` when neither is installed.
        lines: The ruleset's line count, or ``None`` when it could not be read.
        mentions: Ruleset lines that mention the port, IGMP or MLD.
        reason: Why the ruleset could not be read.
    """

    tool: str | None
    lines: int | None = None
    mentions: tuple[str, ...] = ()
    reason: str = ""


@dataclass(frozen=True, slots=True)
class SourceTraffic:
    """What arrived from one sender during the listen.

    Attributes:
        datagrams: How many.
        hop_limits: The TTLs (IPv4) or hop limits (IPv6) they arrived with.
        on_link: The sender is on the interface's own subnet (no router
            between), or ``None`` when unknown.
    """

    datagrams: int
    hop_limits: tuple[int, ...]
    on_link: bool | None


@dataclass(frozen=True, slots=True)
class Listen:
    """The live listen: joined for real, for ``seconds``.

    Attributes:
        seconds: How long it listened.
        sources: Per sender address, what arrived.
        kernel_drops: Datagrams the kernel dropped on the listening socket.
        membership_shown: The kernel listed the membership on the interface
            (``/proc/net/igmp`` or ``igmp6``) while listening.
        query_seen: An IGMP or MLD query arrived on the interface; ``None``
            when that could not be watched (see ``query_reason``).
        query_reason: Why queries could not be watched.
        error: Why the listen could not join, if it could not.
    """

    seconds: float
    sources: dict[str, SourceTraffic] = field(default_factory=dict)
    kernel_drops: int | None = None
    membership_shown: bool | None = None
    query_seen: bool | None = None
    query_reason: str = ""
    error: str = ""


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything the checks decide on.

    Attributes:
        group: The group.
        port: The UDP port.
        requested: The interface as the user gave it, or ``None``.
        sources: The sources given with ``-s``.
        interface: The interface the group would be received on (the one
            given, or the one the kernel's route selects), or ``None``.
        links: Every interface by index; ``None`` when unreadable.
        group_route: The route the group matched; ``None`` for no route.
        source_routes: Per source, the route back to it (``None``: no route).
        sysctl: Values by name (``net.ipv4.conf.eth0.rp_filter``); a missing
            name could not be read.
        memberships: Groups joined on the interface now, by any program.
        udp_counters: ``RcvbufErrors`` and ``InErrors`` before the listen.
        udp_counters_after: The same after the listen.
        port_sockets: UDP sockets bound to the port now.
        port_probe: What probe binds showed about them.
        firewall: The firewall facts.
        listen: The live listen, when one ran.
        unreadable: Why a fact is missing, by fact name.
    """

    group: ipaddress.IPv4Address | ipaddress.IPv6Address
    port: int
    requested: str | int | None = None
    sources: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...] = ()
    interface: Link | None = None
    links: dict[int, Link] | None = None
    group_route: Route | None = None
    source_routes: dict[str, Route | None] = field(default_factory=dict)
    sysctl: dict[str, int] = field(default_factory=dict)
    memberships: tuple[str, ...] | None = None
    udp_counters: dict[str, int] | None = None
    udp_counters_after: dict[str, int] | None = None
    port_sockets: int | None = None
    port_probe: PortProbe | None = None
    firewall: Firewall = field(default_factory=lambda: Firewall(None))
    listen: Listen | None = None
    unreadable: dict[str, str] = field(default_factory=dict)

    @property
    def ipv6(self) -> bool:
        return self.group.version == 6
