"""Hostile payloads: random, empty, maximal and oversized datagrams, and invalid UTF-8.

Every datagram is delivered byte-exact, or cut to ``max_datagram_size`` and
flagged ``truncated``; nothing crashes the receiver. The CLI prints invalid
UTF-8 and control characters safely in every output format.
"""

from __future__ import annotations

import base64
import errno
import json
import random
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Final, NamedTuple

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

import trio_mcast
from tests import netns
from tests.cli_process import LISTENING, cli_argv, running_cli
from tests.receiving import DEADLINE
from tests.reliability._support import link_sender6

if TYPE_CHECKING:
    from collections.abc import Sequence

PORT: Final = 40801
GROUP4: Final = "239.50.0.1"
GROUP6: Final = "ff15::50:1"
#: The second group a wildcard-bound receiver joins (it never receives on it).
SECOND_GROUP: Final = {socket.AF_INET: "239.50.0.2", socket.AF_INET6: "ff15::50:2"}
#: 65535 - 20 (IPv4 header) - 8 (UDP header).
MAX_IPV4_PAYLOAD: Final = 65507
#: 65535 (IPv6 payload length) - 8 (UDP header); the IPv6 header is not counted.
MAX_IPV6_PAYLOAD: Final = 65527
REPOSITORY: Final = Path(__file__).resolve().parents[2]
MODES: Final = ("bound", "metadata", "wildcard")
#: Bytes that break naive printing: invalid UTF-8 (lone continuation, overlong,
#: surrogate, beyond U+10FFFF, truncated sequence), NUL, terminal escapes,
#: carriage return, newline, bidi override, zero-width space, DEL and C1.
HOSTILE: Final = (
    b"\xff\xfe\x80 \xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80 \xe2\x82"
    b" \x00 \x1b[31mred\x1b[0m \x1b]0;title\x07 \rover\nnext"
    b" \xe2\x80\xae RLO \xe2\x80\x8b ZWSP \x7f \xc2\x9b C1 \\ end \xc3"
)


def open_sender(family: socket.AddressFamily, ipv6_link: int) -> socket.socket:
    return netns.loopback_sender() if family == socket.AF_INET else link_sender6(ipv6_link)


async def round_trip(
    family: socket.AddressFamily,
    ipv6_link: int,
    mode: str,
    max_size: int | None,
    payloads: Sequence[bytes],
) -> None:
    """Send each payload and receive it before the next; check it and the counters."""
    group = GROUP4 if family == socket.AF_INET else GROUP6
    interface: str | int = "lo" if family == socket.AF_INET else ipv6_link
    groups = [group, SECOND_GROUP[family]]
    limit = 65535 if max_size is None else max_size
    with open_sender(family, ipv6_link) as sender:
        async with trio_mcast.open_multicast_receiver(
            groups if mode == "wildcard" else group,
            PORT,
            interface=interface,
            max_datagram_size=max_size,
            metadata=mode == "metadata",
        ) as receiver:
            for sent in payloads:
                sender.sendto(sent, (group, PORT))
                with trio.fail_after(DEADLINE):
                    datagram = await receiver.receive()
                assert datagram.payload == sent[:limit]
                assert datagram.truncated == (len(sent) > limit)
                assert datagram.group == group
            with pytest.raises(trio.WouldBlock):
                receiver.receive_nowait()
            statistics = receiver.statistics()
    assert statistics.datagrams == len(payloads)
    assert statistics.truncated == sum(len(p) > limit for p in payloads)
    assert statistics.bytes == sum(min(len(p), limit) for p in payloads)
    assert (statistics.kernel_drops, statistics.queue_drops, statistics.filtered) == (0, 0, 0)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6], ids=["ipv4", "ipv6"])
async def test_empty_random_and_maximal_datagrams_arrive_byte_exact(
    ipv6_link: int, family: socket.AddressFamily, mode: str
) -> None:
    largest = MAX_IPV4_PAYLOAD if family == socket.AF_INET else MAX_IPV6_PAYLOAD
    generator = random.Random(f"{family} {mode}")
    payloads = [b"", b"\x00", HOSTILE, generator.randbytes(1472), generator.randbytes(largest)]
    await round_trip(family, ipv6_link, mode, None, payloads)


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6], ids=["ipv4", "ipv6"])
def test_one_byte_beyond_the_maximum_is_refused_by_the_kernel(
    ipv6_link: int, family: socket.AddressFamily
) -> None:
    # Nothing larger can be on the wire, so the receiver never has to cope with it.
    largest = MAX_IPV4_PAYLOAD if family == socket.AF_INET else MAX_IPV6_PAYLOAD
    group = GROUP4 if family == socket.AF_INET else GROUP6
    with (
        open_sender(family, ipv6_link) as sender,
        pytest.raises(OSError, match=r"^\[Errno 90\] Message too long$") as caught,
    ):
        sender.sendto(bytes(largest + 1), (group, PORT))
    assert caught.value.errno == errno.EMSGSIZE


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("max_size", [1, 100, 1472, 65506])
async def test_datagrams_above_max_datagram_size_are_cut_and_flagged(
    ipv6_link: int, mode: str, max_size: int
) -> None:
    generator = random.Random(max_size)
    sizes = sorted({0, max_size - 1, max_size, max_size + 1, MAX_IPV4_PAYLOAD})
    payloads = [generator.randbytes(size) for size in sizes]
    await round_trip(socket.AF_INET, ipv6_link, mode, max_size, payloads)


