"""Multi-worker data-parallel training: TensorFlow's ``MultiWorkerMirroredStrategy``, or
Keras's ``DataParallel`` over ``jax.distributed`` processes on the JAX backend.

Every worker runs the same ``actiongen train --distributed`` command; ``TF_CONFIG`` (the
standard TensorFlow variable, read on both backends) names the cluster and this process's
place in it, for example on two machines::

    TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}'

On JAX the first address is the coordinator of ``jax.distributed`` (``keras.distribution.initialize``),
the processes are numbered in the cluster's order (chief first), and CPU processes exchange
gradients over gloo. Each worker builds the model under the strategy, reads its own share
of every global batch (``train.batch_size`` is the global batch; TensorFlow: ``tf.data``
sharding by data, :func:`shard_for_workers`; JAX: Keras's ``distribute_dataset``) and
gradients are all-reduced, so every worker holds the same weights after every step. The chief (worker 0,
or the ``chief`` task) writes the run folder; every other worker writes its copy to a scratch
folder beside it (its backup: a job restarted after a kill resumes every worker from the
same epoch), deleted when the job is done, so a shared file system is left with one run.

**Keras 3 compatibility.** Keras 3.15 (with TensorFlow 2.21) cannot ``fit`` under this
strategy (keras-team/keras#20585, open): its symbolic build reduces the first batch's
per-replica values across workers, and its per-replica reduction of the step's scalar logs
asks for ``axis=0``; both raise. :func:`patch_keras_multi_worker` replaces the two with
what they mean (the local replica's batch for building; the mean over replicas, no axis,
for scalars). It is applied only under a multi-worker strategy, and
``tests/training/test_distributed.py`` fails the day Keras no longer needs it (so it can go).
"""

from __future__ import annotations

import hashlib
import json
import os

import keras

from actiongen_keras.errors import ConfigError

ORIGINAL = {}
"""Keras's own functions that :func:`patch_keras_multi_worker` replaced (the test that says
when the patch can go reads them)."""


def cluster_spec():
    """``(task_type, task_index, cluster)`` from ``TF_CONFIG`` (``cluster``: task type -> addresses).

    Raises:
        ConfigError: ``TF_CONFIG`` is missing, not JSON, or does not name this task in its cluster.
    """
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise ConfigError("--distributed needs TF_CONFIG (the cluster and this worker's place in it; see the README, Training)")
    try:
        tf_config = json.loads(raw)
        cluster, task = tf_config["cluster"], tf_config["task"]
        task_type, index = task["type"], int(task["index"])
        if task_type not in ("chief", "worker") or index >= len(cluster.get(task_type, [])):
            raise KeyError("task")
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"TF_CONFIG: not a cluster with this task in it ({e}): {raw}") from None
    return task_type, index, cluster


def is_chief(task_type, index, cluster_has_chief):
    """The chief writes the run: the ``chief`` task, or worker 0 where there is none."""
    return task_type == "chief" or (task_type == "worker" and index == 0 and not cluster_has_chief)


def worker_strategy():
    """``(strategy, worker)`` for this process (``TF_CONFIG``): an object whose ``scope()``
    the model is built and fitted in (TensorFlow: ``MultiWorkerMirroredStrategy``; JAX:
    ``keras.distribution.DataParallel`` over all processes' devices), and None for the chief
    (it writes the run), else this worker's name (``worker-1``).

    Raises:
        ConfigError: the PyTorch backend, or a bad ``TF_CONFIG`` (:func:`cluster_spec`).
    """
    backend = keras.backend.backend()
    if backend not in ("tensorflow", "jax"):
        raise ConfigError(f"--distributed runs on the TensorFlow or JAX backend (KERAS_BACKEND), not {backend}")
    task_type, index, cluster = cluster_spec()
    chiefs = list(cluster.get("chief", []))
    name = None if is_chief(task_type, index, bool(chiefs)) else f"{task_type}-{index}"
    if backend == "jax":
        import jax  # deferred: the JAX backend's own

        addresses = chiefs + list(cluster.get("worker", []))
        process_id = index if task_type == "chief" else index + len(chiefs)
        # CPU processes have no other collectives (GPUs use their own; asking which backend
        # runs would start it, and jax.distributed must come first)
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        keras.distribution.initialize(addresses[0], num_processes=len(addresses), process_id=process_id)
        return keras.distribution.DataParallel(devices=keras.distribution.list_devices()), name
    import tensorflow as tf  # deferred: only under --distributed (TensorFlow backend)

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    patch_keras_multi_worker()
    return strategy, name


