"""``trio-mcast doctor`` and :func:`diagnose`: why multicast is not arriving.

:mod:`._gather` and :mod:`._listen` read the host; :mod:`._decide` turns
what they read (:class:`._facts.Facts`) into findings, without touching
anything, so that the decisions can be tested without a network.
"""

from __future__ import annotations

from ._decide import decide
from ._diagnose import DEFAULT_LISTEN, MAX_LISTEN, diagnose, validate_listen
from ._facts import CHECKS, Facts, Finding, Status

__all__ = [
    "CHECKS",
    "DEFAULT_LISTEN",
    "MAX_LISTEN",
    "Facts",
    "Finding",
    "Status",
    "decide",
    "diagnose",
    "validate_listen",
]
