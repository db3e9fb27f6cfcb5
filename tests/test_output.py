"""Tests of the pure output formatters: every format, every payload."""

from __future__ import annotations

import base64
import json
import re
from typing import Final

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_mcast._cli._output import (
    FORMATS,
    ReceiveSummary,
    SendSummary,
    format_bitrate,
    format_datagram,
    format_endpoint,
    format_hex,
    format_jsonl,
    format_listening,
    format_rate,
    format_receive_summary,
    format_send_summary,
    format_stream,
    format_text,
    hexdump,
)
from trio_mcast._datagram import Datagram
from trio_mcast._queue import escape_payload
from trio_mcast._sequence import (
    HEADER_SIZE,
    LatencySummary,
    SequenceHeader,
    StreamReport,
    pack_header,
    parse_header,
)

pytestmark = pytest.mark.no_network

#: The largest UDP payload over IPv4.
MAX_IPV4_PAYLOAD: Final = 65507
RECEIVED: Final = 1_700_000_000.25
HEX_LINE: Final = re.compile(
    r"^(?P<offset>[0-9a-f]{8})  (?P<left>[0-9a-f ]{23})  (?P<right>[0-9a-f ]{23})"
    r"  \|(?P<ascii>[ -~]{1,16})\|$"
)

PAYLOADS: Final = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=100).map(lambda text: text.encode("utf-8")),
    st.sampled_from([b"", b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00\n\r\t\x1b[31m\x7f", b"\\x41"]),
)
ADDRESSES4: Final = st.ip_addresses(v=4).map(str)
ADDRESSES6: Final = st.ip_addresses(v=6).map(str)
DATAGRAMS: Final = st.builds(
    Datagram,
    payload=PAYLOADS,
    source=st.tuples(st.one_of(ADDRESSES4, ADDRESSES6), st.integers(1, 65535)),
    group=st.sampled_from(["239.1.2.3", "224.0.0.1", "ff02::1", "ff3e::8000:1"]),
    interface=st.one_of(st.none(), st.integers(1, 2**32 - 1)),
    timestamp=st.one_of(st.none(), st.floats(0, 4e9)),
    truncated=st.booleans(),
)
BOOLEANS: Final = st.booleans()
OUTPUT_FORMATS: Final = st.sampled_from(FORMATS)
HEADERS: Final = st.builds(
    SequenceHeader,
    sequence=st.integers(0, 2**64 - 1),
    timestamp_ns=st.integers(0, 2**64 - 1),
    stream_id=st.integers(0, 2**32 - 1),
    flags=st.just(0),
)

BIG_PAYLOADS: Final = {
    "empty": b"",
    "max-ascii": b"x" * MAX_IPV4_PAYLOAD,
    "max-invalid-utf8": b"\xff" * MAX_IPV4_PAYLOAD,
    "max-every-byte": bytes(range(256)) * (MAX_IPV4_PAYLOAD // 256)
    + bytes(MAX_IPV4_PAYLOAD % 256),
}


def datagram(payload: bytes, *, interface: int | None = None, truncated: bool = False) -> Datagram:
    return Datagram(
        payload, ("10.0.0.1", 40000), "239.1.2.3", interface=interface, truncated=truncated
    )


def undo_hexdump(lines: list[str]) -> bytes:
    """Parse a hexdump back to bytes, checking offsets and the ASCII column."""
    data = bytearray()
    for line in lines:
        match = HEX_LINE.match(line)
        assert match is not None, line
        assert int(match["offset"], 16) == len(data)
        chunk = bytes.fromhex(match["left"] + match["right"])
        expected_ascii = "".join(chr(byte) if 0x20 <= byte < 0x7F else "." for byte in chunk)
        assert match["ascii"] == expected_ascii
        data += chunk
    return bytes(data)


def check_text(line: str, item: Datagram, header: SequenceHeader | None = None) -> None:
    assert line.isprintable()  # no newline, no C0 or C1 control character, no DEL
    body = item.payload[HEADER_SIZE:] if header is not None else item.payload
    assert line.startswith(f"{format_endpoint(*item.source)} -> {item.group} (")
    escaped = escape_payload(body)
    assert line.endswith(f": {escaped}" if escaped else ":")


def check_jsonl(line: str, item: Datagram, header: SequenceHeader | None = None) -> None:
    assert line.isascii()
    assert "\n" not in line
    record = json.loads(line)
    body = item.payload[HEADER_SIZE:] if header is not None else item.payload
    assert base64.b64decode(record["payload_base64"], validate=True) == body
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        assert "payload" not in record
    else:
        assert record["payload"] == text
    assert record["source"] == item.source[0]
    assert record["source_port"] == item.source[1]
    assert record["group"] == item.group
    assert record["interface"] == item.interface
    assert record["size"] == len(item.payload)
    assert record["truncated"] is item.truncated
    assert record["time"] == (RECEIVED if item.timestamp is None else item.timestamp)
    if header is None:
        assert "sequence" not in record
    else:
        assert (record["sequence"], record["stream_id"], record["sent_ns"]) == (
            header.sequence,
            header.stream_id,
            header.timestamp_ns,
        )


def check_hex(
    output: str, item: Datagram, header: SequenceHeader | None = None, *, metadata: bool = False
) -> None:
    header_line, *dump = output.split("\n")
    assert header_line.isprintable()
    # The header line is the text line without the payload.
    assert format_text(item, header=header, metadata=metadata).startswith(header_line + ":")
    assert undo_hexdump(dump) == item.payload


@given(item=DATAGRAMS, metadata=BOOLEANS)
def test_text_is_one_printable_line_ending_in_the_escaped_payload(
    item: Datagram, metadata: bool
) -> None:
    check_text(format_text(item, metadata=metadata), item)


@given(item=DATAGRAMS)
def test_jsonl_parses_and_round_trips_the_payload(item: Datagram) -> None:
    check_jsonl(format_jsonl(item, received=RECEIVED), item)


@given(item=DATAGRAMS)
def test_hex_decodes_back_to_the_payload(item: Datagram) -> None:
    check_hex(format_hex(item), item)


@given(item=DATAGRAMS, output_format=OUTPUT_FORMATS, metadata=BOOLEANS)
def test_format_datagram_writes_each_format(
    item: Datagram, output_format: str, metadata: bool
) -> None:
    output = format_datagram(output_format, item, received=RECEIVED, metadata=metadata)
    if output_format in ("raw", "none"):
        assert output == (item.payload if output_format == "raw" else b"")
        return
    text = output.decode("utf-8")
    assert text.endswith("\n")
    if output_format == "text":
        assert text.count("\n") == 1
        check_text(text[:-1], item)
    elif output_format == "jsonl":
        assert text.count("\n") == 1
        check_jsonl(text[:-1], item)
    else:
        check_hex(text[:-1], item, metadata=metadata)


@given(item=DATAGRAMS, header=HEADERS, body=PAYLOADS)
def test_sequence_headers_are_shown_as_fields(
    item: Datagram, header: SequenceHeader, body: bytes
) -> None:
    payload = pack_header(header.sequence, header.timestamp_ns, header.stream_id) + body
    item = item._replace(payload=payload)
    parsed = parse_header(payload)
    assert parsed == header
    text = format_text(item, header=parsed)
    check_text(text, item, parsed)
    assert f" seq={header.sequence} stream={header.stream_id:08x}" in text
    check_jsonl(format_jsonl(item, received=RECEIVED, header=parsed), item, parsed)
    # raw and hex show every byte, header included.
    assert format_datagram("raw", item, received=RECEIVED, header=parsed) == payload
    check_hex(format_hex(item, header=parsed), item, parsed)


@pytest.mark.parametrize("name", sorted(BIG_PAYLOADS))
@pytest.mark.parametrize("output_format", FORMATS)
def test_empty_and_maximum_size_payloads(name: str, output_format: str) -> None:
    payload = BIG_PAYLOADS[name]
    item = datagram(payload, truncated=name != "empty")
    output = format_datagram(output_format, item, received=RECEIVED)
    if output_format in ("raw", "none"):
        assert output == (payload if output_format == "raw" else b"")
        return
    text = output.decode("utf-8")
    assert text.endswith("\n")
    body = text[:-1]
    if output_format == "text":
        check_text(body, item)
    elif output_format == "jsonl":
        check_jsonl(body, item)
    else:
        assert body.count("\n") == -(-len(payload) // 16)
        check_hex(body, item)


def test_text_examples() -> None:
    assert format_text(datagram(b"hello")) == "10.0.0.1:40000 -> 239.1.2.3 (5 bytes): hello"
    assert format_text(datagram(b"")) == "10.0.0.1:40000 -> 239.1.2.3 (0 bytes):"
    assert format_text(datagram(b"a", truncated=True)) == (
        "10.0.0.1:40000 -> 239.1.2.3 (1 byte, truncated): a"
    )
    assert format_text(datagram(b"caf\xc3\xa9\n\xff\x00")) == (
        "10.0.0.1:40000 -> 239.1.2.3 (8 bytes): café\\n\\xff\\x00"
    )
    v6 = Datagram(b"x", ("fd00::1", 5), "ff02::1", interface=3, timestamp=0.5)
    assert format_text(v6, metadata=True) == (
        "[fd00::1]:5 -> ff02::1 (1 byte) if=3 at=1970-01-01T00:00:00.500000Z: x"
    )
    assert format_text(datagram(b"x"), metadata=True) == (
        "10.0.0.1:40000 -> 239.1.2.3 (1 byte) if=?: x"
    )


def test_jsonl_example() -> None:
    record = json.loads(format_jsonl(datagram(b"\xffok", interface=2), received=12.5))
    assert record == {
        "time": 12.5,
        "source": "10.0.0.1",
        "source_port": 40000,
        "group": "239.1.2.3",
        "interface": 2,
        "size": 3,
        "truncated": False,
        "payload_base64": "/29r",
    }


def test_hex_example() -> None:
    assert format_hex(datagram(b"0123456789abcdefXYZ\x00")).split("\n") == [
        "10.0.0.1:40000 -> 239.1.2.3 (20 bytes)",
        "00000000  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  |0123456789abcdef|",
        "00000010  58 59 5a 00                                       |XYZ.|",
    ]
    assert hexdump(b"") == []


def test_unknown_format_is_rejected() -> None:
    with pytest.raises(
        ValueError, match=r"^output format must be one of text, jsonl, raw, hex, none, got 'xml'$"
    ):
        format_datagram("xml", datagram(b""), received=0.0)


@pytest.mark.parametrize(
    ("bits", "expected"),
    [
        (0, "0 bit/s"),
        (999, "999 bit/s"),
        (1000, "1.00 kbit/s"),
        (12_345, "12.3 kbit/s"),
        (999_499, "999 kbit/s"),
        (999_500, "1.00 Mbit/s"),
        (2.5e9, "2.50 Gbit/s"),
    ],
)
def test_bitrate(bits: float, expected: str) -> None:
    assert format_bitrate(bits) == expected


def test_rate_line() -> None:
    assert format_rate(1234.4, 9_870_000, 3, 7) == (
        "rate: 1234 datagrams/s, 9.87 Mbit/s, kernel drops 3, gaps 7"
    )
    assert format_rate(0, 0, None, None) == (
        "rate: 0 datagrams/s, 0 bit/s, kernel drops n/a, gaps n/a"
    )
    assert format_rate(0, 0, 0, None, waiting=True) == (
        "rate: 0 datagrams/s, 0 bit/s, kernel drops 0, gaps n/a; waiting for the interface"
    )


def test_stream_line_with_latency() -> None:
    report = StreamReport(
        ("fd00::7", 4000),
        0xABC,
        10,
        2,
        1,
        3,
        5,
        16,
        LatencySummary(10, 50_000, 75_600.0, 1_250_000),
    )
    assert format_stream(report) == (
        "stream 00000abc from [fd00::7]:4000: received 10, lost 2, duplicated 1, reordered 3,"
        " sequence 5..16, latency min/avg/max 0.050/0.076/1.250 ms"
    )


def test_receive_summary_lines() -> None:
    summary = ReceiveSummary(
        datagrams=1,
        bytes=1,
        senders=1,
        elapsed=2.345,
        stop_reason="count reached",
        kernel_drops=None,
        queue_drops=4,
        truncated=5,
        filtered=6,
    )
    assert format_receive_summary(summary) == [
        "received 1 datagram (1 byte) from 1 sender in 2.35 s; stopped: count reached",
        "kernel drops n/a, queue drops 4, truncated 5, filtered 6",
    ]
    report = StreamReport(("10.0.0.1", 1), 1, 8, 3, 1, 1, 0, 9, None)
    sequenced = summary._replace(datagrams=9, bytes=0, senders=2, streams=(report,), unsequenced=1)
    assert format_receive_summary(sequenced) == [
        "received 9 datagrams (0 bytes) from 2 senders in 2.35 s; stopped: count reached",
        "kernel drops n/a, queue drops 4, truncated 5, filtered 6",
        format_stream(report),
        "sequence: 1 stream, lost 3, duplicated 1, reordered 1, unsequenced 1",
    ]


def test_send_summary_and_listening_lines() -> None:
    assert format_send_summary(SendSummary(3, 15, "ff02::1", 5000, 0.5, 0x2A, "interrupted")) == (
        "sent 3 datagrams (15 bytes) to [ff02::1]:5000 in 0.50 s; stream 0000002a;"
        " stopped: interrupted"
    )
    assert format_send_summary(SendSummary(1, 1, "239.1.1.1", 9, 0.0)) == (
        "sent 1 datagram (1 byte) to 239.1.1.1:9 in 0.00 s"
    )
    assert format_listening(["239.1.1.1", "239.1.1.2"], 5000, None, ["10.0.0.1"]) == (
        "listening on 239.1.1.1, 239.1.1.2 port 5000, interface the kernel's choice,"
        " sources 10.0.0.1"
    )
    assert format_listening(["ff02::1"], 5000, 2) == "listening on ff02::1 port 5000, interface 2"
