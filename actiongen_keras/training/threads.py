"""TensorFlow's intra-op thread count for training (``train.intra_op_threads``).

Why one thread per op by default: the training step is many small ops (four heads of
attention in chunks, six output heads, their losses and gradients), most of them a few
hundred microseconds. With TensorFlow's default (every core splits every op) the cores
spend the step handing slices of small ops to each other; with one thread per op they run
independent ops side by side instead (the inter-op pool still has every core). On this
project's 2-core machines the default model's training step went from 250-317 to 373-396
windows/s (README, Speed). A machine with many cores and a much larger model may gain from
splitting ops again: ``train.intra_op_threads: 0`` leaves the choice to TensorFlow.

TensorFlow reads the setting once, when its runtime starts (the first op, dataset or
strategy of the process), so it is applied before anything of the run touches TensorFlow;
in a process where TensorFlow has already started it cannot change and is reported, not
raised. It applies to TensorFlow's runtime, which on the JAX and PyTorch backends runs only
the ``tf.data`` input pipeline.
"""

from __future__ import annotations


def set_intra_op_threads(threads, log=print):
    """Ask TensorFlow to run each op on ``threads`` threads (0: TensorFlow's own choice).

    Returns True when the runtime will use ``threads`` (set now, already set, or 0), False
    when TensorFlow had already started with another value (``log`` says so and how to set it).
    """
    if not threads:
        return True
    import tensorflow as tf  # deferred: the config module imports no backend

    if tf.config.threading.get_intra_op_parallelism_threads() == threads:
        return True
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    except RuntimeError:
        log(f"train.intra_op_threads {threads} not applied: TensorFlow had already started in this process "
            f"(set it before the first TensorFlow op, or set TF_NUM_INTRAOP_THREADS={threads} before Python starts)")
        return False
    return True
