"""The datagram formatters as they were before the speed work: the oracle.

``recv``'s formats must stay byte-identical while they get faster, so the
tests compare the new formatters with these, the plain per-byte versions
they replaced, on every kind of payload.
"""

from __future__ import annotations

import base64
import contextlib
import json
from typing import TYPE_CHECKING, Final

from trio_mcast._cli._output import _describe
from trio_mcast._sequence import HEADER_SIZE

if TYPE_CHECKING:
    from trio_mcast._datagram import Datagram
    from trio_mcast._sequence import SequenceHeader

_REFERENCE_HEX_COLUMN: Final = bytes(
    byte if 0x20 <= byte < 0x7F else ord(".") for byte in range(256)
)


def _body(datagram: Datagram, header: SequenceHeader | None) -> bytes:
    return datagram.payload[HEADER_SIZE:] if header is not None else datagram.payload


def _reference_char_escape(code_point: int) -> str:
    if code_point < 0x80:
        return f"\\x{code_point:02x}"
    if code_point <= 0xFFFF:
        return f"\\u{code_point:04x}"
    return f"\\U{code_point:08x}"


def _reference_build_escapes() -> dict[int, str]:
    table = {code_point: _reference_char_escape(code_point) for code_point in range(0x20)}
    table.update({0x7F: "\\x7f", ord("\t"): "\\t", ord("\n"): "\\n", ord("\r"): "\\r"})
    table[ord("\\")] = "\\\\"
    table.update(
        {code_point: _reference_char_escape(code_point) for code_point in range(0x80, 0xA0)}
    )
    # surrogateescape decodes an invalid byte 0xNN to the lone surrogate
    # U+DCNN, which valid UTF-8 can never produce; render it as the byte.
    table.update({0xDC00 + byte: f"\\x{byte:02x}" for byte in range(0x80, 0x100)})
    return table


# The escapes that cover the common non-printable characters, applied in one
# C-level str.translate; anything rarer is handled character by character.
_REFERENCE_ESCAPES: Final[dict[int, str]] = _reference_build_escapes()


def reference_escape_payload(payload: bytes) -> str:
    text = str(payload, "utf-8", "surrogateescape")
    if text.isprintable() and "\\" not in text:
        return text
    text = text.translate(_REFERENCE_ESCAPES)
    if text.isprintable():
        return text
    # Escapes are printable ASCII, so this second pass only sees what the
    # table did not cover.
    return "".join(
        char if char.isprintable() else _reference_char_escape(ord(char)) for char in text
    )


def reference_hexdump(data: bytes) -> list[str]:
    lines = []
    for offset in range(0, len(data), 16):
        chunk = data[offset : offset + 16]
        left = " ".join(f"{byte:02x}" for byte in chunk[:8])
        right = " ".join(f"{byte:02x}" for byte in chunk[8:])
        ascii_column = chunk.translate(_REFERENCE_HEX_COLUMN).decode("ascii")
        lines.append(f"{offset:08x}  {left:<23}  {right:<23}  |{ascii_column}|")
    return lines


def reference_format_jsonl(
    datagram: Datagram, *, received: float, header: SequenceHeader | None = None
) -> str:
    body = _body(datagram, header)
    record: dict[str, object] = {
        "time": datagram.timestamp if datagram.timestamp is not None else received,
        "source": datagram.source[0],
        "source_port": datagram.source[1],
        "group": datagram.group,
        "interface": datagram.interface,
        "size": len(datagram.payload),
        "truncated": datagram.truncated,
    }
    if header is not None:
        record["sequence"] = header.sequence
        record["stream_id"] = header.stream_id
        record["sent_ns"] = header.timestamp_ns
    with contextlib.suppress(UnicodeDecodeError):
        record["payload"] = body.decode("utf-8")
    record["payload_base64"] = base64.b64encode(body).decode("ascii")
    return json.dumps(record, ensure_ascii=True, separators=(", ", ": "))


def reference_format_datagram(
    output_format: str,
    datagram: Datagram,
    *,
    received: float,
    header: SequenceHeader | None = None,
    metadata: bool = False,
) -> bytes:
    prefix = _describe(datagram, header, metadata)
    if output_format == "text":
        escaped = reference_escape_payload(_body(datagram, header))
        text = f"{prefix}: {escaped}" if escaped else f"{prefix}:"
    elif output_format == "jsonl":
        text = reference_format_jsonl(datagram, received=received, header=header)
    elif output_format == "hex":
        text = "\n".join([prefix, *reference_hexdump(datagram.payload)])
    else:
        return datagram.payload
    return (text + "\n").encode("utf-8")
