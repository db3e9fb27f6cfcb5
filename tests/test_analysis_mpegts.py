"""MPEG-TS analysis: continuity counters by the rules of ISO/IEC 13818-1, sync, PCR."""

from __future__ import annotations

from typing import Final

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_mcast._analysis._mpegts import TransportStream, is_transport_stream

pytestmark = pytest.mark.no_network

PAYLOAD: Final = 0x10
ADAPTATION: Final = 0x20


def packet(
    pid: int,
    counter: int,
    *,
    control: int = PAYLOAD,
    discontinuity: bool = False,
    pcr: int | None = None,
    error: bool = False,
) -> bytes:
    """A transport packet built by hand."""
    head = bytes([0x47, (0x80 if error else 0) | pid >> 8, pid & 0xFF, control | counter])
    body = b""
    if control & ADAPTATION:
        flags = (0x80 if discontinuity else 0) | (0x10 if pcr is not None else 0)
        field = bytes([flags])
        if pcr is not None:
            base, extension = divmod(pcr, 300)
            field += (base << 15 | 0x7E << 9 | extension).to_bytes(6, "big")
        body = bytes([len(field)]) + field
    return (head + body).ljust(188, b"\xff")


def test_the_example_stream_is_recognised_and_others_are_not() -> None:
    assert is_transport_stream(packet(0x100, 0) * 7)
    assert not is_transport_stream(packet(0x100, 0) * 7 + b"x")
    assert not is_transport_stream(b"\x47" + bytes(186))
    assert not is_transport_stream(packet(0x100, 0) + bytes(188))
    assert not is_transport_stream(b"")


#: One PID's packets: whether each has a payload (else adaptation only).
KINDS: Final = st.lists(
    st.sampled_from(["payload", "payload", "payload", "adaptation"]), max_size=120
)


@given(
    st.lists(
        st.tuples(st.integers(1, 0x1FFE), KINDS), min_size=1, max_size=4, unique_by=lambda t: t[0]
    ),
    st.data(),
)
def test_any_drops_and_single_duplicates_are_found_exactly(
    pids: list[tuple[int, list[str]]], data: st.DataObject
) -> None:
    expected_errors = expected_missing = expected_duplicates = 0
    packets: list[bytes] = []
    for pid, kinds in pids:
        counter = 0
        sent: list[tuple[bytes, bool]] = []
        for kind in kinds:
            if kind == "payload":
                counter = (counter + 1) & 0x0F
                sent.append((packet(pid, counter), True))
            else:
                sent.append((packet(pid, counter, control=ADAPTATION), False))
        kept: list[tuple[bytes, bool]] = []
        dropped_payloads = 0
        for index, (one, has_payload) in enumerate(sent):
            drop = index > 0 and data.draw(st.integers(0, 9)) == 0
            if drop:
                dropped_payloads += has_payload
                continue
            # The next packet that arrives, payload or not, shows the skip.
            if kept and dropped_payloads % 16:
                expected_errors += 1
                expected_missing += dropped_payloads % 16
            dropped_payloads = 0
            kept.append((one, has_payload))
            if has_payload and data.draw(st.integers(0, 9)) == 0:
                kept.append((one, has_payload))
                expected_duplicates += 1
        packets.extend(one for one, _ in kept)
    stream = TransportStream()
    gaps = []
    for start in range(0, len(packets), 7):
        gaps.extend(stream.observe(b"".join(packets[start : start + 7]), start))
    assert stream.continuity_errors == expected_errors == len(gaps)
    assert stream.missing == expected_missing == sum(gap.missing for gap in gaps)
    assert sum(counts.duplicates for counts in stream.pids()) == expected_duplicates
    assert stream.packets == len(packets)
    assert stream.sync_errors == 0


@given(st.binary(max_size=188 * 8))
def test_any_bytes_are_read_without_raising(data: bytes) -> None:
    stream = TransportStream()
    stream.observe(data, 0)
    assert stream.packets == len(data) // 188
    assert stream.bad_lengths == (1 if len(data) % 188 else 0)


def test_the_rules_of_the_standard_one_by_one() -> None:
    stream = TransportStream()
    pid = 0x44
    stream.observe(packet(pid, 3), 0)
    # Adaptation only: no increment; the same value is the rule.
    assert stream.observe(packet(pid, 3, control=ADAPTATION), 0) == []
    assert stream.observe(packet(pid, 4, control=ADAPTATION | PAYLOAD), 0) == []
    # One duplicate is allowed, a second is not.
    assert stream.observe(packet(pid, 4), 0) == []
    (gap,) = stream.observe(packet(pid, 4), 0)
    assert (gap.expected, gap.received) == (5, 4)
    # A discontinuity indicator allows any value.
    jump = packet(pid, 11, control=ADAPTATION | PAYLOAD, discontinuity=True)
    assert stream.observe(jump, 0) == []
    assert stream.observe(packet(pid, 12), 0) == []
    # The counter wraps from 15 to 0.
    assert (
        stream.observe(packet(pid, 13) + packet(pid, 14) + packet(pid, 15) + packet(pid, 0), 0)
        == []
    )
    # The null PID is never checked.
    assert stream.observe(packet(0x1FFF, 5) + packet(0x1FFF, 9), 0) == []
    (counts,) = [c for c in stream.pids() if c.pid == pid]
    assert (counts.continuity_errors, counts.duplicates, counts.packets) == (1, 1, 11)


def test_sync_and_transport_errors_and_odd_lengths_are_counted() -> None:
    stream = TransportStream()
    broken = b"\x00" + packet(0x100, 0)[1:]
    stream.observe(packet(0x100, 0, error=True) + broken + b"tail", 0)
    assert (stream.packets, stream.sync_errors, stream.transport_errors, stream.bad_lengths) == (
        2,
        1,
        1,
        1,
    )


def test_pcr_jitter_is_zero_when_arrivals_follow_the_clock_and_grows_when_they_do_not() -> None:
    steady = TransportStream()
    for number in range(20):
        pcr = (number * 40 * 27_000) % ((1 << 33) * 300)
        steady.observe(
            packet(0x100, number & 15, control=ADAPTATION | PAYLOAD, pcr=pcr), number * 40_000_000
        )
    assert steady.pcr_pid == 0x100
    assert steady.pcrs == 20
    assert steady.pcr_jitter_ms < 1e-6

    shaky = TransportStream()
    for number, late_ms in enumerate([0, 5, 0, 5, 0]):
        pcr = number * 40 * 27_000
        arrival = number * 40_000_000 + late_ms * 1_000_000
        shaky.observe(packet(0x100, number, control=ADAPTATION | PAYLOAD, pcr=pcr), arrival)
    expected = 0.0
    for _ in range(4):
        expected += (5 - expected) / 16
    assert shaky.pcr_jitter_ms == pytest.approx(expected)
    assert shaky.pcr_max_ms == pytest.approx(5)


def test_a_pcr_that_wraps_is_one_small_step() -> None:
    stream = TransportStream()
    top = (1 << 33) * 300
    for number, pcr in enumerate([top - 27_000 * 40, 0, 27_000 * 40]):
        stream.observe(
            packet(0x100, number, control=ADAPTATION | PAYLOAD, pcr=pcr), number * 40_000_000
        )
    assert stream.pcr_max_ms < 1e-6
