"""``python -m benchmarks``: enter a private network namespace, then benchmark.

The namespace comes first, before anything else is imported: unsharing the
network namespace (or a user namespace, when not real root) needs a
single-threaded process, and no socket may be opened outside it.
"""

from __future__ import annotations

import sys

from benchmarks._options import parse_settings
from trio_mcast.testing import enter_private_network


def main() -> int:
    """Parse the command line, enter the namespace or refuse, then run the benchmarks."""
    # Parsing first (stdlib only, no thread, no socket) lets --help work anywhere.
    settings = parse_settings(sys.argv[1:])
    state = enter_private_network()
    if not state.active:
        print(
            f"benchmarks: refusing to run outside a private network namespace: {state.reason}",
            file=sys.stderr,
        )
        return 3
    # Imported only now: nothing may open a socket or start a thread before.
    from benchmarks._cli import run

    return run(settings)


if __name__ == "__main__":
    sys.exit(main())
