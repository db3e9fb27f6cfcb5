"""The pure source-filter logic: which steps change a membership, and what it is after them."""

from __future__ import annotations

import re
from ipaddress import IPv4Address
from typing import TYPE_CHECKING, Final

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_mcast import InvalidGroupError, InvalidSourceError, Membership
from trio_mcast._membership import (
    EXCLUDE,
    INCLUDE,
    Action,
    Filter,
    Step,
    after,
    block_steps,
    inverse,
    join_steps,
    leave_steps,
    unblock_steps,
)

if TYPE_CHECKING:
    from trio_mcast._validate import IPAddress

pytestmark = pytest.mark.no_network

GROUP: Final = IPv4Address("232.1.1.1")
A, B, C = (IPv4Address(f"10.0.0.{n}") for n in (1, 2, 3))
SOURCES: Final = st.sampled_from([IPv4Address(f"10.0.0.{n}") for n in range(1, 7)])
SOURCE_TUPLES: Final = st.lists(SOURCES, unique=True, max_size=4).map(tuple)
FILTERS: Final = st.none() | st.builds(
    Filter, st.sampled_from([INCLUDE, EXCLUDE]), SOURCE_TUPLES
).filter(lambda f: f.mode == EXCLUDE or bool(f.sources))
OPERATIONS: Final = st.sampled_from(["join", "join-exclude", "leave", "block", "unblock"])


def exact(message: str) -> str:
    return f"^{re.escape(message)}$"


def _apply(current: Filter | None, steps: list[Step]) -> Filter | None:
    for step in steps:
        current = after(current, step)
    return current


def test_a_new_group_joins_any_source_then_blocks_what_it_excludes() -> None:
    steps = join_steps(GROUP, None, (), (A, B), value=GROUP)
    assert steps == [Step(Action.JOIN), Step(Action.BLOCK, A), Step(Action.BLOCK, B)]
    assert _apply(None, steps) == Filter(EXCLUDE, (A, B))


def test_a_new_source_specific_group_joins_each_source() -> None:
    steps = join_steps(GROUP, None, (A, B), (), value=GROUP)
    assert steps == [Step(Action.JOIN_SOURCE, A), Step(Action.JOIN_SOURCE, B)]
    assert _apply(None, steps) == Filter(INCLUDE, (A, B))


def test_joining_the_same_way_again_adds_only_new_sources() -> None:
    assert join_steps(GROUP, Filter(INCLUDE, (A,)), (A, B), (), value=GROUP) == [
        Step(Action.JOIN_SOURCE, B)
    ]
    assert join_steps(GROUP, Filter(EXCLUDE, (A,)), (), (), value=GROUP) == []
    assert join_steps(GROUP, Filter(EXCLUDE, (A,)), (), (A,), value=GROUP) == []


@pytest.mark.parametrize(
    ("current", "sources", "exclude", "message"),
    [
        (
            Filter(EXCLUDE, ()),
            (A,),
            (),
            "group '232.1.1.1' is already joined for any source; leave it first to join it"
            " for specific sources",
        ),
        (
            Filter(INCLUDE, (A, B)),
            (),
            (),
            "group '232.1.1.1' is already joined for sources 10.0.0.1, 10.0.0.2; leave it"
            " first to join it for any source",
        ),
        (
            Filter(EXCLUDE, (A,)),
            (),
            (B,),
            "group '232.1.1.1' is already joined for any source but 10.0.0.1; change what it"
            " excludes with block() and unblock()",
        ),
    ],
    ids=["any-to-include", "include-to-any", "new-exclude-list"],
)
def test_a_mode_switch_is_refused_with_what_to_do_instead(
    current: Filter, sources: tuple[IPAddress, ...], exclude: tuple[IPAddress, ...], message: str
) -> None:
    with pytest.raises(InvalidGroupError, match=exact(message)):
        join_steps(GROUP, current, sources, exclude, value="232.1.1.1")


