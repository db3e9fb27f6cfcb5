"""Tests for the bounded datagram queue and the payload renderers."""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING, Final

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from trio_mcast._errors import InvalidArgumentError
from trio_mcast._queue import (
    DatagramQueue,
    OverflowPolicy,
    QueueStatistics,
    decode_payload,
    escape_payload,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

pytestmark = pytest.mark.no_network

MAXSIZES: Final = st.integers(min_value=1, max_value=8)
POLICIES: Final = st.sampled_from(OverflowPolicy)
BATCH_SIZES: Final = st.integers(min_value=0, max_value=20)
POP_COUNTS: Final = st.integers(min_value=1, max_value=12)
PAYLOADS: Final = st.binary(max_size=256)
PRINTABLE_ASCII: Final = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="\\")
)
PRINTABLE_TEXT: Final = st.text(
    alphabet=st.characters(codec="utf-8").filter(lambda char: char.isprintable() and char != "\\")
)
# Characters that a terminal or str.splitlines() treats as a line break.
LINE_BREAKS: Final = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")

_UNESCAPE: Final = re.compile(r"\\(?:x([0-9a-f]{2})|u([0-9a-f]{4})|U([0-9a-f]{8})|([\\tnr]))")
_SIMPLE: Final = {"\\": b"\\", "t": b"\t", "n": b"\n", "r": b"\r"}


def unescape(rendered: str) -> bytes:
    """Invert escape_payload, following its documented grammar exactly."""
    out = bytearray()
    position = 0
    for match in _UNESCAPE.finditer(rendered):
        literal = rendered[position : match.start()]
        assert "\\" not in literal, f"stray backslash in {rendered!r}"
        out += literal.encode()
        byte, short, long, simple = match.groups()
        if byte is not None:
            out.append(int(byte, 16))
        elif simple is not None:
            out += _SIMPLE[simple]
        else:
            out += chr(int(short or long, 16)).encode()
        position = match.end()
    tail = rendered[position:]
    assert "\\" not in tail, f"stray backslash in {rendered!r}"
    return bytes(out + tail.encode())


class QueueMachine(RuleBasedStateMachine):
    """Compares DatagramQueue with a plain list that applies the policy item by item."""

    def __init__(self) -> None:
        super().__init__()
        self.queue: DatagramQueue[int] = DatagramQueue(1)
        self.policy = OverflowPolicy.DROP_OLDEST
        self.maxsize = 1
        self.model: list[int] = []
        self.received = 0
        self.delivered = 0
        self.dropped = 0
        # Unique, increasing items make any reordering or duplication visible.
        self.next_item = 0

    @initialize(maxsize=MAXSIZES, policy=POLICIES)
    def create(self, maxsize: int, policy: OverflowPolicy) -> None:
        self.queue = DatagramQueue(maxsize, policy)
        self.policy = policy
        self.maxsize = maxsize

    def fresh_items(self, count: int) -> list[int]:
        items = list(range(self.next_item, self.next_item + count))
        self.next_item += count
        return items

    def model_push(self, item: int) -> bool:
        self.received += 1
        if len(self.model) < self.maxsize:
            self.model.append(item)
            return True
        self.dropped += 1
        if self.policy is OverflowPolicy.DROP_NEWEST:
            return False
        del self.model[0]
        self.model.append(item)
        return True

    def model_pop(self, count: int) -> list[int]:
        taken = self.model[:count]
        del self.model[:count]
        self.delivered += len(taken)
        return taken

    @rule()
    def push(self) -> None:
        (item,) = self.fresh_items(1)
        expected = self.model_push(item)
        assert self.queue.push(item) is expected

    @rule(count=BATCH_SIZES)
    def push_many(self, count: int) -> None:
        items = self.fresh_items(count)
        dropped_before = self.dropped
        for item in items:
            self.model_push(item)
        assert self.queue.push_many(items) == self.dropped - dropped_before

    @rule()
    def pop(self) -> None:
        if not self.model:
            with pytest.raises(IndexError, match=r"^pop from an empty DatagramQueue$"):
                self.queue.pop()
            return
        assert self.queue.pop() == self.model_pop(1)[0]

    @precondition(lambda self: bool(self.model))
    @rule()
    def popleft(self) -> None:
        assert self.queue.popleft() == self.model_pop(1)[0]

    @rule(count=POP_COUNTS)
    def pop_many(self, count: int) -> None:
        assert self.queue.pop_many(count) == self.model_pop(count)

    @rule()
    def clear(self) -> None:
        discarded = len(self.model)
        self.model.clear()
        self.dropped += discarded
        assert self.queue.clear() == discarded

    @invariant()
    def never_over_maxsize(self) -> None:
        assert self.queue.pending <= self.queue.maxsize

    @invariant()
    def counters_balance(self) -> None:
        stats = self.queue.statistics()
        assert stats.received == stats.delivered + stats.dropped + stats.pending

    @invariant()
    def matches_model(self) -> None:
        queue = self.queue
        expected = QueueStatistics(
            received=self.received,
            delivered=self.delivered,
            dropped=self.dropped,
            pending=len(self.model),
        )
        assert queue.statistics() == expected
        assert (queue.received, queue.delivered, queue.dropped, queue.pending) == expected
        assert len(queue) == len(self.model)
        assert bool(queue) is bool(self.model)
        assert queue.full is (len(self.model) == self.maxsize)
        assert queue.free == self.maxsize - len(self.model)


