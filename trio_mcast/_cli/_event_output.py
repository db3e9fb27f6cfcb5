"""Pure formatters for interface events: a line on stderr, a ``jsonl`` record.

Nothing here imports trio or writes anything; :mod:`._recv` does.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from .._errors import JoinError
from .._events import InterfaceLost, InterfaceReturned, Rejoined
from .._words import plural

if TYPE_CHECKING:
    from .._events import ReceiverEvent

__all__ = ["EventLines", "event_record"]


def _where(name: str | None, ifindex: int) -> str:
    return f"{name}, index {ifindex}" if name else f"index {ifindex}"


class EventLines:
    """Turns events into the lines ``recv`` prints on stderr.

    A return is told together with its outcome (re-joined, or refused), so
    it keeps the last :class:`InterfaceReturned` it saw.
    """

    def __init__(self) -> None:
        self._returned: InterfaceReturned | None = None

    def line(self, event: ReceiverEvent) -> str | None:
        """The line for ``event``, without the prefix; ``None`` when it prints none.

        Example:
            >>> EventLines().line(InterfaceLost(0.0, "eth0", 7, "eth0"))
            'eth0 disappeared; waiting for it to return'
        """
        if isinstance(event, InterfaceLost):
            self._returned = None
            return f"{self._lost_subject(event)}; waiting for {self._awaited(event.interface)}"
        if isinstance(event, InterfaceReturned):
            self._returned = event
            return None
        back = self._back()
        if isinstance(event, Rejoined):
            return f"{back}; re-joined {plural(len(event.groups), 'group')}"
        what = "re-joining" if event.group is None else f"re-joining group {event.group}"
        return f"{back}, but {what} failed: {event.error}; retrying in {event.retry_in:.1f} s"

    @staticmethod
    def _lost_subject(event: InterfaceLost) -> str:
        where = _where(event.name, event.ifindex)
        if event.interface is None:
            return f"the interface the kernel chose for the groups ({where}) disappeared"
        if isinstance(event.interface, str) and event.interface == event.name:
            return f"{event.interface} disappeared"
        if isinstance(event.interface, int):
            return f"interface index {event.interface} ({where}) disappeared"
        return f"{event.interface} is gone from {where}"

    @staticmethod
    def _awaited(interface: str | int | None) -> str:
        return "a route to the groups" if interface is None else "it to return"

    def _back(self) -> str:
        returned = self._returned
        if returned is None:
            return "the interface is back"
        where = _where(returned.name, returned.ifindex)
        if returned.interface is None:
            return f"a route to the groups is back, through {where}"
        if isinstance(returned.interface, str) and returned.interface == returned.name:
            return f"{returned.interface} is back (index {returned.ifindex})"
        if isinstance(returned.interface, int):
            return f"interface index {returned.interface} is back ({where})"
        return f"{returned.interface} is back, on {where}"


def event_record(event: ReceiverEvent) -> str:
    """One JSON object for ``event``, on one line, without the newline.

    Every record has ``type`` (``interface_lost``, ``interface_returned``,
    ``rejoined`` or ``rejoin_failed``) and ``time``; datagram records have
    no ``type``.

    Example:
        >>> event_record(Rejoined(1.5, ("239.1.1.1",), 7))
        '{"type": "rejoined", "time": 1.5, "groups": ["239.1.1.1"], "index": 7}'
    """
    record: dict[str, object]
    if isinstance(event, (InterfaceLost, InterfaceReturned)):
        kind = "interface_lost" if isinstance(event, InterfaceLost) else "interface_returned"
        record = {
            "type": kind,
            "time": event.timestamp,
            "interface": event.interface,
            "index": event.ifindex,
            "name": event.name,
        }
    elif isinstance(event, Rejoined):
        record = {
            "type": "rejoined",
            "time": event.timestamp,
            "groups": list(event.groups),
            "index": event.ifindex,
        }
    else:
        error = event.error
        record = {
            "type": "rejoin_failed",
            "time": event.timestamp,
            "group": event.group,
            "error": str(error),
            "errno": error.errno if isinstance(error, JoinError) else None,
            "retry_in": round(event.retry_in, 3),
        }
    return json.dumps(record, ensure_ascii=True)
