"""The ``trio-mcast`` command line: ``recv``, ``send`` and ``demo``.

``python -m trio_mcast`` and the ``trio-mcast`` console script both call
:func:`main`, which returns the exit code instead of exiting. ``RECV`` and
``SAY`` are aliases of ``recv`` and ``send``, and ``--group``, ``--groups``
and ``--iface`` are accepted, for command lines written for the seed tool.

Every user error prints exactly one line, ``trio-mcast: error: MESSAGE``
(plus one ``trio-mcast: hint: ...`` line when the operating system's refusal
comes with a hint), and never a traceback.

Exit codes:

====  =====================================================================
code  meaning
====  =====================================================================
0     Success: ``recv`` received at least one datagram (or reached
      ``--count``), ``send`` sent everything, ``demo`` saw its datagrams.
1     ``recv``: nothing arrived before ``--duration`` or ``--idle-timeout``.
2     Usage error: unknown option, malformed or out-of-range value, a
      unicast group, groups of both families, a source of the wrong family.
3     Network or OS failure: unknown interface, join, bind or send refused.
4     Configuration error: an invalid ``MULTICAST_*`` environment variable.
130   Interrupted by Ctrl-C (SIGINT); the summary is still printed.
143   Terminated by SIGTERM (128 + 15); the summary is still printed.
====  =====================================================================
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import IO, TYPE_CHECKING, Final, NoReturn

import trio

from ._config import (
    MAX_DATAGRAM_SIZE,
    default_group,
    default_max_datagram_size,
    default_port,
    default_ttl,
)
from ._errors import (
    ConfigError,
    InterfaceNotFoundError,
    InvalidArgumentError,
    JoinError,
    MulticastError,
    join_error_from_oserror,
)
from ._output import (
    FORMATS,
    ReceiveSummary,
    SendSummary,
    format_datagram,
    format_endpoint,
    format_listening,
    format_rate,
    format_receive_summary,
    format_send_summary,
)
from ._receiver import open_multicast_receiver
from ._sender import open_multicast_sender
from ._sequence import SequenceTracker, new_stream_id, pack_header
from ._validate import (
    Interface,
    validate_group,
    validate_interface,
    validate_join_args,
    validate_max_datagram_size,
    validate_port,
    validate_positive_int,
    validate_ttl,
)

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from ._datagram import Datagram, ReceiverStatistics
    from ._receiver import MulticastReceiver

__all__ = [
    "DEMO_COUNT",
    "DEMO_GROUP",
    "EXIT_CODES",
    "EXIT_CONFIG",
    "EXIT_INTERRUPTED",
    "EXIT_NETWORK",
    "EXIT_NOTHING_RECEIVED",
    "EXIT_OK",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
    "PROG",
    "DemoOptions",
    "RecvOptions",
    "SendOptions",
    "main",
]

PROG: Final = "trio-mcast"

EXIT_OK: Final = 0
EXIT_NOTHING_RECEIVED: Final = 1
EXIT_USAGE: Final = 2
EXIT_NETWORK: Final = 3
EXIT_CONFIG: Final = 4
EXIT_INTERRUPTED: Final = 128 + signal.SIGINT
EXIT_TERMINATED: Final = 128 + signal.SIGTERM
#: Every exit code :func:`main` can return.
EXIT_CODES: Final = frozenset(
    {
        EXIT_OK,
        EXIT_NOTHING_RECEIVED,
        EXIT_USAGE,
        EXIT_NETWORK,
        EXIT_CONFIG,
        EXIT_INTERRUPTED,
        EXIT_TERMINATED,
    }
)

#: An organization-local group (RFC 2365) that the demo joins on loopback only.
DEMO_GROUP: Final = "239.255.42.99"
DEMO_COUNT: Final = 5
_DEMO_INTERFACE: Final = "127.0.0.1"
_DEMO_TIMEOUT: Final = 5.0
_DEMO_INTERVAL: Final = 0.05
_STATS_PERIOD: Final = 1.0
_DEFAULT_CHUNK_SIZE: Final = 1024
_STDIN_READ_SIZE: Final = 65536

_DEFAULTS_HELP: Final = """\
defaults:
  group      224.0.0.1, or $MULTICAST_GROUP
  port       59259, or $MULTICAST_PORT
  interface  the kernel's choice, by its routing table, unless -i/--interface
             is given ($MULTICAST_BIND_ADDR sets a default IPv4 address)
  ttl        1 (the local link), or $MULTICAST_TTL; send only
  max size   65535 bytes, or $MULTICAST_BUFFER_SIZE; recv only
