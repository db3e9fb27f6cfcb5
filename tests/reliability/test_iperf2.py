"""iperf2 as a real peer: its client against recv --analyze, send --payload against its server.

iperf2 (Debian's ``iperf``, 2.1) runs inside LAN hosts only. The server
joins the group and prints ``Lost/Total`` when the client's final datagram
arrives; both sides are compared on the same stream.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from typing import TYPE_CHECKING, Final

import pytest
import trio

from tests.cli_process import LISTENING, cli_argv, running_cli
from tests.netns import memberships
from tests.reliability._support import wait_until

if TYPE_CHECKING:
    from trio_mcast import testing

GROUP: Final = "239.1.5.1"
TIMEOUT: Final = 30.0
#: iperf2's server's final line: "... 0.003 ms 10/101 (9.9%)".
_LOST_TOTAL: Final = re.compile(r" (\d+)/(\d+) \(")


def _iperf() -> str:
    path = shutil.which("iperf")
    if path is not None:
        return path
    reason = "iperf (iperf2) is not installed; tox installs it with tests/peers/install.py"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


async def _server_report(server: subprocess.Popen[str]) -> tuple[int, int]:
    """Lost and total from an iperf2 server's report of one test, read as it prints it."""
    assert server.stdout is not None
    stdout = server.stdout
    with trio.fail_after(TIMEOUT):
        while True:
            line = await trio.to_thread.run_sync(stdout.readline)
            assert line, "the iperf2 server ended without a report"
            # The report of the whole test starts at 0 and ends when the final datagram came.
            if "0.0000-" in line and not re.search(r"0\.0000-1\.0000 sec", line):
                found = _LOST_TOTAL.search(line)
                if found:
                    return int(found[1]), int(found[2])


def _server(host: testing.Host, iperf: str, port: int) -> subprocess.Popen[str]:
    argv = [iperf, "-s", "-u", "-B", GROUP, "-p", str(port), "-i", "1"]
    return host.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)


async def _joined(host: testing.Host) -> None:
    """Wait until the iperf2 server in ``host`` has joined the group."""
    await wait_until(
        lambda: ("eth0", GROUP) in memberships(socket.AF_INET, pid=host.pid),
        f"iperf2's server joins {GROUP}",
    )


def _row(err: list[str], kind: str) -> list[str]:
    (row,) = [line.split() for line in err if f" {kind} " in line and "stream" not in line]
    return row


async def test_an_iperf2_client_is_analyzed_as_its_own_server_counts_it(
    multicast_lan: testing.LanFactory,
) -> None:
    iperf = _iperf()
    receiver, server_host, client = multicast_lan(hosts=3).hosts
    port = 5101
    recv_argv = cli_argv(
        "recv", GROUP, "-p", str(port), "-i", "eth0", "--analyze", "iperf2", "--format", "none"
    )
    with _server(server_host, iperf, port) as server:
        try:
            async with running_cli(receiver.command([*recv_argv, "--idle-timeout", "1"])) as recv:
                with trio.fail_after(TIMEOUT):
                    await recv.stderr.wait_for(LISTENING)
                    await _joined(server_host)
                    sent = await trio.run_process(
                        client.command(
                            [iperf, "-c", GROUP, "-u", "-p", str(port), "-T", "1", "-b", "5M",
                             "-t", "1", "-l", "1316"]
                        ),
                        capture_stdout=True,
                    )  # fmt: skip
                    lost, total = await _server_report(server)
                    _, _, err = await recv.finish()
        finally:
            server.kill()
    # trio-mcast:  SOURCE  iperf2  RECEIVED  LOST ...
    row = _row(err, "iperf2")
    received, our_lost = int(row[3]), int(row[4])
    assert b"Sent" in sent.stdout
    assert total > 400
    assert (our_lost, received + our_lost) == (lost, total)


async def test_send_payload_iperf2_makes_its_server_report_the_loss_left_in(
    multicast_lan: testing.LanFactory,
) -> None:
    iperf = _iperf()
    server_host, sender = multicast_lan(hosts=2).hosts
    port = 5102
    with _server(server_host, iperf, port) as server:
        try:
            with trio.fail_after(TIMEOUT):
                await _joined(server_host)
                send_argv = cli_argv(
                    "send", GROUP, "-p", str(port), "-i", "eth0", "--payload", "iperf2",
                    "--size", "1470", "--count", "500", "--rate", "1000", "--skip-every", "10",
                )  # fmt: skip
                sent = await trio.run_process(sender.command(send_argv), capture_stderr=True)
                lost, total = await _server_report(server)
        finally:
            server.kill()
    assert sent.returncode == 0
    assert b"left out 50" in sent.stderr
    # 500 numbered, every tenth left out, then the final datagram (number 501).
    assert (lost, total) == (50, 501)
