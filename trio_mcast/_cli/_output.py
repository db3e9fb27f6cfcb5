"""Pure formatters for the command line: datagrams, rates and summaries.

Nothing here imports trio or touches a socket or a stream: every function
maps values to text (or bytes) and the caller writes it. The datagram
formats are:

``text``
    One line per datagram: source, group, size, then the payload escaped by
    :func:`~trio_mcast._queue.escape_payload`, so the line never holds a raw
    control character or invalid UTF-8.
``jsonl``
    One JSON object per line (ASCII only): ``time``, ``source``,
    ``source_port``, ``group``, ``interface``, ``size``, ``truncated``,
    ``payload`` (only when the payload is valid UTF-8) and always
    ``payload_base64``.
``raw``
    The payload bytes, nothing else.
``hex``
    A header line like the ``text`` line without the payload, then a
    ``hexdump -C`` style dump: offset, 16 hex bytes, printable ASCII column.
``none``
    Nothing per datagram: only the ``--stats`` lines and the summary.

With a sequence header (``recv --sequence``), ``text`` and ``jsonl`` add the
sequence number and stream id and show only the payload after the header;
``size`` stays the size of the whole datagram. ``raw`` and ``hex`` always
show every byte.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Final, NamedTuple

from .._queue import escape_payload
from .._sequence import HEADER_SIZE, StreamTotals
from .._words import plural
from ._analysis_output import format_stream_table

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .._analysis._streams import StreamSummary
    from .._datagram import Datagram
    from .._sequence import SequenceHeader, StreamReport

__all__ = [
    "FORMATS",
    "HEX_BYTES_PER_LINE",
    "SUMMARY_STREAMS",
    "ReceiveSummary",
    "SendSummary",
    "format_bitrate",
    "format_datagram",
    "format_endpoint",
    "format_hex",
    "format_jsonl",
    "format_listening",
    "format_rate",
    "format_receive_summary",
    "format_send_summary",
    "format_stream",
    "format_text",
    "hexdump",
    "plural",
]

#: The datagram output formats, the first being the default.
FORMATS: Final = ("text", "jsonl", "raw", "hex", "none")
HEX_BYTES_PER_LINE: Final = 16
#: Streams listed one per line in the summary; the rest share one line.
SUMMARY_STREAMS: Final = 20
_BIT_UNITS: Final = ("bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s")
# Printable ASCII for the hexdump column; everything else shows as a dot.
_HEX_COLUMN: Final = bytes(byte if 0x20 <= byte < 0x7F else ord(".") for byte in range(256))
# A whole line's 16 bytes of "xx xx ...": the two groups of 8, and the space after.
_HEX_HALVES: Final = re.compile(r"(.{23}) (.{23}) ?")
_HEX_COLUMN_LINES: Final = re.compile(r".{16}", re.DOTALL)
_HEX_LINE: Final = "{}  {}  {}  |{}|".format
_json_string: Final = json.encoder.encode_basestring_ascii


class ReceiveSummary(NamedTuple):
    """What ``recv`` reports at exit.

    Attributes:
        datagrams: Datagrams handled.
        bytes: Their payload bytes.
        senders: Distinct source addresses seen.
        elapsed: Seconds from joining to stopping.
        stop_reason: Why it stopped ("count reached", "interrupted" ...).
        kernel_drops: Datagrams the kernel dropped, or ``None`` if unknown.
        queue_drops: Datagrams the receiver's queue dropped.
        truncated: Datagrams longer than the size limit.
        filtered: Datagrams for other destinations, discarded.
        streams: Per-stream sequence reports.
        unsequenced: Datagrams without a sequence header, or ``None`` when
            sequence tracking is off.
        source_ports: Distinct source (address, port) pairs seen.
        written: Datagrams whose output was written, or ``None`` with
            ``--format none``.
        unwritten: Datagrams whose output was dropped (standard output too
            slow, closed or failing), or ``None`` with ``--format none``.
        receive_buffer: The effective ``SO_RCVBUF`` in bytes, or ``None``.
        sequence_totals: Counts over every stream seen, evicted ones
            included; ``None`` sums :attr:`streams`.
        evicted_streams: Streams no longer tracked, to bound memory.
        interface_losses: Times the receiver's interface disappeared.
        rejoins: Times its memberships were joined again after that.
        analysis_mode: ``--analyze``'s argument, or empty without a table to print.
        analysis_rows: The streams ``--analyze`` tracked.
        analyzed: Datagrams an analyzer read.
        unanalyzed: Datagrams none recognised.
    """

    datagrams: int
    bytes: int
    senders: int
    elapsed: float
    stop_reason: str
    kernel_drops: int | None
    queue_drops: int
    truncated: int
    filtered: int
    streams: tuple[StreamReport, ...] = ()
    unsequenced: int | None = None
    source_ports: int | None = None
    written: int | None = None
    unwritten: int | None = None
    receive_buffer: int | None = None
    sequence_totals: StreamTotals | None = None
    evicted_streams: int = 0
    interface_losses: int = 0
    rejoins: int = 0
    analysis_mode: str = ""
    analysis_rows: tuple[StreamSummary, ...] = ()
    analyzed: int = 0
    unanalyzed: int = 0


class SendSummary(NamedTuple):
    """What ``send`` reports at exit.

    Attributes:
        datagrams: Datagrams sent.
        bytes: Bytes sent, headers included.
        group: The destination group.
        port: The destination port.
        elapsed: Seconds spent sending.
        stream_id: The sequence stream id, or ``None`` without ``--sequence``.
        stop_reason: Empty when everything was sent, else why not.
        payload: What the datagrams carried (``--payload``), or empty.
        skipped: Datagrams left out by ``--skip-every``.
    """

    datagrams: int
    bytes: int
    group: str
    port: int
    elapsed: float
    stream_id: int | None = None
    stop_reason: str = ""
    payload: str = ""
    skipped: int = 0


def format_endpoint(address: str, port: int) -> str:
    """``address:port``, with IPv6 addresses in brackets.

    Example:
        >>> format_endpoint("ff02::1", 5000)
        '[ff02::1]:5000'
    """
    if ":" in address:
        return f"[{address}]:{port}"
    return f"{address}:{port}"


def _timestamp(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _describe(datagram: Datagram, header: SequenceHeader | None, metadata: bool) -> str:
    """The part of a text line before the payload."""
    size = len(datagram.payload)
    parts = [
        f"{format_endpoint(*datagram.source)} -> {datagram.group}",
        f"({plural(size, 'byte')}, truncated)"
        if datagram.truncated
        else f"({plural(size, 'byte')})",
    ]
    if metadata:
        parts.append(f"if={'?' if datagram.interface is None else datagram.interface}")
        if datagram.timestamp is not None:
            parts.append(f"at={_timestamp(datagram.timestamp)}")
        if datagram.ttl is not None:
            parts.append(f"ttl={datagram.ttl}")
        if datagram.traffic_class is not None:
            parts.append(f"dscp={datagram.traffic_class >> 2} ecn={datagram.traffic_class & 3}")
    if header is not None:
        parts.append(f"seq={header.sequence} stream={header.stream_id:08x}")
    return " ".join(parts)


def _body(datagram: Datagram, header: SequenceHeader | None) -> bytes:
    return datagram.payload[HEADER_SIZE:] if header is not None else datagram.payload


def format_text(
    datagram: Datagram, *, header: SequenceHeader | None = None, metadata: bool = False
) -> str:
    r"""One printable line for a datagram, without the newline.

    Args:
        datagram: The datagram.
        header: Its parsed sequence header, to show instead of its bytes.
        metadata: Show the interface index and the kernel timestamp.

    Returns:
        The line; it holds no control character.

    Example:
        >>> from trio_mcast._datagram import Datagram
        >>> format_text(Datagram(b"hi\n", ("10.0.0.1", 5000), "239.1.1.1"))
        '10.0.0.1:5000 -> 239.1.1.1 (3 bytes): hi\\n'
    """
    escaped = escape_payload(_body(datagram, header))
    prefix = _describe(datagram, header, metadata)
    return f"{prefix}: {escaped}" if escaped else f"{prefix}:"


def format_jsonl(
    datagram: Datagram, *, received: float, header: SequenceHeader | None = None
) -> str:
    """One JSON object for a datagram, on one line, without the newline.

    Args:
        datagram: The datagram.
        received: When it was received, in seconds since the epoch; the
            kernel timestamp is used instead when the datagram has one.
        header: Its parsed sequence header: adds ``sequence``, ``stream_id``
            and ``sent_ns``, and the payload fields hold what follows it.

    A datagram received with metadata adds ``ttl``, ``dscp``, ``ecn`` and
    ``destination`` where it has them.

    Returns:
        ASCII-only JSON text, the same as ``json.dumps`` of the record with
        ``separators=(", ", ": ")``; it is assembled directly, which costs a
        third of building the dictionary and encoding it.
    """
    body = _body(datagram, header)
    moment = datagram.timestamp if datagram.timestamp is not None else received
    interface = "null" if datagram.interface is None else int(datagram.interface)
    text = (
        f'{{"time": {float(moment)!r}, "source": {_json_string(datagram.source[0])},'
        f' "source_port": {int(datagram.source[1])}, "group": {_json_string(datagram.group)},'
        f' "interface": {interface}, "size": {len(datagram.payload)},'
        f' "truncated": {"true" if datagram.truncated else "false"}'
    )
    if datagram.ttl is not None:
        text += f', "ttl": {int(datagram.ttl)}'
    if datagram.traffic_class is not None:
        tclass = int(datagram.traffic_class)
        text += f', "dscp": {tclass >> 2}, "ecn": {tclass & 3}'
    if datagram.destination is not None:
        text += f', "destination": {_json_string(datagram.destination)}'
    if header is not None:
        text += (
            f', "sequence": {header.sequence}, "stream_id": {header.stream_id},'
            f' "sent_ns": {header.timestamp_ns}'
        )
    with contextlib.suppress(UnicodeDecodeError):
        text += f', "payload": {_json_string(body.decode("utf-8"))}'
    return f'{text}, "payload_base64": "{base64.b64encode(body).decode("ascii")}"}}'


def hexdump(data: bytes) -> list[str]:
    """``hexdump -C`` style lines: offset, hex bytes in two groups, ASCII.

    Whole lines are cut out of one ``bytes.hex`` string and one translated
    ASCII column by the regular-expression engine, and put together by
    ``str.format`` through ``map``: no Python-level loop over bytes or lines.

    Example:
        >>> hexdump(b"TMSQ")
        ['00000000  54 4d 53 51                                       |TMSQ|']
    """
    whole = len(data) // HEX_BYTES_PER_LINE * HEX_BYTES_PER_LINE
    column = data.translate(_HEX_COLUMN).decode("ascii")
    lines: list[str] = []
    if whole:
        lefts, rights = zip(*_HEX_HALVES.findall(data[:whole].hex(" ")), strict=True)
        lines = list(
            map(
                _HEX_LINE,
                _hex_offsets(whole),
                lefts,
                rights,
                _HEX_COLUMN_LINES.findall(column, 0, whole),
            )
        )
    rest = data[whole:]
    if rest:
        left, right = rest[:8].hex(" "), rest[8:].hex(" ")
        lines.append(f"{whole:08x}  {left:<23}  {right:<23}  |{column[whole:]}|")
    return lines


@functools.lru_cache(maxsize=64)
def _hex_offsets(whole: int) -> tuple[str, ...]:
    return tuple(f"{offset:08x}" for offset in range(0, whole, HEX_BYTES_PER_LINE))


def format_hex(
    datagram: Datagram, *, header: SequenceHeader | None = None, metadata: bool = False
) -> str:
    """A header line, then a hexdump of every payload byte; no final newline."""
    return "\n".join([_describe(datagram, header, metadata), *hexdump(datagram.payload)])


def format_datagram(
    output_format: str,
    datagram: Datagram,
    *,
    received: float,
    header: SequenceHeader | None = None,
    metadata: bool = False,
) -> bytes:
    """A datagram in one of :data:`FORMATS`, ready to write to stdout.

    Args:
        output_format: One of :data:`FORMATS`.
        datagram: The datagram.
        received: The receive time in seconds since the epoch (``jsonl``).
        header: Its parsed sequence header, if any.
        metadata: Show interface and timestamp (``text`` and ``hex``).

    Returns:
        UTF-8 text ending in a newline, or the bare payload for ``raw``.

    Raises:
        ValueError: ``output_format`` is not one of :data:`FORMATS`.
    """
    if output_format == "text":
        text = format_text(datagram, header=header, metadata=metadata)
    elif output_format == "jsonl":
        text = format_jsonl(datagram, received=received, header=header)
    elif output_format == "hex":
        text = format_hex(datagram, header=header, metadata=metadata)
    elif output_format == "raw":
        return datagram.payload
    elif output_format == "none":
        return b""
    else:
        raise ValueError(
            f"output format must be one of {', '.join(FORMATS)}, got {output_format!r}"
        )
    return (text + "\n").encode("utf-8")


def format_bitrate(bits_per_second: float) -> str:
    """A bit rate with an SI prefix and three significant digits.

    Example:
        >>> format_bitrate(1_234_567)
        '1.23 Mbit/s'
    """
    value = float(bits_per_second)
    unit = 0
    while abs(value) >= 999.5 and unit < len(_BIT_UNITS) - 1:
        value /= 1000
        unit += 1
    if unit == 0:
        return f"{value:.0f} {_BIT_UNITS[0]}"
    # Three significant digits, trailing zeros kept so the width stays steady.
    decimals = 0 if abs(value) >= 99.95 else 1 if abs(value) >= 9.995 else 2
    return f"{value:.{decimals}f} {_BIT_UNITS[unit]}"


def _or_na(value: int | None) -> str:
    return "n/a" if value is None else str(value)


def format_rate(
    datagrams_per_second: float,
    bits_per_second: float,
    kernel_drops: int | None,
    gaps: int | None,
    *,
    waiting: bool = False,
) -> str:
    """The live ``--stats`` line.

    Args:
        datagrams_per_second: The datagram rate over the last interval.
        bits_per_second: The payload bit rate over the last interval.
        kernel_drops: Kernel drops so far, or ``None`` if unknown.
        gaps: Missing sequence numbers so far, or ``None`` without tracking.
        waiting: The receiver's interface is gone: a zero rate is no news.

    Example:
        >>> format_rate(10, 8000, 0, None)
        'rate: 10 datagrams/s, 8.00 kbit/s, kernel drops 0, gaps n/a'
        >>> format_rate(0, 0, 0, None, waiting=True)[-35:]
        'gaps n/a; waiting for the interface'
    """
    return (
        f"rate: {datagrams_per_second:.0f} datagrams/s, {format_bitrate(bits_per_second)},"
        f" kernel drops {_or_na(kernel_drops)}, gaps {_or_na(gaps)}"
        + ("; waiting for the interface" if waiting else "")
    )


def _milliseconds(nanoseconds: float) -> str:
    return f"{nanoseconds / 1e6:.3f}"


def format_stream(report: StreamReport) -> str:
    """One summary line for a sequence stream.

    Example:
        >>> from trio_mcast._sequence import StreamReport
        >>> line = format_stream(StreamReport(("10.0.0.1", 5000), 42, 9, 1, 0, 2, 0, 9, None))
        >>> for part in line.split(": "):
        ...     print(part)
        stream 0000002a from 10.0.0.1:5000
        received 9, lost 1, duplicated 0, reordered 2, sequence 0..9
    """
    line = (
        f"stream {report.stream_id:08x} from {format_endpoint(*report.source)}:"
        f" received {report.received}, lost {report.lost}, duplicated {report.duplicates},"
        f" reordered {report.reordered}, sequence {report.lowest}..{report.highest}"
    )
    latency = report.latency
    if latency is not None:
        line += (
            f", latency min/avg/max {_milliseconds(latency.minimum_ns)}/"
            f"{_milliseconds(latency.average_ns)}/{_milliseconds(latency.maximum_ns)} ms"
        )
    return line


def format_receive_summary(summary: ReceiveSummary) -> list[str]:
    """The lines ``recv`` prints at exit, without newlines or prefix."""
    ports = summary.source_ports
    from_ports = (
        f" ({plural(ports, 'source port')})"
        if ports is not None and ports != summary.senders
        else ""
    )
    lines = [
        f"received {plural(summary.datagrams, 'datagram')} ({plural(summary.bytes, 'byte')})"
        f" from {plural(summary.senders, 'sender')}{from_ports} in {summary.elapsed:.2f} s;"
        f" stopped: {summary.stop_reason}",
        f"kernel drops {_or_na(summary.kernel_drops)}, queue drops {summary.queue_drops},"
        f" truncated {summary.truncated}, filtered {summary.filtered}"
        + (
            ""
            if summary.receive_buffer is None
            else f", receive buffer {plural(summary.receive_buffer, 'byte')}"
        ),
    ]
    if summary.interface_losses or summary.rejoins:
        lines.append(
            f"interface: lost {plural(summary.interface_losses, 'time')},"
            f" re-joined {plural(summary.rejoins, 'time')}"
        )
    if summary.unwritten:
        lines.append(
            f"output: {summary.written} written, {summary.unwritten} not written (standard"
            " output too slow, closed or failing)"
        )
    if summary.unsequenced is not None:
        lines.extend(_stream_lines(summary))
    if summary.analysis_mode:
        lines.extend(
            format_stream_table(
                summary.analysis_rows,
                analyzed=summary.analyzed,
                unanalyzed=summary.unanalyzed,
                mode=summary.analysis_mode,
            )
        )
    return lines


def _stream_lines(summary: ReceiveSummary) -> list[str]:
    streams = summary.streams
    shown = streams
    if len(streams) > SUMMARY_STREAMS:
        # The worst first: what someone reading the summary must see.
        shown = tuple(
            sorted(
                streams,
                key=lambda r: (r.lost, r.duplicates + r.reordered, r.received),
                reverse=True,
            )[:SUMMARY_STREAMS]
        )
    lines = [format_stream(report) for report in shown]
    if len(shown) < len(streams):
        listed = set(map(id, shown))
        rest = [report for report in streams if id(report) not in listed]
        lines.append(
            f"and {plural(len(rest), 'more stream')}: received {sum(r.received for r in rest)},"
            f" lost {sum(r.lost for r in rest)}, duplicated {sum(r.duplicates for r in rest)},"
            f" reordered {sum(r.reordered for r in rest)}"
        )
    totals = summary.sequence_totals or StreamTotals(
        len(streams),
        sum(r.received for r in streams),
        sum(r.lost for r in streams),
        sum(r.duplicates for r in streams),
        sum(r.reordered for r in streams),
    )
    evicted = (
        f" ({summary.evicted_streams} no longer tracked: the least recently seen make room)"
        if summary.evicted_streams
        else ""
    )
    lines.append(
        f"sequence: {plural(totals.streams, 'stream')}{evicted}, lost {totals.lost},"
        f" duplicated {totals.duplicates}, reordered {totals.reordered},"
        f" unsequenced {summary.unsequenced}"
    )
    return lines


def format_send_summary(summary: SendSummary) -> str:
    """The line ``send`` prints at exit."""
    line = (
        f"sent {plural(summary.datagrams, 'datagram')} ({plural(summary.bytes, 'byte')}) to"
        f" {format_endpoint(summary.group, summary.port)} in {summary.elapsed:.2f} s"
    )
    if summary.stream_id is not None:
        line += f"; stream {summary.stream_id:08x}"
    elif summary.payload:
        line += f"; {summary.payload}"
    if summary.skipped:
        line += f"; left out {summary.skipped} (--skip-every)"
    if summary.stop_reason:
        line += f"; stopped: {summary.stop_reason}"
    return line


def format_listening(
    groups: Sequence[str],
    port: int,
    interface: str | int | None,
    sources: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> str:
    """The line ``recv`` prints once it has joined.

    Example:
        >>> format_listening(["239.1.1.1"], 5000, "eth0", exclude=["10.0.0.9"])
        'listening on 239.1.1.1 port 5000, interface eth0, excluding 10.0.0.9'
    """
    where = "the kernel's choice" if interface is None else str(interface)
    line = f"listening on {', '.join(groups)} port {port}, interface {where}"
    if sources:
        line += f", sources {', '.join(sources)}"
    if exclude:
        line += f", excluding {', '.join(exclude)}"
    return line
