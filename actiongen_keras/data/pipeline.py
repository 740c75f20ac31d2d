"""``tf.data`` input pipeline over a built dataset, plus the NumPy path.

``make_dataset(DATA_DIR, "train")`` yields ``(inputs, targets, sample_weights)``, three
dicts keyed as in :mod:`actiongen_keras.data.features`, batched. Keras 3 accepts this
structure in ``model.fit`` on the TensorFlow, JAX and PyTorch backends (per-output
sample weights as a dict with the outputs' names; tested in ``tests/data``).

For small in-memory use (generation, evaluation) use
:func:`~actiongen_keras.data.windows.windows_from_sessions` (re-exported here) or
:func:`numpy_dataset`.
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf
import tensorflow_datasets as tfds

from actiongen_keras.data import features as F
from actiongen_keras.data.build import ActiongenSessions
from actiongen_keras.data.normalize import load_preprocessing
from actiongen_keras.data.splits import canonical_split
from actiongen_keras.data.windows import windows_from_sessions  # noqa: F401  (re-export)
from actiongen_keras.errors import DataError

SHUFFLE_BUFFER = 4096


def shapes(preprocessing):
    """``(input_shapes, target_shapes, weight_shapes)``, batch dimension omitted."""
    c = preprocessing.data_config
    ins = {k: s for k, (s, _) in preprocessing.input_signature().items()}
    tgs = {k: s for k, (s, _) in F.target_signature(c.max_actions).items()}
    wts = F.weight_signature(c.max_actions)
    return ins, tgs, wts


def load_builder(data_dir, preprocessing=None):
    """The prepared :class:`ActiongenSessions` builder of ``data_dir``."""
    prep = preprocessing or load_preprocessing(data_dir)
    name = prep.builder_config or "all"
    builder = ActiongenSessions(config=name, data_dir=str(data_dir))
    if not Path(str(builder.data_path), "dataset_info.json").exists():
        raise DataError(f"{data_dir}: no built dataset for config '{name}' (run actiongen dataset build)")
    return builder


def steps_per_epoch(data_dir, split, batch_size, drop_remainder=False):
    """Batches in one pass over ``split`` (what ``fit`` needs with ``make_dataset(first_epoch=...)``)."""
    n = int(load_builder(data_dir).info.splits[canonical_split(split)].num_examples)
    return n // batch_size if drop_remainder else -(-n // batch_size)


def make_dataset(data_dir, split, batch_size=64, shuffle=True, cache=False, deterministic=False, seed=None,
                 repeat=False, drop_remainder=False, shuffle_buffer=SHUFFLE_BUFFER, with_meta=False, first_epoch=None):
    """Batched ``(inputs, targets, sample_weights)`` from a built dataset.

    Args:
        data_dir: the ``DATA_DIR`` given to ``build_dataset``.
        split: ``train``, ``validation`` (or ``val``), ``test``; TFDS slicing works
            (``"train[:10%]"``).
        shuffle: shuffle files and windows (buffer ``shuffle_buffer``).
        cache: cache decoded windows in memory after the first pass.
        deterministic: same order on every run (with ``seed``; default seed 0 when
            shuffling), at some cost in parallelism. Always on without ``shuffle``: an
            unshuffled read is in the stored order, so that validation losses and metrics
            (float sums, whose last bits depend on the order) repeat run to run.
        repeat: repeat forever (use ``steps_per_epoch``).
        with_meta: a fourth element ``{"session_id", "t_ms"}`` (not for ``fit``).
        first_epoch: with ``shuffle``, an endless stream of epochs ``first_epoch``,
            ``first_epoch + 1``, ... whose window order depends only on ``seed`` and the
            epoch number (give ``fit`` :func:`steps_per_epoch`). A run resumed at epoch e
            then sees the batches an uninterrupted run sees at epoch e; tf.data's own
            reshuffling would start again from the first epoch's order.
    """
    prep = load_preprocessing(data_dir)
    builder = load_builder(data_dir, prep)
    split = canonical_split(split)
    deterministic = deterministic or not shuffle
    if deterministic and seed is None:
        seed = 0
    read_config = tfds.ReadConfig(shuffle_seed=seed, try_autocache=False)
    if deterministic:
        opts = tf.data.Options()
        opts.deterministic = True
        read_config.options = opts
    ds = builder.as_dataset(split=split, shuffle_files=shuffle, read_config=read_config)
    ins_s, tgs_s, wts_s = shapes(prep)

    def to_tuple(ex):
        ins = {k: tf.ensure_shape(ex["inputs"][k], ins_s[k]) for k in F.INPUT_NAMES}
        tgs = {k: tf.ensure_shape(ex["targets"][k], tgs_s[k]) for k in F.TARGET_NAMES}
        wts = {k: tf.ensure_shape(ex["weights"][k], wts_s[k]) for k in F.TARGET_NAMES}
        if with_meta:
            return ins, tgs, wts, {"session_id": ex["session_id"], "t_ms": ex["t_ms"]}
        return ins, tgs, wts

    ds = ds.map(to_tuple, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic or None)
    if cache:
        ds = ds.cache()
    batch_kw = {"drop_remainder": drop_remainder, "num_parallel_calls": tf.data.AUTOTUNE, "deterministic": deterministic or None}
    if shuffle and first_epoch is not None:
        base = ds
        seed = 0 if seed is None else int(seed)

        def one_epoch(e):
            # Epoch e's order is a function of (seed, e) alone, so this function's graph takes no
            # graph-level seed. With one, TF compares (graph seed, op seed) with (0, 0) in Python,
            # and a global seed of 0 (keras.utils.set_random_seed(0), train.seed 0) made that
            # comparison read the tensor op seed as a bool: the pipeline could not be built.
            tf.compat.v1.get_default_graph().seed = None
            order = base.shuffle(shuffle_buffer, seed=e * 1_000_003 + seed, reshuffle_each_iteration=False)
            return order.batch(batch_size, **batch_kw)

        ds = tf.data.Dataset.range(int(first_epoch), 2**62).flat_map(one_epoch)
    else:
        if shuffle:
            ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        if repeat:
            ds = ds.repeat()
        ds = ds.batch(batch_size, **batch_kw)
    opts = tf.data.Options()
    opts.deterministic = bool(deterministic)
    ds = ds.with_options(opts)
    return ds.prefetch(tf.data.AUTOTUNE)


def numpy_dataset(inputs, targets, weights, batch_size=64, shuffle=True, seed=None, repeat=False, drop_remainder=False):
    """A ``tf.data`` pipeline over in-memory window arrays (from ``windows_from_sessions``)."""
    ds = tf.data.Dataset.from_tensor_slices((inputs, targets, weights))
    if shuffle:
        n = len(targets["seq_len"])
        ds = ds.shuffle(max(n, 1), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
