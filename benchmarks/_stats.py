"""Summaries of repeated measurements, and plain-text tables."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

#: One repetition's figures: metric name -> value (JSON-friendly).
Sample = dict[str, float]


@dataclass(frozen=True, slots=True)
class Summary:
    """Median and range of one metric over the repetitions.

    Attributes:
        median: The median; what targets and ratios use.
        low: The smallest value seen.
        high: The largest value seen.
        count: How many repetitions had the metric.
    """

    median: float
    low: float
    high: float
    count: int


def summarize(samples: Sequence[Sample], metric: str) -> Summary | None:
    """The median and range of ``metric`` over ``samples``; None if none has it."""
    values = [sample[metric] for sample in samples if metric in sample]
    values = [value for value in values if not math.isnan(value)]
    if not values:
        return None
    return Summary(statistics.median(values), min(values), max(values), len(values))


def percentile(ordered: Sequence[int], fraction: float) -> int:
    """The nearest-rank percentile of an ascending sequence (``fraction`` in 0..1)."""
    if not ordered:
        raise ValueError("percentile of no values")
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def format_rate(value: float) -> str:
    """Datagrams per second, e.g. ``812.4k``."""
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    if value >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{value:.0f}"


def format_bytes(value: float) -> str:
    """A byte count in MiB or KiB."""
    if abs(value) >= 1 << 20:
        return f"{value / (1 << 20):.1f} MiB"
    return f"{value / 1024:.0f} KiB"


def format_micros(value: float) -> str:
    """A duration given in microseconds."""
    if value >= 10_000:
        return f"{value / 1000:.1f}ms"
    return f"{value:.0f}us"


def spread(summary: Summary, render: Callable[[float], str]) -> str:
    """``low-high`` rendered with ``render``."""
    return f"{render(summary.low)}-{render(summary.high)}"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A left-aligned first column and right-aligned others, separated by two spaces."""
    widths = [len(header) for header in headers]
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.ljust(widths[index]) if index == 0 else cell.rjust(widths[index])
            for index, cell in enumerate(cells)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])
