"""The doctor's decisions: :class:`Facts` in, one :class:`Finding` per check out.

Pure functions: nothing here reads the system, so tables and Hypothesis can
drive every branch (``tests/test_doctor_decide.py``). A check whose facts are
missing says ``unknown`` with the reason it was given; none says ``ok``
without the facts to back it.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Final

from .._words import plural
from ._facts import Finding

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._facts import Facts, Link

__all__ = ["decide", "is_ssm_range"]

IFF_UP: Final = 0x1
IFF_RUNNING: Final = 0x40
IFF_MULTICAST: Final = 0x1000
IFF_LOWER_UP: Final = 0x10000
_SSM4: Final = ipaddress.IPv4Network("232.0.0.0/8")
_LINK_LOCAL4: Final = ipaddress.IPv4Network("224.0.0.0/24")
_RP_FILTER: Final = {0: "off", 1: "strict", 2: "loose"}
#: Below this, a burst of full-size datagrams overflows a receive buffer.
_SMALL_RMEM_MAX: Final = 1 << 20


def is_ssm_range(group: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for 232.0.0.0/8 and ff3x::/32 (RFC 4607).

    Example:
        >>> is_ssm_range(ipaddress.ip_address("232.1.1.1"))
        True
    """
    if isinstance(group, ipaddress.IPv4Address):
        return group in _SSM4
    packed = group.packed
    return packed[0] == 0xFF and packed[1] >> 4 == 3 and packed[2:4] == b"\0\0"


def _family(facts: Facts) -> str:
    return "IPv6" if facts.ipv6 else "IPv4"


def _unknown(check: str, facts: Facts, *names: str) -> Finding | None:
    for name in names:
        reason = facts.unreadable.get(name)
        if reason is not None:
            return Finding(check, "unknown", f"cannot read {name}: {reason}")
    return None


def _where(facts: Facts) -> str:
    link = facts.interface
    return "IFACE" if link is None else link.name


def check_interface(facts: Facts) -> Finding:
    """It exists, is up and running, takes multicast, has an address of the family."""
    missing = _unknown("interface", facts, "links")
    if missing is not None:
        return missing
    link = facts.interface
    if link is None:
        if facts.requested is not None:
            return Finding(
                "interface",
                "problem",
                f"no interface {facts.requested!r} on this host",
                fix="list the interfaces with 'ip link' and pass one of them with -i",
            )
        return Finding(
            "interface",
            "problem",
            f"no interface: the kernel has no route for {facts.group} to choose one by",
            fix="pass the interface with -i (or add a route, see 'route')",
        )
    evidence: tuple[str, ...] = (f"index {link.index}, flags {link.flags:#x}",)
    name = link.name
    if not link.flags & IFF_UP:
        return Finding(
            "interface", "problem", f"{name} is down", evidence, f"ip link set {name} up"
        )
    if not link.flags & IFF_MULTICAST:
        return Finding(
            "interface",
            "problem",
            f"{name} has multicast turned off (no MULTICAST flag)",
            evidence,
            f"ip link set {name} multicast on",
        )
    if not link.flags & (IFF_RUNNING | IFF_LOWER_UP):
        return Finding(
            "interface",
            "problem",
            f"{name} is up but has no carrier (nothing is plugged in, or its peer is down)",
            evidence,
            f"check the cable or the other end of {name}; 'ip link show {name}' says NO-CARRIER",
        )
    version = facts.group.version
    own = [address for address in link.addresses if address.version == version]
    if not own:
        return Finding(
            "interface",
            "problem",
            f"{name} has no {_family(facts)} address: its membership reports go out"
            " without a usable source, and switches and routers may ignore them",
            evidence,
            f"ip addr add ADDRESS/PREFIX dev {name}",
        )
    evidence += (f"addresses: {', '.join(map(str, own))}",)
    chosen = "" if facts.requested is not None else " (chosen by the kernel's route)"
    summary = f"{name}{chosen} is up, running and takes multicast, with {own[0]}"
    route = facts.group_route
    if facts.requested is None and route is not None and route.prefix_length == 0:
        via = f" via {route.gateway}" if route.gateway is not None else ""
        return Finding(
            "interface",
            "warning",
            f"{summary}; but {facts.group} only matches the default route{via}:"
            f" is {name} the link the group comes from, or a management link?",
            evidence,
            f"pass -i IFACE, or route the groups: ip route add {_route_prefix(facts)} dev IFACE",
        )
    return Finding("interface", "ok", summary, evidence)


