"""What every run of a command shares: its output, its signals, ``trio.run``.

A command is a :class:`Session` (its counters and the signal that stopped
it, if any) and a body that :func:`run_session` runs under Trio. SIGINT and
SIGTERM cancel the body, which then ends through its normal path, so the
summary is still printed; the exit code then says which signal it was.
"""

from __future__ import annotations

import abc
import contextlib
import os
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING

import trio

from ._args import PROG
from ._exits import EXIT_INTERRUPTED, EXIT_OK, EXIT_TERMINATED

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = ["Session", "note", "run_session", "silence_stdout", "uncancelled_leaves"]


def _one_line(text: str) -> str:
    # Messages may quote user input; a newline or an escape sequence in it
    # must not break the one-line format or the terminal.
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def note(line: str) -> None:
    """Print one ``trio-mcast: ...`` line on stderr; a closed stderr is ignored."""
    stderr = sys.stderr
    if stderr is None:
        # Closed at start-up; print(file=None) would write to stdout instead.
        return
    with contextlib.suppress(OSError, ValueError):
        print(f"{PROG}: {_one_line(line)}", file=stderr, flush=True)


def silence_stdout() -> None:
    """Point stdout at /dev/null after a broken pipe.

    Python flushes stdout again at exit; without this that flush fails once
    more and prints "Exception ignored ... BrokenPipeError".
    """
    stdout = sys.stdout
    if stdout is None:
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    try:
        os.dup2(devnull, stdout.fileno())
    except (OSError, ValueError):
        # Not a real file descriptor (an in-process capture): nothing to redirect.
        pass
    finally:
        os.close(devnull)


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def uncancelled_leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions in a (possibly grouped) failure, ``trio.Cancelled`` left out."""
    return [leaf for leaf in _leaves(exc) if not isinstance(leaf, trio.Cancelled)]


class Session(abc.ABC):
    """What every command counts, and the signal that stopped it, if any.

    Attributes:
        signum: The signal that stopped the run, or ``None``.
        datagrams: Datagrams handled so far.
        bytes: Payload bytes handled so far.
        started: :func:`time.monotonic` once the socket is ready, or ``None``.
        stopped: :func:`time.monotonic` once the run has ended, or ``None``.
        stop_reason: Why the run ended, for the summary.
    """

    def __init__(self, stop_reason: str) -> None:
        self.signum: int | None = None
        self.datagrams = 0
        self.bytes = 0
        self.started: float | None = None
        self.stopped: float | None = None
        self.stop_reason = stop_reason

    def elapsed(self) -> float:
        """Seconds from start to stop; an unset end counts as now."""
        started = self.started if self.started is not None else time.monotonic()
        stopped = self.stopped if self.stopped is not None else time.monotonic()
        return max(0.0, stopped - started)

    def interrupted_code(self) -> int | None:
        if self.signum == signal.SIGTERM:
            return EXIT_TERMINATED
        if self.signum is not None:
            return EXIT_INTERRUPTED
        return None

    def interrupted_reason(self) -> str:
        return "terminated (SIGTERM)" if self.signum == signal.SIGTERM else "interrupted"

    @abc.abstractmethod
    def print_summary(self) -> None:
        """Print the summary lines on stderr, unless the options silence them."""

    def close(self) -> None:  # noqa: B027  # a hook: most commands hold nothing to release
        """Release what the run held (a writer thread); called however it ended."""

    def exit_code(self) -> int:
        """The exit code of a run that ended without an error."""
        interrupted = self.interrupted_code()
        return EXIT_OK if interrupted is None else interrupted


async def _watch_signals(
    session: Session,
    cancel_scope: trio.CancelScope,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Turn the first SIGINT or SIGTERM into a cancellation of the command.

    The command then ends through its normal path and prints its summary.
    """
    if threading.current_thread() is not threading.main_thread():
        # Signal handlers can only be installed from the main thread.
        task_status.started()
        return
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        task_status.started()
        async for signum in signals:
            session.signum = signum
            cancel_scope.cancel()
            return


async def _guarded(session: Session, body: Callable[[], Awaitable[None]]) -> None:
    async with trio.open_nursery() as nursery:
        await nursery.start(_watch_signals, session, nursery.cancel_scope)
        await body()
        nursery.cancel_scope.cancel()


def _only_keyboard_interrupts(exc: BaseException) -> bool:
    leaves = uncancelled_leaves(exc)
    return bool(leaves) and all(isinstance(leaf, KeyboardInterrupt) for leaf in leaves)


def _run_trio(session: Session, body: Callable[[], Awaitable[None]]) -> None:
    """``trio.run`` the body; a Ctrl-C outside the signal watcher counts as SIGINT."""
    try:
        trio.run(_guarded, session, body)
    except BaseException as exc:
        if not _only_keyboard_interrupts(exc):
            raise
        session.signum = signal.SIGINT


def run_session(session: Session, body: Callable[[], Awaitable[None]]) -> int:
    """Run a command's body under Trio, print its summary, return its exit code.

    Args:
        session: The command's state; the body updates it.
        body: The command itself.

    Returns:
        :meth:`Session.exit_code`.

    Raises:
        BaseException: Whatever error ended the body: an error ends the run
            with its one error line (printed by the caller) and no summary.
    """
    try:
        _run_trio(session, body)
        if session.signum is not None:
            session.stop_reason = session.interrupted_reason()
        session.print_summary()
    finally:
        session.close()
    return session.exit_code()
