"""The doctor's decisions and /proc parsers, from facts alone: tables and Hypothesis."""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import Final

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_mcast._cli._doctor_output import format_checklist, format_finding_record
from trio_mcast._doctor import CHECKS, Facts, Finding, decide
from trio_mcast._doctor._decide import _DECIDERS, is_ssm_range
from trio_mcast._doctor._facts import Firewall, Link, Listen, Route, SourceTraffic
from trio_mcast._doctor._proc import group_memberships, udp_counters, udp_sockets_on_port

pytestmark = pytest.mark.no_network

GROUP4: Final = ipaddress.IPv4Address("239.1.2.3")
SOURCE4: Final = ipaddress.IPv4Address("10.9.0.5")
HEALTHY_FLAGS: Final = 0x1 | 0x40 | 0x1000 | 0x10000
ETH0: Final = Link(2, "eth0", HEALTHY_FLAGS, (ipaddress.IPv4Address("10.0.0.1"),))
SYSCTL4: Final = {
    "net.core.rmem_max": 4194304,
    "net.core.rmem_default": 212992,
    "net.ipv4.igmp_max_memberships": 20,
    "net.ipv4.igmp_max_msf": 10,
    "net.ipv4.conf.all.rp_filter": 0,
    "net.ipv4.conf.eth0.rp_filter": 0,
    "net.ipv4.conf.all.force_igmp_version": 0,
    "net.ipv4.conf.eth0.force_igmp_version": 0,
}
HEALTHY: Final = Facts(
    GROUP4,
    5000,
    "eth0",
    (),
    ETH0,
    {1: Link(1, "lo", 0x49), 2: ETH0},
    Route(2, 4),
    {},
    SYSCTL4,
    ("224.0.0.1",),
    {"RcvbufErrors": 0, "InErrors": 0},
    {"RcvbufErrors": 0, "InErrors": 0},
    0,
    "free",
    Firewall("nft", 12, ()),
    Listen(1.0, {"10.0.0.7": SourceTraffic(10, (1,), True)}, 0, True, True),
)


def with_sysctl(name: str, value: int) -> dict[str, int]:
    return {**SYSCTL4, name: value}


def finding(facts: Facts, check: str) -> Finding:
    (found,) = [f for f in decide(facts) if f.check == check]
    return found


def test_the_checks_are_decided_in_their_documented_order() -> None:
    assert tuple(_DECIDERS) == CHECKS
    assert [f.check for f in decide(HEALTHY)] == list(CHECKS)


def test_a_healthy_host_is_all_ok() -> None:
    assert {f.check: f.status for f in decide(HEALTHY)} == dict.fromkeys(CHECKS, "ok")


FAULTS: Final = [
    pytest.param(
        {"interface": dataclasses.replace(ETH0, flags=HEALTHY_FLAGS & ~0x1)},
        "interface",
        "ip link set eth0 up",
        id="down",
    ),
    pytest.param(
        {"interface": dataclasses.replace(ETH0, flags=HEALTHY_FLAGS & ~0x1000)},
        "interface",
        "ip link set eth0 multicast on",
        id="multicast-off",
    ),
    pytest.param(
        {"interface": dataclasses.replace(ETH0, addresses=())},
        "interface",
        "ip addr add ADDRESS/PREFIX dev eth0",
        id="no-address",
    ),
    pytest.param(
        {"requested": None, "interface": None, "group_route": None},
        "route",
        "ip route add 224.0.0.0/4 dev IFACE",
        id="no-route",
    ),
    pytest.param(
        {
            "sources": (SOURCE4,),
            "source_routes": {str(SOURCE4): Route(3, 24)},
            "sysctl": with_sysctl("net.ipv4.conf.eth0.rp_filter", 1),
        },
        "rp_filter",
        "sysctl -w net.ipv4.conf.eth0.rp_filter=2 net.ipv4.conf.all.rp_filter=2",
        id="strict-rp-filter",
    ),
    pytest.param(
        {
            "sources": (SOURCE4,),
            "source_routes": {str(SOURCE4): Route(2, 24)},
            "sysctl": with_sysctl("net.ipv4.conf.all.force_igmp_version", 2),
        },
        "ssm",
        "sysctl -w net.ipv4.conf.all.force_igmp_version=0",
        id="forced-igmpv2",
    ),
    pytest.param(
        {"sysctl": with_sysctl("net.ipv4.igmp_max_memberships", 0)},
        "limits",
        "sysctl -w net.ipv4.igmp_max_memberships=20",
        id="membership-limit",
    ),
    pytest.param(
        {
            "interface": dataclasses.replace(ETH0, master=5),
            "links": {
                2: dataclasses.replace(ETH0, master=5),
                5: Link(5, "br0", HEALTHY_FLAGS, (), "bridge", None, 1, 0),
            },
            "listen": None,
        },
        "bridge",
        "ip link set br0 type bridge mcast_querier 1 (or mcast_snooping 0)",
        id="snooping-without-querier",
    ),
    pytest.param(
        {"udp_counters_after": {"RcvbufErrors": 40, "InErrors": 40}},
        "buffers",
        "sysctl -w net.core.rmem_max=26214400, then ask for a bigger buffer"
        " (recv --receive-buffer 8388608, or receive_buffer_size=)",
        id="drops",
    ),
    pytest.param(
        {"port_sockets": 2, "port_probe": "reuseport"},
        "port",
        "stop SO_REUSEPORT in the program holding port 5000 (ss -ulpn 'sport = :5000'),"
        " or give each receiver its own port",
        id="reuseport",
    ),
]


