"""A run folder for generation: the trained model with its config, preprocessing and dataset meta."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import actiongen_keras
from actiongen_keras.config import Config
from actiongen_keras.data.jsonfile import load_json
from actiongen_keras.data.normalize import load_preprocessing
from actiongen_keras.errors import ActiongenError
from actiongen_keras.models.dataset_meta import DatasetMeta


class RunFiles:
    """What a run folder holds for generation: model, Config, Preprocessing, dataset meta."""

    def __init__(self, model, config, preprocessing, meta, path=None):
        self.model, self.config, self.preprocessing, self.meta, self.path = model, config, preprocessing, meta, path


def load_run(model_or_run_dir):
    """``RUN_DIR`` or ``RUN_DIR/model.keras`` -> :class:`RunFiles` (``config.json``,
    ``preprocessing.json``, ``dataset_meta.json`` from the same folder).

    Raises ActiongenError when a file is missing.
    """
    p = Path(model_or_run_dir)
    run_dir, model_path = (p, p / "model.keras") if p.is_dir() else (p.parent, p)
    if not model_path.exists():
        raise ActiongenError(f"{model_path}: no such model file (expected RUN_DIR/model.keras from 'actiongen train')")
    if not (run_dir / "preprocessing.json").exists():
        raise ActiongenError(f"{run_dir}: no preprocessing.json beside the model (a run folder from 'actiongen train' has one)")

    model = actiongen_keras.load_model(model_path, compile=False)
    config = Config.from_json(run_dir / "config.json") if (run_dir / "config.json").exists() else Config()
    prep = load_preprocessing(run_dir)
    meta_path = run_dir / "dataset_meta.json"
    meta = load_json(meta_path, meta_path.name)[0] if meta_path.exists() else DatasetMeta.from_preprocessing(prep).to_dict()
    return RunFiles(model, config, prep, meta, str(model_path))


def run_sampling(model_or_run_dir, given=None, names=None):
    """``{name: value}`` of the sampling options ``names`` (default: every field of the
    ``generation`` config section): those ``given`` (``None`` = not given), the others from the
    ``generation`` section of the run's ``config.json`` (the defaults without one). The one rule
    of ``actiongen generate``, ``evaluate`` and ``export``: what a run samples with unless told
    otherwise."""
    p = Path(model_or_run_dir)
    path = (p if p.is_dir() else p.parent) / "config.json"
    saved = Config.from_json(path).generation if path.exists() else Config().generation
    names = tuple(names) if names is not None else tuple(f.name for f in dataclasses.fields(saved))
    given = {k: v for k, v in (given or {}).items() if v is not None}
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise ActiongenError(f"sampling options here are {', '.join(names)}; got {', '.join(unknown)}")
    return {k: given.get(k, getattr(saved, k)) for k in names}


__all__ = ["RunFiles", "load_run", "run_sampling"]
