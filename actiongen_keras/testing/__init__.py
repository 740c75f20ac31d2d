"""What the tests and benchmarks share: synthetic sessions, random batches, one tiny model
config, the shared real data beside a checkout, and a layer-test harness.

Nothing in the package's stages imports this package: it sits on top of them.
"""
