"""Test configuration: Hypothesis profiles and the private network.

The whole test process moves into a private network namespace before any
test runs (``trio_mcast.testing``'s pytest plugin, with ``private_network =
true``), so plain ``pytest`` and ``tox`` never send a datagram through a
real interface. Tests marked ``no_network`` run anyway; every other test is
marked ``private_network``: skipped when no namespace can be had, and failed
when ``CI=true``. LANs come from the plugin's ``multicast_lan`` fixture.
"""

from __future__ import annotations

import contextlib
import os
import socket
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

from tests import netns
from trio_mcast import testing

if TYPE_CHECKING:
    from collections.abc import Iterator

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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Every test but those marked no_network needs the private namespace, which
    # trio_mcast.testing's plugin gives (private_network = true in pyproject).
    for item in items:
        if item.get_closest_marker("no_network") is None:
            item.add_marker(pytest.mark.private_network)


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
    testing.run_ip("link", "add", "tm6a", "type", "veth", "peer", "name", "tm6b")
    try:
        testing.run_ip("-6", "addr", "add", "fd99:6::1/64", "dev", "tm6a", "nodad")
        testing.run_ip("link", "set", "tm6a", "up")
        testing.run_ip("link", "set", "tm6b", "up")
        testing.wait_for_multicast_routes("tm6a")
        yield socket.if_nametoindex("tm6a")
    finally:
        with contextlib.suppress(RuntimeError):
            testing.run_ip("link", "del", "tm6a")
