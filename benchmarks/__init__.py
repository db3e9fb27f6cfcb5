"""Benchmarks for trio_mcast: ``python -m benchmarks`` (or ``tox -e bench``).

Not part of the test suite: nothing here asserts a time. Every workload runs
inside a private network namespace that ``python -m benchmarks`` enters by
itself before it opens a socket, so no datagram ever leaves the process's own
loopback. See ``benchmarks/NOTES.md`` for what the workloads measure and why.

This module imports nothing on purpose: ``python -m benchmarks`` imports it
before ``__main__`` runs, and the namespace must be entered while the process
is still single-threaded and has opened no socket.
"""
