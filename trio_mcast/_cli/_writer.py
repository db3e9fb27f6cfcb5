"""Standard output that never blocks the event loop, and stays bounded.

A ``write()`` to a pipe that nobody reads (a paused pager, Ctrl-S, a stuck
consumer) blocks. Made from the event loop, it would stop everything with
it: the receiver, the ``--stats`` line, ``--duration`` and the handling of
SIGTERM and SIGINT. So ``recv`` hands its output to a :class:`StdoutWriter`,
whose thread does the blocking writes, a batch of datagrams per ``write()``.
The loop only appends to a buffer. When the buffer already holds
:data:`MAX_PENDING` bytes, a datagram's output is dropped and counted
instead: the receiver keeps draining, memory stays bounded, and the summary
says how many datagrams were received and how many were written.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import select
import threading
from collections import deque
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from typing import IO, TextIO

__all__ = ["MAX_PENDING", "StdoutWriter", "TextWriter", "Writer", "open_writer"]

#: Output bytes waiting for a slow reader before datagrams are dropped.
MAX_PENDING: Final = 8 << 20
#: The most bytes handed to one ``write()``.
_WRITE_SIZE: Final = 1 << 20


class StdoutWriter:
    """Writes to a file descriptor from a thread of its own.

    Args:
        fd: The descriptor to write to, or ``None`` when standard output is
            closed (every datagram then counts as unwritten).
        max_pending: The most bytes buffered before output is dropped.

    Attributes:
        written: Datagrams whose output was written in full.
        unwritten: Datagrams whose output was dropped: the buffer was full,
            or the output had failed or was closed.
        error: Why writing stopped (a closed pipe, a full disk), or ``None``.
    """

    def __init__(self, fd: int | None, *, max_pending: int = MAX_PENDING) -> None:
        self._fd = fd
        self._max_pending = max_pending
        self._chunks: deque[tuple[bytes, int]] = deque()
        self._pending = 0
        self._condition = threading.Condition()
        self._idle = True
        self._progress = 0
        self._closing = False
        self.written = 0
        self.unwritten = 0
        self.error: OSError | None = None
        if fd is None:
            self.error = BrokenPipeError(errno.EPIPE, "standard output is closed")
        self._thread = threading.Thread(target=self._run, name="trio-mcast stdout", daemon=True)
        self._thread.start()

    @property
    def failed(self) -> bool:
        """True once output can no longer be written (closed, or a write failed)."""
        return self.error is not None

    @property
    def pending(self) -> int:
        """Bytes waiting to be written."""
        return self._pending

    @property
    def progress(self) -> int:
        """Bytes written so far; it grows while the reader keeps up."""
        return self._progress

    def write(self, data: bytes, datagrams: int) -> bool:
        """Queue the output of ``datagrams`` datagrams; never blocks.

        Returns:
            False when the output was dropped (buffer full, or output failed).
        """
        with self._condition:
            if self.error is not None or self._pending + len(data) > self._max_pending:
                self.unwritten += datagrams
                return False
            self._chunks.append((data, datagrams))
            self._pending += len(data)
            self._idle = False
            self._condition.notify_all()
        return True

    def flushed(self) -> bool:
        """True when everything queued has been written (or can never be)."""
        with self._condition:
            return self.error is not None or (self._idle and not self._chunks)

    def wait_flushed(self, timeout: float) -> bool:
        """Block (in a worker thread) until :meth:`flushed`, at most ``timeout`` seconds."""
        with self._condition:
            return self._condition.wait_for(
                lambda: self.error is not None or (self._idle and not self._chunks), timeout
            )

    def abandon(self) -> None:
        """Count what is still queued as unwritten; the thread is left to its write."""
        with self._condition:
            self.unwritten += sum(count for _, count in self._chunks)
            self._pending -= sum(len(data) for data, _ in self._chunks)
            self._chunks.clear()

    def close(self) -> None:
        """Let the thread end once it is idle; what is still queued is abandoned."""
        self.abandon()
        with self._condition:
            self._closing = True
            self._condition.notify_all()

    def _take(self) -> tuple[list[bytes], int] | None:
        with self._condition:
            while not self._chunks:
                self._idle = True
                self._condition.notify_all()
                if self._closing:
                    return None
                self._condition.wait()
            self._idle = False
            parts: list[bytes] = []
            datagrams = size = 0
            while self._chunks and size < _WRITE_SIZE:
                data, count = self._chunks.popleft()
                parts.append(data)
                size += len(data)
                datagrams += count
            return parts, datagrams

    def _run(self) -> None:
        while (taken := self._take()) is not None:
            parts, datagrams = taken
            data = memoryview(b"".join(parts))
            try:
                assert self._fd is not None
                while data:
                    try:
                        sent = os.write(self._fd, data)
                    except BlockingIOError:
                        # A descriptor left non-blocking by whoever shares it:
                        # wait until it takes more, as a blocking write would.
                        select.select([], [self._fd], [])
                        continue
                    data = data[sent:]
                    with self._condition:
                        self._pending -= sent
                        self._progress += sent
            except OSError as exc:
                with self._condition:
                    self.error = exc
                    self.unwritten += datagrams + sum(count for _, count in self._chunks)
                    self._chunks.clear()
                    self._pending = 0
                    self._idle = True
                    self._condition.notify_all()
                return
            with self._condition:
                self.written += datagrams


class TextWriter:
    """The same interface over a Python text stream without a descriptor.

    For standard output replaced in-process (a test's capture, an embedding
    application): it writes at once, since there is no descriptor for a
    thread to block on.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._binary: IO[bytes] | None = getattr(stream, "buffer", None)
        self.written = 0
        self.unwritten = 0
        self.error: OSError | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def progress(self) -> int:
        return 0

    def write(self, data: bytes, datagrams: int) -> bool:
        if self.error is not None:
            self.unwritten += datagrams
            return False
        try:
            if self._binary is not None:
                self._binary.write(data)
                self._binary.flush()
            else:
                self._stream.write(data.decode("utf-8", "surrogateescape"))
                self._stream.flush()
        except (OSError, ValueError) as exc:
            # ValueError: the stream was closed.
            self.error = exc if isinstance(exc, OSError) else BrokenPipeError(str(exc))
            self.unwritten += datagrams
            return False
        self.written += datagrams
        return True

    def flushed(self) -> bool:
        return True

    def wait_flushed(self, timeout: float) -> bool:
        return True

    def abandon(self) -> None:
        return None

    def close(self) -> None:
        return None


#: Either writer: both offer ``write``, ``flushed``, ``wait_flushed``,
#: ``abandon``, ``close``, and the ``written``, ``unwritten`` and ``error``
#: counters.
Writer = StdoutWriter | TextWriter


def open_writer(stream: TextIO | None) -> Writer:
    """The writer for ``stream``: a thread on its descriptor, where it has one."""
    if stream is None:
        return StdoutWriter(None)
    try:
        fd = stream.fileno()
    except (OSError, ValueError, io.UnsupportedOperation):
        return TextWriter(stream)
    # Text written before us (by print) must come out first.
    with contextlib.suppress(OSError, ValueError):
        stream.flush()
    return StdoutWriter(fd)
