"""``trio-mcast send``: send a message, or standard input, to a group.

:func:`send_datagram` is also how the demo (:mod:`trio_mcast._cli._demo`)
sends, so that both report a refused send the same way.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Final

import trio

from .._analysis._payloads import HEADER_SIZES, PayloadMaker
from .._errors import join_error_from_oserror
from .._sender import open_multicast_sender
from .._sequence import new_stream_id
from ._options import DEFAULT_CHUNK_SIZE
from ._output import SendSummary, format_endpoint, format_send_summary
from ._run import Session, note, run_session

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from .._errors import JoinError
    from .._sender import MulticastSender
    from .._validate import Interface
    from ._options import SendOptions

__all__ = ["run_send", "send_datagram"]

_STDIN_READ_SIZE: Final = 65536
#: Datagrams sent between two checkpoints while the socket takes them at once.
_CHECKPOINT_EVERY: Final = 64


class _SendSession(Session):
    """The state of one ``send`` run."""

    def __init__(self, options: SendOptions) -> None:
        super().__init__(stop_reason="")
        self.options = options
        self.stream_id = new_stream_id() if options.sequence else None
        self.skipped = 0

    def print_summary(self) -> None:
        if self.started is None or self.options.quiet:
            return
        options = self.options
        note(
            format_send_summary(
                SendSummary(
                    datagrams=self.datagrams,
                    bytes=self.bytes,
                    group=options.group,
                    port=options.port,
                    elapsed=self.elapsed(),
                    stream_id=self.stream_id,
                    stop_reason=self.stop_reason,
                    payload=options.payload or "",
                    skipped=self.skipped,
                )
            )
        )


class _StdinPayloads:
    """Payloads from standard input: lines, or chunks of a fixed size.

    Only the ``os.read`` runs in a worker thread: a thread abandoned on
    Ctrl-C or SIGTERM must hold no lock of ``sys.stdin``, or the interpreter
    aborts at exit trying to acquire it.
    """

    def __init__(self, chunk_size: int | None, fd: int = 0) -> None:
        self._chunk_size = chunk_size
        self._fd = fd
        self._buffer = bytearray()
        self._eof = False

    def _take(self) -> bytes | None:
        buffer = self._buffer
        if self._chunk_size is not None:
            if len(buffer) < self._chunk_size:
                return None
            chunk = bytes(buffer[: self._chunk_size])
            del buffer[: self._chunk_size]
            return chunk
        end = buffer.find(b"\n")
        if end < 0:
            return None
        line = bytes(buffer[:end])
        del buffer[: end + 1]
        return line.removesuffix(b"\r")

    async def next(self) -> bytes | None:
        """The next payload, or ``None`` at the end of the input."""
        while True:
            payload = self._take()
            if payload is not None:
                return payload
            if self._eof:
                # The last line without a newline, or the short last chunk.
                rest = bytes(self._buffer).removesuffix(b"\r")
                self._buffer.clear()
                return rest if rest else None
            data = await trio.to_thread.run_sync(
                os.read, self._fd, _STDIN_READ_SIZE, abandon_on_cancel=True
            )
            if data:
                self._buffer += data
            else:
                self._eof = True


async def send_datagram(
    send: Callable[[bytes], Awaitable[None]],
    data: bytes,
    group: str,
    port: int,
    interface: Interface | None = None,
) -> None:
    """Send one datagram; the OS's refusal becomes a :class:`JoinError`.

    Args:
        send: The sender's ``send``.
        data: The datagram.
        group: The destination group, for the message.
        port: The destination port, for the message.
        interface: The outgoing interface to name in the message, if any.

    Raises:
        JoinError: The send failed; the message names the destination.
    """
    try:
        await send(data)
    except OSError as exc:
        raise _send_error(exc, group, port, interface) from exc


def _send_error(exc: OSError, group: str, port: int, interface: Interface | None) -> JoinError:
    return join_error_from_oserror(
        exc,
        operation=f"send to {format_endpoint(group, port)}",
        interface=None if interface is None else interface.label,
    )


async def _send(session: _SendSession) -> None:
    options = session.options
    async with open_multicast_sender(
        options.group,
        options.port,
        interface=options.interface,
        ttl=options.ttl,
        loopback=options.loopback,
    ) as sender:
        session.started = time.monotonic()
        try:
            await _send_payloads(session, sender)
        finally:
            session.stopped = time.monotonic()


async def _send_payloads(session: _SendSession, sender: MulticastSender) -> None:
    options = session.options
    stdin = None
    maker = None
    header = 0
    if options.payload is not None:
        maker = PayloadMaker(
            options.payload,
            start_ns=time.time_ns(),
            stream_id=session.stream_id,
            rtp_clock=options.rtp_clock,
            pid=options.pid,
            size=options.size,
        )
        # --size is the whole datagram: the header takes part of it (MPEG-TS is all header).
        header = (
            options.size or 0 if options.payload == "mpegts" else HEADER_SIZES[options.payload]
        )
    if options.message is None:
        chunk = (options.size - header) if options.size is not None else DEFAULT_CHUNK_SIZE
        stdin = _StdinPayloads(chunk if options.binary else None)
    limit = options.count if options.count is not None or stdin is not None else 1
    pad = options.size - header if options.size is not None and not options.binary else 0
    padded = (options.message or b"").ljust(pad, b"\0")
    skip = options.skip_every
    interval = None if options.rate is None else 1 / options.rate
    current_time = trio.current_time
    start = current_time()
    number = 0
    body = padded
    while limit is None or number < limit:
        if interval is not None:
            # A fixed schedule, so the rate does not drift with the send
            # time; behind it, the due datagrams go out back to back.
            due = start + number * interval
            if current_time() < due:
                await trio.sleep_until(due)
        if stdin is not None:
            next_body = await stdin.next()
            if next_body is None:
                break
            body = next_body.ljust(pad, b"\0")
        if skip is not None and number % skip == skip - 1:
            # Numbered and scheduled, never sent: a gap for the receiver to find.
            number += 1
            session.skipped += 1
            continue
        data = body if maker is None else maker.make(number, body, time.time_ns())
        await _send_one(sender, data, options, number)
        number += 1
        session.datagrams += 1
        session.bytes += len(data)
    if maker is not None:
        final = maker.final(number, body, time.time_ns())
        if final is not None:
            await _send_one(sender, final, options, number)
            session.datagrams += 1
            session.bytes += len(final)


async def _send_one(
    sender: MulticastSender, body: bytes, options: SendOptions, number: int
) -> None:
    """One datagram: at once when the socket takes it, else waiting for room."""
    try:
        sender.send_nowait(body)
    except trio.WouldBlock:
        await send_datagram(sender.send, body, options.group, options.port, options.interface)
        return
    except OSError as exc:
        raise _send_error(exc, options.group, options.port, options.interface) from exc
    # A checkpoint now and then, not per datagram: that would cost more
    # than the send, and signals and cancellation are still seen in time.
    if not number % _CHECKPOINT_EVERY:
        await trio.lowlevel.checkpoint()


def run_send(options: SendOptions) -> int:
    """Run ``send``; the options are already validated."""
    session = _SendSession(options)
    return run_session(session, lambda: _send(session))
