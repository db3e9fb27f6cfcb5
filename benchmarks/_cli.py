"""Run the selected workloads, print the tables and targets, write the JSON.

Contenders of a workload run one after another in the same process,
interleaved: every repetition goes round all of them, starting one further
along the list each time, so that no contender always runs first (or right
after the most expensive one). The tables report medians over the
repetitions, with the min-max range, because the machine is small and shared.
"""

from __future__ import annotations

import gc
import json
import math
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypeVar

from . import (
    _analyze,
    _flood,
    _fresh_malloc,
    _line_rate,
    _live,
    _outside,
    _rejoin,
    _statcall,
    _throughput,
)
from ._net import (
    allow_memberships,
    group_addresses,
    machine_description,
    next_port,
    settle_allocator,
)
from ._options import OVERFLOW_POLICIES
from ._stats import (
    format_bytes,
    format_micros,
    format_rate,
    format_table,
    spread,
    summarize,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ._live import LiveContender
    from ._options import Settings
    from ._stats import Sample, Summary
    from ._throughput import DrainContender

_T = TypeVar("_T")

#: case -> contender -> one sample per repetition.
Results = dict[str, dict[str, list["Sample"]]]

REFERENCE: Final = "raw-recvfrom"
METADATA_REFERENCE: Final = "raw-recvmsg"
#: The reference of trio_mcast's metadata mode: recvmsg reading the same options.
METADATA_DRAIN_REFERENCE: Final = "raw-recvmsg-metadata"
LATENCY_REFERENCE: Final = "stdlib-blocking"
#: The metadata contenders join this many groups; the pre-fill goes to the first.
METADATA_GROUPS: Final = 4

DRAIN_CONTENDERS: Final[Mapping[str, DrainContender]] = {
    "raw-recvfrom": _throughput.run_raw_recvfrom,
    "raw-recvfrom+Datagram": _throughput.run_raw_recvfrom_datagram,
    "raw-recvmsg": _throughput.run_raw_recvmsg,
    "raw-recvmsg-metadata": _throughput.run_raw_recvmsg_metadata,
    "asyncio-protocol": _throughput.run_asyncio_protocol,
    "asyncio-protocol/initial-malloc": _fresh_malloc.run_asyncio_protocol_initial_malloc,
    "trio-naive": _throughput.run_trio_naive,
    "trio_mcast-iter": _throughput.run_trio_mcast_iter,
    "trio_mcast-batch": _throughput.run_trio_mcast_batch,
    "trio_mcast-metadata": _throughput.run_trio_mcast_metadata,
    **{name: run for name, (run, _module) in _outside.CONTENDERS.items()},
}
#: The seed's tryrecv appends every datagram to one string, which slows it
#: down as it grows: it drains this fraction of the count, which favours it.
SEED_FRACTION: Final = 10
LIVE_CONTENDERS: Final[Mapping[str, LiveContender]] = {
    "stdlib-blocking": _live.run_stdlib_blocking,
    "asyncio-protocol": _live.run_asyncio_protocol,
    "trio-naive": _live.run_trio_naive,
    "trio_mcast-iter": _live.run_trio_mcast_iter,
    "trio_mcast-batch": _live.run_trio_mcast_batch,
}
GROWTH_CONTENDERS: Final = ("raw-recvfrom", "raw-recvmsg", "trio_mcast-iter")

# The targets, as (numerator, denominator, minimum ratio) over drain medians;
# each holds when either the wall-clock or the CPU-second ratio reaches it.
_DRAIN_TARGETS: Final = (
    ("trio_mcast-iter", REFERENCE, 0.85),
    ("trio_mcast-batch", REFERENCE, 0.95),
    ("trio_mcast-metadata", METADATA_DRAIN_REFERENCE, 0.80),
    ("trio_mcast-iter", "trio-naive", 3.0),
    ("trio_mcast-iter", "asyncio-protocol", 2.0),
    *(("trio_mcast-iter", name, 1.25) for name in _outside.CONTENDERS),
)
#: Live latency: trio_mcast's p50 and p99 at 10k/s against trio-naive's ...
LATENCY_LIMIT: Final = 1.1
#: ... and its p99 at 100k/s.
HIGH_RATE_LATENCY_LIMIT: Final = 0.25
NAIVE_REFERENCE: Final = "trio-naive"
#: The seed's McastRECV in a loop: what it delivers of a paced stream.
SEED_LIVE: Final = "seed-McastRECV"
RSS_LIMIT: Final = 64 << 20
STATISTICS_SOCKETS: Final = 20_000
STATISTICS_LIMIT_US: Final = 50.0
#: Memberships are back within this long (ms) of the interface appearing.
REJOIN_LIMIT_MS: Final = 1000.0
# "Throughput must not fall with the number of groups beyond what recvmsg
# itself costs": going from 1 to K groups, trio_mcast-iter may lose what going
# from raw-recvfrom (1 group) to raw-recvmsg (K groups) loses, and 10% more.
GROWTH_TOLERANCE: Final = 0.9


@dataclass(frozen=True, slots=True)
class Target:
    """One target's verdict.

    Attributes:
        name: What is compared, as in the issue.
        detail: The measured figures.
        passed: True or False; None when its workload did not run.
    """

    name: str
    detail: str
    passed: bool | None

    @property
    def verdict(self) -> str:
        """PASS, FAIL or n/a."""
        return "n/a" if self.passed is None else "PASS" if self.passed else "FAIL"


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def rotated(items: Sequence[_T], shift: int) -> list[_T]:
    """``items`` starting at position ``shift`` (mod its length), wrapping round."""
    if not items:
        return []
    shift %= len(items)
    return [*items[shift:], *items[:shift]]


def _new_results(cases: Sequence[str], contenders: Sequence[str]) -> Results:
    return {case: {name: [] for name in contenders} for case in cases}


def _drain_case(name: str, count: int, size: int) -> _throughput.DrainCase:
    joined = group_addresses(METADATA_GROUPS if name.endswith(("recvmsg", "metadata")) else 1)
    if name == "seed-tryrecv":
        count = max(count // SEED_FRACTION, 1)
    return _throughput.DrainCase(tuple(joined), (joined[0],), next_port(), count, size)


def _measure_drain(
    name: str, run: DrainContender, case: _throughput.DrainCase, label: str = ""
) -> Sample:
    # A full collection first, so no contender inherits the previous one's garbage.
    gc.collect()
    sample = run(case)
    note = ""
    if sample["shortfall"] or sample["kernel_drops"]:
        note = f"  SHORTFALL {sample['shortfall']:.0f}, kernel drops {sample['kernel_drops']:.0f}"
    _log(f"  {label}{name:<20} {format_rate(sample['rate']):>8}/s{note}")
    return sample


def run_drain(settings: Settings) -> Results:
    """The drain-throughput workload."""
    case_name = f"{settings.drain_size}B x {settings.drain_count}"
    names = []
    for name in DRAIN_CONTENDERS:
        why = _outside.missing(name) if name in _outside.CONTENDERS else None
        if why is None:
            names.append(name)
        else:
            _log(f"drain: skipping {name}: {why}")
    results = _new_results([case_name], names)
    for repetition in range(settings.repetitions):
        _log(f"drain, repetition {repetition + 1}/{settings.repetitions}")
        for name in rotated(names, repetition):
            case = _drain_case(name, settings.drain_count, settings.drain_size)
            results[case_name][name].append(_measure_drain(name, DRAIN_CONTENDERS[name], case))
    return results


def run_live(settings: Settings) -> Results:
    """The live rate-and-latency workload."""
    cases = {f"{rate // 1000}k/s": rate for rate in settings.live_rates}
    names = list(LIVE_CONTENDERS)
    results = _new_results(list(cases), names)
    seed_missing = _outside.missing("seed-tryrecv")
    if seed_missing is not None:
        _log(f"live: skipping {SEED_LIVE}: {seed_missing}")
    for repetition in range(settings.repetitions):
        _log(f"live, repetition {repetition + 1}/{settings.repetitions}")
        for case_name, rate in cases.items():
            for name in rotated(names, repetition):
                case = _live.LiveCase(
                    group_addresses(1)[0], next_port(), rate, settings.live_seconds
                )
                gc.collect()
                sample = _live.measure(LIVE_CONTENDERS[name], case)
                results[case_name][name].append(sample)
                _log(
                    f"  {case_name:>7} {name:<20} loss {sample['loss_pct']:5.1f}%"
                    f"  p50 {format_micros(sample.get('p50_us', math.nan))}"
                    f"  p99 {format_micros(sample.get('p99_us', math.nan))}"
                )
            if seed_missing is None:
                # The seed's receive loop cannot read the sender's binary
                # payloads: it gets a text sender of its own, at the same rate.
                seed = _outside.measure_seed_mcastrecv(
                    rate, settings.live_seconds, group_addresses(1)[0], next_port()
                )
                results[case_name].setdefault(SEED_LIVE, []).append(
                    {
                        "sent": seed["sent"],
                        "received": seed["delivered"],
                        "loss_pct": 100.0 - seed["delivered_pct"],
                        "send_rate": seed["sent"] / settings.live_seconds,
                    }
                )
                _log(f"  {case_name:>7} {SEED_LIVE:<20} delivered {seed['delivered_pct']:5.1f}%")
    return results


def run_flood(settings: Settings) -> Results:
    """The memory-under-flood workload (each flood in a fresh process)."""
    results = _new_results([f"{settings.flood_size}B"], list(OVERFLOW_POLICIES))
    case_name = f"{settings.flood_size}B"
    for repetition in range(settings.flood_repetitions):
        for policy in rotated(OVERFLOW_POLICIES, repetition):
            _log(f"flood, {policy}, {settings.flood_seconds:g} s")
            sample = _flood.measure(
                policy,
                group=group_addresses(1)[0],
                port=next_port(),
                seconds=settings.flood_seconds,
                size=settings.flood_size,
            )
            results[case_name][policy].append(sample)
            growth = format_bytes(sample["rss_growth"])
            _log(f"  sent {sample['sent']:.0f}, peak RSS growth {growth}")
    return results


def run_growth(settings: Settings) -> Results:
    """The cost-of-growth workload: group counts and datagram sizes.

    raw-recvfrom can only read one group (it is bound to it), so it runs in
    the one-group cases only.
    """
    plan: dict[str, tuple[int, int, int]] = {}
    for groups in settings.growth_groups:
        plan[f"groups={groups}"] = (groups, settings.drain_size, settings.growth_count)
    for size, count in settings.growth_sizes:
        plan[f"size={size}"] = (1, size, count)
    results = _new_results(list(plan), list(GROWTH_CONTENDERS))
    for case_name, (groups, _, _) in plan.items():
        if groups != 1:
            del results[case_name][REFERENCE]
    allow_memberships(max(settings.growth_groups))
    for repetition in range(settings.repetitions):
        _log(f"growth, repetition {repetition + 1}/{settings.repetitions}")
        for case_name, (groups, size, count) in plan.items():
            joined = tuple(group_addresses(groups))
            for name in rotated(list(results[case_name]), repetition):
                # Round-robin over every joined group: the lookup must cope with all.
                case = _throughput.DrainCase(joined, joined, next_port(), count, size)
                sample = _measure_drain(name, DRAIN_CONTENDERS[name], case, f"{case_name:<11}")
                results[case_name][name].append(sample)
    return results


def run_statistics(settings: Settings) -> Results:
    """The ``statistics()`` cost workload: per call, with N other UDP sockets open."""
    cases = {f"sockets={count}": count for count in settings.stats_sockets}
    results = _new_results(list(cases), list(_statcall.CONTENDERS))
    for repetition in range(settings.repetitions):
        _log(f"statistics, repetition {repetition + 1}/{settings.repetitions}")
        for case_name, count in cases.items():
            order = rotated(list(_statcall.CONTENDERS), repetition)
            for name, sample in _statcall.measure(count, settings.stats_calls, order).items():
                results[case_name][name].append(sample)
    return results


def run_line_rate(settings: Settings) -> Results:
    """``recv`` in every format against the minimal reader, per rate and sink."""
    cases = {
        f"{rate // 1000}k/s {sink}": (rate, sink)
        for rate in settings.line_rates
        for sink in _line_rate.SINKS
    }
    results = _new_results(list(cases), list(_line_rate.CONTENDERS))
    (group,) = group_addresses(1, offset=300)
    for repetition in range(settings.repetitions):
        _log(f"line-rate, repetition {repetition + 1}/{settings.repetitions}")
        for case_name, (rate, sink) in cases.items():
            count = round(rate * settings.line_seconds)
            for name in rotated(list(_line_rate.CONTENDERS), repetition):
                sample = _line_rate.measure(name, sink, rate, count, group, next_port())
                results[case_name][name].append(sample)
    return results


def _delivered_cells(results: Results, case: str, contenders: Sequence[str]) -> list[str]:
    """A case, the rate sent at, and each receiver's share with its ratio to the reader."""
    reference = _median(results, case, "reference", "delivered")
    cells = [case, f"{_median(results, case, 'reference', 'send_rate') / 1000:.0f}k/s"]
    for name in contenders:
        delivered = _median(results, case, name, "delivered")
        ratio = _ratio(delivered, reference)
        cells.append(
            f"{delivered:.1%}" if name == "reference" else f"{delivered:.1%} ({ratio:.2f}x)"
        )
    return cells


def line_rate_table(results: Results) -> str:
    """Share of the datagrams each receiver wrote to its sink, and the ratio to the reference."""
    rows = [_delivered_cells(results, case, _line_rate.CONTENDERS) for case in results]
    headers = ["case", "sent at", *_line_rate.CONTENDERS]
    return (
        "recv at line rate: share of 1200-byte datagrams written to the sink"
        " (ratio to the minimal reader; default receive buffers)\n" + format_table(headers, rows)
    )


def run_analyze(settings: Settings) -> Results:
    """``recv --analyze auto`` against ``recv`` and the minimal reader, per payload kind."""
    cases = {f"{kind} {_analyze.RATE // 1000}k/s": kind for kind in _analyze.KINDS}
    results = _new_results(list(cases), list(_analyze.CONTENDERS))
    (group,) = group_addresses(1, offset=310)
    count = round(_analyze.RATE * settings.line_seconds)
    for repetition in range(settings.repetitions):
        _log(f"analyze, repetition {repetition + 1}/{settings.repetitions}")
        for case_name, kind in cases.items():
            for name in rotated(list(_analyze.CONTENDERS), repetition):
                sample = _analyze.measure(name, kind, count, group, next_port())
                results[case_name][name].append(sample)
    return results


def analyze_table(results: Results) -> str:
    """Share delivered by each receiver, and what the analysis read and found missing."""
    rows = [
        [
            *_delivered_cells(results, case, _analyze.CONTENDERS),
            f"{_median(results, case, 'analyze', 'analyzed'):.1%}",
            f"{_median(results, case, 'analyze', 'lost'):.0f}",
        ]
        for case in results
    ]
    headers = ["case", "sent at", *_analyze.CONTENDERS, "analyzed", "lost (median)"]
    return (
        f"recv --analyze auto: share of {_analyze.SIZE}-byte datagrams received"
        " (ratio to the minimal reader), the share analyzed, and what it counted missing\n"
        + format_table(headers, rows)
    )


def _analyze_target(results: Mapping[str, Results]) -> Target:
    name = "recv --analyze auto at 50k/s of 1316 bytes: >= 0.98x the minimal reader, all analyzed"
    analyze = results.get("analyze")
    if analyze is None:
        return Target(name, "not run", None)
    details = []
    verdicts = []
    for case in analyze:
        ratio = _ratio(
            _median(analyze, case, "analyze", "delivered"),
            _median(analyze, case, "reference", "delivered"),
        )
        whole = _ratio(
            _median(analyze, case, "analyze", "analyzed"),
            _median(analyze, case, "analyze", "delivered"),
        )
        details.append(f"{case}: {ratio:.2f}x, analyzed {whole:.0%} of it")
        if not (math.isnan(ratio) or math.isnan(whole)):
            verdicts.append(ratio >= 0.98 and whole >= 0.999)
    return Target(name, "; ".join(details), all(verdicts) if verdicts else None)


def statistics_table(results: Results) -> str:
    """Time per call of each way to read the drop count, per number of other sockets."""
    rows = []
    for case, by_name in results.items():
        cells = [case]
        for name in _statcall.CONTENDERS:
            wall = summarize(by_name[name], "us_per_call")
            cpu = summarize(by_name[name], "cpu_us_per_call")
            cells.append("-" if wall is None else f"{wall.median:.1f}")
            cells.append("-" if cpu is None else f"{cpu.median:.1f}")
        rows.append(cells)
    headers = ["case"]
    for name in _statcall.CONTENDERS:
        headers.extend([f"{name} us", "cpu us"])
    return (
        "statistics() per call (us; other bound UDP sockets open in the namespace)\n"
        + format_table(headers, rows)
    )


def run_rejoin(settings: Settings) -> Results:
    """Link recreations under a receiver: time to rejoin and to deliver again."""
    results = _new_results(["recreate"], ["trio_mcast"])
    for repetition in range(settings.repetitions):
        _log(f"rejoin, repetition {repetition + 1}/{settings.repetitions}")
        samples = _rejoin.measure(settings.rejoin_cycles, next_port())
        results["recreate"]["trio_mcast"].extend(samples)
    return results


def rejoin_table(results: Results) -> str:
    """Milliseconds from creating the link: the ``ip`` command, the rejoin, the first datagram."""
    samples = results["recreate"]["trio_mcast"]
    cells = []
    for metric in _rejoin.METRICS:
        summary = summarize(samples, metric)
        cells.append(
            "-"
            if summary is None
            else f"{summary.median:.1f} ({spread(summary, lambda ms: f'{ms:.1f}')})"
        )
    return (
        f"link recreated under a receiver ({len(samples)} times): ms from the start of"
        " 'ip link add', median (min-max)\n"
        + format_table([f"{metric} ms" for metric in _rejoin.METRICS], [cells])
    )


def _median(results: Results, case: str, name: str, metric: str) -> float:
    summary = summarize(results.get(case, {}).get(name, []), metric)
    return math.nan if summary is None else summary.median


def _ratio(numerator: float, denominator: float) -> float:
    if denominator == 0 or math.isnan(numerator) or math.isnan(denominator):
        return math.nan
    return numerator / denominator


def _rate_cell(summary: Summary | None) -> tuple[str, str]:
    if summary is None:
        return "-", "-"
    return f"{format_rate(summary.median)}/s", spread(summary, format_rate)


def drain_table(results: Results) -> str:
    """The drain table: rates (wall clock and CPU time), ratios to raw-recvfrom, losses."""
    blocks = []
    for case, by_name in results.items():
        reference = summarize(by_name.get(REFERENCE, []), "rate")
        cpu_reference = summarize(by_name.get(REFERENCE, []), "cpu_rate")
        rows = []
        for name, samples in by_name.items():
            summary = summarize(samples, "rate")
            cpu = summarize(samples, "cpu_rate")
            median, low_high = _rate_cell(summary)
            ratio = _ratio(
                summary.median if summary else math.nan,
                reference.median if reference else math.nan,
            )
            cpu_ratio = _ratio(
                cpu.median if cpu else math.nan,
                cpu_reference.median if cpu_reference else math.nan,
            )
            lost = max((sample["shortfall"] for sample in samples), default=0)
            drops = max((sample["kernel_drops"] for sample in samples), default=0)
            rows.append(
                [
                    name,
                    median,
                    low_high,
                    f"{ratio:.2f}x",
                    _rate_cell(cpu)[0],
                    f"{cpu_ratio:.2f}x",
                    f"{lost:.0f}",
                    f"{drops:.0f}",
                    str(len(samples)),
                ]
            )
        headers = [
            "contender", "median", "min-max", f"vs {REFERENCE}", "per CPU s", "vs ref (CPU)",
            "lost", "kdrops", "runs",
        ]  # fmt: skip
        blocks.append(
            f"Drain throughput ({case}; datagrams per wall-clock second, and per second of"
            f" this process's CPU time)\n{format_table(headers, rows)}"
        )
        split = cost_split(by_name)
        if split:
            blocks.append(split)
    return "\n\n".join(blocks)


#: Each step adds one layer to the one before: what a datagram costs in each.
_COST_LAYERS: Final = (
    ("system call and loop", "raw-recvfrom"),
    ("+ a Datagram object", "raw-recvfrom+Datagram"),
    ("+ the queue and Trio, by batch", "trio_mcast-batch"),
    ("+ one await per datagram", "trio_mcast-iter"),
)


def cost_split(by_name: Mapping[str, Sequence[Sample]]) -> str:
    """Per-datagram CPU nanoseconds, layer by layer, from the drain medians."""
    rows = []
    previous = 0.0
    for label, name in _COST_LAYERS:
        cpu = summarize(by_name.get(name, []), "cpu_rate")
        if cpu is None:
            return ""
        cost = 1e9 / cpu.median
        rows.append(
            [label, name, f"{cost:.0f}", "" if not previous else f"{cost - previous:+.0f}"]
        )
        previous = cost
    return "Per-datagram cost, CPU ns (from the medians above)\n" + format_table(
        ["layer", "contender", "ns", "added"], rows
    )


def live_table(results: Results) -> str:
    """The live tables: loss and latency percentiles, p99 ratio to the blocking loop."""
    blocks = []
    for case, by_name in results.items():
        reference = summarize(by_name.get(LATENCY_REFERENCE, []), "p99_us")
        rows = []
        for name, samples in by_name.items():
            loss = summarize(samples, "loss_pct")
            p50 = summarize(samples, "p50_us")
            p99 = summarize(samples, "p99_us")
            peak = summarize(samples, "max_us")
            received = summarize(samples, "received")
            sent = summarize(samples, "sent")
            ratio = (
                _ratio(p99.median, reference.median)
                if p99 is not None and reference is not None
                else math.nan
            )
            rows.append(
                [
                    name,
                    "-"
                    if received is None or sent is None
                    else f"{received.median:.0f}/{sent.median:.0f}",
                    "-"
                    if loss is None
                    else f"{loss.median:.2f}% ({loss.low:.2f}-{loss.high:.2f})",
                    "-" if p50 is None else format_micros(p50.median),
                    "-"
                    if p99 is None
                    else f"{format_micros(p99.median)} ({spread(p99, format_micros)})",
                    "-" if peak is None else format_micros(peak.median),
                    "-" if math.isnan(ratio) else f"{ratio:.2f}x",
                ]
            )
        headers = [
            "contender",
            "received/sent",
            "loss",
            "p50",
            "p99 (min-max)",
            "max",
            f"p99 vs {LATENCY_REFERENCE}",
        ]
        blocks.append(f"Live rate and latency at {case}\n{format_table(headers, rows)}")
    return "\n\n".join(blocks)


def flood_table(results: Results) -> str:
    """The flood table: accounting of every datagram, queue bound, memory."""
    blocks = []
    for case, by_policy in results.items():
        rows = []
        for policy, samples in by_policy.items():
            for sample in samples:
                rows.append(
                    [
                        policy,
                        f"{sample['sent']:.0f}",
                        f"{format_rate(sample['send_rate'])}/s",
                        f"{sample['taken']:.0f}",
                        f"{sample['delivered']:.0f}",
                        f"{sample['queue_drops']:.0f}",
                        f"{sample['kernel_drops']:.0f}",
                        f"{sample['unaccounted']:.0f}",
                        f"{sample['max_pending']:.0f}/{sample['queue_size']:.0f}",
                        format_bytes(sample["rss_growth"]),
                    ]
                )
        headers = [
            "policy",
            "sent",
            "rate",
            "taken",
            "delivered",
            "queue drops",
            "kernel drops",
            "unaccounted",
            "max pending",
            "peak RSS growth",
        ]
        blocks.append(
            f"Memory under flood ({case}, consumer stalled)\n{format_table(headers, rows)}\n"
            "taken = read from the socket (delivered + queue drops);"
            " unaccounted = sent - taken - kernel drops"
        )
    return "\n\n".join(blocks)


def growth_table(results: Results) -> str:
    """The growth table: each contender's rate per case, and trio_mcast's ratio."""
    rows = []
    for case, by_name in results.items():
        cells: list[str] = [case]
        for name in GROWTH_CONTENDERS:
            cells.extend(_rate_cell(summarize(by_name.get(name, []), "rate")))
        reference = REFERENCE if REFERENCE in by_name else METADATA_REFERENCE
        ratio = _ratio(
            _median(results, case, "trio_mcast-iter", "rate"),
            _median(results, case, reference, "rate"),
        )
        lost = max(
            (sample["shortfall"] for samples in by_name.values() for sample in samples), default=0
        )
        cells.extend([f"{ratio:.2f}x vs {reference}", f"{lost:.0f}"])
        rows.append(cells)
    headers = ["case"]
    for name in GROWTH_CONTENDERS:
        headers.extend([name, "min-max"])
    headers.extend(["trio_mcast-iter", "lost"])
    return (
        "Cost of growth (drain; groups=K: 200B round-robin over K joined groups;"
        " size=S: S-byte datagrams, one group)\n" + format_table(headers, rows)
    )


def evaluate_targets(results: Mapping[str, Results]) -> list[Target]:
    """The issue's targets, from the medians of this run."""
    targets: list[Target] = []
    drain = results.get("drain")
    drain_case = next(iter(drain)) if drain else ""
    for numerator, denominator, minimum in _DRAIN_TARGETS:
        name = f"drain {numerator} >= {minimum:g} x {denominator}"
        if drain is None:
            targets.append(Target(name, "not run", None))
            continue
        ratio, cpu_ratio = (
            _ratio(
                _median(drain, drain_case, numerator, metric),
                _median(drain, drain_case, denominator, metric),
            )
            for metric in ("rate", "cpu_rate")
        )
        measured = [value for value in (ratio, cpu_ratio) if not math.isnan(value)]
        if denominator not in drain.get(drain_case, {}):
            targets.append(Target(name, "not run (not installed)", None))
            continue
        targets.append(
            Target(
                name,
                f"{ratio:.2f}x (per CPU second: {cpu_ratio:.2f}x)",
                max(measured) >= minimum if measured else None,
            )
        )
    targets.extend(_latency_targets(results.get("live")))

    flood = results.get("flood")
    name = f"flood, stalled consumer: peak RSS growth <= {format_bytes(RSS_LIMIT)}"
    if flood is None:
        targets.append(Target(name, "not run", None))
    else:
        samples = [
            sample for by_policy in flood.values() for s in by_policy.values() for sample in s
        ]
        worst = max(sample["rss_growth"] for sample in samples)
        bounded = all(sample["max_pending"] <= sample["queue_size"] for sample in samples)
        counted = all(abs(sample["unaccounted"]) <= 0.001 * sample["sent"] for sample in samples)
        targets.append(
            Target(
                name,
                f"worst {format_bytes(worst)}; queue bound held: {bounded};"
                f" drops counted (sent = taken + kernel drops, within 0.1%): {counted}",
                worst <= RSS_LIMIT and bounded and counted,
            )
        )

    growth = results.get("growth")
    name = (
        "growth: iter(K groups)/iter(1) >="
        f" {GROWTH_TOLERANCE:g} x raw-recvmsg(K)/raw-recvfrom(1), K = 8, 64"
    )
    cases = ("groups=1", "groups=8", "groups=64")
    if growth is None or any(case not in growth for case in cases):
        targets.append(Target(name, "not run", None))
    else:
        one = _median(growth, "groups=1", "trio_mcast-iter", "rate")
        raw_one = _median(growth, "groups=1", REFERENCE, "rate")
        details = []
        verdicts = []
        for case in cases[1:]:
            ours = _ratio(_median(growth, case, "trio_mcast-iter", "rate"), one)
            allowed = _ratio(_median(growth, case, METADATA_REFERENCE, "rate"), raw_one)
            details.append(f"{case}: {ours:.2f} vs {allowed:.2f}")
            if not (math.isnan(ours) or math.isnan(allowed)):
                verdicts.append(ours >= GROWTH_TOLERANCE * allowed)
        targets.append(
            Target(name, "; ".join(details), all(verdicts) if len(verdicts) == 2 else None)
        )
    line_rate = results.get("line-rate")
    name = "recv, every format and sink, at 50k/s and 200k/s: >= the minimal reader"
    if line_rate is None:
        targets.append(Target(name, "not run", None))
    else:
        lowest: tuple[float, str] = (math.inf, "")
        for case in line_rate:
            reference = _median(line_rate, case, "reference", "delivered")
            for contender in _line_rate.CONTENDERS[1:]:
                ratio = _ratio(_median(line_rate, case, contender, "delivered"), reference)
                if not math.isnan(ratio) and ratio < lowest[0]:
                    lowest = (ratio, f"{contender}, {case}")
        targets.append(
            Target(
                name,
                f"worst {lowest[0]:.2f}x ({lowest[1]})",
                None if math.isinf(lowest[0]) else lowest[0] >= 1.0,
            )
        )

    targets.append(_analyze_target(results))

    statistics = results.get("statistics")
    crowded = f"sockets={STATISTICS_SOCKETS}"
    name = (
        f"statistics() per call, {STATISTICS_SOCKETS:,} other UDP sockets:"
        f" <= {STATISTICS_LIMIT_US:g} us"
    )
    if statistics is None or crowded not in statistics:
        targets.append(Target(name, "not run", None))
    else:
        wall, cpu, proc = (
            _median(statistics, crowded, contender, metric)
            for contender, metric in (
                ("statistics()", "us_per_call"),
                ("statistics()", "cpu_us_per_call"),
                ("/proc/net/udp", "us_per_call"),
            )
        )
        targets.append(
            Target(
                name,
                f"{wall:.1f} us (CPU {cpu:.1f} us); the /proc fallback: {proc:,.0f} us",
                None if math.isnan(wall) else min(wall, cpu) <= STATISTICS_LIMIT_US,
            )
        )
    rejoin = results.get("rejoin")
    name = f"rejoin after the interface is recreated: <= {REJOIN_LIMIT_MS / 1000:g} s"
    if rejoin is None:
        targets.append(Target(name, "not run", None))
    else:
        samples = rejoin["recreate"]["trio_mcast"]
        slowest = max((sample["rejoined"] for sample in samples), default=math.nan)
        worst_ip = max((sample["ip"] for sample in samples), default=math.nan)
        targets.append(
            Target(
                name,
                f"median {_median(rejoin, 'recreate', 'trio_mcast', 'rejoined'):.1f} ms,"
                f" slowest {slowest:.1f} ms of {len(samples)} (the 'ip' command itself:"
                f" median {_median(rejoin, 'recreate', 'trio_mcast', 'ip'):.1f} ms,"
                f" slowest {worst_ip:.1f} ms)",
                None if math.isnan(slowest) else slowest <= REJOIN_LIMIT_MS,
            )
        )
    return targets


def _latency_targets(live: Results | None) -> list[Target]:
    """p50 and p99 at 10k/s, and p99 at 100k/s, of both receive styles against trio-naive."""
    checks = [
        ("10k/s", metric, contender, LATENCY_LIMIT)
        for contender in ("trio_mcast-iter", "trio_mcast-batch")
        for metric in ("p50_us", "p99_us")
    ]
    checks += [
        ("100k/s", "p99_us", contender, HIGH_RATE_LATENCY_LIMIT)
        for contender in ("trio_mcast-iter", "trio_mcast-batch")
    ]
    targets = []
    for case, metric, contender, limit in checks:
        name = (
            f"latency {metric.removesuffix('_us')} at {case}: {contender} <= {limit:g}"
            f" x {NAIVE_REFERENCE}"
        )
        if live is None or case not in live:
            targets.append(Target(name, "not run", None))
            continue
        ours = _median(live, case, contender, metric)
        theirs = _median(live, case, NAIVE_REFERENCE, metric)
        ratio = _ratio(ours, theirs)
        targets.append(
            Target(
                name,
                f"{format_micros(ours)} vs {format_micros(theirs)} = {ratio:.2f}x",
                None if math.isnan(ratio) else ratio <= limit,
            )
        )
    return targets


def targets_table(targets: Sequence[Target]) -> str:
    """The verdicts, one per line: verdict, target, then what was measured."""
    width = max((len(target.name) for target in targets), default=0)
    lines = [f"{t.verdict:<4}  {t.name.ljust(width)}  {t.detail}" for t in targets]
    return "\n".join(["Targets (medians of this run)", *lines])


_RUNNERS: Final = {
    "drain": (run_drain, drain_table),
    "live": (run_live, live_table),
    "flood": (run_flood, flood_table),
    "growth": (run_growth, growth_table),
    "statistics": (run_statistics, statistics_table),
    "line-rate": (run_line_rate, line_rate_table),
    "analyze": (run_analyze, analyze_table),
    "rejoin": (run_rejoin, rejoin_table),
}


def run(settings: Settings) -> int:
    """Run everything ``settings`` selects; 0 when it all ran (targets do not set the status)."""
    machine = machine_description()
    _log(
        f"machine: {machine['cpus']} x {machine['cpu_model']}, Linux {machine['kernel']},"
        f" Python {machine['python']}; workloads: {', '.join(settings.workloads)}"
    )
    settle_allocator()
    started = time.monotonic()
    results: dict[str, Results] = {}
    tables: list[str] = []
    for workload in settings.workloads:
        runner, render = _RUNNERS[workload]
        results[workload] = runner(settings)
        tables.append(render(results[workload]))
    elapsed = time.monotonic() - started
    targets = evaluate_targets(results)
    print()
    print("\n\n".join([*tables, targets_table(targets)]))
    print(
        f"\n{machine['cpus']} CPUs ({machine['cpu_model']}), Linux {machine['kernel']},"
        f" Python {machine['python']}; {settings.repetitions} repetitions, interleaved;"
        f" {elapsed:.0f} s"
    )
    if settings.json_path is not None:
        document = {
            "machine": machine,
            "settings": {key: getattr(settings, key) for key in settings.__dataclass_fields__},
            "elapsed_seconds": elapsed,
            "results": results,
            "targets": [
                {"name": t.name, "measured": t.detail, "verdict": t.verdict} for t in targets
            ],
        }
        with open(settings.json_path, "w") as file:
            json.dump(document, file, indent=1)
            file.write("\n")
        _log(f"raw figures written to {settings.json_path}")
    return 0
