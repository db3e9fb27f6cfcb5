"""End-to-end tests of the command line, as subprocesses in the private namespace.

Every subprocess runs under a deadline. A receiver is fed only after it has
printed its "listening on" line, which it prints once it has joined.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sysconfig
import time
from typing import TYPE_CHECKING, Final

import pytest
import trio

from tests.cli_process import LISTENING, cli_argv, running_cli
from trio_mcast import open_multicast_receiver
from trio_mcast._cli import DEMO_COUNT, DEMO_GROUP
from trio_mcast._sequence import pack_header

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Sequence

    from trio_mcast import testing

#: Seconds any one subprocess may take; the whole module stays well under 30 s.
TIMEOUT: Final = 10.0
GROUP: Final = "239.1.2.3"
# The children must not pick up the caller's MULTICAST_* settings.
ENV: Final = {
    name: value for name, value in os.environ.items() if not name.startswith("MULTICAST_")
}


async def run(argv: Sequence[str], stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return await trio.run_process(
        list(argv), stdin=stdin, capture_stdout=True, capture_stderr=True, check=False, env=ENV
    )


def assert_clean(stderr: Sequence[str]) -> None:
    text = "\n".join(stderr)
    for marker in ("Traceback", "Exception ignored", "Error:"):
        assert marker not in text, text


async def test_demo_prints_its_datagrams_and_summary() -> None:
    with trio.fail_after(TIMEOUT):
        result = await run(cli_argv("demo"))
    stdout = result.stdout.decode().splitlines()
    stderr = result.stderr.decode().splitlines()
    assert result.returncode == 0, stderr
    assert len(stdout) == DEMO_COUNT
    for number, line in enumerate(stdout):
        assert re.fullmatch(
            rf"127\.0\.0\.1:\d+ -> {re.escape(DEMO_GROUP)} \(\d+ bytes\) seq={number}"
            rf" stream=[0-9a-f]{{8}}: hello from the trio-mcast demo, datagram {number + 1}"
            rf" of {DEMO_COUNT}",
            line,
        ), line
    assert any(line.startswith(LISTENING) for line in stderr)
    assert any(
        line.startswith(f"trio-mcast: received {DEMO_COUNT} datagrams ")
        and line.endswith("stopped: count reached")
        for line in stderr
    ), stderr
    assert any(
        re.fullmatch(
            rf"trio-mcast: stream [0-9a-f]{{8}} from 127\.0\.0\.1:\d+: received {DEMO_COUNT},"
            rf" lost 0, duplicated 0, reordered 0, sequence 0\.\.{DEMO_COUNT - 1},"
            r" latency min/avg/max [-\d.]+/[-\d.]+/[-\d.]+ ms",
            line,
        )
        for line in stderr
    ), stderr
    assert_clean(stderr)


async def test_recv_count_fed_by_send_on_loopback() -> None:
    port = "40201"
    with trio.fail_after(TIMEOUT):
        async with running_cli(
            cli_argv("recv", GROUP, "-p", port, "-i", "lo", "--count", "3"), env=ENV
        ) as recv:
            await recv.stderr.wait_for(LISTENING)
            send = await run(
                cli_argv(
                    "send", GROUP, "-p", port, "-i", "127.0.0.1", "-m", "hello\x01", "-c", "3"
                )
            )
            assert send.returncode == 0, send.stderr
            assert send.stderr.decode().startswith("trio-mcast: sent 3 datagrams (18 bytes) to ")
            code, out, err = await recv.finish()
    assert code == 0, err
    assert [line.split(" -> ")[1] for line in out] == [f"{GROUP} (6 bytes): hello\\x01"] * 3
    assert re.fullmatch(
        r"trio-mcast: received 3 datagrams \(18 bytes\) from 1 sender in \d+\.\d\d s;"
        r" stopped: count reached",
        err[0],
    ), err
    assert_clean(err)


async def test_recv_on_one_host_fed_by_send_on_another(
    multicast_lan: testing.LanFactory,
) -> None:
    sender, receiver = multicast_lan(2).hosts
    port = "40202"
    recv_argv = cli_argv("recv", GROUP, "-p", port, "--interface", "eth0", "--count", "2")
    send_argv = cli_argv(
        "send", GROUP, "-p", port, "--interface", "eth0", "-m", "across", "-c", "2"
    )
    with trio.fail_after(TIMEOUT):
        async with running_cli(receiver.command(recv_argv), env=ENV) as recv:
            listening = await recv.stderr.wait_for(LISTENING)
            assert listening == f"trio-mcast: listening on {GROUP} port {port}, interface eth0"
            send = await run(sender.command(send_argv))
            assert send.returncode == 0, send.stderr
            code, out, err = await recv.finish()
    assert code == 0, err
    assert len(out) == 2
    for line in out:
        assert re.fullmatch(rf"{re.escape(sender.ipv4)}:\d+ -> {GROUP} \(6 bytes\): across", line)


async def test_ipv6_recv_on_one_host_fed_by_send_on_another(
    multicast_lan: testing.LanFactory,
) -> None:
    sender, receiver = multicast_lan(2).hosts
    group, port = "ff12::1234", "40203"
    recv_argv = cli_argv("recv", group, "-p", port, "-i", "eth0", "-c", "1", "-f", "jsonl")
    send_argv = cli_argv("send", group, "-p", port, "-i", "eth0", "-m", "six")
    with trio.fail_after(TIMEOUT):
        async with running_cli(receiver.command(recv_argv), env=ENV) as recv:
            await recv.stderr.wait_for(LISTENING)
            send = await run(sender.command(send_argv))
            assert send.returncode == 0, send.stderr
            code, out, err = await recv.finish()
    assert code == 0, err
    (record,) = [json.loads(line) for line in out]
    assert (record["source"], record["group"], record["payload"]) == (sender.ipv6, group, "six")


async def test_recv_sequence_reports_a_deliberate_gap(
    multicast_lan: testing.LanFactory,
) -> None:
    sender_host, receiver = multicast_lan(2).hosts
    port = 40204
    # 4, 7 and 8 never come; 3 comes late; 6 comes twice; one datagram has no header.
    numbers = [0, 1, 2, 5, 3, 6, 6, 9]
    argv = cli_argv("recv", GROUP, "-p", str(port), "-i", "eth0", "--sequence", "--count", "9")
    sock = trio.socket.from_stdlib_socket(sender_host.sender(socket.AF_INET))
    with sock, trio.fail_after(TIMEOUT):
        async with running_cli(receiver.command(argv), env=ENV) as recv:
            await recv.stderr.wait_for(LISTENING)
            for number in numbers:
                payload = pack_header(number, time.time_ns(), 0xC0FFEE)
                await sock.sendto(payload + b"x", (GROUP, port))
            await sock.sendto(b"no header here", (GROUP, port))
            code, out, err = await recv.finish()
    assert code == 0, err
    assert len(out) == 9
    streams = [line for line in err if line.startswith("trio-mcast: stream ")]
    assert len(streams) == 1, err
    assert re.fullmatch(
        rf"trio-mcast: stream 00c0ffee from {re.escape(sender_host.ipv4)}:\d+: received 8,"
        r" lost 3, duplicated 1, reordered 1, sequence 0\.\.9, latency min/avg/max .* ms",
        streams[0],
    ), streams
    assert err[-1] == (
        "trio-mcast: sequence: 1 stream, lost 3, duplicated 1, reordered 1, unsequenced 1"
    )


@pytest.mark.parametrize(
    ("payload", "extra", "missing"),
    [("rtp", ["--size", "300"], 1), ("mpegts", ["--pid", "100"], 7)],
)
async def test_send_payload_gaps_are_found_exactly_by_recv_analyze(
    multicast_lan: testing.LanFactory, payload: str, extra: list[str], missing: int
) -> None:
    sender_host, receiver = multicast_lan(2).hosts
    port = 40211
    # 50 numbered, every fifth left out: 40 sent. The last one left out (49)
    # comes after the last datagram, where nothing can tell it from the end.
    recv_argv = cli_argv(
        "recv", GROUP, "-p", str(port), "-i", "eth0", "--analyze", "auto", "-f", "jsonl",
        "--count", "40",
    )  # fmt: skip
    send_argv = cli_argv(
        "send", GROUP, "-p", str(port), "-i", "eth0", "--payload", payload, *extra,
        "--count", "50", "--rate", "500", "--skip-every", "5",
    )  # fmt: skip
    with trio.fail_after(TIMEOUT):
        async with running_cli(receiver.command(recv_argv), env=ENV) as recv:
            await recv.stderr.wait_for(LISTENING)
            sent = await trio.run_process(sender_host.command(send_argv), capture_stderr=True)
            code, out, err = await recv.finish()
    assert code == 0, err
    assert b"sent 40 datagrams" in sent.stderr
    records = [json.loads(line) for line in out]
    gaps = [record for record in records if record.get("type") == "gap"]
    assert len(records) - len(gaps) == 40
    assert [gap["missing"] for gap in gaps] == [missing] * 9
    (row,) = [line.split() for line in err if f" {payload} " in line and "stream" not in line]
    lost = int(row[row.index(payload) + 2])
    assert lost == 9 * missing


async def test_send_sequence_from_stdin_to_recv_sequence() -> None:
    port = "40205"
    recv_argv = cli_argv("recv", GROUP, "-p", port, "-i", "lo", "--sequence", "-c", "3")
    send_argv = cli_argv(
        "send", GROUP, "-p", port, "-i", "127.0.0.1", "--sequence", "-", "--rate", "200"
    )
    with trio.fail_after(TIMEOUT):
        async with running_cli(recv_argv, env=ENV) as recv:
            await recv.stderr.wait_for(LISTENING)
            send = await run(send_argv, stdin=b"one\ntwo\r\nthree")
            assert send.returncode == 0, send.stderr
            code, out, err = await recv.finish()
    assert code == 0, err
    assert [line.split(": ", 1)[1] for line in out] == ["one", "two", "three"]
    assert [re.findall(r" seq=(\d+) ", line) for line in out] == [["0"], ["1"], ["2"]]
    assert err[-1] == (
        "trio-mcast: sequence: 1 stream, lost 0, duplicated 0, reordered 0, unsequenced 0"
    )


async def test_recv_jsonl_lines_parse() -> None:
    port = "40206"
    recv_argv = cli_argv(
        "recv", GROUP, "-p", port, "-i", "lo", "-c", "2", "-f", "jsonl", "--metadata"
    )
    send_argv = cli_argv(
        "send", GROUP, "-p", port, "-i", "127.0.0.1", "-", "--binary", "--size", "4"
    )
    with trio.fail_after(TIMEOUT):
        async with running_cli(recv_argv, env=ENV) as recv:
            await recv.stderr.wait_for(LISTENING)
            send = await run(send_argv, stdin=b"\xff\xfe\x00\x01abcd")
            assert send.returncode == 0, send.stderr
            code, out, err = await recv.finish()
    assert code == 0, err
    records = [json.loads(line) for line in out]
    assert [record["payload_base64"] for record in records] == ["//4AAQ==", "YWJjZA=="]
    assert "payload" not in records[0]
    assert records[1]["payload"] == "abcd"
    for record in records:
        assert record["group"] == GROUP
        assert record["source"] == "127.0.0.1"
        assert record["size"] == 4
        assert record["truncated"] is False
        assert record["interface"] == socket.if_nametoindex("lo")
        assert isinstance(record["time"], float)


async def test_closed_stdout_ends_recv_quietly(loopback_sender: socket.socket) -> None:
    port = 40207
    sock = trio.socket.from_stdlib_socket(loopback_sender)
    argv = cli_argv("recv", GROUP, "-p", str(port), "-i", "lo", "--duration", str(TIMEOUT))
    with trio.fail_after(TIMEOUT):
        async with running_cli(argv, env=ENV) as recv:
            await recv.stderr.wait_for(LISTENING)
            # Like 'trio-mcast recv | head -1': read one line, then close the pipe.
            async with trio.open_nursery() as nursery:

                async def feed() -> None:
                    while True:
                        await sock.sendto(b"tick", (GROUP, port))
                        await trio.sleep(0.01)

                nursery.start_soon(feed)
                assert (await recv.stdout.readline() or "").endswith(": tick")
                assert recv.process.stdout is not None
                await recv.process.stdout.aclose()
                # Keep feeding: the next write meets the closed pipe.
                await recv.process.wait()
                nursery.cancel_scope.cancel()
            err = await recv.stderr.rest()
    assert recv.process.returncode == 0, err
    assert_clean(err)
    assert "BrokenPipe" not in "\n".join(err)
    assert any(line.endswith("stopped: output closed") for line in err), err
    # The summary says how many datagrams were received, and how many written.
    assert any(
        re.fullmatch(r"trio-mcast: output: \d+ written, [1-9]\d* not written .*", line)
        for line in err
    ), err


@pytest.mark.parametrize(
    ("signum", "code", "reason"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated (SIGTERM)")],
)
async def test_signals_end_recv_with_a_summary(signum: int, code: int, reason: str) -> None:
    with trio.fail_after(TIMEOUT):
        async with running_cli(
            cli_argv("recv", GROUP, "-p", "40208", "-i", "lo"), env=ENV
        ) as recv:
            await recv.stderr.wait_for(LISTENING)
            recv.process.send_signal(signum)
            exit_code, out, err = await recv.finish()
    assert exit_code == code, err
    assert out == []
    assert err[0].endswith(f"stopped: {reason}"), err
    assert_clean(err)


async def test_idle_timeout_and_seed_alias_exit_1() -> None:
    with trio.fail_after(TIMEOUT):
        result = await run(
            cli_argv("RECV", "--port=1234", "--iface", "lo", "--idle-timeout", "0.1")
        )
    stderr = result.stderr.decode().splitlines()
    assert result.returncode == 1, stderr
    assert stderr[0] == "trio-mcast: listening on 224.0.0.1 port 1234, interface lo"
    assert stderr[1].endswith("stopped: idle timeout")


async def test_stats_prints_a_rate_line_every_second() -> None:
    port = "40209"
    recv_argv = cli_argv("recv", GROUP, "-p", port, "-i", "lo", "--stats", "--sequence", "-q")
    send_argv = cli_argv(
        "send", GROUP, "-p", port, "-i", "127.0.0.1", "--sequence", "-c", "40", "--rate", "40"
    )
    with trio.fail_after(TIMEOUT):
        async with running_cli([*recv_argv, "--duration", "1.5", "-f", "raw"], env=ENV) as recv:
            send = await run(send_argv)
            assert send.returncode == 0, send.stderr
            rate = await recv.stderr.wait_for("trio-mcast: rate: ")
            code, _, err = await recv.finish()
    assert code == 0, err
    assert re.fullmatch(
        r"trio-mcast: rate: \d+ datagrams/s, [\d.]+ k?bit/s, kernel drops \d+, gaps 0", rate
    )
    assert err[0].startswith("trio-mcast: received ")


@pytest.mark.parametrize(
    ("analysis", "summary"),
    [
        (["--sequence"], "sequence: 0 streams, lost 0, duplicated 0, reordered 0, unsequenced 20"),
        (
            ["--analyze", "auto"],
            "analysis (auto): 0 streams, 0 datagrams analyzed, 20 not recognised;"
            " loss n/a: no stream could be analyzed",
        ),
    ],
)
async def test_the_rate_line_says_n_a_when_nothing_could_be_analyzed(
    analysis: list[str], summary: str
) -> None:
    # Regression: with datagrams that carry no header, the line said "gaps 0".
    port = "40210"
    recv_argv = cli_argv("recv", GROUP, "-p", port, "-i", "lo", "--stats", *analysis)
    send_argv = cli_argv("send", GROUP, "-p", port, "-i", "127.0.0.1", "-m", "plain", "-c", "20")
    with trio.fail_after(TIMEOUT):
        async with running_cli([*recv_argv, "--duration", "1.5", "-f", "none"], env=ENV) as recv:
            await recv.stderr.wait_for(LISTENING)
            send = await run(send_argv)
            assert send.returncode == 0, send.stderr
            rate = await recv.stderr.wait_for("trio-mcast: rate: ")
            code, _, err = await recv.finish()
    assert code == 0, err
    assert rate.endswith(", gaps n/a")
    assert f"trio-mcast: {summary}" in err


async def test_usage_errors_from_a_subprocess_are_one_line() -> None:
    with trio.fail_after(TIMEOUT):
        result = await run(cli_argv("recv", "--port", "70000"))
    assert result.returncode == 2
    assert result.stdout == b""
    assert result.stderr == b"trio-mcast: error: port must be an int in 1..65535, got 70000\n"


async def test_console_script_matches_python_m() -> None:
    script = os.path.join(sysconfig.get_path("scripts"), "trio-mcast")
    if not await trio.Path(script).exists():
        pytest.skip(f"the console script is not installed at {script}")
    with trio.fail_after(TIMEOUT):
        by_script = await run([script, "--version"])
        by_module = await run(cli_argv("--version"))
        bad = await run([script, "recv", "-p", "0"])
    assert by_script.returncode == by_module.returncode == 0
    assert by_script.stdout == by_module.stdout
    assert by_script.stdout.startswith(b"trio-mcast ")
    assert bad.returncode == 2
    assert bad.stderr == b"trio-mcast: error: port must be an int in 1..65535, got 0\n"


async def test_sigterm_while_send_waits_for_stdin() -> None:
    port = 40210
    argv = cli_argv("send", GROUP, "-p", str(port), "-i", "127.0.0.1", "-")
    with trio.fail_after(TIMEOUT):
        async with (
            open_multicast_receiver(GROUP, port, interface="lo") as receiver,
            running_cli(argv, env=ENV, pipe_stdin=True) as send,
        ):
            assert send.stdin is not None
            await send.stdin.send_all(b"first\n")
            # The datagram arriving proves send is running, signal handling included;
            # now it blocks reading the next line.
            assert (await receiver.receive()).payload == b"first"
            send.process.send_signal(signal.SIGTERM)
            code, _, err = await send.finish()
    assert code == 143, err
    assert_clean(err)
    assert "Fatal Python error" not in "\n".join(err)
    assert re.fullmatch(
        rf"trio-mcast: sent 1 datagram \(5 bytes\) to {GROUP}:{port} in \d+\.\d\d s;"
        r" stopped: terminated \(SIGTERM\)",
        err[-1],
    ), err


async def test_recv_with_stdout_closed_stops_quietly(loopback_sender: socket.socket) -> None:
    port = 40211
    sock = trio.socket.from_stdlib_socket(loopback_sender)
    argv = [
        "sh",
        "-c",
        'exec "$@" >&-',
        "sh",
        *cli_argv("recv", GROUP, "-p", str(port), "-i", "lo"),
    ]
    with trio.fail_after(TIMEOUT):
        async with running_cli(argv, env=ENV) as recv:
            await recv.stderr.wait_for(LISTENING)
            await sock.sendto(b"nobody reads this", (GROUP, port))
            code, out, err = await recv.finish()
    assert code == 0, err
    assert out == []
    assert_clean(err)
    assert err[0].endswith("stopped: output closed"), err
