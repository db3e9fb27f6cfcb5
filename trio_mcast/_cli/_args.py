"""The ``trio-mcast`` argument parser: its options, help texts and epilogs.

:func:`build_parser` builds the parser and :func:`parse` runs it; the
result still needs checking, by :func:`trio_mcast._cli._options.recv_options`
or :func:`~trio_mcast._cli._options.send_options`. Parse errors raise
:class:`~trio_mcast._cli._exits.UsageError` instead of exiting, so that
:func:`trio_mcast._cli.main` reports them like every other error.
"""

from __future__ import annotations

import argparse
import math
from typing import TYPE_CHECKING, Final, NoReturn

from .._analysis._payloads import PAYLOADS
from .._analysis._streams import MODES
from .._config import parse_decimal
from .._doctor import DEFAULT_LISTEN
from .._errors import describe
from ._doctor import DOCTOR_EPILOG
from ._exits import UsageError
from ._options import DEFAULT_CHUNK_SIZE, DEMO_COUNT, DEMO_GROUP, DEMO_TIMEOUT
from ._output import FORMATS

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["PROG", "build_parser", "parse"]

PROG: Final = "trio-mcast"

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
  3    network or OS failure (unknown interface, join or bind refused,
       standard output failing)
  4    invalid MULTICAST_* environment variable
  5    datagrams arrived, then none for --idle-timeout: the stream stopped
  6    (doctor) a check found a problem
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
  trio-mcast recv 239.1.1.1 -p 1234 --analyze auto --stats --format none
  trio-mcast recv 239.1.2.3 -p 5000 --format jsonl | jq .payload

"""
    + _EXIT_CODES_HELP
)

_SEND_EPILOG: Final = (
    _DEFAULTS_HELP
    + """
The payload is --message, or standard input when '-' is given (one datagram
per line, or --binary chunks). --size is the size of each datagram in bytes,
header included: payloads are padded with NUL bytes to it, and --binary reads
chunks that fill it; at most 65507 bytes over IPv4, 65527 over IPv6. With
--sequence a 28-byte header (see trio_mcast._sequence) starts each datagram,
for 'recv --sequence' to count loss, duplicates, reordering and latency.
--payload rtp, iperf2 or mpegts sends what those tools and IPTV receivers
read ('recv --analyze' reads them all); --skip-every N leaves gaps to find.

examples:
  trio-mcast send 239.1.2.3 -p 5000 -m hello
  trio-mcast send 239.1.2.3 -p 5000 -i eth0 --ttl 4 -m hi --count 100 --rate 10
  trio-mcast send 239.1.2.3 -p 5000 --sequence --size 1200 --count 10000 --rate 1000
  trio-mcast send 239.1.2.3 -p 5004 --payload rtp --size 1200 --count 1000 --rate 100
  trio-mcast send 239.1.2.3 -p 1234 --payload mpegts --pid 256 --count 5000 --rate 500
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
{DEMO_TIMEOUT:.0f} s, 3 network or OS failure, 130/143 interrupted.
"""


class _ArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors raise instead of printing and exiting.

    :func:`~trio_mcast._cli.main` prints them in the one-line format of every
    other error.
    """

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _integer(text: str) -> int:
    value = parse_decimal(text)
    if value is None:
        raise argparse.ArgumentTypeError(
            f"expected an integer of ASCII digits, got {describe(text)}"
        )
    return value


def _finite(unit: str) -> Callable[[str], float]:
    """An argparse type for a finite number; ``unit`` completes its error message."""

    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a number {unit}, got {describe(text)}")
        return value

    return convert


_seconds: Final = _finite("of seconds")
_rate: Final = _finite("per second")


def _interface(text: str) -> str | int:
    # A purely numeric interface is an index, as with 'ip link' and if_nametoindex.
    if text.isascii() and text.isdigit():
        return int(text)
    return text


def _version() -> str:
    # Imported here: the package's __init__ may import this module.
    from .. import __version__

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


