"""trio_mcast.testing: the LAN users get, its faults, its teardown and its guarantee."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
from typing import Any, Final

import pytest
import trio

import trio_mcast
from tests import netns
from tests.cli_process import LISTENING, cli_argv, running_cli
from tests.receiving import DEADLINE, recv_exactly
from trio_mcast import testing

GROUP: Final = "239.1.2.3"
PORT: Final = 40777
#: Link kinds a LAN may hold: nothing that could reach a real interface.
LAN_KINDS: Final = {"veth", "bridge"}
CAP_SETFCAP: Final = 31
#: Addresses off every LAN: documentation prefixes and a public resolver.
OFF_LAN: Final = ("192.0.2.1", "8.8.8.8", "2001:db8::1", "2606:4700::1111")


def _links(host: testing.Host | None) -> list[dict[str, Any]]:
    argv = ["ip", "-json", "-details", "link", "show"]
    output = (
        host.run(argv).stdout
        if host is not None
        else subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    )
    links: list[dict[str, Any]] = json.loads(output)
    return links


EXPECTED_EXPORTS: Final = {
    "Host",
    "LAN_PREFIX4",
    "LAN_PREFIX6",
    "LanFactory",
    "MulticastLan",
    "NamespaceState",
    "NetworkSetupError",
    "enter_private_network",
    "entered",
    "in_private_network",
    "lan_prefixes",
    "namespace_state",
    "run_ip",
    "run_ip_batch",
    "spawn_host",
    "wait_for_multicast_routes",
}


def test_all_lists_exactly_the_public_names() -> None:
    assert set(testing.__all__) == EXPECTED_EXPORTS
    # Installed, pytest rewrites the package as a plugin's: it adds names that begin with "@".
    defined = {name for name in dir(testing) if name[0] not in "_@" and name != "annotations"}
    assert defined == EXPECTED_EXPORTS


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6], ids=["ipv4", "ipv6"])
async def test_a_host_sends_to_a_receiver_in_the_test_process(
    multicast_lan: testing.LanFactory, family: socket.AddressFamily
) -> None:
    lan = multicast_lan(hosts=2)
    group = GROUP if family == socket.AF_INET else "ff15::1:2"
    async with trio_mcast.open_multicast_receiver(group, PORT, interface=lan.bridge) as receiver:
        for host in lan.hosts:
            with host.sender(family) as out:
                out.sendto(host.name.encode(), (group, PORT))
        with trio.fail_after(DEADLINE):
            datagrams = [await receiver.receive() for _ in lan.hosts]
    assert {(d.payload, d.source[0]) for d in datagrams} == {
        (host.name.encode(), host.address(family)) for host in lan.hosts
    }


def test_hosts_have_their_addresses_and_run_programs(multicast_lan: testing.LanFactory) -> None:
    lan = multicast_lan(hosts=3, names=("a", "b"))
    assert [host.name for host in lan.hosts] == ["a", "b", "h3"]
    for host in lan.hosts:
        shown = host.run(["ip", "-brief", "address", "show", "eth0"])
        assert shown.returncode == 0
        assert host.ipv4 in shown.stdout
        assert host.ipv6 in shown.stdout
    with lan.hosts[0].popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE) as cat:
        assert cat.communicate(b"echo", timeout=DEADLINE)[0] == b"echo"


async def test_link_down_stops_delivery_and_link_up_resumes_it(
    multicast_lan: testing.LanFactory,
) -> None:
    lan = multicast_lan(hosts=1)
    (host,) = lan.hosts
    async with trio_mcast.open_multicast_receiver(GROUP, PORT, interface=lan.bridge) as receiver:
        with host.sender() as out:
            host.link_down()
            with pytest.raises(OSError, match=r"^\[Errno 101\] Network is unreachable$"):
                out.sendto(b"nowhere", (GROUP, PORT))
            host.link_up()
            out.sendto(b"after", (GROUP, PORT))
        with trio.fail_after(DEADLINE):
            assert (await receiver.receive()).payload == b"after"
    assert receiver.statistics().datagrams == 1


async def test_a_program_in_a_host_follows_its_recreated_link(
    multicast_lan: testing.LanFactory,
) -> None:
    lan = multicast_lan(hosts=1)
    (host,) = lan.hosts
    old_index = host.ifindex
    argv = cli_argv("recv", GROUP, "-p", str(PORT), "-i", "eth0", "--count", "1")
    async with running_cli(host.command(argv)) as recv:
        await recv.stderr.wait_for(LISTENING)
        host.recreate_link()
        assert host.ifindex != old_index
        await recv.stderr.wait_for("trio-mcast: eth0 is back")
        with netns.loopback_sender() as _, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            out.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(lan.ipv4))
            out.sendto(b"again", (GROUP, PORT))
        with trio.fail_after(DEADLINE):
            status, stdout, _ = await recv.finish()
    assert status == 0
    assert stdout[-1].endswith("again")


async def test_a_router_forwards_unicast_between_the_subnets(
    multicast_lan: testing.LanFactory,
) -> None:
    lan = multicast_lan(hosts=1, far_hosts=1)
    (near,), (far,) = lan.hosts, lan.far_hosts
    assert lan.router is not None
    assert far.prefix4 == testing.lan_prefixes(1)[0]
    for family in (socket.AF_INET, socket.AF_INET6):
        with near.socket(family) as listener, far.socket(family) as talker:
            listener.bind((near.address(family), PORT))
            talker.sendto(b"routed", (near.address(family), PORT))
            assert await recv_exactly(listener, 1) == [b"routed"]


def test_closing_removes_every_link_and_host_even_after_an_error() -> None:
    before = {name for _, name in socket.if_nameindex()}
    lan = testing.MulticastLan(hosts=2, far_hosts=1)
    created: set[str] = set()
    with pytest.raises(KeyError, match=r"^'boom'$"), lan:  # noqa: PT012 - the body is the point
        created = {name for _, name in socket.if_nameindex()} - before
        raise KeyError("boom")
    assert len(created) == 7  # two bridges, five ports
    assert {name for _, name in socket.if_nameindex()} == before
    assert all(host.process.poll() is not None for host in lan.all_hosts)
    assert len(lan.all_hosts) == 4


def test_bad_arguments_are_refused_before_anything_is_built() -> None:
    before = socket.if_nameindex()
    with pytest.raises(trio_mcast.InvalidArgumentError, match=r"^hosts=0 is out of range"):
        testing.MulticastLan(hosts=0)
    with pytest.raises(trio_mcast.InvalidArgumentError, match=r"^far_hosts must be an int"):
        testing.MulticastLan(far_hosts=True)
    with pytest.raises(trio_mcast.InvalidArgumentError, match=r"^names must be at most 1 "):
        testing.MulticastLan(hosts=1, names=("a", "b"))
    with testing.MulticastLan(hosts=1, subnet=7):
        with pytest.raises(trio_mcast.InvalidArgumentError, match=r"^subnet=7 is used by"):
            testing.MulticastLan(hosts=1, subnet=7).open()
        with testing.MulticastLan(hosts=1) as other:
            assert other.prefix4 != testing.lan_prefixes(7)[0]
    assert socket.if_nameindex() == before


def test_nothing_the_lan_builds_can_reach_a_real_interface(
    multicast_lan: testing.LanFactory,
) -> None:
    lan = multicast_lan(hosts=2, far_hosts=1)
    assert testing.in_private_network()
    machine = testing.namespace_state().left_inode
    namespaces = {os.stat("/proc/self/ns/net").st_ino}
    namespaces |= {os.stat(host.ns_path).st_ino for host in lan.all_hosts}
    assert machine not in namespaces
    assert len(namespaces) == 1 + len(lan.all_hosts)

    ours = _links(None)
    peers = {(link["ifindex"], link["link_index"]) for link in ours if "link_index" in link}
    for host in [None, *lan.all_hosts]:
        links = ours if host is None else _links(host)
        for link in links:
            kind = link.get("linkinfo", {}).get("info_kind")
            assert link["ifname"] == "lo" or kind in LAN_KINDS, link
            if kind == "veth" and host is not None:
                # Its peer is one of the ports in the test process's namespace.
                assert (link["link_index"], link["ifindex"]) in peers, link
        for address in OFF_LAN:
            argv = ["ip", "route", "get", address]
            routed = (
                host.run(argv)
                if host is not None
                else subprocess.run(argv, capture_output=True, check=False)
            )
            assert routed.returncode != 0, f"{address} is routed from {host}"
    assert len(peers) == len(lan.all_hosts) + 1  # a port per host, and the router has two


def test_a_lan_is_refused_outside_the_private_namespace(
    multicast_lan: testing.LanFactory,
) -> None:
    (host,) = multicast_lan(hosts=1).hosts
    with host.entered(), pytest.raises(testing.NetworkSetupError, match=r"^a MulticastLan is"):
        testing.MulticastLan(hosts=1).open()
    # A process that never entered a private namespace of its own is refused too.
    script = "from trio_mcast.testing import MulticastLan\nMulticastLan(hosts=1).open()\n"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert "NetworkSetupError: a MulticastLan is built only inside" in result.stderr
    assert "enter_private_network() has not been called" in result.stderr


def test_entering_is_refused_once_a_second_thread_runs() -> None:
    script = textwrap.dedent(
        """
        import threading, trio_mcast.testing as t
        stop = threading.Event()
        threading.Thread(target=stop.wait).start()
        print(t.enter_private_network().reason)
        stop.set()
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("the process already runs 2 threads")


