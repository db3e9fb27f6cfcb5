"""``trio-mcast recv``: join, print every datagram that arrives, summarize.

The demo (:mod:`trio_mcast._cli._demo`) receives through the same
:class:`ReceiveSession` and :func:`receive`, with its sender alongside.
"""

from __future__ import annotations

import math
import sys
import time
from typing import TYPE_CHECKING, Final

import trio

from .._open_receiver import open_multicast_receiver
from .._sequence import SequenceTracker
from ._exits import EXIT_NOTHING_RECEIVED, EXIT_OK
from ._output import (
    ReceiveSummary,
    format_datagram,
    format_listening,
    format_rate,
    format_receive_summary,
)
from ._run import Output, Session, note, run_session, silence_stdout

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from .._datagram import Datagram, ReceiverStatistics
    from .._receiver import MulticastReceiver
    from ._options import RecvOptions

__all__ = ["ReceiveSession", "receive", "run_recv"]

_STATS_PERIOD: Final = 1.0


class ReceiveSession(Session):
    """The state of one ``recv`` (or demo) run: counters, tracker, output."""

    def __init__(self, options: RecvOptions) -> None:
        super().__init__(stop_reason="error")
        self.options = options
        self.output = Output(sys.stdout)
        self.tracker = SequenceTracker() if options.sequence else None
        self.senders: set[tuple[str, int]] = set()
        self.final: ReceiverStatistics | None = None

    @property
    def verbose(self) -> bool:
        return self.options.stats or not self.options.quiet

    def joined(self, receiver: MulticastReceiver) -> None:
        self.started = time.monotonic()
        if not self.options.quiet:
            note(
                format_listening(
                    receiver.groups,
                    receiver.port,
                    receiver.interface,
                    self.options.sources,
                    self.options.exclude,
                )
            )

    def handle(self, datagram: Datagram) -> bool:
        """Count, track and print one datagram; False once stdout is closed."""
        options = self.options
        received_ns = time.time_ns()
        self.datagrams += 1
        self.bytes += len(datagram.payload)
        self.senders.add(datagram.source)
        header = None
        if self.tracker is not None:
            # The kernel's timestamp leaves our own queueing out of the latency.
            arrival_ns = (
                received_ns if datagram.timestamp is None else round(datagram.timestamp * 1e9)
            )
            header = self.tracker.observe(datagram.payload, datagram.source, arrival_ns)
        data = format_datagram(
            options.output_format,
            datagram,
            received=received_ns / 1e9,
            header=header,
            metadata=options.metadata,
        )
        try:
            self.output.write(data)
        except BrokenPipeError:
            silence_stdout()
            self.stop_reason = "output closed"
            return False
        return True

    def summary(self) -> ReceiveSummary:
        final = self.final
        tracker = self.tracker
        return ReceiveSummary(
            datagrams=self.datagrams,
            bytes=self.bytes,
            senders=len(self.senders),
            elapsed=self.elapsed(),
            stop_reason=self.stop_reason,
            kernel_drops=None if final is None else final.kernel_drops,
            queue_drops=0 if final is None else final.queue_drops,
            truncated=0 if final is None else final.truncated,
            filtered=0 if final is None else final.filtered,
            streams=() if tracker is None else tuple(tracker.reports()),
            unsequenced=None if tracker is None else tracker.unsequenced,
        )

    def print_summary(self) -> None:
        if self.started is None or not self.verbose:
            return
        for line in format_receive_summary(self.summary()):
            note(line)

    def exit_code(self) -> int:
        interrupted = self.interrupted_code()
        if interrupted is not None:
            return interrupted
        return EXIT_OK if self.datagrams else EXIT_NOTHING_RECEIVED


async def _report_rates(session: ReceiveSession, receiver: MulticastReceiver) -> None:
    start = trio.current_time()
    previous = receiver.statistics()
    previous_time = start
    while True:
        # A fixed schedule: the lines stay a second apart however long printing takes.
        ticks = math.floor((trio.current_time() - start) / _STATS_PERIOD) + 1
        await trio.sleep_until(start + ticks * _STATS_PERIOD)
        now = trio.current_time()
        current = receiver.statistics()
        elapsed = max(now - previous_time, 1e-9)
        tracker = session.tracker
        note(
            format_rate(
                (current.datagrams - previous.datagrams) / elapsed,
                (current.bytes - previous.bytes) * 8 / elapsed,
                current.kernel_drops,
                None if tracker is None else tracker.lost,
            )
        )
        previous, previous_time = current, now


async def _receive_datagrams(session: ReceiveSession, receiver: MulticastReceiver) -> None:
    options = session.options
    count = options.count
    idle = options.idle_timeout
    with trio.move_on_after(math.inf if options.duration is None else options.duration):
        while True:
            if idle is None:
                datagram = await receiver.receive()
            else:
                with trio.move_on_after(idle) as idle_scope:
                    datagram = await receiver.receive()
                if idle_scope.cancelled_caught:
                    session.stop_reason = "idle timeout"
                    return
            if not session.handle(datagram):
                return
            if count is not None and session.datagrams >= count:
                session.stop_reason = "count reached"
                return
    session.stop_reason = "duration elapsed"


async def receive(
    session: ReceiveSession, companion: Callable[[], Awaitable[None]] | None = None
) -> None:
    """Join, then handle datagrams until a stop condition; ``companion`` runs alongside."""
    options = session.options
    async with open_multicast_receiver(
        options.groups,
        options.port,
        interface=options.interface,
        sources=options.sources or None,
        exclude=options.exclude or None,
        max_datagram_size=options.max_size,
        metadata=options.metadata,
    ) as receiver:
        session.joined(receiver)
        try:
            async with trio.open_nursery() as nursery:
                if options.stats:
                    nursery.start_soon(_report_rates, session, receiver)
                if companion is not None:
                    nursery.start_soon(companion)
                await _receive_datagrams(session, receiver)
                nursery.cancel_scope.cancel()
        finally:
            session.stopped = time.monotonic()
            session.final = receiver.statistics()


def run_recv(options: RecvOptions) -> int:
    """Run ``recv``; the options are already validated."""
    session = ReceiveSession(options)
    return run_session(session, lambda: receive(session))
