"""Memory under flood: a stalled consumer while a sender floods flat out.

Runs in a fresh process (``python -m benchmarks._flood``, started by
:func:`measure`) so the high-water mark of resident memory belongs to this
workload alone; the child also resets ``VmHWM`` just before it opens the
receiver. The consumer never reads while the sender runs: its body only
sleeps, waking every 50 ms to look at ``statistics()`` and ``VmRSS``.

Afterwards the consumer drains whatever is left, so every datagram the sender
sent is accounted for: taken from the socket (and then delivered or dropped by
the queue's policy) or dropped by the kernel.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from typing import TYPE_CHECKING, Final

import trio

from trio_mcast import open_multicast_receiver

from ._live import LiveCase, finish_sender, sender_command, start_sender
from ._net import (
    LOOPBACK_INTERFACE,
    memory_status,
    require_private_network,
    reset_peak_rss,
    run_child,
    udp_counters,
)

if TYPE_CHECKING:
    from ._stats import Sample

#: The receiver's queue size in this workload (the library's default).
FLOOD_QUEUE_SIZE: Final = 1024
_SAMPLE_EVERY: Final = 0.05
# After the flood, the leftovers are drained until nothing arrives for this long.
_IDLE: Final = 0.3


async def _flood(args: argparse.Namespace) -> Sample:
    case = LiveCase(args.group, args.port, 0.0, args.seconds, args.size)
    gc.collect()
    reset = reset_peak_rss()
    before = memory_status()
    udp_before = udp_counters()
    max_pending = 0
    max_rss = before["VmRSS"]
    async with open_multicast_receiver(
        args.group,
        args.port,
        interface=LOOPBACK_INTERFACE,
        overflow=args.policy,
        queue_size=FLOOD_QUEUE_SIZE,
    ) as receiver:
        sender = start_sender(sender_command(case, flood=True, end_markers=False))
        try:
            # The stalled consumer: it sleeps and only looks.
            while sender.poll() is None:
                await trio.sleep(_SAMPLE_EVERY)
                max_pending = max(max_pending, receiver.statistics().pending)
                max_rss = max(max_rss, memory_status()["VmRSS"])
        finally:
            figures = finish_sender(sender)
        await trio.sleep(_SAMPLE_EVERY)
        stalled = receiver.statistics()
        peak = memory_status()
        delivered = 0
        while True:
            with trio.move_on_after(_IDLE) as scope:
                delivered += len(await receiver.receive_batch(FLOOD_QUEUE_SIZE))
            if scope.cancelled_caught:
                break
        final = receiver.statistics()
    udp_after = udp_counters()
    sent = int(figures["sent"])
    kernel_drops = final.kernel_drops if final.kernel_drops is not None else -1
    return {
        "sent": sent,
        "send_rate": sent / figures["seconds"],
        "taken": final.datagrams,
        "delivered": delivered,
        "queue_drops": final.queue_drops,
        "kernel_drops": kernel_drops,
        "rcvbuf_errors": udp_after["RcvbufErrors"] - udp_before["RcvbufErrors"],
        "unaccounted": sent - final.datagrams - kernel_drops,
        "stalled_queue_drops": stalled.queue_drops,
        "stalled_kernel_drops": stalled.kernel_drops if stalled.kernel_drops is not None else -1,
        "stalled_pending": stalled.pending,
        "max_pending": max_pending,
        "queue_size": FLOOD_QUEUE_SIZE,
        "rss_before": before["VmRSS"],
        "hwm_after": peak["VmHWM"],
        "rss_growth": peak["VmHWM"] - before["VmRSS"],
        "sampled_rss_growth": max_rss - before["VmRSS"],
        "hwm_reset": 1.0 if reset else 0.0,
    }


def measure(policy: str, *, group: str, port: int, seconds: float, size: int) -> Sample:
    """Run one flood in a fresh child process and return its figures."""
    return run_child(
        "benchmarks._flood",
        [
            "--policy",
            policy,
            "--group",
            group,
            "--port",
            str(port),
            "--seconds",
            repr(seconds),
            "--size",
            str(size),
        ],
        timeout=seconds + 60,
    )


def main(argv: list[str] | None = None) -> int:
    """The child: check the namespace, run one flood, print its figures as JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._flood")
    parser.add_argument("--netns-inode", type=int, required=True)
    parser.add_argument("--policy", choices=["drop-newest", "drop-oldest"], required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--size", type=int, required=True)
    args = parser.parse_args(argv)
    try:
        require_private_network(args.netns_inode)
    except RuntimeError as exc:
        print(f"flood: refusing to run: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(trio.run(_flood, args)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