def _route_prefix(facts: Facts) -> str:
    return "ff00::/8 table local" if facts.ipv6 else "224.0.0.0/4"


def _name(facts: Facts, index: int | None) -> str:
    if index is None:
        return "no interface"
    link = (facts.links or {}).get(index)
    return link.name if link is not None else f"index {index}"


def check_route(facts: Facts) -> Finding:
    """A route covers the group; with sources, the way back to each leaves by the interface."""
    missing = _unknown("route", facts, "group_route")
    if missing is not None:
        return missing
    route = facts.group_route
    where = _where(facts)
    if route is None:
        return Finding(
            "route",
            "warning" if facts.requested is not None else "problem",
            f"no route covers {facts.group}: joining without an interface, and sending"
            " without one, fail (ENODEV / ENETUNREACH)",
            fix=f"ip route add {_route_prefix(facts)} dev {where}",
        )
    evidence = [f"{facts.group} -> {_name(facts, route.oif)}, prefix /{route.prefix_length}"]
    problems = []
    for source in facts.sources:
        back = facts.source_routes.get(str(source))
        if back is None:
            problems.append(f"no route back to source {source}")
            evidence.append(f"{source} -> no route")
            continue
        evidence.append(f"{source} -> {_name(facts, back.oif)}")
        if facts.interface is not None and back.oif != facts.interface.index:
            problems.append(
                f"the route back to source {source} leaves by {_name(facts, back.oif)},"
                f" not {where}"
            )
    if problems:
        return Finding(
            "route",
            "warning",
            "; ".join(problems) + " (see rp_filter for whether that drops it)",
            tuple(evidence),
            f"add a route to the source's network through {where}",
        )
    if facts.interface is not None and route.oif != facts.interface.index:
        return Finding(
            "route",
            "warning",
            f"{facts.group} is routed out of {_name(facts, route.oif)}, not {where}:"
            " joins with -i are not affected, but sending from here goes there",
            tuple(evidence),
        )
    return Finding("route", "ok", f"{facts.group} is routed out of {where}", tuple(evidence))


def check_rp_filter(facts: Facts) -> Finding:
    """Would reverse-path filtering drop the sources' datagrams?"""
    if facts.ipv6:
        return Finding("rp_filter", "ok", "IPv6 has no reverse-path filter sysctl")
    link = facts.interface
    if link is None:
        return Finding("rp_filter", "unknown", "no interface to check")
    own_key = f"net.ipv4.conf.{link.name}.rp_filter"
    all_key = "net.ipv4.conf.all.rp_filter"
    if own_key not in facts.sysctl or all_key not in facts.sysctl:
        return Finding("rp_filter", "unknown", f"cannot read {own_key} or {all_key}")
    mode = max(facts.sysctl[own_key], facts.sysctl[all_key])
    evidence = (
        f"{own_key} = {facts.sysctl[own_key]}, {all_key} = {facts.sysctl[all_key]}"
        f" (the stricter applies: {_RP_FILTER.get(mode, mode)})",
    )
    if mode == 0:
        return Finding("rp_filter", "ok", "reverse-path filtering is off", evidence)
    dropped = []
    unroutable = []
    for source in facts.sources:
        back = facts.source_routes.get(str(source))
        if back is None:
            unroutable.append(str(source))
        elif mode == 1 and back.oif != link.index:
            dropped.append(str(source))
    how = "strict" if mode == 1 else "loose"
    if unroutable:
        # No route back at all: loose mode drops these too.
        return Finding(
            "rp_filter",
            "problem",
            f"{how} reverse-path filtering on {link.name} drops datagrams from"
            f" {', '.join(unroutable)}: there is no route back to the source",
            evidence,
            f"ip route add {unroutable[0]} via ROUTER dev {link.name} (or turn the filter off:"
            f" sysctl -w net.ipv4.conf.{link.name}.rp_filter=0 net.ipv4.conf.all.rp_filter=0)",
        )
    if dropped:
        return Finding(
            "rp_filter",
            "problem",
            f"strict reverse-path filtering on {link.name} drops datagrams from"
            f" {', '.join(dropped)}: the route back to the source leaves by another interface",
            evidence,
            f"sysctl -w net.ipv4.conf.{link.name}.rp_filter=2 net.ipv4.conf.all.rp_filter=2",
        )
    checked = "every source" if facts.sources else "no source given (-s checks one)"
    return Finding(
        "rp_filter",
        "ok",
        f"{_RP_FILTER.get(mode, mode)} reverse-path filtering; {checked} passes",
        evidence,
    )