def patch_keras_multi_worker():
    """Make Keras 3's TensorFlow trainer ``fit`` under a multi-worker strategy (module
    docstring). Idempotent; changes nothing under any other strategy."""
    if ORIGINAL:
        return
    import tensorflow as tf  # deferred: only under --distributed (TensorFlow backend)
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer as T

    def _local(values, strategy):
        return tree.map_structure(
            lambda v: strategy.experimental_local_results(v)[0] if isinstance(v, tf.distribute.DistributedValues) else v, values)

    original_build = ORIGINAL["_maybe_symbolic_build"] = T.TensorFlowTrainer._maybe_symbolic_build
    original_reduce = ORIGINAL["reduce_per_replica"] = T.reduce_per_replica

    def maybe_symbolic_build(self, iterator=None, data_batch=None):
        if self._distribute_strategy is None or not T._collective_all_reduce_multi_worker(self._distribute_strategy):
            return original_build(self, iterator, data_batch)
        if iterator is not None:
            for _, _, it in iterator:
                data_batch = _local(next(it), self.distribute_strategy)  # every replica's batch has the same structure
                break
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    def reduce_per_replica(values, strategy, reduction):
        if T._collective_all_reduce_multi_worker(strategy) and reduction in ("auto", "mean"):
            return tree.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return original_reduce(values, strategy, reduction)

    T.TensorFlowTrainer._maybe_symbolic_build = maybe_symbolic_build
    T.reduce_per_replica = reduce_per_replica


def weights_digest(model):
    """SHA-256 (first 16 hex digits) of the model's weights in order: workers that trained in
    step print the same digest (the logs show it)."""
    h = hashlib.sha256()
    for w in model.weights:
        h.update(keras.ops.convert_to_numpy(w).tobytes())
    return h.hexdigest()[:16]


def shard_for_workers(dataset, batch_size, windows=None):
    """``dataset`` (batches of ``batch_size``, the global batch) made ready for the
    multi-worker strategy in scope, or as it is outside one.

    TensorFlow: ``tf.data`` shards by file by default, which needs at least as many TFRecord
    files per split as workers; the dataset build writes one file per split up to TFDS's
    shard size (the 36,343 osu! pseudo-state training windows are one file), so each worker
    reads the split and keeps its own share of the windows (``AutoShardPolicy.DATA``).
    JAX: Keras splits each global batch between the processes, which needs a batch size it
    can read from the pipeline; the package's pipeline batches in parallel (and per epoch,
    for resumable order), which hides it, so the windows are batched again with a static
    size (the last, partial batch of the stream is dropped, and an epoch's last batch takes
    the next epoch's first windows: the batches, not the order, differ from one process's).
    ``windows``: the split's size where it is read once (validation): its batches are then
    at most that size, rounded down to a multiple of the processes, so a split smaller than
    a global batch is still read."""
    if keras.backend.backend() == "jax":
        distribution = keras.distribution.distribution()
        processes = getattr(distribution, "num_processes", 1) if distribution is not None else 1
        if processes < 2:
            return dataset
        if windows is not None:
            batch_size = max(processes, min(int(batch_size), int(windows) // processes * processes))
        return dataset.unbatch().batch(int(batch_size), drop_remainder=True)
    import tensorflow as tf  # deferred: only under --distributed (TensorFlow backend)

    if not isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
        return dataset
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)
