"""The one configuration tree round-trips through JSON and rejects typos by name."""

import pytest

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