def check_ssm(facts: Facts) -> Finding:
    """Source-specific joins are not forced down to IGMPv2 / MLDv1; ASM in the SSM range."""
    ssm_range = is_ssm_range(facts.group)
    if not facts.sources:
        if ssm_range:
            return Finding(
                "ssm",
                "warning",
                f"{facts.group} is in the source-specific range, but no source is given:"
                " routers forward it only to source-specific joins",
                fix="pass the sender with -s SOURCE",
            )
        return Finding("ssm", "ok", "any-source join of a group outside the SSM range")
    link = facts.interface
    if link is None:
        return Finding("ssm", "unknown", "no interface to check")
    protocol, setting, needed = (
        ("MLD", "net.ipv6.conf.{}.force_mld_version", (1,))
        if facts.ipv6
        else ("IGMP", "net.ipv4.conf.{}.force_igmp_version", (1, 2))
    )
    keys = [setting.format(link.name), setting.format("all")]
    if any(key not in facts.sysctl for key in keys):
        return Finding("ssm", "unknown", f"cannot read {' or '.join(keys)}")
    evidence = tuple(f"{key} = {facts.sysctl[key]}" for key in keys)
    forced = [key for key in keys if facts.sysctl[key] in needed]
    if forced:
        version = "MLDv1" if facts.ipv6 else f"IGMPv{facts.sysctl[forced[0]]}"
        return Finding(
            "ssm",
            "problem",
            f"{link.name} is forced to {version}: the join goes out without its sources, so"
            " routers cannot build the source tree (the host still filters)",
            evidence,
            "sysctl -w " + " ".join(f"{key}=0" for key in forced),
        )
    return Finding("ssm", "ok", f"{protocol} on {link.name} can carry source lists", evidence)


def check_limits(facts: Facts) -> Finding:
    """The per-socket membership and source limits allow what is asked."""
    msf_key = "net.ipv6.mld_max_msf" if facts.ipv6 else "net.ipv4.igmp_max_msf"
    # IPv6 has no per-socket count of groups; the source limit matters only
    # to a source list (and is not visible outside the first namespace).
    keys: tuple[str, ...] = () if facts.ipv6 else ("net.ipv4.igmp_max_memberships",)
    if facts.sources:
        keys += (msf_key,)
    missing = [key for key in keys if key not in facts.sysctl]
    if missing:
        return Finding("limits", "unknown", f"cannot read {', '.join(missing)}")
    evidence = [f"{key} = {facts.sysctl[key]}" for key in keys]
    if facts.memberships is not None:
        evidence.append(
            f"joined on {_where(facts)} now: {len(facts.memberships)}"
            f" ({', '.join(facts.memberships[:8])}{' ...' if len(facts.memberships) > 8 else ''})"
        )
    sources = len(facts.sources)
    if not facts.ipv6 and facts.sysctl["net.ipv4.igmp_max_memberships"] < 1:
        return Finding(
            "limits",
            "problem",
            "net.ipv4.igmp_max_memberships is below 1: a socket cannot join even one group",
            tuple(evidence),
            "sysctl -w net.ipv4.igmp_max_memberships=20",
        )
    if sources and sources > facts.sysctl[msf_key]:
        return Finding(
            "limits",
            "problem",
            f"{sources} sources asked, but {msf_key} allows {facts.sysctl[msf_key]} per group",
            tuple(evidence),
            f"sysctl -w {msf_key}={max(sources, 10)}",
        )
    return Finding("limits", "ok", "the kernel's limits allow this join", tuple(evidence))


