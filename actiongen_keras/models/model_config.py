"""Helpers shared by the model builders, the losses and the metrics."""

from __future__ import annotations

from actiongen_keras.config import Config, ModelConfig
from actiongen_keras.data import features as F
from actiongen_keras.errors import ConfigError
from actiongen_keras.layers.context_aware_generator import xy_width
from actiongen_keras.layers.multi_scale_timing import (
    DEFAULT_BOUNDARIES_MS,
    DEFAULT_MAX_MS,
    NUM_SCALES,
    boundaries_from_quantiles,
)
from actiongen_keras.models.dataset_meta import DatasetMeta


def as_model_config(config):
    """``Config`` or ``ModelConfig`` (or its dict) -> ``ModelConfig``."""
    if isinstance(config, Config):
        return config.model
    if isinstance(config, ModelConfig):
        return config
    if isinstance(config, dict):
        return Config.from_dict({"model": config}).model
    raise ConfigError(f"expected a Config or ModelConfig, got {type(config).__name__}")


def timing_spec(config, dataset_meta):
    """``{"boundaries_ms": (b0, b1), "max_ms", "num_components"}`` of the timing head.

    Boundaries: ``ModelConfig.timing_boundaries_ms`` when set; else the terciles implied by
    ``dataset_meta["timing_quantiles_ms"]``; else the default (100, 300) ms.
    """
    cfg = as_model_config(config)
    meta = DatasetMeta.from_dict(dataset_meta)
    if cfg.timing_boundaries_ms is not None:
        b = tuple(float(x) for x in cfg.timing_boundaries_ms)
        if len(b) != 2 or not 0 < b[0] < b[1] < DEFAULT_MAX_MS:
            raise ConfigError(f"model.timing_boundaries_ms must be two increasing ms values, got {cfg.timing_boundaries_ms!r}")
    elif meta.timing_quantiles_ms:
        b = boundaries_from_quantiles(meta.timing_quantiles_ms, max_ms=DEFAULT_MAX_MS)
    else:
        b = DEFAULT_BOUNDARIES_MS
    return {"boundaries_ms": b, "max_ms": DEFAULT_MAX_MS, "num_components": int(cfg.num_timing_components)}


def output_signature(config, dataset_meta):
    """``{name: shape}`` of the model outputs (batch dimension omitted)."""
    cfg = as_model_config(config)
    meta = DatasetMeta.from_dict(dataset_meta)
    A1 = meta.max_actions + 1
    return {
        "event_type": (A1, F.NUM_EVENT_CLASSES),
        "timing": (A1, NUM_SCALES + NUM_SCALES * 3 * int(cfg.num_timing_components)),
        "xy": (A1, xy_width(cfg.num_xy_mixtures, cfg.xy_frame)),
        "button": (A1, F.NUM_BUTTONS),
        "key": (A1, meta.num_keys),
        "scroll": (A1, 2, F.NUM_SCROLL_CLASSES),
        "dwell": (A1, NUM_SCALES + NUM_SCALES * 3 * int(cfg.num_timing_components)),
        "seq_len": (A1,),
    }
