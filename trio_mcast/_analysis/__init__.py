"""Stream analysis: what arrives, read as TMSQ, RTP, MPEG-TS or iperf2 traffic.

Every module here is pure: bytes and arrival times in, counters out; no
trio, no socket. One module per format, each with an
:class:`~._records.Analyzer`; :class:`~._streams.StreamAnalysis` runs them
for ``recv --analyze``, and :class:`~._payloads.PayloadMaker` builds what
``send --payload`` sends.
"""

from __future__ import annotations

from ._payloads import PAYLOADS, PayloadMaker
from ._records import Analyzer, Gap, StreamSummary
from ._rtp import RtpHeader, RtpStreamState, RtpTracker, parse_rtp
from ._streams import ANALYZERS, KINDS, MODES, StreamAnalysis

__all__ = [
    "ANALYZERS",
    "KINDS",
    "MODES",
    "PAYLOADS",
    "Analyzer",
    "Gap",
    "PayloadMaker",
    "RtpHeader",
    "RtpStreamState",
    "RtpTracker",
    "StreamAnalysis",
    "StreamSummary",
    "parse_rtp",
]
