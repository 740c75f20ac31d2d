"""The one configuration tree round-trips through JSON and rejects typos by name."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actiongen_keras.config import Config
from actiongen_keras.errors import ConfigError


def test_json_round_trip_is_identity(tmp_path):
    c = Config()
    c.model.d_model = 96
    c.model.timing_boundaries_ms = (80.0, 250.0)
    c.train.loss_weights["xy"] = 2.0
    c.to_json(tmp_path / "c.json")
    back = Config.from_json(tmp_path / "c.json")
    assert back == c
    assert back.model.timing_boundaries_ms == (80.0, 250.0)


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"model": {"d_modle": 3}}', "d_modle"),
        ('{"modle": {}}', "modle"),
        ('{"train": {"epochs": "ten"}}', "train.epochs"),
        ('{"model": {"efficient_attention": 1}}', "model.efficient_attention"),
        ("{oops", "not valid JSON"),
    ],
)
def test_bad_config_names_the_key(text, message):
    with pytest.raises(ConfigError, match=message):
        Config.from_json(text)


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"train": {"learning_rate": NaN}}', "train.learning_rate must be a finite number"),
        ('{"train": {"learning_rate": -0.001}}', "train.learning_rate must be > 0"),
        ('{"train": {"learning_rate": 0}}', "train.learning_rate must be > 0"),
        ('{"train": {"batch_size": 0}}', "train.batch_size must be >= 1"),
        ('{"train": {"epochs": 0}}', "train.epochs must be >= 1"),
        ('{"train": {"loss_weights": {"xy": -1}}}', "train.loss_weights.xy must be >= 0"),
        ('{"train": {"clipnorm": Infinity}}', "train.clipnorm must be a finite number"),
        ('{"model": {"dropout": 1.0}}', "model.dropout must be < 1"),
        ('{"generation": {"top_p": 0}}', "generation.top_p must be > 0"),
        ('{"generation": {"temperature": -1}}', "generation.temperature must be >= 0"),
        ('{"data": {"tick_ms": 0}}', "data.tick_ms must be > 0"),
        ('{"train": {"epochs": 1.5}}', "train.epochs must be a whole number"),
        ('{"generation": {"best_of": 0}}', "generation.best_of must be >= 1"),
        ('{"generation": {"best_of": 2.5}}', "generation.best_of must be a whole number"),
    ],
)
def test_out_of_range_values_are_refused_by_name(text, message):
    with pytest.raises(ConfigError, match=message):
        Config.from_json(text)


@given(st.floats(allow_nan=True, allow_infinity=True))
@settings(max_examples=60, deadline=None)
def test_learning_rate_is_accepted_exactly_when_finite_and_positive(lr):
    text = json.dumps({"train": {"learning_rate": lr}})  # json writes NaN/Infinity, which json.loads reads back
    if math.isfinite(lr) and lr > 0:
        assert Config.from_json(text).train.learning_rate == lr
    else:
        with pytest.raises(ConfigError, match="train.learning_rate"):
            Config.from_json(text)


def test_check_catches_values_set_in_python():
    c = Config()
    c.train.batch_size = 0
    with pytest.raises(ConfigError, match="train.batch_size must be >= 1, got 0"):
        c.check()
    assert Config().check() == Config()
