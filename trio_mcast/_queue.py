"""The bounded queue between the receive loop and the consumer, and payload rendering.

Everything here is pure and synchronous: no trio, no sockets. The receive loop
drains the socket in batches into a :class:`DatagramQueue`; the consumer pops
from it. The queue sits on the receiver's hot path, so its operations lean on
the C-level bulk operations of :class:`collections.deque` and keep per-item
Python work to a minimum.
"""

from __future__ import annotations

import codecs
import enum
import re
from collections import deque
from itertools import repeat, starmap
from typing import TYPE_CHECKING, Final, Generic, NamedTuple, Protocol, TypeVar

from ._errors import InvalidArgumentError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = [
    "DatagramQueue",
    "OverflowPolicy",
    "QueueStatistics",
    "decode_payload",
    "escape_payload",
]

_T = TypeVar("_T")
_T_co = TypeVar("_T_co", covariant=True)

_NO_ARGS: Final[tuple[()]] = ()


class OverflowPolicy(enum.Enum):
    """What a full :class:`DatagramQueue` does with items it has no room for.

    Attributes:
        DROP_OLDEST: Discard the oldest pending items to admit the new ones, so
            the consumer always sees the freshest data. The default.
        DROP_NEWEST: Reject the new items and keep the pending ones, so the
            consumer sees an unbroken prefix of the stream.
    """

    DROP_OLDEST = "drop-oldest"
    DROP_NEWEST = "drop-newest"


class QueueStatistics(NamedTuple):
    """A consistent snapshot of a :class:`DatagramQueue`'s counters.

    ``received == delivered + dropped + pending`` always holds.

    Attributes:
        received: Items offered through ``push`` and ``push_many``.
        delivered: Items handed to the consumer by any of the pop operations.
        dropped: Items evicted or rejected by the overflow policy, or
            discarded by ``clear``.
        pending: Items waiting to be popped.
    """

    received: int
    delivered: int
    dropped: int
    pending: int


def _require_count(parameter: str, value: object) -> None:
    # bool is an int, but passing True as a size is always a mistake.
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgumentError(
            f"{parameter} must be an int >= 1, got {value!r}", parameter=parameter, value=value
        )


class ConsumerView(Protocol[_T_co]):
    """What :meth:`DatagramQueue.consumer_view` offers: length and ``popleft``."""

    def __len__(self) -> int: ...

    def popleft(self) -> _T_co: ...


