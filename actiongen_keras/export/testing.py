"""A tiny run folder (untrained model + fitted preprocessing) for the export tests and smoke checks."""

from __future__ import annotations

import json
from pathlib import Path


def tiny_sessions():
    from datasets.actiongen_sessions.make_dummy_data import synthetic_session

    return [
        synthetic_session("osu-a", "alice", source="osu", duration_s=12, rate_hz=40, seed=1, with_state=True, screen=(512, 384),
                          state_step_ms=170.0),
        synthetic_session("sapi-b", "bob", source="sapimouse", duration_s=12, rate_hz=30, seed=2, keys=True, scroll=True),
    ]


def tiny_data_config():
    from actiongen_keras.config import DataConfig

    return DataConfig(tick_ms=300.0, history_ticks=4, target_ms=600.0, max_history_events=24, max_actions=10)


def make_tiny_run(run_dir, seed=0, event_bias=None):
    """Write ``run_dir/{model.keras, preprocessing.json, config.json, dataset_meta.json}``; returns ``run_dir``.

    The model is untrained (random weights, ``seed``): parity, not quality, is what the
    export tests check. ``event_bias``: ``{event class: value}`` added to the event head's
    bias (e.g. to make releases / key_ups likely, so the held-state masks decide events).
    """
    import keras

    from actiongen_keras.config import Config
    from actiongen_keras.data.normalize import fit_preprocessing
    from actiongen_keras.models.builder import build_model
    from actiongen_keras.training.train import dataset_meta_from_preprocessing

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    sessions = tiny_sessions()
    prep = fit_preprocessing([(s, None) for s in sessions], tiny_data_config(), all_sessions=sessions)
    cfg = Config()
    cfg.data = prep.data_config
    cfg.model.d_model, cfg.model.num_heads, cfg.model.ff_dim, cfg.model.dropout = 16, 2, 32, 0.0
    meta = dataset_meta_from_preprocessing(prep)
    keras.utils.set_random_seed(seed)
    model = build_model(cfg, meta)
    if event_bias:
        import numpy as np

        bias = model.get_layer("generator").event_head.bias
        b = np.array(bias.numpy())
        for cls, v in event_bias.items():
            b[int(cls)] += float(v)
        bias.assign(b)
    model.save(run_dir / "model.keras")
    prep.save(run_dir / "preprocessing.json")
    cfg.to_json(run_dir / "config.json")
    (run_dir / "dataset_meta.json").write_text(json.dumps(meta) + "\n")
    return run_dir