@pytest.mark.parametrize(("change", "check", "fix"), FAULTS)
def test_each_fault_is_a_problem_of_its_check_with_its_fix(
    change: dict[str, object], check: str, fix: str
) -> None:
    facts = dataclasses.replace(HEALTHY, **change)  # type: ignore[arg-type]  # fields by name
    found = finding(facts, check)
    assert (found.status, found.fix) == ("problem", fix)
    others = [f for f in decide(facts) if f.status == "problem" and f.check != check]
    assert others == [] or check in ("route", "interface")


@pytest.mark.parametrize("mode", [1, 2])
def test_no_route_back_to_the_source_is_dropped_by_either_filter_mode(mode: int) -> None:
    facts = dataclasses.replace(
        HEALTHY,
        sources=(SOURCE4,),
        source_routes={str(SOURCE4): None},
        sysctl=with_sysctl("net.ipv4.conf.all.rp_filter", mode),
    )
    found = finding(facts, "rp_filter")
    assert found.status == "problem"
    assert found.fix == (
        f"ip route add {SOURCE4} via ROUTER dev eth0 (or turn the filter off:"
        " sysctl -w net.ipv4.conf.eth0.rp_filter=0 net.ipv4.conf.all.rp_filter=0)"
    )
    # A route back by another interface passes the loose filter only.
    other = dataclasses.replace(facts, source_routes={str(SOURCE4): Route(3, 24)})
    assert finding(other, "rp_filter").status == ("problem" if mode == 1 else "ok")


def test_an_ssm_range_group_without_a_source_is_a_warning() -> None:
    facts = dataclasses.replace(HEALTHY, group=ipaddress.IPv4Address("232.1.1.1"))
    assert finding(facts, "ssm").status == "warning"
    assert is_ssm_range(ipaddress.IPv6Address("ff3e::1234"))
    assert not is_ssm_range(ipaddress.IPv6Address("ff3e:1::1"))
    assert not is_ssm_range(ipaddress.IPv6Address("ff1e::1"))


def test_the_default_route_choosing_the_interface_is_a_warning() -> None:
    facts = dataclasses.replace(
        HEALTHY, requested=None, group_route=Route(2, 0, ipaddress.IPv4Address("10.0.0.254"))
    )
    found = finding(facts, "interface")
    assert found.status == "warning"
    assert "default route via 10.0.0.254" in found.summary


def test_a_link_scope_group_from_a_routed_source_is_a_problem() -> None:
    facts = dataclasses.replace(
        HEALTHY,
        group=ipaddress.IPv4Address("224.0.0.251"),
        sources=(SOURCE4,),
        source_routes={str(SOURCE4): Route(2, 0, ipaddress.IPv4Address("10.0.0.254"))},
    )
    assert finding(facts, "scope").status == "problem"


def test_ttl_one_from_off_link_is_a_warning() -> None:
    listen = Listen(1.0, {"10.9.0.5": SourceTraffic(3, (1,), False)}, 0, True, True)
    assert finding(dataclasses.replace(HEALTHY, listen=listen), "scope").status == "warning"


@pytest.mark.parametrize(
    ("datagrams", "summary"),
    [(1, "1 datagram from 1 source in 1 s"), (49, "49 datagrams from 1 source in 1 s")],
)
def test_what_arrived_is_counted_in_words(datagrams: int, summary: str) -> None:
    listen = Listen(1.0, {"10.0.0.7": SourceTraffic(datagrams, (1,), True)}, 0, True, True)
    assert finding(dataclasses.replace(HEALTHY, listen=listen), "listen").summary == summary


def test_nothing_arriving_says_what_is_left_upstream() -> None:
    listen = Listen(2.0, {}, 0, True, False)
    found = finding(dataclasses.replace(HEALTHY, listen=listen), "listen")
    assert found.status == "warning"
    assert "look upstream" in found.summary


def test_missing_facts_are_unknown_never_ok() -> None:
    facts = dataclasses.replace(
        HEALTHY,
        links=None,
        interface=None,
        sysctl={},
        port_probe=None,
        firewall=Firewall(None),
        listen=None,
        unreadable={"links": "EPERM", "port_probe": "EPERM", "group_route": "EPERM"},
    )
    statuses = {f.check: f.status for f in decide(facts)}
    for check in ("interface", "route", "rp_filter", "limits", "buffers", "bridge", "port"):
        assert statuses[check] == "unknown", check
    assert statuses["firewall"] == statuses["listen"] == "unknown"


