"""``recv --analyze auto`` at 50,000 datagrams/s of 1316 bytes, against the minimal reader.

The sender is ``trio-mcast send --payload KIND --size 1316`` (MPEG-TS: seven
188-byte packets of one PID; RTP and iperf2: their header and padding),
paced at the rate. Three receivers take the same stream, one run each:
the minimal reader of :mod:`benchmarks._line_rate`, ``recv --format none``
(receiving, no analysis), and ``recv --analyze auto --format none``. The
analysis keeps up when it delivers as much as the reader, and analyzed
every datagram it received (none lost: the sender leaves none out).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Final

from ._line_rate import MINIMAL_READER, measure_run
from ._net import LOOPBACK, LOOPBACK_INTERFACE

if TYPE_CHECKING:
    from ._stats import Sample

CONTENDERS: Final = ("reference", "none", "analyze")
KINDS: Final = ("mpegts", "rtp", "iperf2")
SIZE: Final = 1316
RATE: Final = 50_000
#: Seconds of silence after which a receiver has seen the whole stream.
_IDLE: Final = "1.0"


def _receiver_argv(contender: str, group: str, port: int) -> list[str]:
    if contender == "reference":
        return [sys.executable, "-c", MINIMAL_READER, group, str(port)]
    argv = [
        sys.executable, "-m", "trio_mcast", "recv", group, "-p", str(port),
        "-i", LOOPBACK_INTERFACE, "-f", "none", "--idle-timeout", _IDLE,
    ]  # fmt: skip
    return [*argv, "--analyze", "auto"] if contender == "analyze" else argv


def _sender_argv(kind: str, group: str, port: int, count: int) -> list[str]:
    return [
        sys.executable, "-m", "trio_mcast", "send", group, "-p", str(port), "-i", LOOPBACK,
        "--payload", kind, "--size", str(SIZE), "--count", str(count), "--rate", str(RATE),
    ] + (["--pid", "256"] if kind == "mpegts" else [])  # fmt: skip


def measure(contender: str, kind: str, count: int, group: str, port: int) -> Sample:
    """One run of ``contender`` on a ``kind`` stream of ``count`` datagrams."""
    return measure_run(
        contender,
        _receiver_argv(contender, group, port),
        _sender_argv(kind, group, port, count),
        "devnull",
        count,
    )
