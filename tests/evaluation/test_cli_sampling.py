"""generate/evaluate take their sampling settings from the command line, else from the run's config.json."""

import argparse

from actiongen_keras.config import Config
from actiongen_keras.evaluation.cli import add_evaluation_parsers, sampling_settings


def _args(*argv):
    p = argparse.ArgumentParser()
    p.add_argument("-q", "--quiet", action="store_true")
    add_evaluation_parsers(p.add_subparsers(dest="command"))
    return p.parse_args(list(argv))


def test_command_line_over_run_config_over_defaults(tmp_path):
    c = Config()
    c.generation.temperature, c.generation.top_p, c.generation.seed, c.generation.xy_noise_corr = 0.5, 0.9, 7, 0.3
    c.generation.xy_top_p, c.generation.best_of = 0.8, 3
    c.to_json(tmp_path / "config.json")
    args = _args("generate", "--model", str(tmp_path / "model.keras"), "--context", "c", "--out", "o", "--top-k", "3", "--top-p", "1")
    assert sampling_settings(args) == {"seed": 7, "temperature": 0.5, "top_k": 3, "top_p": 1.0, "xy_noise_corr": 0.3, "xy_top_p": 0.8,
                                     "best_of": 3}
    # a run folder without config.json: the GenerationConfig defaults (seed null -> 0)
    args = _args("evaluate", "--model", str(tmp_path / "other_run" / "model.keras"), "--sessions", "s", "--out", "o", "--temperature", "0", "--xy-top-p", "0.6",
                 "--best-of", "2")
    assert sampling_settings(args) == {"seed": 0, "temperature": 0.0, "top_k": 0, "top_p": 1.0, "xy_noise_corr": 0.0, "xy_top_p": 0.6,
                                       "best_of": 2}


def test_best_of_must_be_a_whole_number_of_draws(capsys):
    for bad in ("0", "1.5"):
        try:
            _args("evaluate", "--model", "m", "--sessions", "s", "--out", "o", "--best-of", bad)
        except SystemExit as e:
            assert e.code == 2
        else:
            raise AssertionError(f"--best-of {bad} accepted")
        assert "--best-of" in capsys.readouterr().err
