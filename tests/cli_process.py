"""Run the command line as a subprocess from a test, and read what it prints.

A test starts a child with :func:`running_cli`, waits for the line that says
the receiver has joined (:data:`LISTENING`, on stderr) and only then sends to
it; it reads the output line by line, or everything up to the exit at once.
Whatever happens in the block, the child is killed if it is still running,
its pipes are closed and it is reaped, shielded from cancellation::

    with trio.fail_after(DEADLINE):
        async with running_cli(cli_argv("recv", group, "-c", "1")) as recv:
            await recv.stderr.wait_for(LISTENING)
            ...  # send the datagram
            returncode, stdout, stderr = await recv.finish()

Put a deadline around every wait: nothing here times out by itself.
"""

from __future__ import annotations

import subprocess
import sys
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Final, TypeVar

import trio

if TYPE_CHECKING:
    import os
    from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence

#: How ``recv`` begins its first stderr line, printed once it has joined its groups.
LISTENING: Final = "trio-mcast: listening on "

_T = TypeVar("_T")


def cli_argv(*args: str) -> list[str]:
    """The argv that runs ``trio-mcast ARGS`` with this interpreter (``python -m``)."""
    return [sys.executable, "-m", "trio_mcast", *args]


class Output:
    """One of a child's output pipes, read as text lines or as bytes to its end.

    Attributes:
        seen: Every line :meth:`readline` has returned, for failure messages.
    """

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self._stream = stream
        self._received = bytearray()  # every byte the pipe has carried so far
        self._buffer = bytearray()  # the part no line has been read from yet
        self.seen: list[str] = []

    async def _receive(self) -> bool:
        """Read one more chunk into the buffer; False at the end of the stream."""
        chunk = await self._stream.receive_some()
        self._received += chunk
        self._buffer += chunk
        return bool(chunk)

    async def _next_line(self) -> tuple[str, bool] | None:
        """The next line without its newline, and whether it had one; None at the end."""
        while b"\n" not in self._buffer:
            if not await self._receive():
                if not self._buffer:
                    return None
                last = self._buffer.decode(errors="replace")
                self._buffer.clear()
                self.seen.append(last)
                return last, False
        line, _, remainder = bytes(self._buffer).partition(b"\n")
        self._buffer[:] = remainder
        text = line.decode(errors="replace")
        self.seen.append(text)
        return text, True

    async def readline(self) -> str | None:
        """The next line without its newline, or ``None`` at the end.

        A last line without a newline is returned as it is. Invalid UTF-8 is
        replaced with U+FFFD; read bytes exactly with :meth:`read_all`.
        """
        line = await self._next_line()
        return None if line is None else line[0]

    async def wait_for(self, prefix: str) -> str:
        """Read until a line starts with ``prefix`` and return it; fail at the end."""
        while True:
            line = await self.readline()
            assert line is not None, f"no line starting {prefix!r} in {self.seen}"
            if line.startswith(prefix):
                return line

    async def expect(self, prefix: str) -> str:
        """The next line, which must be complete (end in a newline) and start with ``prefix``."""
        line = await self._next_line()
        assert line is not None, f"the stream ended before a line starting {prefix!r}"
        text, complete = line
        assert complete, f"the stream ended within a line: {text!r}"
        assert text.startswith(prefix), f"expected a line starting {prefix!r}, got {text!r}"
        return text

    async def rest(self) -> list[str]:
        """Every remaining line, read to the end of the stream."""
        lines = []
        while (line := await self.readline()) is not None:
            lines.append(line)
        return lines

    async def read_all(self) -> bytes:
        """Read to the end of the stream; every byte it carried, from the very first.

        Lines already read are included: the result is the child's whole output.
        """
        while await self._receive():
            pass
        self._buffer.clear()
        return bytes(self._received)


class CliProcess:
    """A running child with line readers on its stdout and stderr.

    Attributes:
        process: The child itself (for ``send_signal``, ``wait``, ``returncode``).
        stdin: A pipe to its stdin when started with ``pipe_stdin``; else ``None``
            (the child's stdin is ``/dev/null``).
        stdout: Its stdout.
        stderr: Its stderr.
    """

    def __init__(self, process: trio.Process) -> None:
        assert process.stdout is not None
        assert process.stderr is not None
        self.process = process
        self.stdin = process.stdin
        self.stdout = Output(process.stdout)
        self.stderr = Output(process.stderr)

    async def _to_the_end(self, read: Callable[[Output], Awaitable[_T]]) -> tuple[int, _T, _T]:
        """``read`` stdout and stderr at once to their ends, then wait for the exit."""
        results: dict[str, _T] = {}

        async def read_into(name: str, output: Output) -> None:
            results[name] = await read(output)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read_into, "stdout", self.stdout)
            nursery.start_soon(read_into, "stderr", self.stderr)
        return await self.process.wait(), results["stdout"], results["stderr"]

    async def finish(self) -> tuple[int, list[str], list[str]]:
        """Wait for the exit: the exit code and the stdout and stderr lines not read yet."""
        return await self._to_the_end(Output.rest)

    async def read_to_end(self) -> tuple[int, bytes, bytes]:
        """Wait for the exit: the exit code and the *whole* stdout and stderr, as bytes.

        Unlike :meth:`finish`, the result includes the lines read before.
        """
        return await self._to_the_end(Output.read_all)


@asynccontextmanager
async def running_cli(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    pipe_stdin: bool = False,
) -> AsyncIterator[CliProcess]:
    """Start ``argv`` with its stdout and stderr piped; yield it as a :class:`CliProcess`.

    Args:
        argv: The command: usually from :func:`cli_argv`, perhaps wrapped (by
            ``Host.command`` to run in a namespace host, or by a shell).
        cwd: The child's working directory; the caller's when ``None``.
        env: The child's environment; the caller's when ``None``.
        pipe_stdin: Give the child a pipe as stdin (``CliProcess.stdin``)
            instead of ``/dev/null``.

    On leaving the block, by any route, the child is killed if it has not
    exited, its pipes are closed and it is waited for, shielded from
    cancellation, so no process or file descriptor outlives the test.
    """
    process = await trio.lowlevel.open_process(
        list(argv),
        stdin=subprocess.PIPE if pipe_stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=env,
    )
    try:
        yield CliProcess(process)
    finally:
        if process.returncode is None:
            process.kill()
        with trio.CancelScope(shield=True):
            for stream in (process.stdin, process.stdout, process.stderr):
                if stream is not None:
                    await stream.aclose()
            await process.wait()
