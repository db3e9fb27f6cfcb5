"""The ``trio-mcast`` command line: ``recv``, ``send``, ``doctor`` and ``demo``.

``python -m trio_mcast`` and the ``trio-mcast`` console script both call
:func:`main`, which returns the exit code instead of exiting. ``RECV`` and
``SAY`` are aliases of ``recv`` and ``send``, and ``--group``, ``--groups``
and ``--iface`` are accepted, for command lines written for the seed tool.

Every user error prints exactly one line, ``trio-mcast: error: MESSAGE``
(plus one ``trio-mcast: hint: ...`` line when the operating system's refusal
comes with a hint), and never a traceback.

This module maps failures to exit codes and dispatches; the rest lives in
``_args`` (the parser and help texts), ``_options`` (checking what
was parsed), ``_run`` (output, signals, ``trio.run``), ``_recv``,
``_send``, ``_doctor`` and ``_demo`` (the commands), the pure formatters
``_output``, ``_event_output`` and ``_doctor_output``, and ``_exits`` (the
codes below).

Exit codes:

====  =====================================================================
code  meaning
====  =====================================================================
0     Success: ``recv`` received at least one datagram (or reached
      ``--count``), ``send`` sent everything, ``demo`` saw its datagrams.
1     ``recv``: nothing arrived before ``--duration`` or ``--idle-timeout``.
2     Usage error: unknown option, malformed or out-of-range value, a
      unicast group, groups of both families, a source of the wrong family.
3     Network or OS failure: unknown interface, join, bind or send refused,
      or standard output failing (a full disk).
4     Configuration error: an invalid ``MULTICAST_*`` environment variable.
5     ``recv``: datagrams arrived, then none for ``--idle-timeout``: the
      stream stopped (so ``Restart=on-failure`` can restart the receiver).
6     ``doctor``: a check found a problem (warnings do not count).
130   Interrupted by Ctrl-C (SIGINT); the summary is still printed.
143   Terminated by SIGTERM (128 + 15); the summary is still printed.
====  =====================================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .._errors import ConfigError, InterfaceNotFoundError, JoinError, MulticastError
from ._args import PROG, build_parser, parse
from ._demo import run_demo
from ._doctor import DoctorOptions, doctor_options, run_doctor
from ._exits import (
    EXIT_CODES,
    EXIT_CONFIG,
    EXIT_INTERRUPTED,
    EXIT_NETWORK,
    EXIT_NOTHING_RECEIVED,
    EXIT_OK,
    EXIT_PROBLEM,
    EXIT_STREAM_STOPPED,
    EXIT_TERMINATED,
    EXIT_USAGE,
    UsageError,
)
from ._options import (
    DEMO_COUNT,
    DEMO_GROUP,
    DemoOptions,
    RecvOptions,
    SendOptions,
    recv_options,
    send_options,
)
from ._recv import run_recv
from ._run import note, uncancelled_leaves
from ._send import run_send

if TYPE_CHECKING:
    from collections.abc import Sequence

# The command line's names, wherever they are defined, are importable from here.
__all__ = [
    "DEMO_COUNT",
    "DEMO_GROUP",
    "EXIT_CODES",
    "EXIT_CONFIG",
    "EXIT_INTERRUPTED",
    "EXIT_NETWORK",
    "EXIT_NOTHING_RECEIVED",
    "EXIT_OK",
    "EXIT_PROBLEM",
    "EXIT_STREAM_STOPPED",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
    "PROG",
    "DemoOptions",
    "DoctorOptions",
    "RecvOptions",
    "SendOptions",
    "main",
]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``trio-mcast`` command line.

    Args:
        argv: The arguments, without the program name; ``None`` means
            ``sys.argv[1:]``.

    Returns:
        The exit code, one of :data:`EXIT_CODES` (see the module docstring).
        ``--help`` and ``--version`` return 0. It never calls
        :func:`sys.exit`.

    Example:
        >>> main(["recv", "--port", "0"])  # doctest: +SKIP
        trio-mcast: error: port must be an int in 1..65535, got 0
        2
    """
    try:
        parser = build_parser()
        try:
            args = parse(parser, argv)
        except SystemExit as exit_request:
            # --help and --version: argparse has printed what was asked for.
            return _system_exit_code(exit_request)
        command = getattr(args, "command_name", None)
        # Looked up here at call time, so that tests can stub the runs.
        if command == "recv":
            return run_recv(recv_options(args))
        if command == "send":
            return run_send(send_options(args))
        if command == "demo":
            return run_demo(DemoOptions())
        if command == "doctor":
            return run_doctor(doctor_options(args))
        raise UsageError(
            f"a command is required: recv, send, doctor or demo (see '{PROG} --help')"
        )
    except BaseException as exc:
        code = _report_failure(exc)
        if code is None:
            raise
        return code


def _system_exit_code(exit_request: SystemExit) -> int:
    code = exit_request.code
    if code is None:
        return EXIT_OK
    if isinstance(code, int):
        return code if code in EXIT_CODES else EXIT_USAGE
    return EXIT_USAGE


def _principal(exc: BaseException) -> BaseException | None:
    """The one exception a (possibly grouped) failure stands for, or ``None``."""
    leaves = uncancelled_leaves(exc)
    for leaf in leaves:
        if isinstance(leaf, KeyboardInterrupt):
            return leaf
    return leaves[0] if len(leaves) == 1 else None


#: The exit code of each kind of failure; the first that matches wins.
_EXIT_CODE_FOR: Final = (
    (KeyboardInterrupt, EXIT_INTERRUPTED),
    (UsageError, EXIT_USAGE),
    (ConfigError, EXIT_CONFIG),
    # Before MulticastError: these are network failures, not bad input.
    ((InterfaceNotFoundError, JoinError), EXIT_NETWORK),
    (MulticastError, EXIT_USAGE),
    (OSError, EXIT_NETWORK),
)


def _exit_code_for(exc: BaseException) -> int | None:
    """The exit code for ``exc``, or ``None`` for a bug."""
    return next((code for kinds, code in _EXIT_CODE_FOR if isinstance(exc, kinds)), None)


def _report_failure(exc: BaseException) -> int | None:
    """Print the error line(s) for ``exc`` and return its exit code.

    Returns ``None`` for exceptions that are bugs, which must propagate.
    """
    principal = _principal(exc)
    if principal is None:
        return None
    code = _exit_code_for(principal)
    if code is None or code == EXIT_INTERRUPTED:
        return code
    message = str(principal) or type(principal).__name__
    hint = principal.hint if isinstance(principal, JoinError) else None
    if hint is not None:
        # The library appends the hint to its message; it gets its own line here.
        message = message.removesuffix(f"; hint: {hint}")
    note(f"error: {message}")
    if hint is not None:
        note(f"hint: {hint}")
    return code
