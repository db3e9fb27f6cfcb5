"""``trio-mcast recv``: join, print every datagram that arrives, summarize.

The demo (:mod:`trio_mcast._cli._demo`) receives through the same
:class:`ReceiveSession` and :func:`receive`, with its sender alongside.
"""

from __future__ import annotations

import errno
import math
import sys
import time
from typing import TYPE_CHECKING, Final

import trio

from .._analysis._streams import StreamAnalysis
from .._open_receiver import open_multicast_receiver
from .._sequence import parse_header
from ._analysis_output import format_gap_record
from ._event_output import EventLines, event_record
from ._exits import EXIT_NETWORK, EXIT_NOTHING_RECEIVED, EXIT_OK, EXIT_STREAM_STOPPED
from ._output import (
    ReceiveSummary,
    format_datagram,
    format_listening,
    format_rate,
    format_receive_summary,
)
from ._run import Session, note, run_session, silence_stdout
from ._writer import open_writer

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from .._datagram import Datagram, ReceiverStatistics
    from .._receiver import MulticastReceiver
    from ._options import RecvOptions

__all__ = ["ReceiveSession", "receive", "run_recv"]

_STATS_PERIOD: Final = 1.0
#: The most datagrams formatted and written together.
_BATCH: Final = 256
_IDLE: Final = "idle timeout"
_DURATION: Final = "duration elapsed"
#: After --duration, how long output may take to drain before it is given up.
_DURATION_FLUSH: Final = 0.5
#: At the end, output that makes no progress for this long is given up.
_FLUSH_STALL: Final = 1.0


class ReceiveSession(Session):
    """The state of one ``recv`` (or demo) run: counters, tracker, output."""

    def __init__(self, options: RecvOptions) -> None:
        super().__init__(stop_reason="error")
        self.options = options
        self.writer = open_writer(sys.stdout) if options.output_format != "none" else None
        mode = options.analyze or ("tmsq" if options.sequence else None)
        self.analysis = None if mode is None else StreamAnalysis(mode, rtp_clock=options.rtp_clock)
        # --sequence keeps its own summary lines, over the analysis's TMSQ counters.
        self.tracker = (
            self.analysis.tmsq if self.analysis is not None and options.sequence else None
        )
        self.senders: set[tuple[str, int]] = set()
        self.final: ReceiverStatistics | None = None
        self.output_error: OSError | None = None
        self.receive_buffer: int | None = None

    @property
    def verbose(self) -> bool:
        return self.options.stats or not self.options.quiet

    def joined(self, receiver: MulticastReceiver) -> None:
        self.started = time.monotonic()
        self.receive_buffer = receiver.receive_buffer_size
        asked = self.options.receive_buffer
        # Linux reports twice the request: it counts its bookkeeping too.
        if asked is not None and self.receive_buffer < 2 * asked:
            note(
                f"warning: asked for a {asked}-byte receive buffer, got {self.receive_buffer // 2}"
                " (twice that with the kernel's bookkeeping): net.core.rmem_max caps it;"
                " raise it, or run as root"
            )
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

    def handle(self, batch: Sequence[Datagram]) -> bool:
        """Count, track and print a batch of datagrams; False once output has failed."""
        options = self.options
        received_ns = time.time_ns()
        received = received_ns / 1e9
        analysis = self.analysis
        writer = self.writer
        output_format = options.output_format
        metadata = options.metadata
        add_sender = self.senders.add
        # Text and jsonl show a TMSQ header's fields instead of its bytes.
        headers = analysis is not None and writer is not None and analysis.mode in ("auto", "tmsq")
        chunks: list[bytes] = []
        for datagram in batch:
            self.bytes += len(datagram.payload)
            add_sender(datagram.source)
            header = None
            if analysis is not None:
                # The kernel's timestamp leaves our own queueing out of the latency.
                arrival_ns = (
                    received_ns if datagram.timestamp is None else round(datagram.timestamp * 1e9)
                )
                analysis.observe(datagram.payload, datagram.source, arrival_ns)
                if headers:
                    header = parse_header(datagram.payload)
            if writer is not None:
                chunks.append(
                    format_datagram(
                        output_format,
                        datagram,
                        received=received,
                        header=header,
                        metadata=metadata,
                    )
                )
        self.datagrams += len(batch)
        if analysis is not None:
            gaps = analysis.take_gaps()
            if gaps and output_format == "jsonl":
                chunks.extend(format_gap_record(gap, received).encode() for gap in gaps)
        if writer is None:
            return True
        writer.write(b"".join(chunks), len(batch))
        return not self._output_failed()

    def _output_failed(self) -> bool:
        writer = self.writer
        if writer is None or writer.error is None:
            return False
        if isinstance(writer.error, BrokenPipeError) or writer.error.errno == errno.EPIPE:
            # A reader that stops (| head) ends the run quietly, as for any tool.
            silence_stdout()
            self.stop_reason = "output closed"
        else:
            self.output_error = writer.error
            self.stop_reason = "output failed"
        return True

    async def flush(self, *, limit: float | None) -> None:
        """Let the writer finish, for at most ``limit`` seconds (or while it makes progress)."""
        writer = self.writer
        if writer is None:
            return
        with trio.move_on_after(math.inf if limit is None else limit):
            while True:
                before = writer.progress
                done = await trio.to_thread.run_sync(
                    writer.wait_flushed, _FLUSH_STALL, abandon_on_cancel=True
                )
                if done or writer.progress == before:
                    break
        self._output_failed()

    def summary(self) -> ReceiveSummary:
        final = self.final
        tracker = self.tracker
        analysis = self.analysis
        writer = self.writer
        return ReceiveSummary(
            datagrams=self.datagrams,
            bytes=self.bytes,
            senders=len({address for address, _ in self.senders}),
            source_ports=len(self.senders),
            receive_buffer=self.receive_buffer,
            written=None if writer is None else writer.written,
            unwritten=None if writer is None else writer.unwritten,
            elapsed=self.elapsed(),
            stop_reason=self.stop_reason,
            kernel_drops=None if final is None else final.kernel_drops,
            queue_drops=0 if final is None else final.queue_drops,
            truncated=0 if final is None else final.truncated,
            filtered=0 if final is None else final.filtered,
            interface_losses=0 if final is None else final.interface_losses,
            rejoins=0 if final is None else final.rejoins,
            analysis_mode="" if analysis is None or self.options.sequence else analysis.mode,
            analysis_rows=() if analysis is None else tuple(analysis.summaries()),
            analyzed=0 if analysis is None else analysis.analyzed,
            unanalyzed=0 if analysis is None else analysis.unanalyzed,
            streams=() if tracker is None else tuple(tracker.reports()),
            # In tmsq mode, what the analysis could not read had no header.
            unsequenced=None if tracker is None or analysis is None else analysis.unanalyzed,
            sequence_totals=None if tracker is None else tracker.totals(),
            evicted_streams=0 if tracker is None else tracker.evicted,
        )

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    def print_summary(self) -> None:
        # The run is over: what is still queued counts as not written.
        self.close()
        if self.output_error is not None:
            error = self.output_error
            note(
                f"error: cannot write to standard output: {error.strerror or error}"
                f" (errno {error.errno})"
            )
        if self.started is None or not self.verbose:
            return
        for line in format_receive_summary(self.summary()):
            note(line)

    def exit_code(self) -> int:
        interrupted = self.interrupted_code()
        if interrupted is not None:
            return interrupted
        if self.output_error is not None:
            return EXIT_NETWORK
        if not self.datagrams:
            return EXIT_NOTHING_RECEIVED
        if self.stop_reason == _IDLE:
            return EXIT_STREAM_STOPPED
        return EXIT_OK


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
        analysis = session.analysis
        note(
            format_rate(
                (current.datagrams - previous.datagrams) / elapsed,
                (current.bytes - previous.bytes) * 8 / elapsed,
                current.kernel_drops,
                # Loss of what no analyzer could read is unknown, not zero.
                None if analysis is None or not analysis.analyzed else analysis.lost,
                waiting=receiver.state == "waiting for interface",
            )
        )
        previous, previous_time = current, now