class DatagramQueue(Generic[_T]):
    """A bounded FIFO queue with an overflow policy and derived statistics.

    Invariants, which hold after every operation:

    * Never more than ``maxsize`` items are pending.
    * Admitted items come out in the order they were admitted (FIFO).
    * ``received == delivered + dropped + pending``.
    * ``received`` counts every item offered through ``push`` and
      ``push_many``, whether admitted or not.

    Only ``received`` and ``dropped`` are stored; ``pending`` is the length of
    the backing deque and ``delivered`` is derived from the other three. This
    keeps pops free of bookkeeping, and is what makes the :attr:`popleft`
    shortcut safe: items taken through it are counted as delivered too.

    The queue is not thread-safe; it is meant to be shared by tasks of one
    trio run, which never preempt each other inside these methods.

    Args:
        maxsize: The most items that can be pending at once; at least 1.
        policy: What to do with items that arrive while the queue is full.

    Raises:
        InvalidArgumentError: ``maxsize`` is not an int >= 1, or ``policy`` is
            not an :class:`OverflowPolicy`. It is a :class:`ValueError`.

    Example:
        >>> queue: DatagramQueue[bytes] = DatagramQueue(2)
        >>> queue.push_many([b"a", b"b", b"c"])
        1
        >>> queue.pop_many(10)
        [b'b', b'c']
        >>> queue.statistics()
        QueueStatistics(received=3, delivered=2, dropped=1, pending=0)
    """

    __slots__ = ("_deque", "_drop_newest", "_dropped", "_maxsize", "_policy", "_received")

    def __init__(self, maxsize: int, policy: OverflowPolicy = OverflowPolicy.DROP_OLDEST) -> None:
        _require_count("maxsize", maxsize)
        if not isinstance(policy, OverflowPolicy):
            raise InvalidArgumentError(
                f"policy must be an OverflowPolicy member, got {policy!r}",
                parameter="policy",
                value=policy,
            )
        self._maxsize: Final = int(maxsize)
        self._policy: Final = policy
        self._drop_newest: Final = policy is OverflowPolicy.DROP_NEWEST
        # maxlen makes the deque itself evict the oldest items, at C level;
        # under DROP_NEWEST the pushes never let it get that far.
        self._deque: Final[deque[_T]] = deque(maxlen=self._maxsize)
        self._received = 0
        self._dropped = 0

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} maxsize={self._maxsize} policy={self._policy.value}"
            f" pending={len(self._deque)}>"
        )

    @property
    def maxsize(self) -> int:
        """The most items that can be pending at once."""
        return self._maxsize

    @property
    def policy(self) -> OverflowPolicy:
        """What a full queue does with new items."""
        return self._policy

    @property
    def popleft(self) -> Callable[[], _T]:
        """The backing deque's ``popleft``, for the fastest possible pops.

        Bind it once and call it in a loop; it behaves exactly like
        :meth:`pop` (FIFO, :class:`IndexError` when empty, items counted as
        delivered) minus the method-call overhead and the friendlier error
        message. It stays valid for the queue's whole life.

        Example:
            >>> queue: DatagramQueue[int] = DatagramQueue(4)
            >>> queue.push_many([1, 2])
            0
            >>> popleft = queue.popleft
            >>> popleft(), popleft(), queue.delivered
            (1, 2, 2)
        """
        return self._deque.popleft

    def consumer_view(self) -> ConsumerView[_T]:
        """The pending items as a read-and-pop view, for the hot consumer path.

        ``len(view)`` (or its truth value) and ``view.popleft()`` cost no
        more than on a bare deque, and the counters stay right because
        ``delivered`` is derived. The view cannot add items.
        """
        return self._deque

    def push(self, item: _T) -> bool:
        """Offer one item.

        Args:
            item: The item to enqueue.

        Returns:
            ``True`` if the item was admitted. Under ``DROP_OLDEST`` this is
            always ``True``, possibly after evicting the oldest pending item;
            under ``DROP_NEWEST`` a full queue rejects the item and returns
            ``False``.
        """
        self._received += 1
        dq = self._deque
        if len(dq) >= self._maxsize:
            self._dropped += 1
            if self._drop_newest:
                return False
        dq.append(item)
        return True

    def push_many(self, items: Sequence[_T]) -> int:
        """Offer a batch of items, in order.

        The result is the same as pushing them one by one, at a fraction of
        the cost. Under ``DROP_OLDEST`` a batch larger than ``maxsize`` leaves
        only its last ``maxsize`` items pending; under ``DROP_NEWEST`` only as
        many leading items as there is room for are admitted.

        Args:
            items: The items to enqueue, oldest first.

        Returns:
            How many items this call dropped, whether pending items it evicted
            or offered items it rejected.
        """
        count = len(items)
        self._received += count
        dq = self._deque
        overflow = len(dq) + count - self._maxsize
        if overflow <= 0:
            dq.extend(items)
            return 0
        self._dropped += overflow
        if self._drop_newest:
            if overflow < count:
                dq.extend(items[: count - overflow])
        else:
            dq.extend(items)
        return overflow

    def pop(self) -> _T:
        """Remove and return the oldest pending item.

        Returns:
            The oldest pending item.

        Raises:
            IndexError: The queue is empty.
        """
        try:
            return self._deque.popleft()
        except IndexError:
            raise IndexError(f"pop from an empty {type(self).__name__}") from None

    def pop_many(self, max_count: int) -> list[_T]:
        """Remove and return up to ``max_count`` of the oldest pending items.

        Args:
            max_count: The most items to return; at least 1.

        Returns:
            The items in FIFO order; empty if nothing is pending.

        Raises:
            InvalidArgumentError: ``max_count`` is not an int >= 1. It is a
                :class:`ValueError`.
        """
        if type(max_count) is not int or max_count < 1:
            _require_count("max_count", max_count)
        dq = self._deque
        if max_count >= len(dq):
            items = list(dq)
            dq.clear()
            return items
        # starmap keeps the repeated popleft calls in C, with no bytecode per item.
        return list(starmap(dq.popleft, repeat(_NO_ARGS, max_count)))

    def clear(self) -> int:
        """Discard every pending item, counting them as dropped.

        Returns:
            How many items were discarded.
        """
        dq = self._deque
        count = len(dq)
        dq.clear()
        self._dropped += count
        return count

    def __len__(self) -> int:
        return len(self._deque)

    def __bool__(self) -> bool:
        return bool(self._deque)

    @property
    def full(self) -> bool:
        """Whether ``maxsize`` items are pending, so the next push overflows."""
        return len(self._deque) >= self._maxsize

    @property
    def free(self) -> int:
        """How many more items fit before the queue is full."""
        return self._maxsize - len(self._deque)

    @property
    def received(self) -> int:
        """Items offered through ``push`` and ``push_many``, admitted or not."""
        return self._received

    @property
    def delivered(self) -> int:
        """Items removed by ``pop``, ``pop_many`` or :attr:`popleft`."""
        return self._received - self._dropped - len(self._deque)

    @property
    def dropped(self) -> int:
        """Items evicted or rejected by the overflow policy, or discarded by ``clear``."""
        return self._dropped

    @property
    def pending(self) -> int:
        """Items waiting to be popped; the same as ``len(queue)``."""
        return len(self._deque)

    def statistics(self) -> QueueStatistics:
        """Take a snapshot of the counters.

        Returns:
            The counters, mutually consistent.
        """
        pending = len(self._deque)
        return QueueStatistics(
            received=self._received,
            delivered=self._received - self._dropped - pending,
            dropped=self._dropped,
            pending=pending,
        )