def check_buffers(facts: Facts) -> Finding:
    """Receive buffers, and whether the kernel dropped datagrams for want of room."""
    keys = ("net.core.rmem_max", "net.core.rmem_default")
    if any(key not in facts.sysctl for key in keys):
        return Finding("buffers", "unknown", f"cannot read {' or '.join(keys)}")
    rmem_max = facts.sysctl["net.core.rmem_max"]
    evidence = [f"{key} = {facts.sysctl[key]}" for key in keys]
    fix = (
        "sysctl -w net.core.rmem_max=26214400, then ask for a bigger buffer"
        " (recv --receive-buffer 8388608, or receive_buffer_size=)"
    )
    before, after = facts.udp_counters, facts.udp_counters_after
    if before is not None:
        evidence.append(", ".join(f"{key} {value}" for key, value in before.items()) + " so far")
    grew = 0
    if before is not None and after is not None:
        grew = after.get("RcvbufErrors", 0) - before.get("RcvbufErrors", 0)
        evidence.append(f"RcvbufErrors grew by {grew} during the listen")
    listen = facts.listen
    drops = 0 if listen is None or listen.kernel_drops is None else listen.kernel_drops
    if drops or grew > 0:
        return Finding(
            "buffers",
            "problem",
            f"the kernel dropped datagrams for want of receive buffer during the listen"
            f" ({drops} on the listening socket)",
            tuple(evidence),
            fix,
        )
    if rmem_max < _SMALL_RMEM_MAX:
        return Finding(
            "buffers",
            "warning",
            f"net.core.rmem_max is {rmem_max} bytes: a receiver cannot get a buffer big enough"
            " for a burst",
            tuple(evidence),
            fix,
        )
    return Finding(
        "buffers", "ok", "receive buffers can grow, and nothing was dropped", tuple(evidence)
    )


def check_scope(facts: Facts) -> Finding:
    """Link- and node-scope groups, and the TTL datagrams arrive with."""
    group = facts.group
    scope = ""
    if isinstance(group, ipaddress.IPv6Address):
        scope = {1: "interface-local", 2: "link-local"}.get(group.packed[1] & 0x0F, "")
    elif group in _LINK_LOCAL4:
        scope = "link-local"
    if scope:
        far = [
            str(source)
            for source in facts.sources
            if (route := facts.source_routes.get(str(source))) is None or route.gateway is not None
        ]
        if far:
            return Finding(
                "scope",
                "problem",
                f"{group} is {scope}: it never crosses a router, so {', '.join(far)}"
                " (not on this link) can never reach it",
                fix="use a group of wider scope (239.0.0.0/8, ff05::/16 ...) for routed senders",
            )
        where = "this host" if scope == "interface-local" else "this link"
        return Finding("scope", "ok", f"{group} is {scope}: it can come only from {where}")
    listen = facts.listen
    low = []
    if listen is not None:
        for source, traffic in listen.sources.items():
            if traffic.on_link is False and traffic.hop_limits and min(traffic.hop_limits) <= 1:
                low.append(source)
    if low:
        hop = "hop limit" if facts.ipv6 else "TTL"
        return Finding(
            "scope",
            "warning",
            f"datagrams from {', '.join(low)} (not on this link) arrive with {hop} 1:"
            " one more router would drop them",
            fix=f"raise the sender's {hop} (send --ttl N)",
        )
    return Finding("scope", "ok", f"{group} is not scoped to the link")


def check_bridge(facts: Facts) -> Finding:
    """A snooping bridge without a querier stops forwarding after about 260 s."""
    link = facts.interface
    if link is None or facts.links is None:
        return Finding("bridge", "unknown", "no interface to check")
    bridge: Link | None = link if link.kind == "bridge" else None
    if bridge is None and link.master is not None:
        master = facts.links.get(link.master)
        if master is not None and master.kind == "bridge":
            bridge = master
    if bridge is None:
        return Finding("bridge", "ok", f"{link.name} is not a bridge or a bridge port")
    evidence = (
        f"{bridge.name}: multicast_snooping {bridge.snooping}, multicast_querier {bridge.querier}",
    )
    if bridge.snooping and not bridge.querier:
        listen = facts.listen
        if listen is not None and listen.query_seen:
            return Finding(
                "bridge",
                "ok",
                f"bridge {bridge.name} snoops without a querier of its own, but a query"
                " arrived from another querier on the LAN",
                evidence,
            )
        return Finding(
            "bridge",
            "problem",
            f"bridge {bridge.name} snoops IGMP/MLD but sends no queries: unless another querier"
            " is on the LAN, memberships expire after about 260 s and it stops forwarding",
            evidence,
            f"ip link set {bridge.name} type bridge mcast_querier 1 (or mcast_snooping 0)",
        )
    return Finding("bridge", "ok", f"bridge {bridge.name} will keep forwarding", evidence)