"""

_EXIT_CODES_HELP: Final = """\
exit codes:
  0    at least one datagram received, or --count reached
  1    nothing arrived before --duration or --idle-timeout
  2    usage error (bad option or value, unicast group, bad port ...)
  3    network or OS failure (unknown interface, join or bind refused)
  4    invalid MULTICAST_* environment variable
  130  interrupted by Ctrl-C; 143 terminated by SIGTERM (summary printed)
"""

_MAIN_EPILOG: Final = (
    _DEFAULTS_HELP
    + """
examples:
  trio-mcast demo                              try it: loopback only, no root
  trio-mcast recv 239.1.2.3 -p 5000 -i eth0    print what arrives on eth0
  trio-mcast send 239.1.2.3 -p 5000 -m hello   send one datagram
  trio-mcast recv 239.1.2.3 -f jsonl | jq .    machine-readable output

Run 'trio-mcast COMMAND --help' for the options of each command.
"""
)

_RECV_EPILOG: Final = (
    _DEFAULTS_HELP
    + """
A purely numeric --interface is an interface index; otherwise it is a name
(eth0) or a local IPv4 address. Several groups must all be IPv4 or all IPv6.

examples:
  trio-mcast recv 239.1.2.3 -p 5000 -i eth0 --count 10
  trio-mcast recv ff02::1:3 -p 5355 -i eth0 --format hex
  trio-mcast recv 232.1.1.1 -p 5000 -s 10.0.0.7 --stats --sequence
  trio-mcast recv 239.1.2.3 -p 5000 --format jsonl | jq .payload

"""
    + _EXIT_CODES_HELP
)

_SEND_EPILOG: Final = (
    _DEFAULTS_HELP
    + """
The payload is --message, or standard input when '-' is given (one datagram
per line, or --binary chunks of --size bytes). --size pads the payload with
NUL bytes; with --sequence a 28-byte header (see trio_mcast._sequence)
precedes it, for 'recv --sequence' to count loss, duplicates, reordering and
latency.

examples:
  trio-mcast send 239.1.2.3 -p 5000 -m hello
  trio-mcast send 239.1.2.3 -p 5000 -i eth0 --ttl 4 -m hi --count 100 --rate 10
  trio-mcast send 239.1.2.3 -p 5000 --sequence --size 1200 --count 10000 --rate 1000
  journalctl -f | trio-mcast send 239.1.2.3 -p 5000 -

exit codes: 0 sent, 2 usage error, 3 network or OS failure, 4 invalid
MULTICAST_* variable, 130 interrupted by Ctrl-C, 143 terminated by SIGTERM.
"""
)

_DEMO_EPILOG: Final = f"""\
The demo joins {DEMO_GROUP} on the loopback interface (127.0.0.1), on a free
port chosen by binding a throwaway UDP socket to 127.0.0.1:0, sends itself
{DEMO_COUNT} datagrams with sequence headers (TTL 0: nothing leaves this
host), prints them as 'recv' would and then the summary. It needs no root.

