"""``recv``'s output path: it never stalls the receiver, stays bounded, and tells the truth.

Each test runs ``recv`` as a subprocess inside the private namespace and
feeds it on loopback once it has joined.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
from typing import TYPE_CHECKING, Final

import trio

from tests.cli_process import LISTENING, cli_argv, running_cli
from trio_mcast._cli import EXIT_NETWORK, EXIT_OK, EXIT_TERMINATED
from trio_mcast._cli._output import SUMMARY_STREAMS
from trio_mcast._sequence import pack_header

if TYPE_CHECKING:
    import socket

GROUP: Final = "239.71.1.1"
TIMEOUT: Final = 10.0
ENV: Final = {
    name: value for name, value in os.environ.items() if not name.startswith("MULTICAST_")
}
MIB: Final = 1 << 20


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")


async def test_a_stdout_nobody_reads_does_not_stall_recv(loopback_sender: socket.socket) -> None:
    """A flood into a pipe that is never read, then SIGTERM: gone within a second, summary kept."""
    port = 40721
    argv = cli_argv("recv", GROUP, "-p", str(port), "-i", "lo", "--stats")
    payload = bytes(range(256)) * 4 + bytes(176)  # 1200 bytes, every byte value
    process = await trio.lowlevel.open_process(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV
    )
    assert process.stdout is not None
    assert process.stderr is not None
    stderr = b""
    try:
        with trio.fail_after(TIMEOUT):
            while LISTENING.encode() not in stderr:
                stderr += await process.stderr.receive_some()
            # Far more output than the pipe (64 KiB) and the writer's buffer
            # hold: the pipe fills, the writer blocks in its thread, and the
            # rest is counted as not written.
            for _ in range(30_000):
                loopback_sender.sendto(payload, (GROUP, port))
            # The rate line comes from the event loop: it must go on running.
            while b"rate: " not in stderr:
                stderr += await process.stderr.receive_some()
        rss = _rss(process.pid)
        process.send_signal(signal.SIGTERM)
        with trio.fail_after(1.0):
            await process.wait()
        with trio.fail_after(TIMEOUT):
            while chunk := await process.stderr.receive_some():
                stderr += chunk
    finally:
        if process.returncode is None:
            process.kill()
        with trio.CancelScope(shield=True):
            await process.stdout.aclose()
            await process.stderr.aclose()
            await process.wait()
    text = stderr.decode()
    assert process.returncode == EXIT_TERMINATED, text
    assert "stopped: terminated (SIGTERM)" in text, text
    assert "not written (standard output too slow, closed or failing)" in text, text
    assert rss < 128 * MIB


async def test_a_full_disk_is_one_error_line_and_the_summary_still_comes(
    loopback_sender: socket.socket,
) -> None:
    port = 40722
    recv = cli_argv("recv", GROUP, "-p", str(port), "-i", "lo", "--count", "3")
    argv = ["sh", "-c", 'exec "$@" >/dev/full', "sh", *recv]
    with trio.fail_after(TIMEOUT):
        async with running_cli(argv, env=ENV) as process:
            await process.stderr.wait_for(LISTENING)
            for number in range(3):
                loopback_sender.sendto(b"datagram %d" % number, (GROUP, port))
            code, _, errors = await process.finish()
    assert code == EXIT_NETWORK, errors
    assert errors[0] == (
        "trio-mcast: error: cannot write to standard output: No space left on device (errno 28)"
    )
    assert errors[1].startswith("trio-mcast: received "), errors
    assert errors[1].endswith("stopped: output failed"), errors
    assert any("not written" in line for line in errors), errors
    assert not any("Traceback" in line for line in errors)


async def test_senders_count_addresses_with_ports_as_detail(
    loopback_sender: socket.socket,
) -> None:
    port = 40723
    argv = cli_argv("recv", GROUP, "-p", str(port), "-i", "lo", "--count", "3", "-f", "none")
    with trio.fail_after(TIMEOUT):
        async with running_cli(argv, env=ENV) as process:
            await process.stderr.wait_for(LISTENING)
            for _ in range(3):
                # Three one-shot sockets of one host: three ports, one sender.
                with trio.socket.socket(type=trio.socket.SOCK_DGRAM) as one_shot:
                    one_shot.setsockopt(
                        trio.socket.IPPROTO_IP, trio.socket.IP_MULTICAST_IF, bytes([127, 0, 0, 1])
                    )
                    await one_shot.sendto(b"hello", (GROUP, port))
            code, output, errors = await process.finish()
    assert code == EXIT_OK, errors
    # --format none prints nothing per datagram, and the summary as always.
    assert output == []
    assert "received 3 datagrams (15 bytes) from 1 sender (3 source ports) in" in errors[0]


async def test_the_effective_receive_buffer_is_reported_and_a_capped_one_warned(
    loopback_sender: socket.socket,
) -> None:
    port = 40724
    asked = 1 << 20
    argv = cli_argv(
        "recv", GROUP, "-p", str(port), "-i", "lo", "--count", "1", "-f", "none",
        "--receive-buffer", str(asked), "--queue-size", "8", "--overflow", "drop-oldest",
    )  # fmt: skip
    with trio.fail_after(TIMEOUT):
        async with running_cli(argv, env=ENV) as process:
            await process.stderr.wait_for(LISTENING)
            loopback_sender.sendto(b"one", (GROUP, port))
            code, _, errors = await process.finish()
    assert code == EXIT_OK, errors
    (effective,) = (
        int(line.rsplit("receive buffer ", 1)[1].split()[0])
        for line in errors
        if "receive buffer " in line and "kernel drops" in line
    )
    warned = any(line.startswith("trio-mcast: warning: asked for a ") for line in errors)
    # As root the buffer is forced to the request (Linux reports twice it);
    # elsewhere net.core.rmem_max caps it, and recv says so.
    assert warned == (effective < 2 * asked), errors


async def test_forged_stream_ids_keep_recv_bounded_and_its_summary_short(
    loopback_sender: socket.socket,
) -> None:
    """300,000 datagrams, each claiming a stream of its own: what an attacker can send."""
    port = 40725
    argv = cli_argv(
        "recv", GROUP, "-p", str(port), "-i", "lo", "--sequence", "-f", "none", "--duration", "30",
    )  # fmt: skip
    stream_ids = random.Random(7).sample(range(2**32), 300_000)
    with trio.fail_after(60):
        async with running_cli(argv, env=ENV) as process:
            await process.stderr.wait_for(LISTENING)
            for stream_id in stream_ids:
                loopback_sender.sendto(pack_header(0, 0, stream_id), (GROUP, port))
            rss = _rss(process.process.pid)
            process.process.send_signal(signal.SIGINT)
            _, _, errors = await process.finish()
    received = int(errors[0].split()[2])
    assert received > 1024, errors
    stream_lines = [line for line in errors if line.startswith("trio-mcast: stream ")]
    assert len(stream_lines) == SUMMARY_STREAMS
    assert errors[-2].startswith(f"trio-mcast: and {1024 - SUMMARY_STREAMS} more streams: ")
    # Every datagram that arrived was its own stream: exact totals, evictions counted.
    assert errors[-1] == (
        f"trio-mcast: sequence: {received} streams ({received - 1024} no longer tracked: the least"
        " recently seen make room), lost 0, duplicated 0, reordered 0, unsequenced 0"
    )
    assert rss < 64 * MIB
