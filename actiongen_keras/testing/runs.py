"""One tiny model config and untrained run folders built from it (no dataset build, no fit).

Tests, benchmarks and smoke checks share these, so a change of the model's inputs or
files is made once.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np

from actiongen_keras.config import Config, DataConfig
from actiongen_keras.data.normalize import fit_preprocessing
from actiongen_keras.generation.run import RunFiles
from actiongen_keras.models.builder import build_model
from actiongen_keras.models.dataset_meta import DatasetMeta
from actiongen_keras.testing.sessions import tiny_sessions


def tiny_config(max_actions=16, max_history_events=64):
    """A small model (d_model 16, 2 heads, no dropout) on short windows, sampled with one draw a window:
    fast to build, compile, train and roll out.

    A run built from a dataset takes the dataset's window sizes instead (``train()`` does).
    """
    c = Config()
    m = c.model
    m.d_model, m.num_heads, m.ff_dim, m.key_embedding_dim, m.dropout = 16, 2, 32, 4, 0.0
    c.data.max_actions, c.data.max_history_events = int(max_actions), int(max_history_events)
    c.generation.best_of = 1  # one draw a window: the suite's CLI runs compile one batch size (best_of: tests/generation)
    return c


def tiny_train_config(run_eagerly=False):
    """:func:`tiny_config` for ``train()`` on the dummy dataset: the dataset's own window
    sizes (``train()`` would switch to them with a note) and batches of 192 (one step per
    epoch on its 192 training windows). ``run_eagerly``: no graph traced; on so few windows
    tracing costs more than the steps, and an eager step costs seconds whatever its size
    (mostly Adam's per-variable update and the tape), so the batch is the whole split."""
    c = tiny_config()
    c.data = Config().data
    c.train.batch_size = 192
    c.train.run_eagerly = bool(run_eagerly)
    return c


class KillAtEpochEnd(keras.callbacks.Callback):
    """Raises ``RuntimeError("killed")`` at the end of its ``at``-th epoch, counted over every
    ``fit`` it is given to: a run killed mid-training, for the resume tests."""

    def __init__(self, at=1):
        super().__init__()
        self.left = int(at)

    def on_epoch_end(self, epoch, logs=None):
        self.left -= 1
        if self.left == 0:
            raise RuntimeError("killed")


def tiny_data_config():
    """Windows of 4 ticks of 300 ms (24 history events, 10 actions): the export tests' run."""
    return DataConfig(tick_ms=300.0, history_ticks=4, target_ms=600.0, max_history_events=24, max_actions=10)


def untrained_run(sessions, config=None, run_dir=None, seed=0, fast_timing=True, preprocessing=None):
    """Fit the preprocessing on ``sessions`` (all of them, as training data; or take a built
    dataset's ``preprocessing``, whose window sizes then replace the config's), build the model
    of ``config`` (default :func:`tiny_config`) with random weights
    (``keras.utils.set_random_seed(seed)``) and, with ``run_dir``, save it as a run folder
    (``model.keras``, ``config.json``, ``preprocessing.json``, ``dataset_meta.json``) like
    ``actiongen train`` writes.

    ``fast_timing`` biases the timing head towards its fast scale (selector kernel 0, bias
    +5/0/-5): an untrained head spreads intervals over 0..60 s, so most windows
    would end before their first event; this way a window holds several events.

    Returns :class:`~actiongen_keras.generation.run.RunFiles`.
    """
    config = config or tiny_config()
    if preprocessing is not None:
        config.data = preprocessing.data_config
    prep = preprocessing or fit_preprocessing([(s, None) for s in sessions], config.data, all_sessions=sessions)
    meta = DatasetMeta.from_preprocessing(prep).to_dict()
    keras.utils.set_random_seed(seed)
    model = build_model(config, meta)
    if fast_timing:
        sel = model.get_layer("generator").timing.selector
        sel.kernel.assign(np.zeros(sel.kernel.shape, dtype="float32"))
        sel.bias.assign(np.array([5.0, 0.0, -5.0], dtype="float32"))
    path = None
    if run_dir is not None:
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        config.to_json(run_dir / "config.json")
        prep.save(run_dir / "preprocessing.json")
        (run_dir / "dataset_meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        path = run_dir / "model.keras"
        model.save(path)
        path = str(path)
    return RunFiles(model, config, prep, meta, path)


def make_tiny_run(run_dir, seed=0, event_bias=None):
    """The export tests' run folder: :func:`untrained_run` of :func:`tiny_sessions` on
    :func:`tiny_data_config` windows, without the timing bias; returns ``run_dir``.

    The model is untrained (random weights, ``seed``): parity, not quality, is what the
    export tests check. ``event_bias``: ``{event class: value}`` added to the event head's
    bias (e.g. to make releases / key_ups likely, so the held-state masks decide events).
    """
    config = tiny_config()
    config.data = tiny_data_config()
    run = untrained_run(tiny_sessions(), config, seed=seed, fast_timing=False)
    if event_bias:
        bias = run.model.get_layer("generator").event_head.bias
        b = np.array(bias.numpy())
        for cls, v in event_bias.items():
            b[int(cls)] += float(v)
        bias.assign(b)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    run.model.save(run_dir / "model.keras")
    run.preprocessing.save(run_dir / "preprocessing.json")
    config.to_json(run_dir / "config.json")
    (run_dir / "dataset_meta.json").write_text(json.dumps(run.meta) + "\n")
    return run_dir