exit codes: 0 datagrams came back, 1 none came back within
{_DEMO_TIMEOUT:.0f} s, 3 network or OS failure, 130/143 interrupted.
"""


@dataclass(frozen=True, slots=True)
class RecvOptions:
    """The validated options of ``recv`` (and of the demo's receiving half).

    Attributes:
        groups: The groups to join, canonical text, one family.
        port: The UDP port.
        interface: The interface, or ``None`` for the kernel's choice.
        sources: Source-specific multicast senders; empty for any source.
        count: Stop after this many datagrams, or ``None``.
        duration: Stop after this many seconds, or ``None``.
        idle_timeout: Stop when nothing arrives for this many seconds.
        output_format: One of :data:`~trio_mcast._output.FORMATS`.
        max_size: Longer datagrams are truncated to this many bytes.
        metadata: Ask for and show the interface and kernel timestamp.
        stats: Print a rate line every second, and the summary.
        sequence: Parse sequence headers and report per stream.
        quiet: Print neither the listening line nor the summary.
    """

    groups: tuple[str, ...]
    port: int
    interface: Interface | None = None
    sources: tuple[str, ...] = ()
    count: int | None = None
    duration: float | None = None
    idle_timeout: float | None = None
    output_format: str = "text"
    max_size: int = 65535
    metadata: bool = False
    stats: bool = False
    sequence: bool = False
    quiet: bool = False


@dataclass(frozen=True, slots=True)
class SendOptions:
    """The validated options of ``send``.

    Attributes:
        group: The destination group.
        port: The destination port.
        interface: The outgoing interface, or ``None`` for the routing table.
        ttl: The multicast TTL (IPv6 hop limit).
        loopback: Also deliver to receivers on this host.
        message: The payload, or ``None`` to read standard input.
        binary: Read standard input in chunks of ``size`` bytes, not lines.
        count: How many datagrams; ``None`` means one message, or all of
            standard input.
        rate: Datagrams per second, or ``None`` for as fast as possible.
        size: Pad payloads to this many bytes (the chunk size with
            ``binary``), or ``None``.
        sequence: Prefix each datagram with a sequence header.
        quiet: Do not print the summary.
    """

    group: str
    port: int
    interface: Interface | None = None
    ttl: int = 1
    loopback: bool = True
    message: bytes | None = b""
    binary: bool = False
    count: int | None = None
    rate: float | None = None
    size: int | None = None
    sequence: bool = False
    quiet: bool = False


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """The options of ``demo``.

    Attributes:
        count: Datagrams the demo sends itself.
        timeout: Seconds to wait for them.
    """

    count: int = DEMO_COUNT
    timeout: float = _DEMO_TIMEOUT


class _UsageError(Exception):
    """A command-line usage error; raised instead of argparse's exit."""


class _ArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors raise instead of printing and exiting.

    :func:`main` prints them in the one-line format of every other error.
    """

    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def _integer(text: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}")
    return value


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a number per second, got {text!r}")
    return value


def _interface(text: str) -> str | int:
    # A purely numeric interface is an index, as with 'ip link' and if_nametoindex.
    if text.isascii() and text.isdigit():
        return int(text)
    return text


def _version() -> str:
    # Imported here: the package's __init__ may import this module.
    from . import __version__

    return f"{PROG} {__version__}"


def _add_common(parser: argparse.ArgumentParser, version: str) -> None:
    parser.add_argument("--version", action="version", version=version)
    parser.add_argument(
        "-p",
        "--port",
        type=_integer,
        metavar="PORT",
        help="UDP port, 1..65535 (default: $MULTICAST_PORT or 59259)",
    )
    parser.add_argument(
        "-i",
        "--interface",
        "--iface",
        dest="interface",
        type=_interface,
        metavar="IFACE",
        help="interface name (eth0), index (2) or local IPv4 address"
        " (default: the kernel's choice by its routing table)",
    )


def _build_parser() -> _ArgumentParser:
    version = _version()
    formatter = argparse.RawDescriptionHelpFormatter
    parser = _ArgumentParser(
        prog=PROG,
        description="Receive, send and debug IP multicast (IPv4 and IPv6), with Trio.",
        epilog=_MAIN_EPILOG,
        formatter_class=formatter,
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=version)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    recv = commands.add_parser(
        "recv",
        aliases=["RECV"],
        help="join groups and print the datagrams that arrive",
        description="Join multicast groups and print every datagram that arrives.",
        epilog=_RECV_EPILOG,
        formatter_class=formatter,
        allow_abbrev=False,
    )
    recv.set_defaults(command_name="recv")
    recv.add_argument(
        "groups",
        nargs="*",
        metavar="GROUP",
        help="multicast group to join (default: $MULTICAST_GROUP or 224.0.0.1)",
    )
    recv.add_argument(
        "--group",
        dest="extra_groups",
        action="append",
        default=[],
        metavar="GROUP",
        help="a group to join, as the positional GROUP; repeatable",
    )
    recv.add_argument(
        "--groups",
        dest="extra_groups",
        nargs="*",
        action="extend",
        default=[],
        metavar="GROUP",
        help="groups to join (seed-compatible spelling)",
    )
    _add_common(recv, version)
    recv.add_argument(
        "-s",
        "--source",
        dest="sources",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="source-specific multicast: accept only this sender; repeatable",
    )
    stopping = recv.add_argument_group("stopping")
    stopping.add_argument(
        "-c", "--count", type=_integer, metavar="N", help="stop after N datagrams"
    )
    stopping.add_argument(
        "--duration", type=_seconds, metavar="SECONDS", help="stop after SECONDS"
    )
    stopping.add_argument(
        "--idle-timeout",
        type=_seconds,
        metavar="SECONDS",
        help="stop when nothing arrives for SECONDS",
    )
    output = recv.add_argument_group("output")
    output.add_argument(
        "-f",
        "--format",
        dest="output_format",
        choices=FORMATS,
        default=FORMATS[0],
        help="text: a line per datagram, payload escaped (default); jsonl: a JSON object"
        " per line; raw: payload bytes only; hex: a hexdump",
    )
    output.add_argument(
        "--max-size",
        type=_integer,
        metavar="BYTES",
        help="truncate longer datagrams (default: $MULTICAST_BUFFER_SIZE or 65535)",
    )
    output.add_argument(
        "--metadata",
        action="store_true",
        help="show the arrival interface index and the kernel's timestamp",
    )
    output.add_argument(
        "--stats",
        action="store_true",
        help="print a rate line on stderr every second (datagrams/s, bits/s, kernel"
        " drops, sequence gaps) and the summary at exit",
    )
    output.add_argument(
        "--sequence",
        action="store_true",
        help="parse the headers of 'send --sequence' and report, per sender, lost,"
        " duplicated and reordered datagrams and one-way latency",
    )
    output.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print neither the 'listening on' line nor, without --stats, the summary",
    )

    send = commands.add_parser(
        "send",
        aliases=["SAY"],
        help="send datagrams to a group",
        description="Send datagrams to a multicast group.",
        epilog=_SEND_EPILOG,
        formatter_class=formatter,
        allow_abbrev=False,
    )
    send.set_defaults(command_name="send")
    send.add_argument(
        "group",
        nargs="?",
        metavar="GROUP",
        help="destination group (default: $MULTICAST_GROUP or 224.0.0.1)",
    )
    send.add_argument(
        "stdin_operand", nargs="?", metavar="-", help="read the payloads from standard input"
    )
    send.add_argument(
        "--group", dest="group_option", metavar="GROUP", help="the group, as the positional"
    )
    _add_common(send, version)
    send.add_argument(
        "--ttl",
        type=_integer,
        metavar="TTL",
        help="multicast TTL / hop limit, 0..255 (default: $MULTICAST_TTL or 1)",
    )
    send.add_argument(
        "--loopback",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also deliver to receivers on this host (default: on)",
    )
    payload = send.add_argument_group("payload")
    payload.add_argument(
        "-m", "--message", metavar="TEXT", help="the payload; '-' reads standard input"
    )
    payload.add_argument(
        "--binary",
        action="store_true",
        help=f"read standard input in chunks of --size bytes (default {_DEFAULT_CHUNK_SIZE})"
        " instead of lines",
    )
    payload.add_argument(
        "--size",
        type=_integer,
        metavar="BYTES",
        help="pad each payload with NUL bytes to BYTES; with --binary, the chunk size",
    )
    payload.add_argument(
        "--sequence",
        action="store_true",
        help="prefix each datagram with a sequence header (for 'recv --sequence')",
    )
    pacing = send.add_argument_group("pacing")
    pacing.add_argument(
        "-c",
        "--count",
        type=_integer,
        metavar="N",
        help="send the message N times (default 1); with standard input, at most N lines",
    )
    pacing.add_argument(
        "--rate",
        type=_rate,
        metavar="PER_SECOND",
        help="datagrams per second, on a fixed schedule (default: as fast as possible)",
    )
    send.add_argument("-q", "--quiet", action="store_true", help="do not print the summary")

    demo = commands.add_parser(
        "demo",
        help="send datagrams to yourself over loopback and show them",
        description="Send a few datagrams to yourself over loopback and show them.",
        epilog=_DEMO_EPILOG,
        formatter_class=formatter,
        allow_abbrev=False,
    )
    demo.set_defaults(command_name="demo")
    demo.add_argument("--version", action="version", version=version)
    return parser


def _positive_seconds(value: float | None, parameter: str) -> float | None:
    if value is not None and not value > 0:
        raise InvalidArgumentError(
            f"{parameter} must be a positive number of seconds, got {value!r}",
            parameter=parameter,
            value=value,
        )
    return value


def _family_of_group(group: str) -> socket.AddressFamily:
    return socket.AF_INET6 if validate_group(group).version == 6 else socket.AF_INET


def _recv_options(args: argparse.Namespace) -> RecvOptions:
    groups: list[str] = [*args.groups, *args.late_operands, *args.extra_groups]
    # The interface is checked against the groups' family first so that its
    # errors name the option the user typed.
    first = groups[0] if groups else default_group()
    interface = validate_interface(args.interface, _family_of_group(first), parameter="interface")
    spec = validate_join_args(groups or None, args.port, interface, sources=args.sources or None)
    count = None if args.count is None else validate_positive_int(args.count, "count")
    max_size = (
        default_max_datagram_size()
        if args.max_size is None
        else validate_max_datagram_size(args.max_size, "max-size")
    )
    return RecvOptions(
        groups=spec.group_strings,
        port=spec.port,
        interface=spec.iface,
        sources=spec.source_strings,
        count=count,
        duration=_positive_seconds(args.duration, "duration"),
        idle_timeout=_positive_seconds(args.idle_timeout, "idle-timeout"),
        output_format=args.output_format,
        max_size=max_size,
        metadata=args.metadata,
        stats=args.stats,
        sequence=args.sequence,
        quiet=args.quiet,
    )


def _argv_bytes(text: str) -> bytes:
    # Arguments that were not valid UTF-8 arrive surrogate-escaped; this
    # gives back the exact bytes the user typed.
    try:
        return os.fsencode(text)
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _send_options(args: argparse.Namespace) -> SendOptions:
    operands = [
        operand
        for operand in (args.group, args.stdin_operand, *args.late_operands)
        if operand is not None
    ]
    from_stdin = operands.count("-")
    groups = [operand for operand in operands if operand != "-"]
    if args.group_option is not None:
        groups.append(args.group_option)
    if len(groups) > 1:
        raise _UsageError(f"give one group, not {len(groups)}: {', '.join(groups)}")
    if args.message == "-":
        from_stdin += 1
    if from_stdin > 1:
        raise _UsageError("standard input ('-') can be given only once")
    if from_stdin and args.message not in (None, "-"):
        raise _UsageError("pass either --message TEXT or '-' for standard input, not both")
    if args.binary and not from_stdin:
        raise _UsageError("--binary reads standard input: add '-'")
    if args.message is None and not from_stdin and not (args.sequence or args.size is not None):
        raise _UsageError(
            "nothing to send: pass --message TEXT, '-' to read standard input,"
            " or --sequence or --size for generated payloads"
        )

    group = str(validate_group(groups[0] if groups else default_group()))
    port = default_port() if args.port is None else validate_port(args.port)
    interface = validate_interface(args.interface, _family_of_group(group), parameter="interface")
    ttl = default_ttl() if args.ttl is None else validate_ttl(args.ttl)
    count = None if args.count is None else validate_positive_int(args.count, "count")
    size = None if args.size is None else validate_max_datagram_size(args.size, "size")
    if args.rate is not None and not args.rate > 0:
        raise InvalidArgumentError(
            f"rate must be a positive number of datagrams per second, got {args.rate!r}",
            parameter="rate",
            value=args.rate,
        )
    message: bytes | None = None
    if not from_stdin:
        message = b"" if args.message is None else _argv_bytes(args.message)
    return SendOptions(
        group=group,
        port=port,
        interface=interface,
        ttl=ttl,
        loopback=args.loopback,
        message=message,
        binary=args.binary,
        count=count,
        rate=args.rate,
        size=size,
        sequence=args.sequence,
        quiet=args.quiet,
    )


def _parse(parser: _ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse, accepting operands after options (``send GROUP -p 5000 -``).

    argparse binds optional positionals before it sees later options, so an
    operand after an option comes back unrecognised; bare operands are
    collected here, anything that looks like an option stays an error.
    """
    args, extras = parser.parse_known_args(argv)
    operands_allowed = getattr(args, "command_name", None) in {"recv", "send"}
    if extras and (not operands_allowed or any(_looks_like_option(arg) for arg in extras)):
        parser.error(f"unrecognized arguments: {' '.join(extras)}")
    args.late_operands = extras
    return args


def _looks_like_option(arg: str) -> bool:
    return arg.startswith("-") and arg != "-"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``trio-mcast`` command line.

    Args:
        argv: The arguments, without the program name; ``None`` means
            ``sys.argv[1:]``.

    Returns:
        The exit code, one of :data:`EXIT_CODES` (see the module docstring).
        ``--help`` and ``--version`` return 0. It never calls
        :func:`sys.exit`.

    Example:
        >>> main(["recv", "--port", "0"])  # doctest: +SKIP
        trio-mcast: error: port must be an int in 1..65535, got 0
        2
    """
    try:
        parser = _build_parser()
        try:
            args = _parse(parser, argv)
        except SystemExit as exit_request:
            # --help and --version: argparse has printed what was asked for.
            return _system_exit_code(exit_request)
        command = getattr(args, "command_name", None)
        if command == "recv":
            return _run_recv(_recv_options(args))
        if command == "send":
            return _run_send(_send_options(args))
        if command == "demo":
            return _run_demo(DemoOptions())
        raise _UsageError(f"a command is required: recv, send or demo (see '{PROG} --help')")
    except BaseException as exc:
        code = _report_failure(exc)
        if code is None:
            raise
        return code


def _system_exit_code(exit_request: SystemExit) -> int:
    code = exit_request.code
    if code is None:
        return EXIT_OK
    if isinstance(code, int):
        return code if code in EXIT_CODES else EXIT_USAGE
    return EXIT_USAGE


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _principal(exc: BaseException) -> BaseException | None:
    """The one exception a (possibly grouped) failure stands for, or ``None``."""
    leaves = [leaf for leaf in _leaves(exc) if not isinstance(leaf, trio.Cancelled)]
    for leaf in leaves:
        if isinstance(leaf, KeyboardInterrupt):
            return leaf
    return leaves[0] if len(leaves) == 1 else None


def _exit_code_for(exc: BaseException) -> int | None:
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, _UsageError):
        return EXIT_USAGE
    if isinstance(exc, ConfigError):
        return EXIT_CONFIG
    # Before MulticastError: these are network failures, not bad input.
    if isinstance(exc, (InterfaceNotFoundError, JoinError)):
        return EXIT_NETWORK
    if isinstance(exc, MulticastError):
        return EXIT_USAGE
    if isinstance(exc, OSError):
        return EXIT_NETWORK
    return None


def _one_line(text: str) -> str:
    # Messages may quote user input; a newline or an escape sequence in it
    # must not break the one-line format or the terminal.
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def _report_failure(exc: BaseException) -> int | None:
    """Print the error line(s) for ``exc`` and return its exit code.

    Returns ``None`` for exceptions that are bugs, which must propagate.
    """
    principal = _principal(exc)
    if principal is None:
        return None
    code = _exit_code_for(principal)
    if code is None or code == EXIT_INTERRUPTED:
        return code
    message = str(principal) or type(principal).__name__
    hint = principal.hint if isinstance(principal, JoinError) else None
    if hint is not None:
        # The library appends the hint to its message; it gets its own line here.
        message = message.removesuffix(f"; hint: {hint}")
    _note(f"error: {message}")
    if hint is not None:
        _note(f"hint: {hint}")
    return code


def _note(line: str) -> None:
    """Print one ``trio-mcast: ...`` line on stderr; a closed stderr is ignored."""
    stderr = sys.stderr
    if stderr is None:
        # Closed at start-up; print(file=None) would write to stdout instead.
        return
    with contextlib.suppress(OSError, ValueError):
        print(f"{PROG}: {_one_line(line)}", file=stderr, flush=True)


class _Output:
    """Standard output as bytes, flushed after every write.

    A stream of ``None`` (stdout was closed at start-up) behaves like a
    closed pipe.
    """

    def __init__(self, stream: IO[str] | None) -> None:
        self._text = stream
        self._binary: IO[bytes] | None = getattr(stream, "buffer", None)
        if stream is not None and self._binary is not None:
            # Text written before us must come out first.
            with contextlib.suppress(OSError, ValueError):
                stream.flush()

    def write(self, data: bytes) -> None:
        if self._text is None:
            raise BrokenPipeError("standard output is closed")
        if self._binary is not None:
            self._binary.write(data)
            self._binary.flush()
        else:
            self._text.write(data.decode("utf-8", "surrogateescape"))
            self._text.flush()


def _silence_stdout() -> None:
    """Point stdout at /dev/null after a broken pipe.

    Python flushes stdout again at exit; without this that flush fails once
    more and prints "Exception ignored ... BrokenPipeError".
    """
    stdout = sys.stdout
    if stdout is None:
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    try:
        os.dup2(devnull, stdout.fileno())
    except (OSError, ValueError):
        # Not a real file descriptor (an in-process capture): nothing to redirect.
        pass
    finally:
        os.close(devnull)


class _Run:
    """What every command shares: the signal that stopped it, if any."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def interrupted_code(self) -> int | None:
        if self.signum == signal.SIGTERM:
            return EXIT_TERMINATED
        if self.signum is not None:
            return EXIT_INTERRUPTED
        return None

    def interrupted_reason(self) -> str:
        return "terminated (SIGTERM)" if self.signum == signal.SIGTERM else "interrupted"


async def _watch_signals(
    run: _Run,
    cancel_scope: trio.CancelScope,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Turn the first SIGINT or SIGTERM into a cancellation of the command.

    The command then ends through its normal path and prints its summary.
    """
    if threading.current_thread() is not threading.main_thread():
        # Signal handlers can only be installed from the main thread.
        task_status.started()
        return
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        task_status.started()
        async for signum in signals:
            run.signum = signum
            cancel_scope.cancel()
            return


async def _guarded(run: _Run, body: Callable[[], Awaitable[None]]) -> None:
    async with trio.open_nursery() as nursery:
        await nursery.start(_watch_signals, run, nursery.cancel_scope)
        await body()
        nursery.cancel_scope.cancel()


def _only_keyboard_interrupts(exc: BaseException) -> bool:
    leaves = [leaf for leaf in _leaves(exc) if not isinstance(leaf, trio.Cancelled)]
    return bool(leaves) and all(isinstance(leaf, KeyboardInterrupt) for leaf in leaves)


def _run_trio(run: _Run, body: Callable[[], Awaitable[None]]) -> None:
    """``trio.run`` the body; a Ctrl-C outside the signal watcher counts as SIGINT."""
    try:
        trio.run(_guarded, run, body)
    except BaseException as exc:
        if not _only_keyboard_interrupts(exc):
            raise
        run.signum = signal.SIGINT


class _ReceiveSession(_Run):
    """The state of one ``recv`` (or demo) run: counters, tracker, output."""

    def __init__(self, options: RecvOptions) -> None:
        super().__init__()
        self.options = options
        self.output = _Output(sys.stdout)
        self.tracker = SequenceTracker() if options.sequence else None
        self.datagrams = 0
        self.bytes = 0
        self.senders: set[tuple[str, int]] = set()
        self.started: float | None = None
        self.stopped: float | None = None
        self.stop_reason = "error"
        self.final: ReceiverStatistics | None = None

    @property
    def verbose(self) -> bool:
        return self.options.stats or not self.options.quiet

    def joined(self, receiver: MulticastReceiver) -> None:
        self.started = time.monotonic()
        if not self.options.quiet:
            _note(
                format_listening(
                    receiver.groups, receiver.port, receiver.interface, self.options.sources
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
            _silence_stdout()
            self.stop_reason = "output closed"
            return False
        return True

    def summary(self) -> ReceiveSummary:
        final = self.final
        started = self.started if self.started is not None else time.monotonic()
        stopped = self.stopped if self.stopped is not None else time.monotonic()
        tracker = self.tracker
        return ReceiveSummary(
            datagrams=self.datagrams,
            bytes=self.bytes,
            senders=len(self.senders),
            elapsed=max(0.0, stopped - started),
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
            _note(line)

    def exit_code(self) -> int:
        interrupted = self.interrupted_code()
        if interrupted is not None:
            return interrupted
        return EXIT_OK if self.datagrams else EXIT_NOTHING_RECEIVED


async def _report_rates(session: _ReceiveSession, receiver: MulticastReceiver) -> None:
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
        _note(
            format_rate(
                (current.datagrams - previous.datagrams) / elapsed,
                (current.bytes - previous.bytes) * 8 / elapsed,
                current.kernel_drops,
                None if tracker is None else tracker.lost,
            )
        )
        previous, previous_time = current, now


async def _receive_datagrams(session: _ReceiveSession, receiver: MulticastReceiver) -> None:
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


async def _receive(
    session: _ReceiveSession, companion: Callable[[], Awaitable[None]] | None = None
) -> None:
    """Join, then handle datagrams until a stop condition; ``companion`` runs alongside."""
    options = session.options
    async with open_multicast_receiver(
        options.groups,
        options.port,
        interface=options.interface,
        sources=options.sources or None,
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


def _run_receive_session(session: _ReceiveSession, body: Callable[[], Awaitable[None]]) -> int:
    # An error ends the run with its one error line and no summary.
    _run_trio(session, body)
    if session.signum is not None:
        session.stop_reason = session.interrupted_reason()
    session.print_summary()
    return session.exit_code()


def _run_recv(options: RecvOptions) -> int:
    """Run ``recv``; the options are already validated."""
    session = _ReceiveSession(options)
    return _run_receive_session(session, lambda: _receive(session))


def _free_udp_port() -> int:
    """A UDP port nobody uses on 127.0.0.1 right now, so demos never meet."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((_DEMO_INTERFACE, 0))
        port: int = probe.getsockname()[1]
    return port


async def _send_demo_datagrams(port: int, count: int) -> None:
    stream_id = new_stream_id()
    # TTL 0: the kernel loops the datagrams back to us and sends nothing on a wire.
    async with open_multicast_sender(
        DEMO_GROUP, port, interface=_DEMO_INTERFACE, ttl=0, loopback=True
    ) as sender:
        start = trio.current_time()
        for number in range(count):
            await trio.sleep_until(start + number * _DEMO_INTERVAL)
            text = f"hello from the trio-mcast demo, datagram {number + 1} of {count}"
            header = pack_header(number, time.time_ns(), stream_id)
            try:
                await sender.send(header + text.encode())
            except OSError as exc:
                raise join_error_from_oserror(
                    exc, operation=f"send to {format_endpoint(DEMO_GROUP, port)}"
                ) from exc


def _run_demo(options: DemoOptions) -> int:
    """Run ``demo``: send to ourselves over loopback and show it as ``recv``."""
    port = _free_udp_port()
    receive_options = RecvOptions(
        groups=(DEMO_GROUP,),
        port=port,
        interface=Interface(address=IPv4Address(_DEMO_INTERFACE)),
        count=options.count,
        duration=options.timeout,
        sequence=True,
        # Explicit values throughout: the demo must not depend on MULTICAST_*.
        max_size=MAX_DATAGRAM_SIZE,
    )
    session = _ReceiveSession(receive_options)
    _note(
        f"demo: sending {options.count} datagrams to {format_endpoint(DEMO_GROUP, port)}"
        " over loopback (127.0.0.1, TTL 0) and receiving them"
    )
    return _run_receive_session(
        session,
        lambda: _receive(session, lambda: _send_demo_datagrams(port, options.count)),
    )


class _SendSession(_Run):
    """The state of one ``send`` run."""

    def __init__(self, options: SendOptions) -> None:
        super().__init__()
        self.options = options
        self.stream_id = new_stream_id() if options.sequence else None
        self.datagrams = 0
        self.bytes = 0
        self.started: float | None = None
        self.stopped: float | None = None
        self.stop_reason = ""

    def print_summary(self) -> None:
        if self.started is None or self.options.quiet:
            return
        stopped = self.stopped if self.stopped is not None else time.monotonic()
        options = self.options
        _note(
            format_send_summary(
                SendSummary(
                    datagrams=self.datagrams,
                    bytes=self.bytes,
                    group=options.group,
                    port=options.port,
                    elapsed=max(0.0, stopped - self.started),
                    stream_id=self.stream_id,
                    stop_reason=self.stop_reason,
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
            await _send_payloads(session, sender.send)
        finally:
            session.stopped = time.monotonic()


async def _send_payloads(session: _SendSession, send: Callable[[bytes], Awaitable[None]]) -> None:
    options = session.options
    stdin = None
    if options.message is None:
        stdin = _StdinPayloads((options.size or _DEFAULT_CHUNK_SIZE) if options.binary else None)
    limit = options.count if options.count is not None or stdin is not None else 1
    pad = options.size if options.size is not None and not options.binary else 0
    start = trio.current_time()
    number = 0
    while limit is None or number < limit:
        if options.rate is not None:
            # A fixed schedule, so the rate does not drift with the send time.
            await trio.sleep_until(start + number / options.rate)
        if stdin is None:
            body = options.message or b""
        else:
            next_body = await stdin.next()
            if next_body is None:
                return
            body = next_body
        body = body.ljust(pad, b"\0")
        if session.stream_id is not None:
            body = pack_header(number, time.time_ns(), session.stream_id) + body
        try:
            await send(body)
        except OSError as exc:
            raise join_error_from_oserror(
                exc,
                operation=f"send to {format_endpoint(options.group, options.port)}",
                interface=None if options.interface is None else options.interface.label,
            ) from exc
        number += 1
        session.datagrams = number
        session.bytes += len(body)


def _run_send(options: SendOptions) -> int:
    """Run ``send``; the options are already validated."""
    session = _SendSession(options)
    _run_trio(session, lambda: _send(session))
    if session.signum is not None:
        session.stop_reason = session.interrupted_reason()
    session.print_summary()
    interrupted = session.interrupted_code()
    return EXIT_OK if interrupted is None else interrupted
