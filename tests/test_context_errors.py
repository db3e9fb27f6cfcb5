"""What comes out of the package's context managers: one exception, as itself.

A body's exception must leave ``open_multicast_receiver``,
``serve_multicast`` and ``open_multicast_sender`` as the very object that was
raised, whatever is pending around the block: no group around it, and a
user's own exception group not wrapped a second time.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Final

import pytest
import trio
import trio.testing

import trio_mcast
from tests.receiving import send_loopback

if sys.version_info < (3, 11):
    from exceptiongroup import ExceptionGroup

if TYPE_CHECKING:
    import socket
    from collections.abc import Callable
    from contextlib import AbstractAsyncContextManager

PORT: Final = 40711


class BodyError(Exception):
    pass


async def _what_leaves(
    block: AbstractAsyncContextManager[object], raised: BaseException, *, cancel_first: bool
) -> object:
    """What leaves ``block`` when its body raises, caught inside the (maybe cancelled) scope.

    It is caught there because a cancelled trio scope rebuilds any exception
    group that passes through it: that copy is trio's doing, not ours.
    """
    with trio.CancelScope() as scope:
        try:
            async with block:
                if cancel_first:
                    scope.cancel()
                raise raised
        except BaseException as exc:
            return exc
    raise AssertionError("the block did not raise")


def _receiver(group: str) -> AbstractAsyncContextManager[object]:
    return trio_mcast.open_multicast_receiver(group, PORT, interface="lo")


def _sender(group: str) -> AbstractAsyncContextManager[object]:
    return trio_mcast.open_multicast_sender(group, PORT, interface="lo")


BODIES: Final = pytest.mark.parametrize("block", [_receiver, _sender], ids=["receiver", "sender"])
CANCEL_FIRST: Final = pytest.mark.parametrize(
    "cancel_first", [False, True], ids=["plain", "outer-scope-cancelled"]
)


@BODIES
@CANCEL_FIRST
async def test_a_body_exception_comes_out_as_itself(
    block: Callable[[str], AbstractAsyncContextManager[object]], cancel_first: bool
) -> None:
    raised = BodyError("from the body")
    assert await _what_leaves(block("239.71.0.1"), raised, cancel_first=cancel_first) is raised


@BODIES
@CANCEL_FIRST
async def test_a_body_exception_group_comes_out_as_that_same_group(
    block: Callable[[str], AbstractAsyncContextManager[object]], cancel_first: bool
) -> None:
    raised = ExceptionGroup("the user's own", [BodyError("one"), KeyError("two")])
    assert await _what_leaves(block("239.71.0.2"), raised, cancel_first=cancel_first) is raised


async def test_an_outer_cancellation_still_cancels_a_body_that_returns() -> None:
    with trio.CancelScope() as scope:
        async with trio_mcast.open_multicast_receiver("239.71.0.3", PORT, interface="lo"):
            scope.cancel()
        raise AssertionError("the cancelled scope went on past the block")
    assert scope.cancelled_caught


async def test_a_consumer_cancelled_by_an_outer_scope_is_cancelled_not_failed() -> None:
    with trio.move_on_after(0.01) as scope:
        async with trio_mcast.open_multicast_receiver(
            "239.71.0.4", PORT, interface="lo"
        ) as receiver:
            await receiver.receive()
    assert scope.cancelled_caught


class _SendWhenStarted:
    """A ``task_status`` that sends a datagram once ``serve_multicast`` has joined."""

    def __init__(self, sender: socket.socket, group: str) -> None:
        self._sender = sender
        self._group = group
        self.receiver: trio_mcast.MulticastReceiver | None = None

    def started(self, value: trio_mcast.MulticastReceiver) -> None:
        self.receiver = value
        send_loopback(self._sender, self._group, [b"go"], PORT)


@CANCEL_FIRST
async def test_a_handler_exception_leaves_serve_multicast_as_itself(
    loopback_sender: socket.socket, cancel_first: bool
) -> None:
    raised = BodyError("from the handler")

    async def handler(datagram: trio_mcast.Datagram) -> None:
        assert datagram.payload == b"go"
        if cancel_first:
            scope.cancel()
        raise raised

    status = _SendWhenStarted(loopback_sender, "239.71.0.5")
    with (
        trio.CancelScope() as scope,
        pytest.raises(BodyError, match=r"^from the handler$") as caught,
    ):
        await trio_mcast.serve_multicast(
            handler,
            "239.71.0.5",
            PORT,
            interface="lo",
            task_status=status,  # type: ignore[arg-type]  # duck-typed like trio's own
        )
    assert caught.value is raised
    assert status.receiver is not None


async def test_receive_after_the_block_exited_raises_closed_resource_error(
    loopback_sender: socket.socket,
) -> None:
    async with trio_mcast.open_multicast_receiver("239.71.0.6", PORT, interface="lo") as receiver:
        # Still queued when the block exits: gone with it, counted as dropped.
        send_loopback(loopback_sender, "239.71.0.6", [b"one", b"two"], PORT)
        assert (await receiver.receive()).payload == b"one"
        await trio.testing.wait_all_tasks_blocked()
    with pytest.raises(trio.ClosedResourceError, match=r"^the receiver's socket is closed$"):
        await receiver.receive()
    with pytest.raises(trio.ClosedResourceError):
        await receiver.receive_batch(4)
    with pytest.raises(trio.ClosedResourceError):
        receiver.receive_nowait()
    with pytest.raises(trio.ClosedResourceError):
        await receiver.__anext__()
    assert receiver.statistics().queue_drops == 1


@pytest.mark.parametrize("waiting", [False, True], ids=["idle", "consumer-waiting"])
async def test_receive_after_the_user_closed_the_socket_raises_closed_resource_error(
    waiting: bool,
) -> None:
    async with trio_mcast.open_multicast_receiver("239.71.0.7", PORT, interface="lo") as receiver:
        if waiting:
            async with trio.open_nursery() as nursery:

                async def close_soon() -> None:
                    await trio.testing.wait_all_tasks_blocked()
                    receiver.socket.close()

                nursery.start_soon(close_soon)
                with pytest.raises(trio.ClosedResourceError):
                    await receiver.receive()
        else:
            await trio.testing.wait_all_tasks_blocked()
            receiver.socket.close()
            await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(trio.ClosedResourceError):
            await receiver.receive()
        with pytest.raises(trio.ClosedResourceError):
            receiver.receive_nowait()
        assert receiver.statistics().kernel_drops is None


async def _chained_error_from_a_cancelled_block() -> None:
    with trio.CancelScope() as scope:
        async with trio_mcast.open_multicast_receiver("239.71.0.8", PORT, interface="lo"):
            scope.cancel()
            try:
                raise KeyError("first")
            except KeyError as first:
                raise BodyError("second") from first


async def test_the_body_exception_keeps_its_own_cause_and_context() -> None:
    """Not chained to the cancelled pump task's group behind the scenes."""
    with pytest.raises(BodyError, match=r"^second$") as caught:
        await _chained_error_from_a_cancelled_block()
    assert isinstance(caught.value.__cause__, KeyError)
    assert caught.value.__context__ is caught.value.__cause__