ADDRESSES4 = st.ip_addresses(v=4)
LINKS = st.builds(
    Link,
    st.integers(1, 50),
    st.text(min_size=1, max_size=15),
    st.integers(0, 2**32 - 1),
    st.tuples(st.ip_addresses()),
    st.sampled_from([None, "bridge", "veth"]),
    st.none() | st.integers(1, 50),
    st.none() | st.integers(0, 1),
    st.none() | st.integers(0, 1),
)
FACTS = st.builds(
    Facts,
    st.ip_addresses().filter(lambda a: a.is_multicast) | st.just(GROUP4),
    st.integers(1, 65535),
    st.none() | st.just("eth0"),
    st.lists(ADDRESSES4, max_size=3).map(tuple),
    st.none() | LINKS,
    st.none() | st.dictionaries(st.integers(1, 50), LINKS, max_size=4),
    st.none() | st.builds(Route, st.none() | st.integers(1, 50), st.integers(0, 32)),
    st.dictionaries(
        st.sampled_from([str(SOURCE4), "10.0.0.7"]),
        st.none() | st.builds(Route, st.none() | st.integers(1, 50), st.integers(0, 32)),
    ),
    st.dictionaries(st.sampled_from(sorted(SYSCTL4)), st.integers(-1, 2**31)),
    st.none() | st.lists(st.just("224.0.0.1"), max_size=3).map(tuple),
    st.none() | st.fixed_dictionaries({"RcvbufErrors": st.integers(0, 99)}),
    st.none() | st.fixed_dictionaries({"RcvbufErrors": st.integers(0, 99)}),
    st.none() | st.integers(0, 5),
    st.none() | st.sampled_from(["free", "shared", "reuseport", "exclusive"]),
    st.builds(Firewall, st.none() | st.just("nft"), st.none() | st.integers(0, 9)),
    st.none()
    | st.builds(
        Listen,
        st.floats(0.1, 10),
        st.dictionaries(
            st.sampled_from(["10.0.0.7", "10.9.0.5"]),
            st.builds(
                SourceTraffic,
                st.integers(0, 9),
                st.lists(st.integers(0, 255), max_size=3).map(tuple),
                st.none() | st.booleans(),
            ),
        ),
        st.none() | st.integers(0, 9),
        st.none() | st.booleans(),
        st.none() | st.booleans(),
    ),
)


@given(FACTS)
def test_any_facts_give_one_finding_per_check_and_every_problem_has_a_fix(facts: Facts) -> None:
    findings = decide(facts)
    assert [f.check for f in findings] == list(CHECKS)
    for found in findings:
        assert found.status in ("ok", "warning", "problem", "unknown")
        assert found.summary
        if found.status == "problem":
            assert found.fix, found
    lines = format_checklist("239.1.2.3", findings)
    assert len(lines) >= len(CHECKS) + 2
    assert all(format_finding_record(found).startswith('{"type": "finding"') for found in findings)


@given(st.text(max_size=400), st.booleans(), st.integers(0, 65535))
def test_proc_parsers_take_any_text(text: str, ipv6: bool, port: int) -> None:
    assert set(udp_counters(text, ipv6=ipv6)) <= {"RcvbufErrors", "InErrors"}
    assert all(isinstance(g, list) for g in group_memberships(text, ipv6=ipv6).values())
    assert udp_sockets_on_port(text, port) >= 0


def test_proc_parsers_read_the_kernels_layout() -> None:
    igmp = (
        "Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n"
        "1\tlo        :     1      V3\n"
        "\t\t\t\t010000E0     1 0:00000000\t\t0\n"
        "3\teth0      :     2      V3\n"
        "\t\t\t\t030201EF     1 0:00000000\t\t0\n"
    )
    assert group_memberships(igmp, ipv6=False) == {"lo": ["224.0.0.1"], "eth0": ["239.1.2.3"]}
    igmp6 = "3    eth0            ff150000000000000000000000000001     1 00000004 0\n"
    assert group_memberships(igmp6, ipv6=True) == {"eth0": ["ff15::1"]}
    udp = (
        "  sl  local_address rem_address   st tx_queue rx_queue\n"
        "  1: 00000000:1388 00000000:0000 07 00000000:00000000\n"
        "  2: 00000000:1389 00000000:0000 07 00000000:00000000\n"
    )
    assert udp_sockets_on_port(udp, 5000) == 1
    snmp = "Udp: InDatagrams InErrors RcvbufErrors\nUdp: 5 2 1\n"
    assert udp_counters(snmp, ipv6=False) == {"RcvbufErrors": 1, "InErrors": 2}
    snmp6 = "Udp6InErrors                    \t7\nUdp6RcvbufErrors                \t3\n"
    assert udp_counters(snmp6, ipv6=True) == {"RcvbufErrors": 3, "InErrors": 7}
