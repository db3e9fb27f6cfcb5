"""``doctor`` names each fault injected into a namespace network, with its fix.

Most faults are made on ``LINK``, a veth in this namespace whose other end
(``PEER``) is a host that can send; ``doctor`` runs as the command line, in
this namespace, and its ``jsonl`` findings are read back. The healthy case
runs it inside a LAN host the way ``ip netns exec`` does: in a private mount
namespace with ``/sys`` mounted afresh.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pytest
import trio

import trio_mcast
from tests import netns
from tests.cli_process import cli_argv
from tests.reliability._support import wait_until
from trio_mcast import testing
from trio_mcast._cli import EXIT_OK, EXIT_PROBLEM
from trio_mcast._doctor import CHECKS

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

REPOSITORY: Final = Path(__file__).resolve().parents[2]
PORT: Final = 40921
LINK: Final = "tmdoc0"
PEER: Final = "eth1"
OURS: Final = "10.219.0.1"
THEIRS: Final = "10.219.0.2"
GROUP: Final = "239.63.0.1"
SSM_GROUP: Final = "232.63.0.1"
#: Behind the router host, on a subnet of its own.
FAR_SOURCE: Final = "10.220.0.5"
MIB: Final = 1 << 20


@dataclass
class Doctor:
    """What one ``doctor`` run said."""

    returncode: int
    findings: dict[str, dict[str, object]]
    stderr: str

    def status(self, check: str) -> object:
        return self.findings[check]["status"]


def run_doctor(*args: str, wrap: Callable[[list[str]], list[str]] = list) -> Doctor:
    argv = wrap(cli_argv("doctor", *args, "--format", "jsonl"))
    result = subprocess.run(
        argv, capture_output=True, text=True, cwd=REPOSITORY, timeout=60, check=False
    )
    findings = {}
    for line in result.stdout.splitlines():
        record = json.loads(line)
        findings[record["check"]] = record
    assert "Traceback" not in result.stderr, result.stderr
    return Doctor(result.returncode, findings, result.stderr)


def assert_problem(doctor: Doctor, check: str, fix: str) -> None:
    """``check`` is a problem with exactly ``fix``, and doctor exited with its code."""
    found = doctor.findings[check]
    assert (found["status"], found["fix"]) == ("problem", fix), doctor.findings
    assert doctor.returncode == EXIT_PROBLEM


@pytest.fixture
def router() -> Iterator[testing.Host]:
    """A host linked to this namespace by ``LINK`` (it is at THEIRS), empty otherwise."""
    host = testing.spawn_host("router", 2, interface=PEER)
    try:
        testing.run_ip_batch(
            [
                f"link add {LINK} type veth peer name {PEER} netns {host.pid}",
                f"addr add {OURS}/24 dev {LINK}",
                f"link set {LINK} up",
                f"route add 239.63.0.0/16 dev {LINK}",
                f"route add 232.63.0.0/16 dev {LINK}",
            ]
        )
        testing.run_ip_batch(
            [
                f"addr add {THEIRS}/24 dev {PEER}",
                f"link set {PEER} up",
                f"route add 224.0.0.0/4 dev {PEER}",
            ],
            netns_pid=host.pid,
        )
        testing.wait_for_multicast_routes(PEER, netns_pid=host.pid)
        yield host
    finally:
        with contextlib.suppress(RuntimeError):
            testing.run_ip("link", "del", LINK)
        host.stop()


@contextlib.contextmanager
def sysctl(name: str, value: str) -> Iterator[None]:
    path = Path("/proc/sys", *name.split("."))
    before = path.read_text()
    path.write_text(value)
    try:
        yield
    finally:
        path.write_text(before)


def test_a_down_interface(router: testing.Host) -> None:
    testing.run_ip("link", "set", LINK, "down")
    doctor = run_doctor(GROUP, "-p", str(PORT), "-i", LINK, "--listen", "0")
    assert_problem(doctor, "interface", f"ip link set {LINK} up")


def test_multicast_turned_off(router: testing.Host) -> None:
    testing.run_ip("link", "set", LINK, "multicast", "off")
    doctor = run_doctor(GROUP, "-p", str(PORT), "-i", LINK, "--listen", "0")
    assert_problem(doctor, "interface", f"ip link set {LINK} multicast on")


def test_no_address(router: testing.Host) -> None:
    testing.run_ip("addr", "flush", "dev", LINK)
    doctor = run_doctor(GROUP, "-p", str(PORT), "-i", LINK, "--listen", "0")
    assert_problem(doctor, "interface", f"ip addr add ADDRESS/PREFIX dev {LINK}")


def test_no_route_for_the_group(router: testing.Host) -> None:
    doctor = run_doctor("239.64.0.1", "-p", str(PORT), "--listen", "0")
    assert_problem(doctor, "route", "ip route add 224.0.0.0/4 dev IFACE")
    assert doctor.status("interface") == "problem"


def test_strict_rp_filter_with_the_source_behind_a_router(router: testing.Host) -> None:
    # The router's other side: the source's subnet, with the source on it.
    source = testing.spawn_host("source", 5, interface="eth0")
    try:
        testing.run_ip_batch(
            [
                f"link add eth2 type veth peer name eth0 netns {source.pid}",
                "addr add 10.220.0.1/24 dev eth2",
                "link set eth2 up",
            ],
            netns_pid=router.pid,
        )
        testing.run_ip_batch(
            [f"addr add {FAR_SOURCE}/24 dev eth0", "link set eth0 up"], netns_pid=source.pid
        )
        # This namespace reaches 10.220.0.0/24 through another link, not LINK.
        testing.run_ip_batch(
            [
                "link add tmdoc2 type veth peer name tmdoc3",
                "addr add 10.221.0.1/24 dev tmdoc2",
                "link set tmdoc2 up",
                "link set tmdoc3 up",
                "route add 10.220.0.0/24 via 10.221.0.2 dev tmdoc2 onlink",
            ]
        )
        args = (SSM_GROUP, "-p", str(PORT), "-i", LINK, "-s", FAR_SOURCE, "--listen", "0")
        with sysctl(f"net.ipv4.conf.{LINK}.rp_filter", "1"):
            doctor = run_doctor(*args)
            assert_problem(
                doctor,
                "rp_filter",
                f"sysctl -w net.ipv4.conf.{LINK}.rp_filter=2 net.ipv4.conf.all.rp_filter=2",
            )
            # Routed back through the router on LINK, the same source passes.
            testing.run_ip("route", "replace", "10.220.0.0/24", "via", THEIRS, "dev", LINK)
            assert run_doctor(*args).status("rp_filter") == "ok"
    finally:
        with contextlib.suppress(RuntimeError):
            testing.run_ip("link", "del", "tmdoc2")
        source.stop()


def test_forced_igmpv2_with_a_source(router: testing.Host) -> None:
    with sysctl(f"net.ipv4.conf.{LINK}.force_igmp_version", "2"):
        doctor = run_doctor(SSM_GROUP, "-p", str(PORT), "-i", LINK, "-s", THEIRS, "--listen", "0")
    assert_problem(doctor, "ssm", f"sysctl -w net.ipv4.conf.{LINK}.force_igmp_version=0")


def test_a_membership_limit_below_the_groups_asked(router: testing.Host) -> None:
    with sysctl("net.ipv4.igmp_max_memberships", "0"):
        doctor = run_doctor(GROUP, "-p", str(PORT), "-i", LINK, "--listen", "0.2")
    assert_problem(doctor, "limits", "sysctl -w net.ipv4.igmp_max_memberships=20")
    # The live join was refused for the same reason, and says so.
    assert doctor.status("listen") == "problem"


def test_a_snooping_bridge_without_a_querier(multicast_lan: testing.LanFactory) -> None:
    lan = multicast_lan(1)
    testing.run_ip(
        "link", "set", lan.bridge, "type", "bridge", "mcast_snooping", "1", "mcast_querier", "0"
    )
    doctor = run_doctor(GROUP, "-p", str(PORT), "-i", lan.bridge, "--listen", "0")
    assert_problem(
        doctor,
        "bridge",
        f"ip link set {lan.bridge} type bridge mcast_querier 1 (or mcast_snooping 0)",
    )
    testing.run_ip("link", "set", lan.bridge, "type", "bridge", "mcast_querier", "1")
    assert (
        run_doctor(GROUP, "-p", str(PORT), "-i", lan.bridge, "--listen", "0").status("bridge")
        == "ok"
    )


def test_another_socket_with_reuseport_on_the_port(router: testing.Host) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("0.0.0.0", PORT))
        doctor = run_doctor(GROUP, "-p", str(PORT), "-i", LINK, "--listen", "0")
    assert_problem(
        doctor,
        "port",
        f"stop SO_REUSEPORT in the program holding port {PORT} (ss -ulpn 'sport = :{PORT}'),"
        " or give each receiver its own port",
    )
    assert doctor.findings["port"]["evidence"] == [f"UDP sockets on port {PORT}: 1"]


@contextlib.asynccontextmanager
async def diagnosing(
    group: str, family: socket.AddressFamily, listen: float
) -> AsyncIterator[list[tuple[trio_mcast.Finding, ...]]]:
    """``diagnose()`` on LINK in the background; the block runs once its listen has joined.

    Yields a list that holds the findings once ``diagnose()`` has returned;
    leaving the block waits for that.
    """
    done: list[tuple[trio_mcast.Finding, ...]] = []

    async def run() -> None:
        done.append(await trio_mcast.diagnose(group, PORT, interface=LINK, listen=listen))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run)
        await wait_until(
            lambda: (LINK, group) in netns.memberships(family), "the listen has joined"
        )
        yield done


async def test_drops_during_the_listen(router: testing.Host) -> None:
    """A burst the listen cannot read in time: the kernel drops, and doctor names it."""
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(OURS))
    with sender:
        async with diagnosing(GROUP, socket.AF_INET, 1.0) as done:
            # Sent while this task holds the event loop: the listen cannot read
            # until the burst is over, so the socket's buffer overflows.
            payload = bytes(1400)
            for _ in range(2000):
                sender.sendto(payload, (GROUP, PORT))
    (findings,) = done
    found = {finding.check: finding for finding in findings}
    assert found["buffers"].status == "problem"
    assert found["buffers"].fix is not None
    assert "net.core.rmem_max" in found["buffers"].fix
    assert found["listen"].status == "ok"


def test_a_healthy_lan_exits_0_and_hears_the_sender(multicast_lan: testing.LanFactory) -> None:
    receiver, sender_host = multicast_lan(2, names=("receiver", "sender")).hosts
    group = "239.63.1.1"

    def in_receiver(argv: list[str]) -> list[str]:
        # As 'ip netns exec' does: a mount namespace of its own, with /sys
        # showing the host's interfaces, not this namespace's.
        script = 'mount -t sysfs sysfs /sys && exec "$@"'
        return receiver.command(["unshare", "--mount", "sh", "-c", script, "sh", *argv])

    with sender_host.sender(socket.AF_INET) as sender:
        command = in_receiver(
            cli_argv("doctor", group, "-p", str(PORT), "-i", "eth0", "--listen", "1.5")
        )
        command += ["--format", "jsonl"]
        with subprocess.Popen(
            command, cwd=REPOSITORY, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as doctor:
            # Until it has exited: it joins after reading the host, then listens.
            while doctor.poll() is None:
                sender.sendto(b"hello", (group, PORT))
                with contextlib.suppress(subprocess.TimeoutExpired):
                    doctor.wait(0.01)
            output, errors = doctor.communicate()
    assert "Traceback" not in errors, errors
    findings = {record["check"]: record for record in map(json.loads, output.splitlines())}
    assert doctor.returncode == EXIT_OK, findings
    assert {check: found["status"] for check, found in findings.items()} == {
        **dict.fromkeys(CHECKS, "ok"),
        "firewall": findings["firewall"]["status"],
    }
    assert findings["firewall"]["status"] in ("ok", "unknown", "warning")
    evidence = findings["listen"]["evidence"]
    assert isinstance(evidence, list)
    assert evidence[0].startswith(f"{sender_host.ipv4}: ")
    assert "TTL 1" in evidence[0]
    assert "membership listed by the kernel: yes" in evidence


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["10.0.0.1", "--listen", "0"],
            "group '10.0.0.1' is not a multicast address",
        ),
        (
            ["ff02::1", "--listen", "0"],
            "group 'ff02::1' is link-scoped, so it needs an interface: pass --interface",
        ),
        (
            ["239.1.1.1", "--listen", "-1"],
            "--listen must be a number of seconds from 0 to 3600, got -1.0",
        ),
        (["239.1.1.1", "-s", "ff15::1", "--listen", "0"], "source"),
    ],
)
def test_bad_input_is_one_line_and_a_usage_code(args: list[str], message: str) -> None:
    result = subprocess.run(
        cli_argv("doctor", *args), capture_output=True, text=True, cwd=REPOSITORY, check=False
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("trio-mcast: error: ")
    assert message in result.stderr
    assert result.stdout == ""


async def test_ipv6_healthy_then_forced_mldv1(router: testing.Host) -> None:
    testing.run_ip("-6", "addr", "add", "fd99:219::1/64", "dev", LINK, "nodad")
    router.ip("-6", "addr", "add", "fd99:219::2/64", "dev", PEER, "nodad")
    testing.wait_for_multicast_routes(PEER, netns_pid=router.pid)
    group = "ff15::63:1"
    sender = router.socket(socket.AF_INET6)
    with testing.entered(router.ns_path):
        sender.setsockopt(
            socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, socket.if_nametoindex(PEER)
        )
    with sender:
        async with diagnosing(group, socket.AF_INET6, 0.5) as done:
            while not done:
                sender.sendto(b"hello", (group, PORT))
                await trio.sleep(0.01)
    (findings,) = done
    statuses = {finding.check: finding.status for finding in findings}
    assert statuses == {**dict.fromkeys(CHECKS, "ok"), "firewall": statuses["firewall"]}
    listen = findings[-1]
    assert listen.evidence[0].startswith("fd99:219::2: ")
    assert "hop limit 1" in listen.evidence[0]

    with sysctl(f"net.ipv6.conf.{LINK}.force_mld_version", "1"):
        doctor = run_doctor(
            "ff35::63:1", "-p", str(PORT), "-i", LINK, "-s", "fd99:219::2", "--listen", "0"
        )
    assert_problem(doctor, "ssm", f"sysctl -w net.ipv6.conf.{LINK}.force_mld_version=0")


def igmp_query() -> bytes:
    """An IGMPv2 general query: type 0x11, max response 10 s, checksum, group 0."""
    body = struct.pack("!BBH4s", 0x11, 100, 0, bytes(4))
    total = sum(struct.unpack("!4H", body))
    total = (total & 0xFFFF) + (total >> 16)
    return struct.pack("!BBH4s", 0x11, 100, ~total & 0xFFFF, bytes(4))


async def test_the_listen_sees_a_querier_on_the_link(router: testing.Host) -> None:
    with testing.entered(router.ns_path):
        querier = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_IGMP)
    with querier:
        querier.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(THEIRS))
        async with diagnosing(GROUP, socket.AF_INET, 0.5) as done:
            while not done:
                querier.sendto(igmp_query(), ("224.0.0.1", 0))
                await trio.sleep(0.05)
    (findings,) = done
    (listen,) = [finding for finding in findings if finding.check == "listen"]
    assert "membership query seen: yes" in listen.evidence
