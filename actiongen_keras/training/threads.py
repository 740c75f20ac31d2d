"""TensorFlow's intra-op thread count for training (``train.intra_op_threads``).

Why one thread per op by default: the training step is many small ops (four heads of
attention in chunks, six output heads, their losses and gradients), most of them a few
hundred microseconds. With TensorFlow's default (every core splits every op) the cores
spend the step handing slices of small ops to each other; with one thread per op they run
independent ops side by side instead (the inter-op pool still has every core). On a 2-core
VM the default model's training step went from 312-328 to 380-390 windows/s (1.21x,
alternating ``benchmarks/bench_train.py --intra-op-threads 0`` / ``1`` runs; README, Speed). A machine with many cores and a much larger model may gain from
splitting ops again: ``train.intra_op_threads: 0`` leaves the choice to TensorFlow.

TensorFlow reads the setting once, when its runtime starts (the first op, dataset or
strategy of the process), so ``train()`` applies it before anything of the run touches
TensorFlow (``actiongen train --closed-loop`` prepares its contexts without TensorFlow: checked);
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
