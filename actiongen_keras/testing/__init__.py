"""What the tests and benchmarks share: synthetic sessions, random batches, one tiny model
config, untrained runs, the shared real data beside a checkout, a layer-test harness and the
sampling loop's greedy-window check (:mod:`~actiongen_keras.testing.generation`).

Nothing in the package's stages imports this package: it sits on top of them.
"""
