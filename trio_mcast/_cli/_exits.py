"""How the command line ends: its exit codes, and the usage error.

The table of what each code means is in :mod:`trio_mcast._cli`. These live
apart from it so that the parser and the runs, which :mod:`~trio_mcast._cli`
imports, can use them without importing it back.
"""

from __future__ import annotations

import signal
from typing import Final

__all__ = [
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
    "UsageError",
]

EXIT_OK: Final = 0
EXIT_NOTHING_RECEIVED: Final = 1
EXIT_USAGE: Final = 2
EXIT_NETWORK: Final = 3
EXIT_CONFIG: Final = 4
EXIT_STREAM_STOPPED: Final = 5
EXIT_PROBLEM: Final = 6
EXIT_INTERRUPTED: Final = 128 + signal.SIGINT
EXIT_TERMINATED: Final = 128 + signal.SIGTERM
#: Every exit code :func:`~trio_mcast._cli.main` can return.
EXIT_CODES: Final = frozenset(
    {
        EXIT_OK,
        EXIT_NOTHING_RECEIVED,
        EXIT_USAGE,
        EXIT_NETWORK,
        EXIT_CONFIG,
        EXIT_STREAM_STOPPED,
        EXIT_PROBLEM,
        EXIT_INTERRUPTED,
        EXIT_TERMINATED,
    }
)


class UsageError(Exception):
    """A command-line usage error; raised instead of argparse's exit."""
