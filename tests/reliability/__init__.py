"""Reliability and security tests: leaks, isolation, floods, hostile input, faults, soak."""