def test_block_and_unblock_work_on_any_source_memberships_only() -> None:
    assert block_steps(GROUP, Filter(EXCLUDE, ()), C, value=GROUP) == [Step(Action.BLOCK, C)]
    assert block_steps(GROUP, Filter(EXCLUDE, (C,)), C, value=GROUP) == []
    assert unblock_steps(GROUP, Filter(EXCLUDE, (C,)), C, value=GROUP) == [Step(Action.UNBLOCK, C)]
    with pytest.raises(
        InvalidSourceError,
        match=exact(
            "group '232.1.1.1' is joined for sources 10.0.0.1: block() works on any-source"
            " memberships; to stop hearing 10.0.0.1, leave it:"
            " leave('232.1.1.1', source='10.0.0.1')"
        ),
    ):
        block_steps(GROUP, Filter(INCLUDE, (A,)), A, value=GROUP)
    with pytest.raises(
        InvalidSourceError,
        match=exact("source 10.0.0.3 is not blocked on group '232.1.1.1' (blocked: 10.0.0.1)"),
    ):
        unblock_steps(GROUP, Filter(EXCLUDE, (A,)), C, value=GROUP)
    with pytest.raises(InvalidGroupError, match=r"^group '232\.1\.1\.1' is not joined"):
        block_steps(GROUP, None, C, value=GROUP)


def test_leaving_one_source_keeps_the_others_and_the_last_leaves_the_group() -> None:
    both = Filter(INCLUDE, (A, B))
    assert leave_steps(GROUP, both, A, value=GROUP) == [Step(Action.LEAVE_SOURCE, A)]
    assert after(both, Step(Action.LEAVE_SOURCE, A)) == Filter(INCLUDE, (B,))
    assert after(Filter(INCLUDE, (B,)), Step(Action.LEAVE_SOURCE, B)) is None
    assert leave_steps(GROUP, Filter(EXCLUDE, (C,)), None, value=GROUP) == [Step(Action.LEAVE)]
    with pytest.raises(
        InvalidSourceError,
        match=exact(
            "group '232.1.1.1' is joined for any source: leave(group, source=...) drops a"
            " source of a source-specific membership; to stop hearing 10.0.0.3, block it:"
            " block('232.1.1.1', '10.0.0.3')"
        ),
    ):
        leave_steps(GROUP, Filter(EXCLUDE, ()), C, value=GROUP)
    with pytest.raises(
        InvalidSourceError,
        match=exact("source 10.0.0.3 is not one of the sources of group '232.1.1.1' (10.0.0.1)"),
    ):
        leave_steps(GROUP, Filter(INCLUDE, (A,)), C, value=GROUP)


def test_the_public_value_is_frozen_text() -> None:
    membership = Filter(EXCLUDE, (A, B)).public(GROUP)
    assert membership == Membership("232.1.1.1", "exclude", ("10.0.0.1", "10.0.0.2"))
    with pytest.raises(AttributeError):
        membership.mode = "include"  # type: ignore[misc]  # frozen on purpose: the test proves it


def _steps_for(operation: str, current: Filter | None, source: IPAddress) -> list[Step]:
    if operation == "join":
        return join_steps(GROUP, current, (source,), (), value=GROUP)
    if operation == "join-exclude":
        return join_steps(GROUP, current, (), (source,), value=GROUP)
    if operation == "leave":
        return leave_steps(GROUP, current, source if current else None, value=GROUP)
    if operation == "block":
        return block_steps(GROUP, current, source, value=GROUP)
    return unblock_steps(GROUP, current, source, value=GROUP)


@given(FILTERS, st.lists(st.tuples(OPERATIONS, SOURCES), max_size=12))
def test_every_plan_keeps_a_consistent_filter_and_can_be_undone(
    start: Filter | None, operations: list[tuple[str, IPAddress]]
) -> None:
    current = start
    for operation, source in operations:
        try:
            steps = _steps_for(operation, current, source)
        except (InvalidGroupError, InvalidSourceError):
            continue
        changed = _apply(current, steps)
        # Undoing the steps in reverse order gives the filter back: what a
        # refused step's rollback relies on.
        undone = _apply(changed, [inverse(step) for step in reversed(steps)])
        if current is not None and changed is not None and current.mode == changed.mode:
            assert undone is not None
            assert set(undone.sources) == set(current.sources)
        current = changed
        if current is not None:
            # Never an empty include list, never a source twice.
            assert current.mode == EXCLUDE or current.sources
            assert len(set(current.sources)) == len(current.sources)


@given(st.sampled_from(list(Action)), SOURCES)
def test_each_action_has_an_inverse_that_restores_it(action: Action, source: IPAddress) -> None:
    step = Step(action, None if action in (Action.JOIN, Action.LEAVE) else source)
    assert inverse(inverse(step)) == step
    assert inverse(step) != step
