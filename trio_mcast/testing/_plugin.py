"""The pytest plugin: a ``multicast_lan`` fixture and a ``private_network`` marker.

pytest loads it in every run where trio-mcast is installed (the ``pytest11``
entry point ``trio_mcast``), and it does nothing until a test asks for it:
a test marked ``private_network`` or using ``multicast_lan``. Then, after
collection and before the first test, the whole test process moves into a
private network namespace (see
:func:`~trio_mcast.testing.enter_private_network` for why it cannot be one
test at a time). ``private_network = true`` in the pytest configuration
moves it at start-up instead. ``-p no:trio_mcast`` turns the plugin off.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Final

import pytest

from ._multicast_lan import LanFactory, MulticastLan
from ._namespace import enter_private_network, namespace_state

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

MARKER: Final = "private_network"
FIXTURE: Final = "multicast_lan"
INI_OPTION: Final = "private_network"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        INI_OPTION,
        type="bool",
        default=False,
        help="trio_mcast: move the whole test run into a private network namespace at start-up",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}: run inside a private network namespace, where no datagram can reach a"
        " real interface (trio_mcast.testing; the whole test process moves into it)",
    )
    if config.getini(INI_OPTION):
        # Before collection, while the process still has one thread.
        enter_private_network()


def _wants_network(item: pytest.Item) -> bool:
    return item.get_closest_marker(MARKER) is not None or FIXTURE in getattr(
        item, "fixturenames", ()
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if any(_wants_network(item) for item in items):
        enter_private_network()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if not _wants_network(item):
        return
    state = namespace_state()
    if state.active:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"this test needs a private network namespace: {state.reason}")
    pytest.skip(f"no private network namespace: {state.reason}")


@pytest.fixture
def multicast_lan() -> Iterator[LanFactory]:
    """Build :class:`~trio_mcast.testing.MulticastLan` s that are torn down after the test.

    Example:
        .. code-block:: python

            async def test_hosts_talk(multicast_lan):
                lan = multicast_lan(hosts=2)
                sender, receiver = lan.hosts
    """
    with contextlib.ExitStack() as stack:

        def build(
            hosts: int = 2,
            *,
            names: Sequence[str] = (),
            subnet: int | None = None,
            far_hosts: int = 0,
        ) -> MulticastLan:
            lan = MulticastLan(hosts, names=names, subnet=subnet, far_hosts=far_hosts)
            return stack.enter_context(lan)

        yield build