class Case(NamedTuple):
    family: socket.AddressFamily
    mode: str
    max_size: int | None
    payloads: list[bytes]


def _random_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def _payloads(largest: int) -> st.SearchStrategy[bytes]:
    sizes = st.one_of(
        st.integers(0, largest),
        st.sampled_from([0, 1, 1472, 1473, 8192, largest - 1, largest]),
    )
    return st.one_of(
        # Small payloads Hypothesis can shrink byte by byte.
        st.binary(max_size=256),
        st.builds(_random_bytes, sizes, st.integers(0, 2**32 - 1)),
        st.sampled_from([HOSTILE, HOSTILE * 100]),
    )


@st.composite
def cases(draw: st.DrawFn) -> Case:
    family = draw(st.sampled_from([socket.AF_INET, socket.AF_INET6]))
    largest = MAX_IPV4_PAYLOAD if family == socket.AF_INET else MAX_IPV6_PAYLOAD
    max_size = draw(
        st.one_of(st.none(), st.integers(1, 65535), st.sampled_from([1, 1472, largest]))
    )
    return Case(
        family=family,
        mode=draw(st.sampled_from(MODES)),
        max_size=max_size,
        payloads=draw(st.lists(_payloads(largest), min_size=1, max_size=6)),
    )


CASES: Final = cases()
#: Each example opens a receiver and sends up to six datagrams of up to 64 KiB;
#: a couple of hundred examples cover the sizes and modes well.
MAX_EXAMPLES: Final = min(settings().max_examples, 200)


def test_random_payloads_through_a_real_socket(ipv6_link: int) -> None:
    # The fixture is made once for the whole property: the @given function
    # runs one trio.run, with a receiver of its own, per example.
    @settings(max_examples=MAX_EXAMPLES)
    @given(case=CASES)
    def check(case: Case) -> None:
        trio.run(round_trip, case.family, ipv6_link, case.mode, case.max_size, case.payloads)

    check()


async def _cli_prints(output_format: str, port: int, payload: bytes) -> tuple[bytes, bytes, int]:
    argv = cli_argv(
        "recv",
        GROUP4,
        "--port",
        str(port),
        "--interface",
        "lo",
        "--count",
        "1",
        "--format",
        output_format,
    )
    async with running_cli(argv, cwd=REPOSITORY) as recv:
        with trio.fail_after(DEADLINE):
            await recv.stderr.expect(LISTENING)
        with netns.loopback_sender() as sender:
            sender.sendto(payload, (GROUP4, port))
        with trio.fail_after(DEADLINE):
            returncode, output, errors = await recv.read_to_end()
    return output, errors, returncode


@pytest.mark.parametrize("output_format", ["text", "jsonl", "raw", "hex"])
async def test_cli_prints_invalid_utf8_and_control_characters_safely(output_format: str) -> None:
    port = PORT + 1 + ["text", "jsonl", "raw", "hex"].index(output_format)
    output, errors, returncode = await _cli_prints(output_format, port, HOSTILE)
    assert returncode == 0, errors
    if output_format == "raw":
        # raw is the payload and nothing else, by design: for piping, not terminals.
        assert output == HOSTILE
        return
    text = output.decode("utf-8")  # strict: the output itself is valid UTF-8
    assert text.endswith("\n")
    lines = text[:-1].split("\n")
    # No line can move the cursor, recolour the terminal or reorder text.
    assert all(line.isprintable() for line in lines), lines
    if output_format == "text":
        (line,) = lines
        assert line.endswith(
            r": \xff\xfe\x80 \xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80 \xe2\x82 \x00"
            r" \x1b[31mred\x1b[0m \x1b]0;title\x07 \rover\nnext \u202e RLO \u200b ZWSP"
            r" \x7f \u009b C1 \\ end \xc3"
        ), line
    elif output_format == "jsonl":
        (line,) = lines
        assert line.isascii()
        record = json.loads(line)
        assert "payload" not in record  # not valid UTF-8, so only the base64 form
        assert base64.b64decode(record["payload_base64"], validate=True) == HOSTILE
        assert (record["size"], record["truncated"]) == (len(HOSTILE), False)
    else:
        _header, *dump = lines
        assert text.isascii()
        assert bytes.fromhex("".join(line[10:58] for line in dump)) == HOSTILE