UNPRIVILEGED_SCRIPT: Final = textwrap.dedent(
    """
    import os, socket
    from trio_mcast import testing
    state = testing.enter_private_network()
    assert state.active, state.reason
    with testing.MulticastLan(hosts=2) as lan:
        sender, receiver = lan.hosts
        with receiver.socket() as sock, sender.sender() as out:
            sock.bind(("239.9.8.7", 40999))
            request = socket.inet_aton("239.9.8.7") + socket.inet_aton(receiver.ipv4)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, request)
            sock.settimeout(10)
            out.sendto(b"no privileges", ("239.9.8.7", 40999))
            payload, source = sock.recvfrom(100)
    print(os.getuid(), payload.decode(), source[0])
    """
)


def test_it_works_without_privileges_through_a_user_namespace() -> None:
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is not installed")
    argv = [sys.executable, "-c", UNPRIVILEGED_SCRIPT]
    if os.geteuid() == 0:
        # Root without CAP_SYS_ADMIN and CAP_NET_ADMIN, for good: unshare(CLONE_NEWNET)
        # is refused, so the user-namespace path runs. CAP_SETFCAP stays because
        # mapping uid 0 into a user namespace needs it (an ordinary user maps its
        # own uid instead); the interpreter, under /root, is out of reach of others.
        argv = [setpriv, "--bounding-set=-all,+setfcap", "--inh-caps=-all,+setfcap", *argv]
        capabilities = subprocess.run(
            [*argv[:3], "grep", "CapEff", "/proc/self/status"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert capabilities.stdout.split() == ["CapEff:", f"{1 << CAP_SETFCAP:016x}"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "no", "privileges", "10.213.0.1"]


def test_the_suite_runs_in_its_private_namespace_with_the_plugin_loaded(
    pytestconfig: pytest.Config,
) -> None:
    assert testing.namespace_state().active
    assert pytestconfig.pluginmanager.has_plugin("trio_mcast")
    assert pytestconfig.getini("private_network") is True
    # Every LAN of the tests before this one was torn down.
    assert [name for _, name in socket.if_nameindex()] == ["lo"]


@pytest.mark.no_network
def test_importing_it_loads_neither_pytest_nor_the_command_line() -> None:
    script = (
        "import sys, trio_mcast.testing\n"
        "print(sorted({'pytest', 'trio_mcast._cli'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