def _add_sources(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument(
        "-s",
        "--source",
        dest="sources",
        action="append",
        default=[],
        metavar="ADDRESS",
        help=help_text,
    )


def _add_command(
    commands: argparse._SubParsersAction[_ArgumentParser],
    name: str,
    *,
    aliases: Sequence[str] = (),
    summary: str,
    description: str,
    epilog: str,
) -> _ArgumentParser:
    """Add the subcommand ``name``; ``summary`` is its line in the main help."""
    command = commands.add_parser(
        name,
        aliases=aliases,
        help=summary,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    # Aliases parse to the same name, so that dispatch knows only three.
    command.set_defaults(command_name=name)
    return command


def build_parser() -> _ArgumentParser:
    """The parser of the whole command line, subcommands included."""
    version = _version()
    parser = _ArgumentParser(
        prog=PROG,
        description="Receive, send and debug IP multicast (IPv4 and IPv6), with Trio.",
        epilog=_MAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=version)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    recv = _add_command(
        commands,
        "recv",
        aliases=["RECV"],
        summary="join groups and print the datagrams that arrive",
        description="Join multicast groups and print every datagram that arrives.",
        epilog=_RECV_EPILOG,
    )
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
    _add_sources(recv, "source-specific multicast: accept only this sender; repeatable")
    recv.add_argument(
        "-x",
        "--exclude",
        dest="exclude",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="any source but this one: the kernel filters it out and tells the routers;"
        " repeatable; not with --source",
    )
    tuning = recv.add_argument_group("tuning")
    tuning.add_argument(
        "--receive-buffer",
        type=_integer,
        metavar="BYTES",
        help="ask for this socket receive buffer (SO_RCVBUF; as root, beyond"
        " net.core.rmem_max); the summary shows what took effect",
    )
    tuning.add_argument(
        "--queue-size",
        type=_integer,
        metavar="N",
        help="datagrams queued between the socket and the output (default 1024)",
    )
    tuning.add_argument(
        "--overflow",
        choices=("drop-newest", "drop-oldest"),
        default="drop-newest",
        help="when the queue is full: stop reading, so the kernel drops and counts"
        " (drop-newest, the default), or keep reading and drop the oldest queued",
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
        " duplicated and reordered datagrams and one-way latency (--analyze tmsq, with"
        " the summary lines it has always printed)",
    )
    output.add_argument(
        "--analyze",
        choices=MODES,
        help="read each stream as what it carries and report loss per stream: tmsq"
        " ('send --sequence'), rtp (loss, reordering, lateness, jitter), mpegts"
        " (continuity per PID, PCR jitter, raw or in RTP), iperf2 (its client's header,"
        " loss and latency); auto recognises each sender's kind from its first datagrams",
    )
    output.add_argument(
        "--rtp-clock",
        type=_integer,
        metavar="HZ",
        help="the RTP timestamp clock for the jitter (default: the payload type's,"
        " 90000 for the dynamic ones)",
    )
    output.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print neither the 'listening on' line nor, without --stats, the summary",
    )

    send = _add_command(
        commands,
        "send",
        aliases=["SAY"],
        summary="send datagrams to a group",
        description="Send datagrams to a multicast group.",
        epilog=_SEND_EPILOG,
    )
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
        help="read standard input in chunks that fill --size-byte datagrams (default"
        f" {DEFAULT_CHUNK_SIZE}) instead of lines",
    )
    payload.add_argument(
        "--size",
        type=_integer,
        metavar="BYTES",
        help="the datagram size, header included (IPv4: at most 65507, IPv6: 65527);"
        " payloads are padded with NUL bytes to it",
    )
    payload.add_argument(
        "--sequence",
        action="store_true",
        help="prefix each datagram with a sequence header (for 'recv --sequence');"
        " the same as --payload tmsq",
    )
    payload.add_argument(
        "--payload",
        choices=PAYLOADS,
        help="what each datagram carries: tmsq (the --sequence header), rtp (RTP,"
        " payload type 96), iperf2 (iperf2's UDP client header, ending with its final"
        " datagram), mpegts (188-byte transport packets, 7 per datagram without --size)",
    )
    payload.add_argument(
        "--rtp-clock",
        type=_integer,
        metavar="HZ",
        help="the RTP timestamp clock (default 90000)",
    )
    payload.add_argument(
        "--pid",
        type=_integer,
        metavar="PID",
        help="the MPEG-TS PID, 0..8191 (default 8191, the null PID, whose continuity"
        " receivers do not check)",
    )
    payload.add_argument(
        "--skip-every",
        type=_integer,
        metavar="N",
        help="leave out every Nth datagram (numbered, not sent), for a receiver to find"
        " the gaps; N at least 2",
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

    doctor = _add_command(
        commands,
        "doctor",
        summary="check this host for what stops multicast to a group",
        description="Check, one by one, what on this host could stop multicast to GROUP"
        " from arriving, and how to fix it; then join for real and listen.",
        epilog=DOCTOR_EPILOG,
    )
    doctor.add_argument("group", metavar="GROUP", help="the multicast group to check")
    _add_common(doctor, version)
    _add_sources(
        doctor, "a sender of a source-specific join: check the route back to it; repeatable"
    )
    doctor.add_argument(
        "--listen",
        type=_seconds,
        default=DEFAULT_LISTEN,
        metavar="SECONDS",
        help=f"join for real and watch for SECONDS (default {DEFAULT_LISTEN:g}; 0: do not)",
    )
    doctor.add_argument(
        "-f",
        "--format",
        dest="output_format",
        choices=("text", "jsonl"),
        default="text",
        help="text: a checklist (default); jsonl: a JSON object per check",
    )

    demo = _add_command(
        commands,
        "demo",
        summary="send datagrams to yourself over loopback and show them",
        description="Send a few datagrams to yourself over loopback and show them.",
        epilog=_DEMO_EPILOG,
    )
    demo.add_argument("--version", action="version", version=version)
    return parser


def parse(parser: _ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
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
