"""In-process tests of the command line: parsing, validation, exit codes, messages.

Most tests replace the four network entry points (``run_recv``,
``run_send``, ``run_demo`` and ``run_doctor``, as ``trio_mcast._cli`` calls them) with stubs
that record the validated options, so only parsing and validation run. The
few that run for real do so inside the test suite's private network namespace.
"""

from __future__ import annotations

import contextlib
import errno
import io
import re
import sys
from ipaddress import IPv4Address
from typing import TYPE_CHECKING, Final, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import trio_mcast
from tests.budgets import FUZZ_EXAMPLES
from trio_mcast import _cli
from trio_mcast._cli import (
    EXIT_CODES,
    EXIT_CONFIG,
    EXIT_INTERRUPTED,
    EXIT_NETWORK,
    EXIT_NOTHING_RECEIVED,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_USAGE,
    DemoOptions,
    RecvOptions,
    SendOptions,
    main,
)
from trio_mcast._errors import InvalidArgumentError, JoinError
from trio_mcast._validate import Interface

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

ENV_VARIABLES: Final = (
    "MULTICAST_GROUP",
    "MULTICAST_PORT",
    "MULTICAST_TTL",
    "MULTICAST_BUFFER_SIZE",
    "MULTICAST_BIND_ADDR",
)
ERROR_LINE: Final = re.compile(r"^trio-mcast: error: \S.*$")


class Call(NamedTuple):
    command: str
    options: object


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ENV_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


def _recorder(calls: list[Call], command: str) -> Callable[[object], int]:
    def run(options: object) -> int:
        calls.append(Call(command, options))
        return EXIT_OK

    return run


@contextlib.contextmanager
def stubbed_commands() -> Iterator[list[Call]]:
    """Replace the network entry points with recorders, for the block."""
    calls: list[Call] = []
    with pytest.MonkeyPatch.context() as patch:
        for command in ("recv", "send", "demo", "doctor"):
            patch.setattr(_cli, f"run_{command}", _recorder(calls, command))
        yield calls


@pytest.fixture
def stubbed() -> Iterator[list[Call]]:
    with stubbed_commands() as calls:
        yield calls


def only_call(calls: list[Call], command: str) -> object:
    assert [call.command for call in calls] == [command]
    return calls[0].options


def recv_options(argv: list[str], calls: list[Call]) -> RecvOptions:
    assert main(argv) == EXIT_OK
    options = only_call(calls, "recv")
    assert isinstance(options, RecvOptions)
    return options


def send_options(argv: list[str], calls: list[Call]) -> SendOptions:
    assert main(argv) == EXIT_OK
    options = only_call(calls, "send")
    assert isinstance(options, SendOptions)
    return options


def error_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Traceback" not in captured.err
    return captured.err.splitlines()


# --- bad input: one error line and the documented code -----------------------------------

