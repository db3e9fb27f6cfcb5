"""The stdout writer thread: bounded, counting, and never in the event loop's way."""

from __future__ import annotations

import os
import threading

import pytest

from trio_mcast._cli._writer import StdoutWriter

pytestmark = pytest.mark.no_network


def test_a_stalled_reader_bounds_the_buffer_and_counts_what_is_dropped() -> None:
    read_end, write_end = os.pipe()
    try:
        writer = StdoutWriter(write_end, max_pending=4096)
        chunk = b"x" * 1000
        # Fill the pipe (64 KiB), giving the thread time to write each chunk.
        for _ in range(100):
            writer.write(chunk, 1)
            writer.wait_flushed(0.01)
        assert not writer.wait_flushed(0.05)  # blocked in write() on the full pipe
        accepted = [writer.write(chunk, 1) for _ in range(50)]
        # 4 KiB of buffer on top: the rest is dropped and counted, not queued.
        assert accepted.count(True) <= 4
        assert writer.pending <= 4096 + len(chunk)
        writer.close()
        assert writer.written + writer.unwritten <= 150
        assert writer.unwritten >= accepted.count(False)
        assert writer.written < 100
    finally:
        os.close(read_end)
        os.close(write_end)


def test_everything_is_written_in_order_and_the_idle_thread_ends_on_close() -> None:
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "rb") as reader:
        writer = StdoutWriter(write_end)
        for number in range(100):
            assert writer.write(b"%d\n" % number, 1)
        assert writer.wait_flushed(5.0)
        assert (writer.written, writer.unwritten) == (100, 0)
        threads = threading.active_count()
        writer.close()
        writer._thread.join(5.0)
        assert not writer._thread.is_alive()
        assert threading.active_count() == threads - 1
        os.close(write_end)
        assert reader.read().split() == [b"%d" % number for number in range(100)]


def test_a_closed_pipe_is_an_error_and_later_output_counts_as_unwritten() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        writer = StdoutWriter(write_end)
        writer.write(b"lost\n", 1)
        assert writer.wait_flushed(5.0)
        assert isinstance(writer.error, BrokenPipeError)
        assert not writer.write(b"after\n", 1)
        assert (writer.written, writer.unwritten) == (0, 2)
    finally:
        os.close(write_end)
