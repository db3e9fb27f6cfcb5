"""The follower's decisions, from rtnetlink messages alone: tables and a model of the kernel."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_mcast._follow import BACKOFF_LAST, Action, Decision, Follower, Target, backoff
from trio_mcast._netlink import AddressMessage, LinkMessage, RouteMessage

pytestmark = pytest.mark.no_network

ADDRESS = ipaddress.IPv4Address("10.0.0.1")


def settle(follower: Follower, route: int | None = None) -> list[Decision]:
    """Carry out decisions as a kernel that never refuses would, until nothing is left."""
    done: list[Decision] = []
    while True:
        decision = follower.decide(0.0)
        if decision.action is Action.NOTHING:
            return done
        done.append(decision)
        if decision.action is Action.LOSE:
            follower.lost()
        elif decision.action is Action.REJOIN:
            assert decision.ifindex is not None
            follower.rejoined(decision.ifindex)
        elif decision.action is Action.QUERY_ROUTE:
            follower.route_found(route)
        else:
            raise AssertionError(decision)


def test_link_down_and_up_changes_nothing() -> None:
    follower = Follower(Target(name="eth0"), 3)
    follower.observe(LinkMessage(False, 3, "eth0", 0))
    follower.observe(LinkMessage(False, 3, "eth0", 0x41))
    assert settle(follower) == []
    assert (follower.joined_on, follower.waiting) == (3, False)


def test_a_recreated_name_is_lost_then_rejoined_on_its_new_index() -> None:
    follower = Follower(Target(name="eth0"), 3)
    follower.observe(LinkMessage(True, 3, "eth0", 0))
    assert settle(follower) == [Decision(Action.LOSE, 3)]
    assert follower.waiting
    follower.observe(LinkMessage(False, 4, "other", 0))
    assert settle(follower) == []
    follower.observe(LinkMessage(False, 9, "eth0", 0))
    assert settle(follower) == [Decision(Action.REJOIN, 9)]
    assert follower.joined_on == 9


def test_delete_and_recreate_in_one_batch_still_drops_the_stale_memberships_first() -> None:
    follower = Follower(Target(name="eth0"), 3)
    follower.observe(LinkMessage(True, 3, "eth0", 0))
    follower.observe(LinkMessage(False, 5, "eth0", 0))
    assert settle(follower) == [Decision(Action.LOSE, 3), Decision(Action.REJOIN, 5)]


def test_renaming_away_loses_and_renaming_back_returns() -> None:
    follower = Follower(Target(name="eth0"), 3)
    follower.observe(LinkMessage(False, 3, "wan0", 0))
    assert settle(follower) == [Decision(Action.LOSE, 3)]
    follower.observe(LinkMessage(False, 3, "eth0", 0))
    assert settle(follower) == [Decision(Action.REJOIN, 3)]


def test_an_index_is_followed_as_an_index() -> None:
    follower = Follower(Target(ifindex=3), 3)
    follower.observe(LinkMessage(True, 3, "eth0", 0))
    follower.observe(LinkMessage(False, 4, "eth0", 0))
    assert settle(follower) == [Decision(Action.LOSE, 3)]
    follower.observe(LinkMessage(False, 3, "eth9", 0))
    assert settle(follower) == [Decision(Action.REJOIN, 3)]


def test_an_address_is_followed_to_whichever_interface_holds_it() -> None:
    follower = Follower(Target(address=ADDRESS), 3)
    follower.observe(AddressMessage(False, 3, ipaddress.IPv4Address("10.0.0.9")))
    follower.observe(AddressMessage(True, 3, ipaddress.IPv4Address("10.0.0.9")))
    assert settle(follower) == []
    follower.observe(AddressMessage(True, 3, ADDRESS))
    assert settle(follower) == [Decision(Action.LOSE, 3)]
    follower.observe(AddressMessage(False, 7, ADDRESS))
    assert settle(follower) == [Decision(Action.REJOIN, 7)]
    # Moved while still joined: leave the old interface, join the new one.
    follower.observe(AddressMessage(False, 8, ADDRESS))
    assert settle(follower) == [Decision(Action.LOSE, 7), Decision(Action.REJOIN, 8)]


def test_the_kernels_choice_asks_for_the_route_once_something_appears() -> None:
    follower = Follower(Target(), 3)
    follower.observe(RouteMessage(False, 2, 3))
    assert settle(follower) == []
    follower.observe(LinkMessage(True, 3, "eth0", 0))
    assert settle(follower, route=None) == [Decision(Action.LOSE, 3), Decision(Action.QUERY_ROUTE)]
    # Deletions alone do not make a route appear.
    follower.observe(RouteMessage(True, 2, 3))
    assert settle(follower, route=None) == []
    follower.observe(LinkMessage(False, 6, "eth0", 0))
    assert settle(follower, route=None) == [Decision(Action.QUERY_ROUTE)]
    follower.observe(RouteMessage(False, 2, 6))
    assert settle(follower, route=6) == [Decision(Action.QUERY_ROUTE), Decision(Action.REJOIN, 6)]


def test_a_refused_rejoin_waits_with_growing_back_off_and_a_new_place_resets_it() -> None:
    follower = Follower(Target(name="eth0"), 3)
    follower.observe(LinkMessage(True, 3, "eth0", 0))
    follower.observe(LinkMessage(False, 4, "eth0", 0))
    assert follower.decide(10.0) == Decision(Action.LOSE, 3)
    follower.lost()
    assert follower.decide(10.0) == Decision(Action.REJOIN, 4)
    assert follower.rejoin_failed(10.0) == pytest.approx(10.1)
    waiting = follower.decide(10.05)
    assert (waiting.action, waiting.ifindex) == (Action.WAIT, 4)
    assert waiting.at == pytest.approx(10.1)
    assert follower.decide(10.1) == Decision(Action.REJOIN, 4)
    assert follower.rejoin_failed(10.1) == pytest.approx(10.3)
    follower.observe(LinkMessage(True, 4, "eth0", 0))
    follower.observe(LinkMessage(False, 5, "eth0", 0))
    assert follower.decide(10.11) == Decision(Action.REJOIN, 5)


@given(st.integers(min_value=-3, max_value=100))
def test_back_off_doubles_from_a_tenth_of_a_second_up_to_five(failures: int) -> None:
    delay = backoff(failures)
    assert 0 <= delay <= BACKOFF_LAST
    if failures >= 1:
        assert delay == min(0.1 * 2 ** (failures - 1), BACKOFF_LAST)
    else:
        assert delay == 0


def test_resync_after_an_overrun_finds_the_name_again() -> None:
    follower = Follower(Target(name="eth0"), 3)
    follower.resync({1: "lo", 8: "eth0"})
    assert settle(follower) == [Decision(Action.LOSE, 3), Decision(Action.REJOIN, 8)]
    follower.resync({1: "lo", 8: "eth0"})
    assert settle(follower) == []
    follower.resync({1: "lo"})
    assert settle(follower) == [Decision(Action.LOSE, 8)]


@dataclass
class Kernel:
    """Links as the kernel has them, and the messages it sends when they change."""

    links: dict[int, str] = field(default_factory=lambda: {1: "lo", 2: "eth0"})
    next_index: int = 3

    def index_of(self, name: str) -> int | None:
        found = [index for index, link_name in self.links.items() if link_name == name]
        return found[0] if found else None


OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["create", "delete", "rename", "down"]), st.sampled_from(["eth0", "eth1"])
    ),
    max_size=30,
)


@given(OPERATIONS, st.booleans())
def test_memberships_end_on_the_named_interface_whatever_happens(
    operations: list[tuple[str, str]], overrun: bool
) -> None:
    kernel = Kernel()
    follower = Follower(Target(name="eth0"), 2)
    rejoins = 0
    for operation, name in operations:
        messages: list[LinkMessage] = []
        index = kernel.index_of(name)
        if operation == "create" and index is None:
            index = kernel.next_index
            kernel.next_index += 1
            kernel.links[index] = name
            messages.append(LinkMessage(False, index, name, 0))
        elif operation == "delete" and index is not None:
            del kernel.links[index]
            messages.append(LinkMessage(True, index, name, 0))
        elif operation == "rename" and index is not None:
            other = "eth1" if name == "eth0" else "eth0"
            if kernel.index_of(other) is None:
                kernel.links[index] = other
                messages.append(LinkMessage(False, index, other, 0))
        elif operation == "down" and index is not None:
            messages.append(LinkMessage(False, index, name, 0))
        before = follower.joined_on
        if overrun:
            follower.resync(kernel.links)
        else:
            for message in messages:
                follower.observe(message)
        decisions = settle(follower)
        rejoins += sum(decision.action is Action.REJOIN for decision in decisions)
        # Exactly where the name is now, and nothing done when it did not move.
        assert follower.joined_on == kernel.index_of("eth0")
        if follower.joined_on == before and before is not None:
            assert decisions == []
    assert rejoins <= len(operations)
