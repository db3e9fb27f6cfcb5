"""Stream analysis: what arrives, read as RTP, MPEG-TS or iperf2 traffic.

Every module here is pure: bytes and arrival times in, counters out; no
trio, no socket.
"""

from __future__ import annotations

from ._rtp import RtpHeader, RtpStreamState, RtpTracker, parse_rtp

__all__ = ["RtpHeader", "RtpStreamState", "RtpTracker", "parse_rtp"]
