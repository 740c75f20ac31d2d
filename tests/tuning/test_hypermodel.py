"""The search space, config_from_hparams and the val_skill formula (no training)."""

import itertools
import math

import keras_tuner
import pytest

from actiongen_keras.config import Config
from actiongen_keras.errors import ConfigError
from actiongen_keras.tuning.hypermodel import (
    DEFAULT_SPACE,
    HP_NAMES,
    base_hparams,
    config_from_hparams,
    declare_hparams,
    largest_divisor_at_most,
    resolve_space,
)
from actiongen_keras.tuning.objective import (
    PARTS,
    best_baseline_values,
    composite,
    part_ratios,
)

NON_DEFAULT = {
    "d_model": 96,
    "num_heads": 8,
    "num_layers": 3,
    "dropout": 0.3,
    "timing_boundaries": "50-200",
    "efficient_attention": True,
    "loss_weight_timing": 2.0,
    "loss_weight_xy": 0.5,
    "loss_weight_seq_len": 0.25,
    "learning_rate": 3e-4,
    "batch_size": 128,
}


def test_every_hyperparameter_lands_in_the_config():
    assert set(NON_DEFAULT) == set(HP_NAMES)
    base = Config()
    c = config_from_hparams(base, NON_DEFAULT)
    assert c.model.d_model == 96
    assert c.model.ff_dim == 96 * base.model.ff_dim // base.model.d_model  # the base's ratio (2x)
    assert c.model.num_heads == 8
    assert c.model.num_layers == 3
    assert c.model.dropout == 0.3
    assert c.model.timing_boundaries_ms == (50.0, 200.0)
    assert c.model.efficient_attention is True
    assert c.train.loss_weights["timing"] == 2.0
    assert c.train.loss_weights["xy"] == 0.5
    assert c.train.loss_weights["seq_len"] == 0.25
    for head in ("event_type", "button", "key", "scroll"):  # not tuned: the base's
        assert c.train.loss_weights[head] == base.train.loss_weights[head]
    assert c.train.learning_rate == 3e-4
    assert c.train.batch_size == 128
    # The base config is not modified, and the result round-trips through JSON.
    assert base == Config()
    assert Config.from_json(c.to_json()) == c


def test_timing_boundary_choices():
    base = Config()
    base.model.timing_boundaries_ms = (80.0, 250.0)
    assert config_from_hparams(base, {"timing_boundaries": "config"}).model.timing_boundaries_ms == (80.0, 250.0)
    assert config_from_hparams(base, {"timing_boundaries": "data"}).model.timing_boundaries_ms is None
    assert config_from_hparams(base, {"timing_boundaries": "200-600"}).model.timing_boundaries_ms == (200.0, 600.0)
    with pytest.raises(ConfigError, match="timing_boundaries"):
        config_from_hparams(base, {"timing_boundaries": "fast"})


def test_defaults_reproduce_the_base_config_and_hyperband_keys_are_ignored():
    base = Config()
    values = dict(base_hparams(base), **{"tuner/epochs": 3, "tuner/trial_id": "0001"})
    assert config_from_hparams(base, values) == base
    with pytest.raises(ConfigError, match="unknown hyperparameter"):
        config_from_hparams(base, {"d_modle": 32})


def test_heads_always_divide_d_model():
    base = Config()
    for d, h in itertools.product(DEFAULT_SPACE["d_model"] + [24, 40, 48, 100], DEFAULT_SPACE["num_heads"] + [3, 5, 6, 16]):
        c = config_from_hparams(base, {"d_model": d, "num_heads": h})
        assert c.model.d_model % c.model.num_heads == 0, (d, h)
        assert 1 <= c.model.num_heads <= h
        if d % h == 0:
            assert c.model.num_heads == h  # a dividing choice is kept as is
    assert largest_divisor_at_most(48, 5) == 4 and largest_divisor_at_most(7, 4) == 1
    # A base config whose heads do not divide a sampled d_model is fixed too.
    c = config_from_hparams(base, {"d_model": 36})
    assert c.model.d_model == 36 and 36 % c.model.num_heads == 0


def test_declared_space_samples_valid_configs():
    hp = keras_tuner.HyperParameters()
    space = resolve_space({"dropout": [0, 0.5], "batch_size": [16]})
    assert space["dropout"] == [0.0, 0.5]  # one type for KerasTuner's Choice
    values = declare_hparams(hp, space, base_hparams(Config()))
    assert set(values) == set(HP_NAMES)
    assert values["d_model"] == 64 and values["num_heads"] == 4 and values["batch_size"] == 16
    assert values["efficient_attention"] is False
    for seed in range(20):  # random samples of the space map onto buildable sizes
        sample = {p.name: p.random_sample(seed) for p in hp.space}
        c = config_from_hparams(Config(), sample)
        assert c.model.d_model % c.model.num_heads == 0
        assert 1e-4 <= c.train.learning_rate <= 3e-3
    with pytest.raises(ConfigError, match="unknown hyperparameter"):
        resolve_space({"width": [1, 2]})


def test_val_skill_formula():
    baselines = {
        "a": {"event_macro_f1": 0.2, "timing_mae_ms_nonmove": 100.0, "coord_mae_px": 50.0, "seq_len_acc_within1": 0.5},
        "b": {"event_macro_f1": 0.4, "timing_mae_ms_nonmove": 80.0, "coord_mae_px": float("nan"), "seq_len_acc_within1": 0.25},
    }
    ref = best_baseline_values(baselines)
    assert ref == {"event_macro_f1": (0.4, "b"), "timing_mae_ms_nonmove": (80.0, "b"), "coord_mae_px": (50.0, "a"),
                   "seq_len_acc_within1": (0.5, "a")}
    model = {"event_macro_f1": 0.8, "timing_mae_ms_nonmove": 40.0, "coord_mae_px": 50.0, "seq_len_acc_within1": 0.25}
    r = part_ratios(model, ref)
    assert r == pytest.approx({"event_macro_f1": 2.0, "timing_mae_ms_nonmove": 2.0, "coord_mae_px": 1.0, "seq_len_acc_within1": 0.5})
    assert composite(model, ref) == pytest.approx((2.0 * 2.0 * 1.0 * 0.5) ** 0.25)
    # Matching the best baselines scores exactly 1.
    assert composite({p: ref[p][0] for p in PARTS}, ref) == pytest.approx(1.0)
    # A NaN model part (diverged) is floored; a part without a reference is left out.
    assert part_ratios(dict(model, coord_mae_px=float("nan")), ref)["coord_mae_px"] == 1e-3
    ref2 = dict(ref, timing_mae_ms_nonmove=(float("nan"), None))
    assert set(part_ratios(model, ref2)) == set(PARTS) - {"timing_mae_ms_nonmove"}
    assert math.isnan(composite(model, {p: (float("nan"), None) for p in PARTS}))
