"""The fast formatters write exactly what the plain per-byte ones they replaced wrote."""

from __future__ import annotations

from typing import Final

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.formatting_reference import reference_format_datagram
from trio_mcast._cli._output import format_datagram
from trio_mcast._datagram import Datagram
from trio_mcast._sequence import SequenceHeader, pack_header

pytestmark = pytest.mark.no_network

FORMATS: Final = ("text", "jsonl", "hex", "raw")
HEADER: Final = SequenceHeader(
    sequence=7, timestamp_ns=1_700_000_000_123_456_789, stream_id=42, flags=0
)
PAYLOADS: Final = {
    "empty": b"",
    "1200-zeros": bytes(1200),
    "1200-every-byte": bytes(range(256)) * 4 + bytes(range(176)),
    "65507": bytes(range(256)) * 255 + bytes(range(227)),
    "invalid-utf8": b"ok \xff\xfe \xc3 \xe2\x82 caf\xc3\xa9 \xf0\x9f\x98",
    "terminal-escapes": (
        b"\x1b[2J\x1b]0;title\x07\r\x08\x9b\xc2\x9b \\ \xe2\x80\xae\xe2\x80\x8b\xc2\xa0"
    ),
    "unicode": "na\u00efve \u2013 \u6771\u4eac \U0001f389 \u00ad \U000f0000".encode(),
}


def _datagram(payload: bytes, *, metadata: bool) -> Datagram:
    return Datagram(
        payload,
        ("fd99:1::7", 40000),
        "ff15::1",
        3 if metadata else None,
        1_700_000_000.25 if metadata else None,
        False,
    )


@pytest.mark.parametrize("output_format", FORMATS)
@pytest.mark.parametrize("name", list(PAYLOADS))
@pytest.mark.parametrize("metadata", [False, True], ids=["plain", "metadata"])
@pytest.mark.parametrize("sequenced", [False, True], ids=["unsequenced", "sequenced"])
def test_each_format_is_byte_identical(
    output_format: str, name: str, metadata: bool, sequenced: bool
) -> None:
    payload = (pack_header(7, HEADER.timestamp_ns, 42) if sequenced else b"") + PAYLOADS[name]
    item = _datagram(payload, metadata=metadata)
    header = HEADER if sequenced else None
    assert format_datagram(
        output_format, item, received=1.5, header=header, metadata=metadata
    ) == reference_format_datagram(
        output_format, item, received=1.5, header=header, metadata=metadata
    )


@given(
    st.sampled_from(FORMATS),
    st.binary(max_size=600)
    | st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.booleans(),
)
def test_any_payload_is_byte_identical(output_format: str, payload: bytes, metadata: bool) -> None:
    item = _datagram(payload, metadata=metadata)
    assert format_datagram(output_format, item, received=2.5, metadata=metadata) == (
        reference_format_datagram(output_format, item, received=2.5, metadata=metadata)
    )