def check_port(facts: Facts) -> Finding:
    """Other sockets on the port, and whether they can steal datagrams."""
    missing = _unknown("port", facts, "port_probe")
    if missing is not None:
        return missing
    count = facts.port_sockets
    evidence = (f"UDP sockets on port {facts.port}: {'?' if count is None else count}",)
    probe = facts.port_probe
    if probe == "exclusive":
        return Finding(
            "port",
            "problem",
            f"port {facts.port} is held by a socket that allows no sharing: a receiver"
            " cannot bind it (EADDRINUSE)",
            evidence,
            f"stop that program (ss -ulpn 'sport = :{facts.port}'), or use another port",
        )
    if probe == "reuseport":
        return Finding(
            "port",
            "problem",
            f"sockets on port {facts.port} use SO_REUSEPORT: Linux may hand each multicast"
            " datagram to just one of them, whatever their groups and source filters",
            evidence,
            f"stop SO_REUSEPORT in the program holding port {facts.port}"
            f" (ss -ulpn 'sport = :{facts.port}'), or give each receiver its own port",
        )
    if probe == "shared":
        return Finding(
            "port",
            "ok",
            f"other sockets share port {facts.port} with SO_REUSEADDR, as a receiver does;"
            " each gets its own copy",
            evidence,
        )
    return Finding("port", "ok", f"no other socket is on port {facts.port}", evidence)


def check_firewall(facts: Facts) -> Finding:
    """What the firewall ruleset says of the port, IGMP and MLD, if it can be read."""
    firewall = facts.firewall
    if firewall.tool is None:
        return Finding(
            "firewall", "unknown", f"neither nft nor iptables is installed{firewall.reason}"
        )
    if firewall.lines is None:
        return Finding(
            "firewall", "unknown", f"cannot read the {firewall.tool} ruleset: {firewall.reason}"
        )
    if firewall.mentions:
        return Finding(
            "firewall",
            "warning",
            f"the {firewall.tool} ruleset mentions port {facts.port}, IGMP or MLD: check that"
            " it accepts them",
            firewall.mentions[:10],
        )
    return Finding(
        "firewall",
        "ok",
        f"the {firewall.tool} ruleset ({firewall.lines} lines) mentions neither port"
        f" {facts.port} nor IGMP/MLD",
    )


def check_listen(facts: Facts) -> Finding:
    """What arrived when joined for real."""
    listen = facts.listen
    if listen is None:
        return Finding("listen", "unknown", "not run (--listen 0)")
    if listen.error:
        return Finding("listen", "problem", f"cannot join to listen: {listen.error}")
    evidence = []
    for source, traffic in sorted(listen.sources.items()):
        hops = sorted(set(traffic.hop_limits))
        rate = traffic.datagrams / listen.seconds if listen.seconds else 0.0
        evidence.append(
            f"{source}: {traffic.datagrams} datagrams ({rate:.1f}/s),"
            f" {'hop limit' if facts.ipv6 else 'TTL'} {'/'.join(map(str, hops)) or '?'}"
        )
    if listen.kernel_drops is not None:
        evidence.append(f"kernel drops on the listening socket: {listen.kernel_drops}")
    if listen.membership_shown is not None:
        evidence.append(
            f"membership listed by the kernel: {'yes' if listen.membership_shown else 'no'}"
        )
    evidence.append(
        "membership query seen: "
        + (
            "unknown (" + listen.query_reason + ")"
            if listen.query_seen is None
            else "yes"
            if listen.query_seen
            else "no"
        )
    )
    if listen.membership_shown is False:
        return Finding(
            "listen",
            "problem",
            "joined, but the kernel does not list the membership on the interface",
            tuple(evidence),
            "check the interface with 'ip maddr show'",
        )
    total = sum(traffic.datagrams for traffic in listen.sources.values())
    if total:
        return Finding(
            "listen",
            "ok",
            f"{plural(total, 'datagram')} from {plural(len(listen.sources), 'source')}"
            f" in {listen.seconds:g} s",
            tuple(evidence),
        )
    return Finding(
        "listen",
        "warning",
        f"nothing arrived in {listen.seconds:g} s. If every check above is ok, this host is"
        " ready: look upstream, at the sender (is it sending, with a TTL that reaches here?),"
        " the routers (PIM, a route to the source) and the switch (a querier, snooping)",
        tuple(evidence),
    )


_DECIDERS: Final[dict[str, Callable[[Facts], Finding]]] = {
    "interface": check_interface,
    "route": check_route,
    "rp_filter": check_rp_filter,
    "ssm": check_ssm,
    "limits": check_limits,
    "buffers": check_buffers,
    "scope": check_scope,
    "bridge": check_bridge,
    "port": check_port,
    "firewall": check_firewall,
    "listen": check_listen,
}


def decide(facts: Facts) -> tuple[Finding, ...]:
    """Every check's finding, in :data:`CHECKS` order."""
    return tuple(decider(facts) for decider in _DECIDERS.values())