TestDatagramQueueMachine = QueueMachine.TestCase


def filled(maxsize: int, policy: OverflowPolicy, items: Sequence[int]) -> DatagramQueue[int]:
    queue: DatagramQueue[int] = DatagramQueue(maxsize, policy)
    queue.push_many(items)
    return queue


class TestConstruction:
    def test_defaults(self) -> None:
        queue: DatagramQueue[bytes] = DatagramQueue(3)
        assert queue.maxsize == 3
        assert queue.policy is OverflowPolicy.DROP_OLDEST
        assert len(queue) == 0
        assert not queue
        assert queue.free == 3
        assert not queue.full
        assert queue.statistics() == QueueStatistics(0, 0, 0, 0)

    def test_policy_values(self) -> None:
        assert OverflowPolicy("drop-oldest") is OverflowPolicy.DROP_OLDEST
        assert OverflowPolicy("drop-newest") is OverflowPolicy.DROP_NEWEST

    @pytest.mark.parametrize(
        ("maxsize", "shown"),
        [(0, "0"), (-1, "-1"), (True, "True"), (2.0, "2.0"), ("3", "'3'"), (None, "None")],
    )
    def test_invalid_maxsize(self, maxsize: object, shown: str) -> None:
        message = rf"^maxsize must be an int >= 1, got {re.escape(shown)}$"
        with pytest.raises(ValueError, match=message) as info:
            DatagramQueue(maxsize)  # type: ignore[arg-type]  # wrong type on purpose: it must be rejected
        assert isinstance(info.value, InvalidArgumentError)
        assert info.value.parameter == "maxsize"
        assert info.value.value is maxsize

    def test_invalid_policy(self) -> None:
        message = r"^policy must be an OverflowPolicy member, got 'drop-oldest'$"
        with pytest.raises(ValueError, match=message) as info:
            DatagramQueue(4, "drop-oldest")  # type: ignore[arg-type]  # wrong type on purpose: it must be rejected
        assert isinstance(info.value, InvalidArgumentError)
        assert info.value.parameter == "policy"
        assert info.value.value == "drop-oldest"

    def test_repr(self) -> None:
        queue = filled(4, OverflowPolicy.DROP_NEWEST, [1, 2])
        assert repr(queue) == "<DatagramQueue maxsize=4 policy=drop-newest pending=2>"


class TestDropOldest:
    policy: Final = OverflowPolicy.DROP_OLDEST

    def test_exactly_full(self) -> None:
        queue = filled(3, self.policy, [])
        assert queue.push_many([1, 2, 3]) == 0
        assert queue.full
        assert queue.free == 0
        assert queue.pop_many(10) == [1, 2, 3]
        assert queue.statistics() == QueueStatistics(3, 3, 0, 0)

    def test_push_one_over_evicts_oldest(self) -> None:
        queue = filled(3, self.policy, [1, 2, 3])
        assert queue.push(4) is True
        assert queue.pop_many(10) == [2, 3, 4]
        assert queue.statistics() == QueueStatistics(4, 3, 1, 0)

    def test_push_many_one_over_evicts_oldest(self) -> None:
        queue = filled(3, self.policy, [1, 2])
        assert queue.push_many([3, 4]) == 1
        assert queue.pop_many(10) == [2, 3, 4]

    def test_batch_larger_than_maxsize_keeps_its_tail(self) -> None:
        queue = filled(3, self.policy, [1, 2])
        # The two pending items and the first seven of the batch are evicted.
        assert queue.push_many(list(range(10, 20))) == 9
        assert len(queue) == 3
        assert queue.pop_many(10) == [17, 18, 19]
        assert queue.statistics() == QueueStatistics(12, 3, 9, 0)


