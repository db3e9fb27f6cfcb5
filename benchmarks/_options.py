"""The command line of ``python -m benchmarks`` and the settings it selects.

Standard library only: it is parsed before the process enters its private
network namespace, so that ``--help`` and mistakes need no namespace.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Final

WORKLOADS: Final = (
    "drain",
    "live",
    "flood",
    "growth",
    "statistics",
    "line-rate",
    "analyze",
    "rejoin",
)
OVERFLOW_POLICIES: Final = ("drop-newest", "drop-oldest")


@dataclass(frozen=True, slots=True)
class Settings:
    """How much of everything to run.

    Attributes:
        workloads: Which workloads, in run order.
        repetitions: Repetitions of each contender (drain, live, growth).
        drain_count: Datagrams pre-filled per drain run.
        drain_size: Payload bytes in the drain workload.
        live_rates: Sender rates for the live workload, datagrams/s.
        live_seconds: How long each live run sends.
        flood_seconds: How long each flood lasts.
        flood_size: Payload bytes in the flood.
        flood_repetitions: Floods per overflow policy.
        growth_groups: Group counts for the cost-of-growth sweep.
        growth_count: Datagrams per run in the group sweep.
        growth_sizes: (payload bytes, datagrams per run) for the size sweep.
        stats_sockets: How many other UDP sockets are open while
            ``statistics()`` is timed, one case each.
        stats_calls: Calls timed per contender and repetition.
        line_rates: Sender rates for the ``recv`` line-rate workload.
        line_seconds: How long each line-rate run sends.
        rejoin_cycles: Link recreations per repetition of the rejoin workload.
        json_path: Where to write the raw figures, if anywhere.
    """

    workloads: tuple[str, ...]
    repetitions: int
    drain_count: int
    drain_size: int
    live_rates: tuple[int, ...]
    live_seconds: float
    flood_seconds: float
    flood_size: int
    flood_repetitions: int
    growth_groups: tuple[int, ...]
    growth_count: int
    growth_sizes: tuple[tuple[int, int], ...]
    stats_sockets: tuple[int, ...]
    stats_calls: int
    line_rates: tuple[int, ...]
    line_seconds: float
    rejoin_cycles: int
    json_path: str | None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=(
            "Benchmark trio_mcast against stdlib, asyncio and naive trio receivers, inside a"
            " private network namespace (loopback only). Contenders run interleaved, each"
            " repeated; tables show medians with min-max."
        ),
    )
    parser.add_argument(
        "--quick", action="store_true", help="a fast smoke run: fewer datagrams, fewer repetitions"
    )
    parser.add_argument(
        "--workload",
        action="append",
        choices=WORKLOADS,
        metavar="NAME",
        help=f"run only this workload (repeatable): {', '.join(WORKLOADS)}",
    )
    parser.add_argument("--json", metavar="FILE", help="write the raw figures to FILE")
    parser.add_argument("--repetitions", type=int, metavar="N", help="override repetitions")
    parser.add_argument(
        "--count", type=int, metavar="N", help="override datagrams per drain run (200000)"
    )
    parser.add_argument(
        "--live-seconds", type=float, metavar="S", help="override seconds per live run"
    )
    parser.add_argument(
        "--flood-seconds", type=float, metavar="S", help="override seconds per flood (10)"
    )
    parser.add_argument(
        "--flood-size", type=int, metavar="BYTES", help="payload bytes in the flood (1400)"
    )
    return parser


def parse_settings(argv: list[str]) -> Settings:
    """Parse ``argv`` into settings (exits with usage on errors)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in ("repetitions", "count", "flood_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    for name in ("live_seconds", "flood_seconds"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    quick: bool = args.quick
    workloads = tuple(name for name in WORKLOADS if args.workload is None or name in args.workload)
    return Settings(
        workloads=workloads,
        repetitions=args.repetitions or (2 if quick else 5),
        drain_count=args.count or (20_000 if quick else 200_000),
        drain_size=200,
        live_rates=(10_000, 100_000),
        live_seconds=args.live_seconds or (1.0 if quick else 2.0),
        flood_seconds=args.flood_seconds or (2.0 if quick else 10.0),
        flood_size=args.flood_size or 1400,
        flood_repetitions=1,
        growth_groups=(1, 8, 64),
        growth_count=10_000 if quick else 100_000,
        # A 65507-byte datagram takes ~66 KB of receive buffer, so fewer of them.
        growth_sizes=(
            ((64, 10_000), (1400, 5_000), (65507, 500))
            if quick
            else ((64, 100_000), (1400, 50_000), (65507, 4_000))
        ),
        stats_sockets=(0, 20_000),
        stats_calls=200 if quick else 2_000,
        line_rates=(50_000, 200_000),
        line_seconds=0.5 if quick else 2.0,
        rejoin_cycles=5 if quick else 20,
        json_path=args.json,
    )
