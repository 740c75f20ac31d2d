"""Fixtures of the directed-generation tests: small keystroke and wheel models fitted on slices of the real data."""

import pytest

from actiongen_keras.testing.paths import shared_data


@pytest.fixture(scope="session")
def keystroke_model_dir(tmp_path_factory):
    """A keystroke model trained for 3 epochs on 12 training typists of ``../shared/data/keystrokes_aalto``."""
    from actiongen_keras.training.keystrokes import train_keystroke_model

    out = tmp_path_factory.mktemp("keystroke_model")
    train_keystroke_model(shared_data("keystrokes_aalto"), out, max_people=12, epochs=3, batch_size=256)
    return out


@pytest.fixture(scope="session")
def scroll_model_dir(tmp_path_factory):
    """A wheel model fitted on the Balabit training people."""
    from actiongen_keras.training.scroll import fit_scroll_model

    out = tmp_path_factory.mktemp("scroll_model")
    fit_scroll_model(shared_data("balabit"), out, min_intervals=20, max_sessions=2)
    return out