BAD_INPUT: Final = [
    pytest.param(
        ["send", "239.1.1.1", "--payload", "mpegts", "--pid", "8192"],
        {},
        EXIT_USAGE,
        r"pid must be an int in 0\.\.8191, got 8192",
        id="pid-8192",
    ),
    pytest.param(
        ["send", "239.1.1.1", "--payload", "rtp", "--skip-every", "1"],
        {},
        EXIT_USAGE,
        r"skip-every must be an int in 2\.\.\d+, got 1 \(1 would leave out every datagram\)",
        id="skip-every-1",
    ),
    pytest.param(
        ["send", "239.1.1.1", "--payload", "mpegts", "--size", "1300"],
        {},
        EXIT_USAGE,
        r"size must be a multiple of 188 in 188\.\.65507, got 1300"
        r" \(--payload mpegts sends whole transport packets\)",
        id="mpegts-size",
    ),
    pytest.param(
        ["send", "239.1.1.1", "--payload", "iperf2", "--size", "10"],
        {},
        EXIT_USAGE,
        r"size must be an int in 20\.\.65507, got 10 \(the datagram size: at least the 20-byte"
        r" --payload iperf2 header, at most what one datagram of the group's family carries\)",
        id="iperf2-size",
    ),
    pytest.param(
        ["send", "239.1.1.1", "--sequence", "--payload", "rtp"],
        {},
        EXIT_USAGE,
        r"--sequence is --payload tmsq: it cannot go with --payload rtp",
        id="sequence-and-payload",
    ),
    pytest.param(
        ["send", "239.1.1.1", "-m", "x", "--pid", "5"],
        {},
        EXIT_USAGE,
        r"--pid sets the PID of --payload mpegts: add it",
        id="pid-without-mpegts",
    ),
    pytest.param(
        ["send", "239.1.1.1", "-m", "x", "--skip-every", "3"],
        {},
        EXIT_USAGE,
        r"--skip-every leaves gaps in numbered datagrams: add --payload",
        id="skip-without-payload",
    ),
    pytest.param(
        ["send", "239.1.1.1", "--payload", "rtp", "--rtp-clock", "0"],
        {},
        EXIT_USAGE,
        r"rtp-clock must be an int in 1\.\.1000000000, got 0",
        id="rtp-clock-0",
    ),
    pytest.param(
        ["recv", "239.1.1.1", "--sequence", "--analyze", "rtp"],
        {},
        EXIT_USAGE,
        r"--sequence is --analyze tmsq: it cannot go with --analyze rtp",
        id="sequence-and-analyze",
    ),
    pytest.param(
        ["recv", "239.1.1.1", "--rtp-clock", "8000"],
        {},
        EXIT_USAGE,
        r"--rtp-clock times RTP streams: add --analyze rtp \(or auto\)",
        id="rtp-clock-without-analyze",
    ),
    pytest.param(
        ["recv", "--port", "0"],
        {},
        EXIT_USAGE,
        r"port must be an int in 1\.\.65535, got 0",
        id="port-0",
    ),
    pytest.param(
        ["recv", "-p", "70000"],
        {},
        EXIT_USAGE,
        r"port must be an int in 1\.\.65535, got 70000",
        id="port-70000",
    ),
    pytest.param(
        ["recv", "--port", "abc"],
        {},
        EXIT_USAGE,
        r"argument -p/--port: expected an integer of ASCII digits, got 'abc'",
        id="port-not-a-number",
    ),
    pytest.param(
        ["send", "239.1.1.1", "--port=0", "-m", "x"],
        {},
        EXIT_USAGE,
        r"port must be an int in 1\.\.65535, got 0",
        id="send-port-0",
    ),
    pytest.param(
        ["recv", "10.1.1.1"],
        {},
        EXIT_USAGE,
        r"group '10\.1\.1\.1' is not a multicast address \(IPv4 multicast is 224\.0\.0\.0/4\)",
        id="unicast-group",
    ),
    pytest.param(
        ["send", "10.1.1.1", "-m", "x"],
        {},
        EXIT_USAGE,
        r"group '10\.1\.1\.1' is not a multicast address .*",
        id="send-unicast-group",
    ),
    pytest.param(
        ["recv", "example.com"],
        {},
        EXIT_USAGE,
        r"group 'example\.com' is not an IP address literal \(host names are not resolved\)",
        id="hostname-group",
    ),
    pytest.param(
        ["recv", "239.1.1.1", "ff02::1"],
        {},
        EXIT_USAGE,
        r"group 'ff02::1' is IPv6 but group '239\.1\.1\.1' is IPv4: all groups must be of one"
        r" family",
        id="mixed-families",
    ),
    pytest.param(
        ["RECV", "--group", "ff02::1", "--groups", "239.1.1.1"],
        {},
        EXIT_USAGE,
        r".*all groups must be of one family",
        id="mixed-families-seed-flags",
    ),
    pytest.param(
        ["recv", "239.1.1.1", "--source", "fd00::1"],
        {},
        EXIT_USAGE,
        r"source 'fd00::1' is IPv6 but the groups are IPv4: sources must be of the groups'"
        r" family",
        id="source-wrong-family",
    ),
    pytest.param(
        ["recv", "ff02::1", "-s", "10.0.0.1"],
        {},
        EXIT_USAGE,
        r"source '10\.0\.0\.1' is IPv4 but the groups are IPv6: .*",
        id="source-wrong-family-v6",
    ),
    pytest.param(
        ["recv", "ff02::1", "-i", "127.0.0.1"],
        {},
        EXIT_USAGE,
        r"interface '127\.0\.0\.1' is an IPv4 address; IPv6 groups need an interface name or"
        r" index",
        id="ipv4-interface-for-ipv6",
    ),
    pytest.param(
        ["recv", "-i", "no such"],
        {},
        EXIT_USAGE,
        r"interface 'no such' is not a valid interface name: .*",
        id="malformed-interface",
    ),
    pytest.param(
        ["recv", "--count", "-1"],
        {},
        EXIT_USAGE,
        r"count must be a positive int, got -1",
        id="negative-count",
    ),
    pytest.param(
        ["recv", "-c", "0"],
        {},
        EXIT_USAGE,
        r"count must be a positive int, got 0",
        id="zero-count",
    ),
    pytest.param(
        ["recv", "--duration", "-1"],
        {},
        EXIT_USAGE,
        r"duration must be a positive number of seconds, got -1\.0",
        id="negative-duration",
    ),
    pytest.param(
        ["recv", "--duration", "nan"],
        {},
        EXIT_USAGE,
        r"argument --duration: expected a number of seconds, got 'nan'",
        id="nan-duration",
    ),
    pytest.param(
        ["recv", "--idle-timeout", "0"],
        {},
        EXIT_USAGE,
        r"idle-timeout must be a positive number of seconds, got 0\.0",
        id="zero-idle-timeout",
    ),
    pytest.param(
        ["send", "-m", "x", "--count", "-3"],
        {},
        EXIT_USAGE,
        r"count must be a positive int, got -3",
        id="send-negative-count",
    ),
    pytest.param(
        ["send", "-m", "x", "--rate", "-1"],
        {},
        EXIT_USAGE,
        r"rate must be a positive number of datagrams per second, got -1\.0",
        id="negative-rate",
    ),
    pytest.param(
        ["send", "-m", "x", "--ttl", "256"],
        {},
        EXIT_USAGE,
        r"ttl must be an int in 0\.\.255, got 256",
        id="ttl-256",
    ),
    pytest.param(
        ["send", "-m", "x", "--size", "0"],
        {},
        EXIT_USAGE,
        r"size must be an int in 1\.\.65507, got 0 \(the datagram size: at most what one"
        r" datagram of the group's family carries\)",
        id="size-0",
    ),
    pytest.param(
        ["send", "-m", "x", "--size", "65508"],
        {},
        EXIT_USAGE,
        r"size must be an int in 1\.\.65507, got 65508 \(.*\)",
        id="size-over-ipv4-maximum",
    ),
    pytest.param(
        ["send", "ff15::1", "-m", "x", "--size", "65528"],
        {},
        EXIT_USAGE,
        r"size must be an int in 1\.\.65527, got 65528 \(.*\)",
        id="size-over-ipv6-maximum",
    ),
    pytest.param(
        ["send", "--sequence", "--size", "27"],
        {},
        EXIT_USAGE,
        r"size must be an int in 28\.\.65507, got 27 \(the datagram size: at least the 28-byte"
        r" --sequence header, at most what one datagram of the group's family carries\)",
        id="size-below-the-sequence-header",
    ),
    pytest.param(
        ["recv", "ff02::1"],
        {},
        EXIT_USAGE,
        r"group 'ff02::1' is link-scoped, so it needs an interface: pass --interface"
        r" \(a name or an index\)",
        id="link-scope-group-without-interface",
    ),
    pytest.param(
        ["recv", "-p", "\uff15\uff19\uff12\uff15\uff19"],
        {},
        EXIT_USAGE,
        r"argument -p/--port: expected an integer of ASCII digits, got '.*'",
        id="port-fullwidth-digits",
    ),
    pytest.param(
        ["recv", "--queue-size", "0"],
        {},
        EXIT_USAGE,
        r"queue-size must be an int in 1\.\.2147483647, got 0",
        id="queue-size-0",
    ),
    pytest.param(
        ["recv", "--receive-buffer", "2147483648"],
        {},
        EXIT_USAGE,
        r"receive-buffer must be an int in 1\.\.2147483647, got 2147483648",
        id="receive-buffer-huge",
    ),
    pytest.param(
        ["recv", "--overflow", "drop-all"],
        {},
        EXIT_USAGE,
        r"argument --overflow: invalid choice: 'drop-all' .*",
        id="overflow-unknown",
    ),
    pytest.param(
        ["recv", "-p", "5_000"],
        {},
        EXIT_USAGE,
        r"argument -p/--port: expected an integer of ASCII digits, got '5_000'",
        id="port-underscore",
    ),
    pytest.param(
        ["recv", "-p", "9" * 300],
        {},
        EXIT_USAGE,
        r"port must be an int in 1\.\.65535, got 9{77}\.\.\.",
        id="long-value-cut-short",
    ),
    pytest.param(
        ["recv", "--max-size", "65536"],
        {},
        EXIT_USAGE,
        r"max-size must be an int in 1\.\.65535, got 65536",
        id="max-size-too-big",
    ),
    pytest.param(
        ["recv", "--format", "xml"],
        {},
        EXIT_USAGE,
        r"argument -f/--format: invalid choice: 'xml' \(choose from .*text.*jsonl.*raw.*hex.*\)",
        id="unknown-format",
    ),
    pytest.param(
        ["recv", "--bogus"], {}, EXIT_USAGE, r"unrecognized arguments: --bogus", id="unknown-flag"
    ),
    pytest.param(
        ["bogus"],
        {},
        EXIT_USAGE,
        r"argument COMMAND: invalid choice: 'bogus' .*",
        id="unknown-command",
    ),
    pytest.param(
        [],
        {},
        EXIT_USAGE,
        r"a command is required: recv, send, doctor or demo \(see 'trio-mcast --help'\)",
        id="no-command",
    ),
    pytest.param(
        ["demo", "extra"], {}, EXIT_USAGE, r"unrecognized arguments: extra", id="demo-operand"
    ),
    pytest.param(["send"], {}, EXIT_USAGE, r"nothing to send: .*", id="send-nothing"),
    pytest.param(
        ["send", "239.1.1.1", "239.1.1.2", "-m", "x"],
        {},
        EXIT_USAGE,
        r"give one group, not 2: 239\.1\.1\.1, 239\.1\.1\.2",
        id="send-two-groups",
    ),
    pytest.param(
        ["send", "-", "-m", "x"],
        {},
        EXIT_USAGE,
        r"pass either --message TEXT or '-' for standard input, not both",
        id="send-message-and-stdin",
    ),
    pytest.param(
        ["send", "-", "--message", "-"],
        {},
        EXIT_USAGE,
        r"standard input \('-'\) can be given only once",
        id="send-stdin-twice",
    ),
    pytest.param(
        ["send", "-m", "x", "--binary"],
        {},
        EXIT_USAGE,
        r"--binary reads standard input: add '-'",
        id="send-binary-without-stdin",
    ),
    pytest.param(
        ["recv"],
        {"MULTICAST_GROUP": "bogus"},
        EXIT_CONFIG,
        r"environment variable MULTICAST_GROUP='bogus' is invalid: expected a multicast address"
        r" \(IPv4 224\.0\.0\.0/4 or IPv6 ff00::/8\)",
        id="env-group",
    ),
    pytest.param(
        ["send", "-m", "x"],
        {"MULTICAST_GROUP": "10.0.0.1"},
        EXIT_CONFIG,
        r"environment variable MULTICAST_GROUP='10\.0\.0\.1' is invalid: .*",
        id="env-group-send",
    ),
    pytest.param(
        ["recv", "239.1.1.1"],
        {"MULTICAST_PORT": "0"},
        EXIT_CONFIG,
        r"environment variable MULTICAST_PORT='0' is invalid: expected an integer in 1\.\.65535"
        r" \(ASCII digits only\)",
        id="env-port",
    ),
    pytest.param(
        ["send", "239.1.1.1", "-m", "x"],
        {"MULTICAST_PORT": "http"},
        EXIT_CONFIG,
        r"environment variable MULTICAST_PORT='http' is invalid: .*",
        id="env-port-send",
    ),
    pytest.param(
        ["send", "239.1.1.1", "-p", "5000", "-m", "x"],
        {"MULTICAST_TTL": "256"},
        EXIT_CONFIG,
        r"environment variable MULTICAST_TTL='256' is invalid: expected an integer in 0\.\.255"
        r" \(ASCII digits only\)",
        id="env-ttl",
    ),
    pytest.param(
        ["recv", "239.1.1.1", "-p", "5000"],
        {"MULTICAST_BUFFER_SIZE": "0"},
        EXIT_CONFIG,
        r"environment variable MULTICAST_BUFFER_SIZE='0' is invalid: expected an integer in"
        r" 1\.\.65535 \(ASCII digits only\)",
        id="env-buffer-size",
    ),
    pytest.param(
        ["recv", "239.1.1.1", "-p", "5000"],
        {"MULTICAST_BIND_ADDR": "not-an-address"},
        EXIT_CONFIG,
        r"environment variable MULTICAST_BIND_ADDR='not-an-address' is invalid: .*",
        id="env-bind-addr",
    ),
]


