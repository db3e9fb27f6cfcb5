"""``trio-mcast recv`` at line rate, against a minimal Python reader process.

Each run starts one receiver process, waits until it has joined, then runs
the project's own paced sender (``trio-mcast send --rate``) for a fixed
count of 1200-byte datagrams, and reads how many datagrams the receiver
wrote to its sink. Both receivers keep the kernel's default receive buffer,
and write to the same sink: ``/dev/null``, or a pipe read by ``cat``.

The reference is what someone would write by hand: a blocking ``recvfrom``
loop that writes each payload to standard output (``minimal_reader`` below,
run as its own process).
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Final

from ._net import LOOPBACK, LOOPBACK_INTERFACE, ROOT

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ._stats import Sample

#: ``recv`` formats measured; ``reference`` is the minimal reader.
CONTENDERS: Final = ("reference", "raw", "text", "jsonl", "hex", "none")
SINKS: Final = ("devnull", "cat")
SIZE: Final = 1200
#: Seconds of silence after which a receiver has seen the whole stream.
_IDLE: Final = 1.0

MINIMAL_READER: Final = f"""
import os, socket, struct, sys
group, port = sys.argv[1], int(sys.argv[2])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind((group, port))
sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                socket.inet_aton(group) + socket.inet_aton("{LOOPBACK}"))
print("ready", file=sys.stderr, flush=True)
sock.settimeout(None)
count = 0
data, _ = sock.recvfrom(65536)
sock.settimeout({_IDLE})
try:
    while True:
        os.write(1, data)
        count += 1
        data, _ = sock.recvfrom(65536)
except socket.timeout:
    pass
print(f"written {{count}}", file=sys.stderr, flush=True)
"""

_RECEIVED: Final = re.compile(r"received (\d+) datagrams?")
_UNWRITTEN: Final = re.compile(r"output: (\d+) written, (\d+) not written")
_WRITTEN: Final = re.compile(r"^written (\d+)$", re.MULTILINE)
_SENT: Final = re.compile(r"sent (\d+) datagrams? .* in ([\d.]+) s")
_ANALYZED: Final = re.compile(r", (\d+) datagrams analyzed, ")
#: A row of recv's stream table: stream, kind, received, then lost.
_TABLE_LOST: Final = re.compile(
    r"^trio-mcast:   \S+(?: \S+)*? +(?:tmsq|rtp|mpegts|iperf2) +\d+ +(\d+) ", re.M
)


def _receiver_argv(contender: str, group: str, port: int) -> list[str]:
    if contender == "reference":
        return [sys.executable, "-c", MINIMAL_READER, group, str(port)]
    return [
        sys.executable, "-m", "trio_mcast", "recv", group, "-p", str(port),
        "-i", LOOPBACK_INTERFACE, "-f", contender, "--idle-timeout", str(_IDLE),
    ]  # fmt: skip


def _sender_argv(group: str, port: int, rate: int, count: int) -> list[str]:
    return [
        sys.executable, "-m", "trio_mcast", "send", group, "-p", str(port),
        "-i", LOOPBACK, "--size", str(SIZE), "--count", str(count), "--rate", str(rate),
    ]  # fmt: skip


@contextlib.contextmanager
def _sink(kind: str) -> Iterator[tuple[int | None, subprocess.Popen[bytes] | None]]:
    """The receiver's stdout: /dev/null, or the write end of a pipe that ``cat`` drains."""
    if kind == "devnull":
        with open("/dev/null", "wb") as devnull:
            yield devnull.fileno(), None
        return
    cat = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    assert cat.stdin is not None
    try:
        yield cat.stdin.fileno(), cat
    finally:
        cat.stdin.close()
        cat.wait()


def _written(contender: str, stderr: str) -> int:
    if contender == "reference":
        match = _WRITTEN.search(stderr)
        if match is None:
            raise RuntimeError(f"the minimal reader said: {stderr}")
        return int(match.group(1))
    received = _RECEIVED.search(stderr)
    if received is None:
        raise RuntimeError(f"recv said: {stderr}")
    unwritten = _UNWRITTEN.search(stderr)
    return int(received.group(1)) - (0 if unwritten is None else int(unwritten.group(2)))


def measure(contender: str, sink: str, rate: int, count: int, group: str, port: int) -> Sample:
    """One run: the share of ``count`` datagrams sent at ``rate`` that ``contender`` wrote."""
    return measure_run(
        contender,
        _receiver_argv(contender, group, port),
        _sender_argv(group, port, rate, count),
        sink,
        count,
    )


def measure_run(
    contender: str, receiver_argv: list[str], sender_argv: list[str], sink: str, count: int
) -> Sample:
    """Start the receiver, wait until it is ready, run the sender; what the receiver wrote.

    Args:
        contender: ``reference`` (the minimal reader) or a ``recv`` run.
        receiver_argv: The receiver's command.
        sender_argv: The sender's command; it sends ``count`` datagrams.
        sink: ``devnull`` or ``cat``.
        count: How many datagrams the sender sends.

    Returns:
        ``delivered`` (the share written), ``written`` and ``send_rate``, and
        for a ``recv --analyze`` run, ``analyzed`` (the share of ``count``
        it analyzed) and ``lost`` (what its table counts missing).
    """
    with _sink(sink) as (stdout, _):
        receiver = subprocess.Popen(
            receiver_argv,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert receiver.stderr is not None
        try:
            ready = receiver.stderr.readline()
            if "ready" not in ready and "listening on" not in ready:
                raise RuntimeError(f"{contender} did not start: {ready!r}")
            started = time.monotonic()
            sender = subprocess.run(
                sender_argv,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                check=True,
            )
            sent = _SENT.search(sender.stderr)
            _, stderr = receiver.communicate(timeout=60)
        finally:
            if receiver.poll() is None:
                receiver.kill()
                receiver.wait()
    written = _written(contender, ready + stderr)
    seconds = float(sent.group(2)) if sent else time.monotonic() - started
    sample: Sample = {
        "delivered": written / count,
        "written": float(written),
        "send_rate": count / seconds if seconds else 0.0,
    }
    analyzed = _ANALYZED.search(stderr)
    if analyzed is not None:
        sample["analyzed"] = int(analyzed.group(1)) / count
        sample["lost"] = float(sum(int(lost) for lost in _TABLE_LOST.findall(stderr)))
    return sample
