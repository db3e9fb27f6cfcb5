"""A paced (or flat-out) multicast sender, run as a separate process by the workloads.

``python -m benchmarks.sender --netns-inode N --group G --port P --rate R --seconds S``

It must be started by a process that already entered the benchmark's private
network namespace; it checks that it inherited that namespace (the inode
given on the command line) and refuses to send otherwise.

Each payload starts with two little-endian 64-bit numbers: a sequence number
and the send time from ``time.monotonic_ns()`` (CLOCK_MONOTONIC, the same
clock in every process of the host), so the receiver can compute one-way
latency. After the stream come a few end markers (sequence ``2**64 - 1``).
When done it prints one JSON line: how many datagrams it sent, over how long,
and how late the schedule ran.

Pacing uses an absolute schedule: datagram ``i`` is due at
``start + i / rate``, so a late send is followed by catching up instead of
drifting. It sleeps while the next datagram is far enough away and spins for
the rest, with the timer slack cut to 1 ns so that sleeps end on time.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import struct
import sys
import time
from typing import TYPE_CHECKING, Final

from benchmarks._net import open_sender, require_private_network

if TYPE_CHECKING:
    import socket

#: The header every payload starts with: sequence number, send time in ns.
HEADER: Final = struct.Struct("<QQ")
#: The sequence number of an end-of-stream marker.
END_SEQUENCE: Final = 2**64 - 1
END_MARKERS: Final = 3
END_MARKER_GAP: Final = 0.02
# Sleep only when the next send is at least this far away (ns), and wake this
# long before it to spin the rest. Measured here at 10k/s: spinning only is
# exact but burns a whole core of a 2-core machine; this hybrid uses ~25% of
# one, at the price of rare late sends (p99 lateness ~100 us under load), which
# the absolute schedule then catches up. The latency is measured from the real
# send time, so lateness does not enter it.
_SLEEP_THRESHOLD_NS: Final = 60_000
_SPIN_MARGIN_NS: Final = 30_000
_PR_SET_TIMERSLACK: Final = 29
# Flat-out mode checks the clock once per this many datagrams.
_FLOOD_CHECK_EVERY: Final = 256


def _cut_timer_slack() -> None:
    # The default slack (50 us) would make every sleep end up to 50 us late.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_TIMERSLACK, 1, 0, 0, 0)


def send_paced(
    sock: socket.socket, destination: tuple[str, int], rate: float, seconds: float, size: int
) -> dict[str, float]:
    """Send at ``rate`` datagrams/s for ``seconds``; the figures of the run."""
    buffer = bytearray(max(size, HEADER.size))
    pack_into = HEADER.pack_into
    sendto = sock.sendto
    clock = time.monotonic_ns
    sleep = time.sleep
    interval = 1e9 / rate
    total = int(rate * seconds)
    lateness: list[int] = []
    late = lateness.append
    start = clock() + 1_000_000
    for sequence in range(total):
        due = start + int(sequence * interval)
        wait = due - clock()
        if wait > _SLEEP_THRESHOLD_NS:
            sleep((wait - _SPIN_MARGIN_NS) / 1e9)
        now = clock()
        while now < due:
            now = clock()
        late(now - due)
        pack_into(buffer, 0, sequence, now)
        sendto(buffer, destination)
    elapsed = (clock() - start) / 1e9
    lateness.sort()
    return {
        "sent": total,
        "seconds": elapsed,
        "late_p99_us": lateness[int(0.99 * (len(lateness) - 1))] / 1000 if lateness else 0.0,
        "late_max_us": lateness[-1] / 1000 if lateness else 0.0,
    }


def send_flood(
    sock: socket.socket, destination: tuple[str, int], seconds: float, size: int
) -> dict[str, float]:
    """Send as fast as one Python loop can for ``seconds``; the figures of the run."""
    buffer = bytearray(max(size, HEADER.size))
    pack_into = HEADER.pack_into
    sendto = sock.sendto
    clock = time.monotonic_ns
    start = clock()
    end = start + int(seconds * 1e9)
    sent = 0
    now = start
    while now < end:
        for _ in range(_FLOOD_CHECK_EVERY):
            pack_into(buffer, 0, sent, now)
            sendto(buffer, destination)
            sent += 1
        now = clock()
    return {"sent": sent, "seconds": (now - start) / 1e9, "late_p99_us": 0.0, "late_max_us": 0.0}


def _send_end_markers(sock: socket.socket, destination: tuple[str, int], size: int) -> None:
    marker = bytearray(max(size, HEADER.size))
    for _ in range(END_MARKERS):
        HEADER.pack_into(marker, 0, END_SEQUENCE, time.monotonic_ns())
        sock.sendto(marker, destination)
        time.sleep(END_MARKER_GAP)


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, check the namespace, send, print the summary."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sender", description=__doc__)
    parser.add_argument("--netns-inode", type=int, required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", type=float, default=0.0, help="datagrams/s; 0 = flat out")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--end-markers", action="store_true")
    args = parser.parse_args(argv)
    try:
        require_private_network(args.netns_inode)
    except RuntimeError as exc:
        print(f"sender: refusing to send: {exc}", file=sys.stderr)
        return 2
    _cut_timer_slack()
    destination = (args.group, args.port)
    with open_sender() as sock:
        if args.rate > 0:
            figures = send_paced(sock, destination, args.rate, args.seconds, args.size)
        else:
            figures = send_flood(sock, destination, args.seconds, args.size)
        if args.end_markers:
            _send_end_markers(sock, destination, args.size)
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