async def _report_events(session: ReceiveSession, receiver: MulticastReceiver) -> None:
    """Print what happens to the interface on stderr; with ``jsonl``, on stdout too."""
    lines = EventLines()
    jsonl = session.writer is not None and session.options.output_format == "jsonl"
    async for event in receiver.events():
        line = lines.line(event)
        if line is not None and not session.options.quiet:
            note(line)
        if jsonl and session.writer is not None:
            session.writer.write(event_record(event).encode("ascii") + b"\n", 0)


async def _receive_datagrams(session: ReceiveSession, receiver: MulticastReceiver) -> None:
    options = session.options
    count = options.count
    idle = math.inf if options.idle_timeout is None else options.idle_timeout
    with trio.move_on_after(math.inf if options.duration is None else options.duration):
        while True:
            wanted = _BATCH if count is None else min(_BATCH, count - session.datagrams)
            with trio.move_on_after(idle) as idle_scope:
                batch = await receiver.receive_batch(wanted)
            if idle_scope.cancelled_caught:
                session.stop_reason = _IDLE
                return
            if not session.handle(batch):
                return
            if count is not None and session.datagrams >= count:
                session.stop_reason = "count reached"
                return
    session.stop_reason = _DURATION


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
        receive_buffer_size=options.receive_buffer,
        queue_size=options.queue_size,
        overflow=options.overflow,
    ) as receiver:
        session.joined(receiver)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_report_events, session, receiver)
                if options.stats:
                    nursery.start_soon(_report_rates, session, receiver)
                if companion is not None:
                    nursery.start_soon(companion)
                await _receive_datagrams(session, receiver)
                nursery.cancel_scope.cancel()
            # A signal cancels this as well; --duration allows a moment; a
            # stop by count or idleness waits while the reader keeps up.
            await session.flush(
                limit=_DURATION_FLUSH if session.stop_reason == _DURATION else None
            )
        finally:
            session.stopped = time.monotonic()
            session.final = receiver.statistics()


def run_recv(options: RecvOptions) -> int:
    """Run ``recv``; the options are already validated."""
    session = ReceiveSession(options)
    return run_session(session, lambda: receive(session))
