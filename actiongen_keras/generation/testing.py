"""An untrained run folder from a few sessions, for tests and benchmarks (no dataset build, no fit)."""

from __future__ import annotations

import json
from pathlib import Path

from actiongen_keras.config import Config


def damp_time_feedback(model, factor):
    """Scale the kernels that read generated times by ``factor``: the time encodings (``dt``,
    ``t_after``) of the event embedding and the generator, and the anchor query's
    time-to-anchor features. With random weights a window's intervals depend on the earlier
    intervals chaotically: float32 rounding differences between two compilations of the same
    model (e.g. the sampler's XLA step and its eager step) grow about tenfold per event; a
    small factor keeps two greedy paths comparable (parity tests)."""
    emb, gen = model.get_layer("event_embedding"), model.get_layer("generator")
    for enc in (emb.dt_encoding, emb.offset_encoding, gen.dt_encoding, gen.t_after_encoding):
        enc.projection.kernel.assign(enc.projection.kernel.numpy() * float(factor))
    pair_in = gen.anchor_query.pair_in.kernel
    k = pair_in.numpy()
    k[4:7] *= float(factor)  # rows 4-6: state_anchor_query.anchor_step_features' time terms
    pair_in.assign(k)


def untrained_run(sessions, config=None, run_dir=None, seed=0, fast_timing=True, time_feedback=1.0):
    """Fit the preprocessing on ``sessions`` (all of them, as training data), build the model
    of ``config`` with random weights (``keras.utils.set_random_seed(seed)``) and, with
    ``run_dir``, save it as a run folder (``model.keras``, ``config.json``,
    ``preprocessing.json``, ``dataset_meta.json``) like ``actiongen train`` writes.

    ``fast_timing`` biases the timing head towards its fast scale (selector kernel 0, bias
    +5/0/-5): an untrained head spreads intervals over 0..60 s, so most windows
    would end before their first event; this way a window holds several events.
    ``time_feedback``: see :func:`damp_time_feedback`.

    Returns :class:`~actiongen_keras.generation.incremental.RunFiles`.
    """
    import keras

    from actiongen_keras.data.normalize import fit_preprocessing
    from actiongen_keras.generation.incremental import RunFiles
    from actiongen_keras.models.builder import build_model
    from actiongen_keras.training.train import dataset_meta_from_preprocessing

    config = config or Config()
    prep = fit_preprocessing([(s, None) for s in sessions], config.data, all_sessions=sessions)
    meta = dataset_meta_from_preprocessing(prep)
    keras.utils.set_random_seed(seed)
    model = build_model(config, meta)
    if fast_timing:
        import numpy as np

        sel = model.get_layer("generator").timing.selector
        sel.kernel.assign(np.zeros(sel.kernel.shape, dtype="float32"))
        sel.bias.assign(np.array([5.0, 0.0, -5.0], dtype="float32"))
    if time_feedback != 1.0:
        damp_time_feedback(model, time_feedback)
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


def tiny_config(max_actions=16, max_history_events=64):
    """A small model (d_model 16) on short windows: fast to build and compile."""
    c = Config()
    c.model.d_model, c.model.num_heads, c.model.ff_dim, c.model.key_embedding_dim = 16, 2, 32, 4
    c.data.max_actions, c.data.max_history_events = int(max_actions), int(max_history_events)
    return c


__all__ = ["tiny_config", "untrained_run"]
