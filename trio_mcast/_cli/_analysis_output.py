"""What ``recv --analyze`` prints: the table of streams, and gap records.

Pure: no trio, no socket, no stream.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .._analysis._streams import Gap, StreamSummary

__all__ = ["MAX_ROWS", "format_gap_record", "format_stream_table"]

#: The most streams the summary lists one by one, the worst first.
MAX_ROWS: Final = 20
_HEADINGS: Final = (
    "stream",
    "kind",
    "received",
    "lost",
    "loss %",
    "dup",
    "reordered",
    "jitter ms",
    "latency ms",
    "notes",
)
#: Columns aligned to the right: the numbers.
_RIGHT: Final = frozenset(range(2, 9))


def _milliseconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _cells(row: StreamSummary) -> tuple[str, ...]:
    return (
        row.stream,
        row.kind,
        str(row.received),
        str(row.lost),
        f"{row.loss_percent:.2f}",
        str(row.duplicated),
        str(row.reordered),
        _milliseconds(row.jitter_ms),
        _milliseconds(row.latency_ms),
        row.notes,
    )


def format_stream_table(
    rows: Sequence[StreamSummary], *, analyzed: int, unanalyzed: int, mode: str
) -> list[str]:
    """The summary's lines about the analyzed streams: a heading line, then a table.

    Streams are listed worst first (by loss %), at most :data:`MAX_ROWS`; a
    last line counts the others.

    Args:
        rows: Every stream tracked.
        analyzed: Datagrams an analyzer read.
        unanalyzed: Datagrams none recognised (or not the one asked for).
        mode: ``--analyze``'s argument.

    Returns:
        The lines, without newlines.

    Example:
        >>> from trio_mcast._analysis._streams import StreamSummary
        >>> row = StreamSummary("10.0.0.1:5004 rtp ssrc 0000002a pt 96", "rtp", 99, 1, 0, 0,
        ...                     0.25, None, "late 0")
        >>> lines = format_stream_table([row], analyzed=99, unanalyzed=0, mode="auto")
        >>> lines[0]
        'analysis (auto): 1 stream, 99 datagrams analyzed, 0 not recognised'
        >>> lines[2].split()[-9:]
        ['99', '1', '1.00', '0', '0', '0.250', '-', 'late', '0']
    """
    kinds: dict[str, int] = {}
    for row in rows:
        kinds[row.kind] = kinds.get(row.kind, 0) + 1
    by_kind = ", ".join(f"{kind} {count}" for kind, count in kinds.items())
    streams = f"{len(rows)} stream" + ("" if len(rows) == 1 else "s")
    head = (
        f"analysis ({mode}): {streams}"
        + (f" ({by_kind})" if len(kinds) > 1 else "")
        + f", {analyzed} datagrams analyzed, {unanalyzed} not recognised"
    )
    if not rows:
        return [head + "; loss n/a: no stream could be analyzed"]
    shown = sorted(rows, key=lambda row: -row.loss_percent)[:MAX_ROWS]
    table = [_HEADINGS, *map(_cells, shown)]
    widths = [max(len(line[column]) for line in table) for column in range(len(_HEADINGS))]
    lines = [head]
    for line in table:
        cells = [
            cell.rjust(width) if column in _RIGHT else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        lines.append("  " + "  ".join(cells).rstrip())
    if len(rows) > len(shown):
        listed = {id(row) for row in shown}
        rest = [row for row in rows if id(row) not in listed]
        lost = sum(row.lost for row in rest)
        lines.append(f"  ... and {len(rest)} more streams, {lost} lost among them")
    return lines


def format_gap_record(gap: Gap, timestamp: float) -> str:
    """A ``--format jsonl`` record of a gap, with its newline.

    Args:
        gap: The gap.
        timestamp: When it was seen, seconds since the Unix epoch.

    Returns:
        The record: ``type`` ``gap``, ``time``, ``stream``, ``expected``,
        ``received`` and ``missing``.

    Example:
        >>> from trio_mcast._analysis._streams import Gap
        >>> record = format_gap_record(Gap("10.0.0.1:5000 iperf2", 7, 9, 2), 1.5)
        >>> record[:50]
        '{"type": "gap", "time": 1.5, "stream": "10.0.0.1:5'
    """
    record = {
        "type": "gap",
        "time": timestamp,
        "stream": gap.stream,
        "expected": gap.expected,
        "received": gap.received,
        "missing": gap.missing,
    }
    return json.dumps(record) + "\n"
