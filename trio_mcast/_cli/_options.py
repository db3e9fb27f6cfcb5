"""The validated options of each command, and how parsed arguments become them.

:mod:`trio_mcast._cli._args` parses the command line into an
:class:`argparse.Namespace`; :func:`recv_options` and :func:`send_options`
check it, fill in the ``MULTICAST_*`` defaults and return the frozen options
the runs use. ``demo`` has no options to check.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from .._analysis._mpegts import NULL_PID, PACKET_SIZE
from .._analysis._payloads import HEADER_SIZES
from .._analysis._rtp import DEFAULT_CLOCK_RATE
from .._config import default_group, default_port, default_ttl
from .._errors import InvalidArgumentError
from .._receiver import DEFAULT_QUEUE_SIZE
from .._validate import (
    MAX_COUNT,
    max_udp_payload,
    validate_group,
    validate_interface,
    validate_join_args,
    validate_max_datagram_size_or_default,
    validate_port,
    validate_positive_int,
    validate_ttl,
)
from ._exits import UsageError

if TYPE_CHECKING:
    import argparse

    from .._analysis._payloads import PayloadKind
    from .._analysis._streams import Mode
    from .._open_receiver import Overflow
    from .._validate import Interface

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEMO_COUNT",
    "DEMO_GROUP",
    "DEMO_TIMEOUT",
    "DemoOptions",
    "RecvOptions",
    "SendOptions",
    "recv_options",
    "send_options",
]

#: An organization-local group (RFC 2365) that the demo joins on loopback only.
DEMO_GROUP: Final = "239.255.42.99"
DEMO_COUNT: Final = 5
DEMO_TIMEOUT: Final = 5.0
#: The chunk size of ``send --binary`` without ``--size``.
DEFAULT_CHUNK_SIZE: Final = 1024
#: The fastest RTP clock accepted: 1 GHz, far beyond any media clock.
MAX_CLOCK: Final = 1_000_000_000


@dataclass(frozen=True, slots=True)
class RecvOptions:
    """The validated options of ``recv`` (and of the demo's receiving half).

    Attributes:
        groups: The groups to join, canonical text, one family.
        port: The UDP port.
        interface: The interface, or ``None`` for the kernel's choice.
        sources: Source-specific multicast senders; empty for any source.
        exclude: Senders an any-source join filters out; empty for none.
        count: Stop after this many datagrams, or ``None``.
        duration: Stop after this many seconds, or ``None``.
        idle_timeout: Stop when nothing arrives for this many seconds.
        output_format: One of :data:`~trio_mcast._cli._output.FORMATS`.
        max_size: Longer datagrams are truncated to this many bytes.
        metadata: Ask for and show the interface and kernel timestamp.
        stats: Print a rate line every second, and the summary.
        sequence: Parse sequence headers and report per stream, in the
            summary lines of ``--sequence``.
        analyze: Read streams as this kind (or ``auto``) and report each, or ``None``.
        rtp_clock: The RTP timestamp clock, or ``None`` for the payload type's.
        quiet: Print neither the listening line nor the summary.
        receive_buffer: The ``SO_RCVBUF`` to ask for, or ``None``.
        queue_size: The receiver's queue size.
        overflow: The receiver's overflow policy.
    """

    groups: tuple[str, ...]
    port: int
    interface: Interface | None = None
    sources: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    count: int | None = None
    duration: float | None = None
    idle_timeout: float | None = None
    output_format: str = "text"
    max_size: int = 65535
    metadata: bool = False
    stats: bool = False
    sequence: bool = False
    analyze: Mode | None = None
    rtp_clock: int | None = None
    quiet: bool = False
    receive_buffer: int | None = None
    queue_size: int = DEFAULT_QUEUE_SIZE
    overflow: Overflow = "drop-newest"


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
        size: The datagram size, header included: payloads are padded to
            it, and ``binary`` reads chunks that fill it; or ``None``.
        payload: What each datagram carries before the message (one of
            :data:`~trio_mcast._analysis._payloads.PAYLOADS`), or ``None``.
        rtp_clock: The RTP timestamp clock, in Hz.
        pid: The MPEG-TS PID.
        skip_every: Leave out every Nth datagram, or ``None``.
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
    payload: PayloadKind | None = None
    rtp_clock: int = DEFAULT_CLOCK_RATE
    pid: int = NULL_PID
    skip_every: int | None = None
    quiet: bool = False

    @property
    def sequence(self) -> bool:
        """Whether datagrams carry the ``TMSQ`` sequence header (``--sequence``)."""
        return self.payload == "tmsq"


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """The options of ``demo``.

    Attributes:
        count: Datagrams the demo sends itself.
        timeout: Seconds to wait for them.
    """

    count: int = DEMO_COUNT
    timeout: float = DEMO_TIMEOUT


def _positive(value: float | None, parameter: str, unit: str) -> float | None:
    # argparse has already refused what is not a finite number.
    if value is not None and not value > 0:
        raise InvalidArgumentError(
            f"{parameter} must be a positive number of {unit}, got {value!r}",
            parameter=parameter,
            value=value,
        )
    return value


def _count(args: argparse.Namespace) -> int | None:
    return None if args.count is None else validate_positive_int(args.count, "count")


def _interface(args: argparse.Namespace, group: str) -> Interface | None:
    # The interface is checked against the group's family first so that its
    # errors name the option the user typed.
    family = socket.AF_INET6 if validate_group(group).version == 6 else socket.AF_INET
    return validate_interface(args.interface, family, parameter="interface")


def recv_options(args: argparse.Namespace) -> RecvOptions:
    """Validate the parsed arguments of ``recv``.

    Args:
        args: What :func:`trio_mcast._cli._args.parse` returned for ``recv``.

    Returns:
        The options, with the ``MULTICAST_*`` defaults filled in.

    Raises:
        MulticastError: A value is invalid (or ``ConfigError``, an
            environment variable is).
    """
    groups: list[str] = [*args.groups, *args.late_operands, *args.extra_groups]
    interface = _interface(args, groups[0] if groups else default_group())
    if args.sources and args.exclude:
        raise UsageError(
            "--source and --exclude cannot be used together: --source accepts only those"
            " senders, --exclude every sender but those"
        )
    spec = validate_join_args(
        groups or None,
        args.port,
        interface,
        sources=args.sources or None,
        exclude=args.exclude or None,
        interface_parameter="--interface",
    )
    count = _count(args)
    max_size = validate_max_datagram_size_or_default(args.max_size, "max-size")
    return RecvOptions(
        groups=spec.group_strings,
        port=spec.port,
        interface=spec.iface,
        sources=spec.source_strings,
        exclude=tuple(map(str, spec.exclude)),
        count=count,
        duration=_positive(args.duration, "duration", "seconds"),
        idle_timeout=_positive(args.idle_timeout, "idle-timeout", "seconds"),
        output_format=args.output_format,
        max_size=max_size,
        metadata=args.metadata,
        stats=args.stats,
        sequence=args.sequence,
        analyze=_analyze(args),
        rtp_clock=(
            None
            if args.rtp_clock is None
            else validate_positive_int(args.rtp_clock, "rtp-clock", MAX_CLOCK)
        ),
        quiet=args.quiet,
        receive_buffer=(
            None
            if args.receive_buffer is None
            else validate_positive_int(args.receive_buffer, "receive-buffer", MAX_COUNT)
        ),
        queue_size=(
            DEFAULT_QUEUE_SIZE
            if args.queue_size is None
            else validate_positive_int(args.queue_size, "queue-size", MAX_COUNT)
        ),
        overflow=args.overflow,
    )


def _analyze(args: argparse.Namespace) -> Mode | None:
    mode: Mode | None = args.analyze
    if args.sequence:
        if mode not in (None, "tmsq"):
            raise UsageError(f"--sequence is --analyze tmsq: it cannot go with --analyze {mode}")
        mode = "tmsq"
    if args.rtp_clock is not None and mode not in ("auto", "rtp", "mpegts"):
        raise UsageError("--rtp-clock times RTP streams: add --analyze rtp (or auto)")
    return mode


def _argv_bytes(text: str) -> bytes:
    # Arguments that were not valid UTF-8 arrive surrogate-escaped; this
    # gives back the exact bytes the user typed.
    try:
        return os.fsencode(text)
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _datagram_size(
    size: int, header: int, limit: int, *, binary: bool, payload: str | None
) -> int:
    # A --binary chunk must hold at least one byte of standard input.
    low = header + 1 if binary else max(header, 1)
    if payload == "mpegts":
        if not (low <= size <= limit and size % PACKET_SIZE == 0):
            raise InvalidArgumentError(
                f"size must be a multiple of {PACKET_SIZE} in {low}..{limit}, got {size}"
                " (--payload mpegts sends whole transport packets)",
                parameter="size",
                value=size,
            )
        return size
    if not low <= size <= limit:
        rule = f"an int in {low}..{limit}"
        name = "--sequence" if payload == "tmsq" else f"--payload {payload}"
        why = (
            f" (the datagram size: at least the {header}-byte {name} header, at most what"
            " one datagram of the group's family carries)"
            if header
            else " (the datagram size: at most what one datagram of the group's family carries)"
        )
        raise InvalidArgumentError(
            f"size must be {rule}, got {size}{why}", parameter="size", value=size
        )
    return size


def _send_operands(args: argparse.Namespace) -> tuple[str | None, int]:
    """The group operand of ``send``, if any, and how often standard input was asked for.

    Raises:
        UsageError: The operands and payload options do not fit together.
    """
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
        raise UsageError(f"give one group, not {len(groups)}: {', '.join(groups)}")
    if args.message == "-":
        from_stdin += 1
    if from_stdin > 1:
        raise UsageError("standard input ('-') can be given only once")
    if from_stdin and args.message not in (None, "-"):
        raise UsageError("pass either --message TEXT or '-' for standard input, not both")
    if args.binary and not from_stdin:
        raise UsageError("--binary reads standard input: add '-'")
    generated = args.sequence or args.payload is not None or args.size is not None
    if args.message is None and not from_stdin and not generated:
        raise UsageError(
            "nothing to send: pass --message TEXT, '-' to read standard input,"
            " or --sequence, --payload or --size for generated payloads"
        )
    return (groups[0] if groups else None), from_stdin


def send_options(args: argparse.Namespace) -> SendOptions:
    """Validate the parsed arguments of ``send``.

    Args:
        args: What :func:`trio_mcast._cli._args.parse` returned for ``send``.

    Returns:
        The options, with the ``MULTICAST_*`` defaults filled in.

    Raises:
        UsageError: The operands and payload options do not fit together.
        MulticastError: A value is invalid (or ``ConfigError``, an
            environment variable is).
    """
    given_group, from_stdin = _send_operands(args)
    address = validate_group(given_group if given_group is not None else default_group())
    group = str(address)
    port = default_port() if args.port is None else validate_port(args.port)
    interface = _interface(args, group)
    ttl = default_ttl() if args.ttl is None else validate_ttl(args.ttl)
    count = _count(args)
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    payload = _payload(args)
    header = 0 if payload is None else HEADER_SIZES[payload]
    limit = max_udp_payload(family)
    size = (
        None
        if args.size is None
        else _datagram_size(args.size, header, limit, binary=args.binary, payload=payload)
    )
    rate = _positive(args.rate, "rate", "datagrams per second")
    message: bytes | None = None
    if not from_stdin:
        message = b"" if args.message is None else _argv_bytes(args.message)
        if header + len(message) > limit:
            raise InvalidArgumentError(
                f"message makes a datagram of {header + len(message)} bytes, more than the"
                f" {limit} an IPv{address.version} datagram carries",
                parameter="message",
                value=args.message,
            )
    return SendOptions(
        group=group,
        port=port,
        interface=interface,
        ttl=ttl,
        loopback=args.loopback,
        message=message,
        binary=args.binary,
        count=count,
        rate=rate,
        size=size,
        payload=payload,
        rtp_clock=(
            DEFAULT_CLOCK_RATE
            if args.rtp_clock is None
            else validate_positive_int(args.rtp_clock, "rtp-clock", MAX_CLOCK)
        ),
        pid=NULL_PID if args.pid is None else _pid(args.pid),
        skip_every=_skip_every(args.skip_every),
        quiet=args.quiet,
    )


def _payload(args: argparse.Namespace) -> PayloadKind | None:
    payload: PayloadKind | None = args.payload
    if args.sequence:
        if payload not in (None, "tmsq"):
            raise UsageError(
                f"--sequence is --payload tmsq: it cannot go with --payload {payload}"
            )
        payload = "tmsq"
    if args.rtp_clock is not None and payload != "rtp":
        raise UsageError("--rtp-clock sets the clock of --payload rtp: add it")
    if args.pid is not None and payload != "mpegts":
        raise UsageError("--pid sets the PID of --payload mpegts: add it")
    if args.skip_every is not None and payload is None:
        raise UsageError("--skip-every leaves gaps in numbered datagrams: add --payload")
    if payload == "mpegts" and (args.message is not None or args.binary):
        raise UsageError("--payload mpegts sends transport packets of its own: drop --message")
    return payload


def _pid(value: int) -> int:
    if not 0 <= value <= NULL_PID:
        raise InvalidArgumentError(
            f"pid must be an int in 0..{NULL_PID}, got {value}", parameter="pid", value=value
        )
    return value


def _skip_every(value: int | None) -> int | None:
    if value is not None and not 2 <= value <= MAX_COUNT:
        raise InvalidArgumentError(
            f"skip-every must be an int in 2..{MAX_COUNT}, got {value}"
            " (1 would leave out every datagram)",
            parameter="skip-every",
            value=value,
        )
    return value