class TestDropNewest:
    policy: Final = OverflowPolicy.DROP_NEWEST

    def test_exactly_full(self) -> None:
        queue = filled(3, self.policy, [])
        assert queue.push_many([1, 2, 3]) == 0
        assert queue.full
        assert queue.pop_many(10) == [1, 2, 3]
        assert queue.statistics() == QueueStatistics(3, 3, 0, 0)

    def test_push_one_over_is_rejected(self) -> None:
        queue = filled(3, self.policy, [1, 2, 3])
        assert queue.push(4) is False
        assert queue.pop_many(10) == [1, 2, 3]
        assert queue.statistics() == QueueStatistics(4, 3, 1, 0)

    def test_push_many_one_over_rejects_the_last(self) -> None:
        queue = filled(3, self.policy, [1, 2])
        assert queue.push_many([3, 4]) == 1
        assert queue.pop_many(10) == [1, 2, 3]

    def test_batch_larger_than_maxsize_keeps_its_head(self) -> None:
        queue = filled(3, self.policy, [1])
        assert queue.push_many(list(range(10, 20))) == 8
        assert queue.pop_many(10) == [1, 10, 11]
        assert queue.statistics() == QueueStatistics(11, 3, 8, 0)

    def test_batch_into_full_queue_is_all_rejected(self) -> None:
        queue = filled(2, self.policy, [1, 2])
        assert queue.push_many([3, 4, 5]) == 3
        assert queue.pop_many(10) == [1, 2]


class TestPopping:
    def test_pop_empty(self) -> None:
        queue: DatagramQueue[int] = DatagramQueue(2)
        with pytest.raises(IndexError, match=r"^pop from an empty DatagramQueue$"):
            queue.pop()

    def test_popleft_empty(self) -> None:
        queue: DatagramQueue[int] = DatagramQueue(2)
        with pytest.raises(IndexError):
            queue.popleft()

    def test_bound_popleft_counts_as_delivered(self) -> None:
        queue = filled(8, OverflowPolicy.DROP_OLDEST, [1, 2, 3])
        popleft = queue.popleft
        assert [popleft(), popleft()] == [1, 2]
        queue.push_many([4, 5])
        # The bound method keeps working after later pushes and pops.
        assert popleft() == 3
        assert queue.pop_many(1) == [4]
        assert queue.statistics() == QueueStatistics(5, 4, 0, 1)

    def test_pop_many_partial_then_rest(self) -> None:
        queue = filled(8, OverflowPolicy.DROP_OLDEST, [1, 2, 3, 4, 5])
        assert queue.pop_many(2) == [1, 2]
        assert queue.pop_many(3) == [3, 4, 5]
        assert queue.pop_many(3) == []

    @pytest.mark.parametrize(
        ("max_count", "shown"), [(0, "0"), (-5, "-5"), (False, "False"), (1.5, "1.5")]
    )
    def test_invalid_max_count(self, max_count: object, shown: str) -> None:
        queue = filled(4, OverflowPolicy.DROP_OLDEST, [1])
        message = rf"^max_count must be an int >= 1, got {re.escape(shown)}$"
        with pytest.raises(ValueError, match=message) as info:
            queue.pop_many(max_count)  # type: ignore[arg-type]  # wrong type on purpose: it must be rejected
        assert isinstance(info.value, InvalidArgumentError)
        assert info.value.parameter == "max_count"
        # A rejected call must leave the queue untouched.
        assert queue.statistics() == QueueStatistics(1, 0, 0, 1)

    def test_clear_counts_as_dropped(self) -> None:
        queue = filled(4, OverflowPolicy.DROP_OLDEST, [1, 2, 3])
        assert queue.clear() == 3
        assert queue.clear() == 0
        assert queue.statistics() == QueueStatistics(3, 0, 3, 0)

    def test_accepts_tuples(self) -> None:
        queue = filled(2, OverflowPolicy.DROP_NEWEST, (1, 2, 3))
        assert queue.pop_many(5) == [1, 2]


