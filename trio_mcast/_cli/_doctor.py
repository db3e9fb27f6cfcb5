"""``trio-mcast doctor``: check this host for what stops multicast to a group."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import trio

from .._doctor import DEFAULT_LISTEN, diagnose, validate_listen
from .._validate import validate_join_args
from ._doctor_output import format_checklist, format_finding_record
from ._exits import EXIT_OK, EXIT_PROBLEM, UsageError

if TYPE_CHECKING:
    import argparse

__all__ = [
    "DOCTOR_EPILOG",
    "DoctorOptions",
    "doctor_options",
    "run_doctor",
]

DOCTOR_EPILOG: Final = f"""\
Checks, each ok, warning, problem or unknown (with the reason): the
interface (up, carrier, MULTICAST flag, an address; with no -i, the one the
kernel's route picks), the route to the group and back to each source,
rp_filter, SSM (forced IGMPv2 / MLDv1; an any-source join in the SSM range),
the kernel's membership limits, receive buffers and drops, scope and TTL,
a snooping bridge without a querier, other sockets on the port
(SO_REUSEPORT), the firewall ruleset, and a live listen of --listen seconds
(default {DEFAULT_LISTEN:g}; 0 skips it) that joins for real and reports who
sent what, with which TTL. Nothing on the host is changed.

examples:
  trio-mcast doctor 239.1.2.3 -p 5000 -i eth0
  trio-mcast doctor 232.1.1.1 -p 5000 -i eth0 -s 10.0.0.7 --listen 10
  trio-mcast doctor ff15::1 -p 5000 --format jsonl | jq 'select(.status=="problem")'

exit codes: 0 no problem (warnings allowed), 6 a problem was found, 2 usage
error, 130 interrupted by Ctrl-C.
"""


@dataclass(frozen=True, slots=True)
class DoctorOptions:
    """``doctor``'s validated options.

    Attributes:
        group: The group.
        port: The port, or ``None`` for the default.
        interface: The interface as given, or ``None``.
        sources: The ``-s`` senders.
        listen: Seconds to listen.
        output_format: ``"text"`` or ``"jsonl"``.
    """

    group: str
    port: int | None
    interface: str | int | None
    sources: tuple[str, ...]
    listen: float
    output_format: str


def doctor_options(args: argparse.Namespace) -> DoctorOptions:
    """Check what was parsed, before anything touches the network.

    Raises:
        MulticastError: A value is invalid (the message names it).
    """
    spec = validate_join_args(
        args.group,
        args.port,
        args.interface,
        sources=args.sources or None,
        interface_parameter="--interface",
    )
    if len(spec.groups) != 1:
        raise UsageError("doctor checks one group at a time")
    return DoctorOptions(
        args.group,
        args.port,
        args.interface,
        tuple(args.sources),
        validate_listen(args.listen, "--listen"),
        args.output_format,
    )


def run_doctor(options: DoctorOptions) -> int:
    """Run ``doctor`` and print its findings; 0 unless a check found a problem."""
    findings = trio.run(
        lambda: diagnose(
            options.group,
            options.port,
            interface=options.interface,
            sources=options.sources or None,
            listen=options.listen,
        )
    )
    if options.output_format == "jsonl":
        lines = [format_finding_record(finding) for finding in findings]
    else:
        where = "" if options.interface is None else f" on {options.interface}"
        port = "" if options.port is None else f" port {options.port}"
        lines = format_checklist(f"{options.group}{port}{where}", findings)
    sys.stdout.write("".join(f"{line}\n" for line in lines))
    sys.stdout.flush()
    if any(finding.status == "problem" for finding in findings):
        return EXIT_PROBLEM
    return EXIT_OK
