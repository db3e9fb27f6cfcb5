# The seed package, multicast 2.1 (untyped): only what the benchmarks use.
__version__: str