class TestDecodePayload:
    def test_valid_utf8(self) -> None:
        assert decode_payload("héllo ✓".encode()) == "héllo ✓"

    def test_bad_byte_is_replaced(self) -> None:
        assert decode_payload(b"\xff") == "\ufffd"

    def test_strict_raises(self) -> None:
        with pytest.raises(UnicodeDecodeError):
            decode_payload(b"ok\xff", errors="strict")

    def test_other_handler_and_encoding(self) -> None:
        assert decode_payload(b"a\xffb", errors="ignore") == "ab"
        assert decode_payload(b"\xe9t\xe9", encoding="latin-1") == "été"

    def test_bytes_like(self) -> None:
        assert decode_payload(memoryview(b"abc")) == "abc"  # type: ignore[arg-type]  # bytes-like on purpose: it must be accepted

    def test_unknown_error_handler(self) -> None:
        # Rejected even though this payload would never consult the handler.
        message = r"^errors must be a registered codec error handler, got 'bogus'$"
        with pytest.raises(ValueError, match=message) as info:
            decode_payload(b"plain", errors="bogus")
        assert isinstance(info.value, InvalidArgumentError)
        assert info.value.parameter == "errors"

    @pytest.mark.parametrize("encoding", ["no-such-codec", "base64"])
    def test_unusable_encoding(self, encoding: str) -> None:
        message = rf"^encoding must be a text encoding known to codecs, got '{encoding}'$"
        with pytest.raises(ValueError, match=message) as info:
            decode_payload(b"plain", encoding=encoding)
        assert isinstance(info.value, InvalidArgumentError)
        assert info.value.parameter == "encoding"

    @given(PAYLOADS)
    def test_never_raises_by_default(self, payload: bytes) -> None:
        assert decode_payload(payload) == payload.decode("utf-8", "replace")


class TestEscapePayload:
    @pytest.mark.parametrize(
        ("payload", "expected"),
        [
            (b"", ""),
            (b"hello world", "hello world"),
            ("café ✓ 𝄞".encode(), "café ✓ 𝄞"),
            (b"a\tb\nc\rd", r"a\tb\nc\rd"),
            (b"back\\slash", r"back\\slash"),
            (b"\x00\x1b[31m\x7f", r"\x00\x1b[31m\x7f"),
            (b"\xff\xfe", r"\xff\xfe"),
            # A lone continuation byte and a truncated sequence, among valid text.
            (b"ok\x80ok\xe2\x9c", r"ok\x80ok\xe2\x9c"),
            # An encoded surrogate is invalid UTF-8: three bad bytes.
            (b"\xed\xa0\x80", r"\xed\xa0\x80"),
            # C1 controls are code points, not bytes, so they get \u.
            ("\x85\x9b".encode(), r"\u0085\u009b"),
            ("nb\u00a0sp\u200b\u202e\u2028".encode(), r"nb\u00a0sp\u200b\u202e\u2028"),
            ("\U000e0001\U0010ffff".encode(), r"\U000e0001\U0010ffff"),
        ],
    )
    def test_examples(self, payload: bytes, expected: str) -> None:
        assert escape_payload(payload) == expected
        assert unescape(expected) == payload

    def test_bad_byte_and_c1_control_render_differently(self) -> None:
        assert escape_payload(b"\x85") != escape_payload("\x85".encode())

    def test_bytes_like(self) -> None:
        assert escape_payload(bytearray(b"a\nb")) == r"a\nb"  # type: ignore[arg-type]  # bytes-like on purpose: it must be accepted

    @given(PAYLOADS)
    def test_output_is_one_printable_line(self, payload: bytes) -> None:
        rendered = escape_payload(payload)
        assert all(unicodedata.category(char) != "Cc" for char in rendered)
        assert "\n" not in rendered
        assert not LINE_BREAKS.intersection(rendered)
        assert rendered.isprintable()

    @given(PAYLOADS)
    def test_reversible(self, payload: bytes) -> None:
        assert unescape(escape_payload(payload)) == payload

    @given(PRINTABLE_ASCII)
    def test_printable_ascii_unchanged(self, text: str) -> None:
        assert escape_payload(text.encode("ascii")) == text

    @given(PRINTABLE_TEXT)
    def test_printable_text_unchanged(self, text: str) -> None:
        assert escape_payload(text.encode()) == text
