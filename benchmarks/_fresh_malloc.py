"""asyncio-protocol drained in a child process whose malloc keeps glibc's initial settings.

asyncio reads each datagram into a 256 KiB buffer. glibc serves blocks above
its mmap threshold with ``mmap``; the threshold starts at 128 KiB and rises
for good the first time the process frees a larger mmapped block. Until then
every datagram asyncio reads costs an ``mmap``, an ``mremap`` and a
``munmap``; afterwards it costs none. Whether that has happened by the time a
program reads its first datagram depends on what it did before, down to its
hash seed: importing this package's modules with ``PYTHONHASHSEED`` 0, 1
and 3 left the threshold where it was, with 2 raised it.

The main process settles its allocator (:func:`benchmarks._net.settle_allocator`)
so that every in-process contender runs with the raised threshold. This
module measures the other state too, in the same run: a child process started
with ``MALLOC_MMAP_THRESHOLD_=131072`` (glibc's initial threshold, pinned)
runs the very same asyncio contender and reports its figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from typing import TYPE_CHECKING, Final

from ._net import require_private_network, run_child
from ._throughput import DrainCase, run_asyncio_protocol

if TYPE_CHECKING:
    from ._stats import Sample

#: glibc's initial M_MMAP_THRESHOLD (DEFAULT_MMAP_THRESHOLD_MIN).
INITIAL_MMAP_THRESHOLD: Final = 128 * 1024


def run_asyncio_protocol_initial_malloc(case: DrainCase) -> Sample:
    """The asyncio contender in a child process with glibc's initial mmap threshold."""
    return run_child(
        "benchmarks._fresh_malloc",
        ["--case", json.dumps(dataclasses.asdict(case))],
        timeout=case.timeout + 60,
        environment=dict(os.environ, MALLOC_MMAP_THRESHOLD_=str(INITIAL_MMAP_THRESHOLD)),
    )


def main(argv: list[str] | None = None) -> int:
    """The child: check the namespace, drain once with asyncio, print the figures as JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._fresh_malloc")
    parser.add_argument("--netns-inode", type=int, required=True)
    parser.add_argument("--case", required=True, help="the DrainCase fields as JSON")
    args = parser.parse_args(argv)
    try:
        require_private_network(args.netns_inode)
    except RuntimeError as exc:
        print(f"asyncio child: refusing to run: {exc}", file=sys.stderr)
        return 2
    fields = json.loads(args.case)
    fields["groups"] = tuple(fields["groups"])
    fields["targets"] = tuple(fields["targets"])
    case = DrainCase(**fields)
    print(json.dumps(run_asyncio_protocol(case)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
