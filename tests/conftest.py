"""Test configuration: Hypothesis profiles and the private network.

The whole test process moves into a private network namespace before any
test runs, so plain ``pytest`` and ``tox`` never send a datagram through a
real interface. Tests marked ``no_network`` run anyway; every other test is
skipped when no namespace can be had (and fails when ``CI=true``).
"""

from __future__ import annotations

import contextlib
import os
import socket
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

from tests import netns

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "ci",
    max_examples=500,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") == "true" else "dev")
)


def pytest_configure(config: pytest.Config) -> None:
    # Before collection, while the process still has one thread.
    netns.enter_private_network()


@pytest.fixture(autouse=True)
def _private_network_guard(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("no_network") is not None:
        return
    state = netns.namespace_state()
    if state.active:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"network test needs a private network namespace: {state.reason}")
    pytest.skip(f"no private network namespace: {state.reason}")


@pytest.fixture
def loopback_sender() -> Iterator[socket.socket]:
    """An IPv4 UDP socket that sends multicast out of ``lo`` (127.0.0.1)."""
    with netns.loopback_sender() as sock:
        yield sock


@pytest.fixture
def ipv6_link() -> Iterator[int]:
    """A veth pair in the test namespace for single-host IPv6 multicast.

    Returns the index of ``tm6a`` (address fd99:6::1, no DAD); join and send
    on that index and the kernel loops multicast back to local receivers.
    """
    netns.run_ip("link", "add", "tm6a", "type", "veth", "peer", "name", "tm6b")
    try:
        netns.run_ip("-6", "addr", "add", "fd99:6::1/64", "dev", "tm6a", "nodad")
        netns.run_ip("link", "set", "tm6a", "up")
        netns.run_ip("link", "set", "tm6b", "up")
        netns.wait_for_multicast_routes("tm6a")
        yield socket.if_nametoindex("tm6a")
    finally:
        with contextlib.suppress(RuntimeError):
            netns.run_ip("link", "del", "tm6a")


@pytest.fixture
def make_lan() -> Iterator[Callable[..., netns.Lan]]:
    """A factory for LANs: ``make_lan(3)`` gives three hosts on a bridge."""
    lans: list[netns.Lan] = []

    def build(count: int, *, names: tuple[str, ...] = (), subnet: int = 0) -> netns.Lan:
        lan = netns.build_lan(count, names=names, subnet=subnet)
        lans.append(lan)
        return lan

    try:
        yield build
    finally:
        for lan in lans:
            lan.close()