@pytest.mark.parametrize(("argv", "env", "code", "message"), BAD_INPUT)
def test_bad_input_prints_one_error_line(
    argv: list[str],
    env: dict[str, str],
    code: int,
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    stubbed: list[Call],
) -> None:
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    assert main(argv) == code
    lines = error_lines(capsys)
    assert len(lines) == 1, lines
    assert re.fullmatch(rf"trio-mcast: error: {message}", lines[0]), lines[0]
    assert stubbed == []


# These get as far as the operating system, inside the private namespace.
NETWORK_FAILURES: Final = [
    pytest.param(
        ["recv", "239.1.1.1", "-p", "40001", "--interface", "nosuch0"],
        {},
        r"interface 'nosuch0' does not exist on this host",
        None,
        id="unknown-interface-name",
    ),
    pytest.param(
        ["recv", "239.1.1.1", "-p", "40001", "-i", "4000"],
        {},
        r"interface index 4000 does not exist on this host",
        None,
        id="unknown-interface-index",
    ),
    pytest.param(
        ["send", "239.1.1.1", "-p", "40001", "--iface", "nosuch0", "-m", "x"],
        {},
        r"interface 'nosuch0' does not exist on this host",
        None,
        id="send-unknown-interface",
    ),
    pytest.param(
        ["recv", "239.1.1.1", "-p", "40001"],
        {"MULTICAST_BIND_ADDR": "10.9.9.9"},
        r"no interface on this host has the address 10\.9\.9\.9",
        None,
        id="bind-addr-not-local",
    ),
    pytest.param(
        ["send", "239.1.1.1", "-p", "40001", "-m", "x"],
        {},
        r"cannot send to 239\.1\.1\.1:40001: Network is unreachable \(errno \d+\)",
        r".+",
        id="send-without-route",
    ),
]


