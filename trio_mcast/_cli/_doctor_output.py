"""Pure formatters for ``doctor``: the checklist, and one JSON record per finding."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Final

from .._words import plural

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .._doctor import Finding

__all__ = ["MARKS", "format_checklist", "format_finding_record"]

#: The mark before each check's line.
MARKS: Final = {
    "ok": "[ok]     ",
    "warning": "[warn]   ",
    "problem": "[PROBLEM]",
    "unknown": "[?]      ",
}


def format_checklist(heading: str, findings: Sequence[Finding]) -> list[str]:
    """The text report: the heading, one line per check, fixes and evidence, a total.

    Problems and warnings show their evidence, and their fix on a line of its
    own; an ``ok`` shows only its line.

    Example:
        >>> from trio_mcast._doctor import Finding
        >>> format_checklist("239.1.2.3", [Finding("route", "ok", "routed out of eth0")])
        ['doctor: 239.1.2.3', '[ok]      route routed out of eth0', 'no problems found']
    """
    width = max((len(finding.check) for finding in findings), default=0)
    lines = [f"doctor: {heading}"]
    for finding in findings:
        lines.append(f"{MARKS[finding.status]} {finding.check.ljust(width)} {finding.summary}")
        indent = " " * (len(MARKS["ok"]) + width + 2)
        if finding.status in ("problem", "warning"):
            lines.extend(f"{indent}- {line}" for line in finding.evidence)
        if finding.fix is not None:
            lines.append(f"{indent}fix: {finding.fix}")
    counts = {
        status: sum(finding.status == status for finding in findings)
        for status in ("problem", "warning", "unknown")
    }
    if not counts["problem"]:
        total = "no problems found"
    else:
        total = plural(counts["problem"], "problem") + " found"
    extras = [
        plural(counts[status], status) for status in ("warning", "unknown") if counts[status]
    ]
    lines.append(total + (f" ({', '.join(extras)})" if extras else ""))
    return lines


def format_finding_record(finding: Finding) -> str:
    """One JSON object per finding: ``check``, ``status``, ``summary``, ``evidence``, ``fix``."""
    return json.dumps(
        {
            "type": "finding",
            "check": finding.check,
            "status": finding.status,
            "summary": finding.summary,
            "evidence": list(finding.evidence),
            "fix": finding.fix,
        },
        ensure_ascii=True,
    )