def decode_payload(payload: bytes, errors: str = "replace", encoding: str = "utf-8") -> str:
    r"""Decode a datagram's payload to text.

    Args:
        payload: The raw payload; any bytes-like object works.
        errors: A codec error handler name. The default ``"replace"`` turns
            each undecodable sequence into U+FFFD, so bad input never raises.
        encoding: A text encoding known to :mod:`codecs`.

    Returns:
        The decoded text.

    Raises:
        UnicodeDecodeError: Only with ``errors="strict"`` (or a custom handler
            that raises) and an undecodable payload.
        InvalidArgumentError: ``errors`` is not a registered error handler, or
            ``encoding`` is not a text encoding. It is a :class:`ValueError`.
            Both are checked whatever the payload holds.

    Example:
        >>> decode_payload(b"caf\xc3\xa9 \xff") == "caf\u00e9 \ufffd"
        True
    """
    # The decoder only looks the handler up on the first bad byte; looking it
    # up now makes a typo fail on every payload rather than on rare ones.
    try:
        codecs.lookup_error(errors)
    except LookupError:
        raise InvalidArgumentError(
            f"errors must be a registered codec error handler, got {errors!r}",
            parameter="errors",
            value=errors,
        ) from None
    try:
        return str(payload, encoding, errors)
    except LookupError as exc:
        # Raised before any byte is decoded: unknown encoding, or one such as
        # base64 that does not decode to str.
        raise InvalidArgumentError(
            f"encoding must be a text encoding known to codecs, got {encoding!r}",
            parameter="encoding",
            value=encoding,
        ) from exc


def _char_escape(code_point: int) -> str:
    if code_point < 0x80:
        return f"\\x{code_point:02x}"
    if code_point <= 0xFFFF:
        return f"\\u{code_point:04x}"
    return f"\\U{code_point:08x}"


_CONTROL_RUNS: Final = re.compile(rb"([\x00-\x1f\x7f\\]+)")
# Escapes \t \n \r and \\ as such and the other C0 controls and DEL as \xNN,
# exactly the rendering of the module's rules.
_escape_bytes: Final = codecs.escape_encode
_COMMON_NON_PRINTABLE: Final = re.compile("[\x80-\xa0\xad]")


_NON_ASCII: Final = re.compile("[^\x20-\x7e]")


def _escape_match(match: re.Match[str]) -> str:
    return _char_escape(ord(match.group()))


def _escape_if_not_printable(match: re.Match[str]) -> str:
    char = match.group()
    return char if char.isprintable() else _char_escape(ord(char))


def escape_payload(payload: bytes) -> str:
    r"""Render a payload as one printable line, for terminals.

    Valid UTF-8 is decoded, printable characters (:meth:`str.isprintable`)
    other than the backslash are kept as they are, and everything else is
    escaped as follows:

    * ``\\`` for a backslash; ``\t``, ``\n`` and ``\r`` for those characters.
    * ``\xNN`` (two lowercase hex digits) for the other C0 controls and DEL,
      and for each byte that is not part of valid UTF-8 (0x80 to 0xff).
    * ``\uNNNN`` or ``\UNNNNNNNN`` for any other non-printable code point: C1
      controls, format characters such as U+200B or U+202E, separators other
      than the ASCII space (U+00A0, U+2028...), private-use and unassigned
      code points.

    The result is printable (:meth:`str.isprintable` is true), so it has no
    newline and no C0 or C1 control character. The rendering is reversible:
    ``\xNN`` always stands for the single byte 0xNN, ``\u``/``\U`` for the
    UTF-8 encoding of the code point, the other escapes for their character,
    and every other character for its UTF-8 encoding, so two different
    payloads never render the same.

    Args:
        payload: The raw payload; any bytes-like object works.

    Returns:
        The printable rendering.

    Example:
        >>> print(escape_payload(b"caf\xc3\xa9\tok\n\xff\\"))
        café\tok\n\xff\\
    """
    text = str(payload, "utf-8", "surrogateescape")
    if text.isprintable() and "\\" not in text:
        return text
    # Every step below runs in C over the whole payload, or over runs of it:
    # the C0 controls, DEL and the backslash (all ASCII, so never inside a
    # UTF-8 sequence) by the bytes escape in one call per run; bytes that
    # are not UTF-8 by the decoder's backslashreplace, byte by byte, as
    # surrogateescape would have split them.
    parts = _CONTROL_RUNS.split(bytes(payload))
    parts[1::2] = [_escape_bytes(run)[0] for run in parts[1::2]]
    text = b"".join(parts).decode("utf-8", "backslashreplace")
    if text.isprintable():
        return text
    # What is left: C1 controls and the few other non-printable characters
    # that UTF-8 of random bytes can spell (NBSP, the soft hyphen) ...
    text = _COMMON_NON_PRINTABLE.sub(_escape_match, text)
    if text.isprintable():
        return text
    # ... and the rest of Unicode's non-printable code points (private use,
    # format characters), among the non-ASCII characters only.
    return _NON_ASCII.sub(_escape_if_not_printable, text)