@pytest.mark.parametrize(("argv", "env", "message", "hint"), NETWORK_FAILURES)
def test_network_failures_exit_3(
    argv: list[str],
    env: dict[str, str],
    message: str,
    hint: str | None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    # A stop condition, in case the failure did not happen: the test must not hang.
    extra = ["--duration", "2"] if argv[0] == "recv" else []
    assert main([*argv, *extra]) == EXIT_NETWORK
    lines = error_lines(capsys)
    assert re.fullmatch(rf"trio-mcast: error: {message}", lines[0]), lines
    if hint is None:
        assert len(lines) == 1, lines
    else:
        assert len(lines) == 2, lines
        assert re.fullmatch(rf"trio-mcast: hint: {hint}", lines[1]), lines
        assert "hint:" not in lines[0]


# --- help and version ----------------------------------------------------------------------

HELP_ARGV: Final = [
    ["--help"],
    ["-h"],
    ["recv", "--help"],
    ["RECV", "-h"],
    ["send", "--help"],
    ["SAY", "-h"],
    ["demo", "--help"],
]


@pytest.mark.parametrize("argv", HELP_ARGV)
def test_help_returns_zero_and_explains_the_defaults(
    argv: list[str], capsys: pytest.CaptureFixture[str], stubbed: list[Call]
) -> None:
    assert main(argv) == EXIT_OK
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.startswith("usage: trio-mcast")
    assert stubbed == []
    if argv[0] not in {"demo"}:
        for fact in ("224.0.0.1", "MULTICAST_GROUP", "59259", "MULTICAST_PORT", "kernel's choice"):
            assert fact in captured.out
        assert "examples:" in captured.out


def test_recv_help_documents_every_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recv", "--help"]) == EXIT_OK
    text = capsys.readouterr().out
    section = text[text.index("exit codes:") :]
    for code in EXIT_CODES:
        assert re.search(rf"\b{code}\b", section), code


def test_exit_codes_are_the_documented_set() -> None:
    assert {0, 1, 2, 3, 4, 5, 6, 130, 143} == EXIT_CODES
    assert (EXIT_INTERRUPTED, EXIT_TERMINATED) == (130, 143)
    doc = _cli.__doc__
    assert doc is not None
    for code in EXIT_CODES:
        assert re.search(rf"^{code}\s", doc, re.MULTILINE), code


@pytest.mark.parametrize("prefix", [[], ["recv"], ["RECV"], ["send"], ["SAY"], ["demo"]])
def test_version_at_every_level(
    prefix: list[str], capsys: pytest.CaptureFixture[str], stubbed: list[Call]
) -> None:
    assert main([*prefix, "--version"]) == EXIT_OK
    assert capsys.readouterr() == (f"trio-mcast {trio_mcast.__version__}\n", "")
    assert stubbed == []


# --- parsing: seed compatibility, operands, defaults -----------------------------------------


def test_seed_recv_alias_with_equals_port(stubbed: list[Call]) -> None:
    options = recv_options(["RECV", "--port=1234"], stubbed)
    assert options == RecvOptions(groups=("224.0.0.1",), port=1234)


def test_seed_group_flags_and_iface(stubbed: list[Call]) -> None:
    argv = ["RECV", "--group", "239.1.1.1", "--groups", "239.1.1.2", "239.1.1.3", "--iface", "lo"]
    options = recv_options([*argv, "--group", "239.1.1.1"], stubbed)
    assert options.groups == ("239.1.1.1", "239.1.1.2", "239.1.1.3")
    assert options.interface == Interface(name="lo")
    assert options.port == 59259


def test_seed_say_alias(stubbed: list[Call]) -> None:
    argv = ["SAY", "--group", "239.1.1.1", "--port", "5000", "--message", "hello"]
    options = send_options(argv, stubbed)
    assert options == SendOptions(group="239.1.1.1", port=5000, message=b"hello")


def test_recv_options_in_full(stubbed: list[Call]) -> None:
    argv = [
        "recv", "ff02::1:3", "-p", "5355", "-i", "2", "-s", "fd00::7", "-c", "10",
        "--duration", "2.5", "--idle-timeout", "0.5", "-f", "jsonl", "--max-size", "1500",
        "--metadata", "--stats", "--sequence", "-q", "--receive-buffer", "4194304",
        "--queue-size", "64", "--overflow", "drop-oldest",
    ]  # fmt: skip
    assert recv_options(argv, stubbed) == RecvOptions(
        groups=("ff02::1:3",),
        port=5355,
        interface=Interface(index=2),
        sources=("fd00::7",),
        count=10,
        duration=2.5,
        idle_timeout=0.5,
        output_format="jsonl",
        max_size=1500,
        metadata=True,
        stats=True,
        sequence=True,
        analyze="tmsq",
        quiet=True,
        receive_buffer=4194304,
        queue_size=64,
        overflow="drop-oldest",
    )


@pytest.mark.parametrize(
    ("text", "interface"),
    [
        ("2", Interface(index=2)),
        ("eth0", Interface(name="eth0")),
        ("127.0.0.1", Interface(address=IPv4Address("127.0.0.1"))),
        ("0.0.0.0", None),
    ],
)
def test_interface_forms(text: str, interface: Interface | None, stubbed: list[Call]) -> None:
    assert recv_options(["recv", "239.1.1.1", "-i", text], stubbed).interface == interface


def test_operands_after_options(stubbed: list[Call]) -> None:
    options = recv_options(["recv", "239.1.1.1", "-p", "5000", "239.1.1.2"], stubbed)
    assert options.groups == ("239.1.1.1", "239.1.1.2")
    stubbed.clear()
    sent = send_options(["send", "239.1.1.1", "-p", "5000", "-"], stubbed)
    assert (sent.group, sent.message) == ("239.1.1.1", None)


@pytest.mark.parametrize(
    ("argv", "message", "binary", "size"),
    [
        (["send", "-"], None, False, None),
        (["send", "--message", "-"], None, False, None),
        (["send", "-", "239.1.1.1"], None, False, None),
        (["send", "-", "--binary", "--size", "10"], None, True, 10),
        (["send", "-m", "caf\udce9"], b"caf\xe9", False, None),
        (["send", "--sequence"], b"", False, None),
        (["send", "--size", "100"], b"", False, 100),
    ],
)
def test_send_payload_sources(
    argv: list[str], message: bytes | None, binary: bool, size: int | None, stubbed: list[Call]
) -> None:
    options = send_options(argv, stubbed)
    assert (options.message, options.binary, options.size) == (message, binary, size)


def test_send_options_in_full(stubbed: list[Call]) -> None:
    argv = [
        "send", "ff12::1", "-p", "6000", "-i", "eth1", "--ttl", "0", "--no-loopback",
        "-m", "hi", "-c", "5", "--rate", "2.5", "--size", "64", "--sequence", "-q",
    ]  # fmt: skip
    assert send_options(argv, stubbed) == SendOptions(
        group="ff12::1",
        port=6000,
        interface=Interface(name="eth1"),
        ttl=0,
        loopback=False,
        message=b"hi",
        count=5,
        rate=2.5,
        size=64,
        payload="tmsq",
        quiet=True,
    )


def test_environment_supplies_the_defaults(
    stubbed: list[Call], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MULTICAST_GROUP", "239.9.9.9")
    monkeypatch.setenv("MULTICAST_PORT", "6000")
    monkeypatch.setenv("MULTICAST_TTL", "7")
    monkeypatch.setenv("MULTICAST_BUFFER_SIZE", "1500")
    monkeypatch.setenv("MULTICAST_BIND_ADDR", "127.0.0.1")
    received = recv_options(["recv"], stubbed)
    assert (received.groups, received.port, received.max_size) == (("239.9.9.9",), 6000, 1500)
    assert received.interface == Interface(address=IPv4Address("127.0.0.1"))
    stubbed.clear()
    sent = send_options(["send", "-m", "x"], stubbed)
    assert (sent.group, sent.port, sent.ttl) == ("239.9.9.9", 6000, 7)


def test_explicit_values_never_read_the_environment(
    stubbed: list[Call], monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ENV_VARIABLES:
        monkeypatch.setenv(variable, "bogus")
    argv = ["recv", "239.1.1.1", "-p", "5000", "-i", "lo", "--max-size", "100"]
    assert recv_options(argv, stubbed).groups == ("239.1.1.1",)
    stubbed.clear()
    send_options(["send", "239.1.1.1", "-p", "5000", "--ttl", "1", "-m", "x"], stubbed)
    stubbed.clear()
    assert main(["demo"]) == EXIT_OK
    assert only_call(stubbed, "demo") == DemoOptions()


def test_argv_defaults_to_sys_argv(stubbed: list[Call], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["trio-mcast", "RECV", "--port=1234"])
    assert main() == EXIT_OK
    options = only_call(stubbed, "recv")
    assert isinstance(options, RecvOptions)
    assert options.port == 1234


# --- how failures from a run are reported ---------------------------------------------------


def _failing(exception: BaseException) -> Callable[[object], int]:
    def run(options: object) -> int:
        raise exception

    return run


def test_grouped_join_error_prints_error_and_hint(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    error = JoinError(
        "cannot join group 239.1.1.1: No buffer space (errno 105); hint: raise the limit",
        errno=errno.ENOBUFS,
        group="239.1.1.1",
        hint="raise the limit",
    )
    group = BaseExceptionGroup("nursery", [BaseExceptionGroup("inner", [error])])
    monkeypatch.setattr(_cli, "run_recv", _failing(group))
    assert main(["recv", "239.1.1.1"]) == EXIT_NETWORK
    assert error_lines(capsys) == [
        "trio-mcast: error: cannot join group 239.1.1.1: No buffer space (errno 105)",
        "trio-mcast: hint: raise the limit",
    ]


def test_plain_os_error_exits_3(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_cli, "run_send", _failing(OSError(errno.EACCES, "Permission denied")))
    assert main(["send", "-m", "x"]) == EXIT_NETWORK
    assert error_lines(capsys) == ["trio-mcast: error: [Errno 13] Permission denied"]


def test_messages_are_kept_on_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    error = InvalidArgumentError("bad\nvalue\x1b[31m", parameter="x", value=1)
    monkeypatch.setattr(_cli, "run_recv", _failing(error))
    assert main(["recv"]) == EXIT_USAGE
    assert error_lines(capsys) == ["trio-mcast: error: bad\\nvalue\\x1b[31m"]


def test_keyboard_interrupt_exits_130_quietly(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_cli, "run_demo", _failing(KeyboardInterrupt()))
    assert main(["demo"]) == EXIT_INTERRUPTED
    assert error_lines(capsys) == []


def test_bugs_are_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_cli, "run_recv", _failing(RuntimeError("bug")))
    with pytest.raises(RuntimeError, match=r"^bug$"):
        main(["recv"])


# --- real runs, in process, inside the private namespace -------------------------------------


def test_recv_idle_timeout_exits_1_with_summary(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["recv", "239.1.2.3", "-p", "40100", "-i", "lo", "--idle-timeout", "0.05"]
    assert main(argv) == EXIT_NOTHING_RECEIVED
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert lines[0] == "trio-mcast: listening on 239.1.2.3 port 40100, interface lo"
    assert re.fullmatch(
        r"trio-mcast: received 0 datagrams \(0 bytes\) from 0 senders in \d+\.\d\d s;"
        r" stopped: idle timeout",
        lines[1],
    )


def test_recv_quiet_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["recv", "239.1.2.3", "-p", "40101", "-i", "lo", "--duration", "0.05", "-q"]
    assert main(argv) == EXIT_NOTHING_RECEIVED
    assert capsys.readouterr() == ("", "")


def test_demo_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == EXIT_OK
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == _cli.DEMO_COUNT
    for number, line in enumerate(lines):
        assert f" seq={number} " in line
    assert "trio-mcast: received 5 datagrams" in captured.err
    assert "lost 0, duplicated 0, reordered 0" in captured.err


def test_send_quiet_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["send", "239.1.2.3", "-p", "40102", "-i", "127.0.0.1", "-m", "x", "-c", "2", "-q"]
    assert main(argv) == EXIT_OK
    assert capsys.readouterr() == ("", "")


# --- fuzzing the parser -------------------------------------------------------------------

WORDS: Final = st.sampled_from(
    [
        "recv", "RECV", "send", "SAY", "demo", "doctor", "--listen", "HEAR", "-", "--", "-h",
        "--help", "--version",
        "--port", "-p", "--port=1234", "-p5000", "--interface", "-i", "--iface", "--group",
        "--groups", "--source", "-s", "--count", "-c", "--duration", "--idle-timeout",
        "--format", "-f", "text", "jsonl", "raw", "hex", "xml", "--max-size", "--metadata",
        "--stats", "--sequence", "-q", "--quiet", "--ttl", "--loopback", "--no-loopback", "-m",
        "--message", "--binary", "--size", "--rate", "239.1.2.3", "ff02::1", "224.0.0.1",
        "10.1.1.1", "fd00::1", "127.0.0.1", "0.0.0.0", "example.com", "lo", "eth0", "0", "1",
        "-1", "59259", "70000", "1.5", "nan", "inf", "-0.5", "1e309",
    ]
)  # fmt: skip
ARGUMENTS: Final = st.one_of(WORDS, WORDS, WORDS, st.text(max_size=12))
ARGVS: Final = st.lists(ARGUMENTS, max_size=12)
ENVIRONMENTS: Final = st.dictionaries(
    st.sampled_from(ENV_VARIABLES),
    st.sampled_from(["", "bogus", "0", "1", "-5", "65536", "239.1.1.1", "127.0.0.1", "ff02::1"]),
    max_size=2,
)


@pytest.mark.no_network
@settings(max_examples=FUZZ_EXAMPLES)
@given(argv=ARGVS, env=ENVIRONMENTS)
def test_random_argv_gives_a_documented_code_and_no_traceback(
    argv: list[str], env: dict[str, str]
) -> None:
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    stderr = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, stubbed_commands() as calls:
        for variable in ENV_VARIABLES:
            patch.delenv(variable, raising=False)
        for variable, value in env.items():
            patch.setenv(variable, value)
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(argv)
    assert code in {EXIT_OK, EXIT_USAGE, EXIT_CONFIG}
    assert code in EXIT_CODES
    lines = stderr.getvalue().splitlines()
    assert "Traceback" not in stderr.getvalue()
    if code == EXIT_OK:
        assert lines == []
        assert len(calls) <= 1
    else:
        assert len(lines) == 1, lines
        assert ERROR_LINE.match(lines[0]), lines
        assert calls == []


def test_payload_options_are_parsed(stubbed: list[Call]) -> None:
    argv = ["send", "239.1.1.1", "--payload", "mpegts", "--pid", "256", "--skip-every", "10"]
    options = send_options(argv, stubbed)
    assert (options.payload, options.pid, options.skip_every, options.size) == (
        "mpegts",
        256,
        10,
        None,
    )
    assert not options.sequence
    stubbed.clear()
    options = send_options(
        ["send", "239.1.1.1", "--payload", "rtp", "--rtp-clock", "8000"], stubbed
    )
    assert (options.payload, options.rtp_clock) == ("rtp", 8000)
    stubbed.clear()
    recv = recv_options(
        ["recv", "239.1.1.1", "--analyze", "auto", "--rtp-clock", "48000"], stubbed
    )
    assert (recv.analyze, recv.rtp_clock, recv.sequence) == ("auto", 48000, False)
