import math

import numpy as np
import pytest
from keras import ops

from actiongen_keras.data import features as F
from actiongen_keras.training.metrics import (
    XYMAE,
    MacroF1,
    MaskedAccuracy,
    SeqLenAccuracy,
    TimingMAE,
)


def _timing_params_with_median(ms):
    """One narrow symmetric component inside the right scale: median = ms."""
    p = np.zeros((3 + 27,), "float32")
    s = 0 if ms < 100 else (1 if ms < 300 else 2)
    p[:3] = -20.0
    p[s] = 20.0
    base = 3 + s * 9
    p[base : base + 3] = [10.0, -10.0, -10.0]  # component 0 dominates
    p[base + 3] = math.log1p(ms)
    p[base + 6 : base + 9] = -10.0
    return p


def test_timing_mae_uses_the_median():
    params = np.stack([_timing_params_with_median(m) for m in (20.0, 150.0, 800.0)])[None]
    y = np.array([[30.0, 150.0, 1000.0]], "float32")
    w = np.array([[1.0, 1.0, 0.0]], "float32")
    m = TimingMAE()
    m.update_state(y, params, w)
    assert float(ops.convert_to_numpy(m.result())) == pytest.approx(5.0, abs=0.05)


def test_seq_len_accuracy():
    logits = np.eye(5, dtype="float32")[[0, 2, 4, 1]]
    y = np.array([0, 3, 1, 1])
    exact, within = SeqLenAccuracy(0), SeqLenAccuracy(1)
    exact.update_state(y, logits)
    within.update_state(y, logits)
    assert float(ops.convert_to_numpy(exact.result())) == pytest.approx(0.5)
    assert float(ops.convert_to_numpy(within.result())) == pytest.approx(0.75)


def test_event_accuracy_and_macro_f1_match_sklearn():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    y = rng.integers(1, F.NUM_EVENT_CLASSES, (4, 6))
    logits = rng.normal(size=(4, 6, F.NUM_EVENT_CLASSES)).astype("float32")
    w = (rng.random((4, 6)) > 0.3).astype("float32")
    yt, yp = y[w > 0], logits.argmax(-1)[w > 0]
    acc, f1 = (yt == yp).mean(), f1_score(yt, yp, labels=np.unique(yt), average="macro")
    m, a = MacroF1(F.NUM_EVENT_CLASSES), MaskedAccuracy()
    m.update_state(y[:2], logits[:2], w[:2])
    m.update_state(y[2:], logits[2:], w[2:])
    a.update_state(y, logits, w)
    assert float(ops.convert_to_numpy(m.result())) == pytest.approx(f1, rel=1e-5)
    assert float(ops.convert_to_numpy(a.result())) == pytest.approx(acc, rel=1e-5)
    m.reset_state()
    assert float(ops.convert_to_numpy(m.result())) == 0.0


def test_xy_mae_in_screen_units():
    M = 2
    p = np.zeros((1, 2, 5 * M), "float32")
    p[..., 0] = 5.0  # component 0 is the point prediction
    p[0, :, 2] = [0.5, 0.25]  # mu_x of component 0
    p[0, :, 4] = [0.5, 0.75]  # mu_y of component 0
    y = np.array([[[0.6, 0.5], [0.0, 0.0]]], "float32")
    w = np.array([[1.0, 0.0]], "float32")
    m = XYMAE(M)
    m.update_state(y, p, w)
    assert float(ops.convert_to_numpy(m.result())) == pytest.approx(0.05, rel=1e-5)


def test_configs_round_trip():
    for m in (TimingMAE((50.0, 500.0), 2), SeqLenAccuracy(1), MacroF1(8), MaskedAccuracy(name="key_acc"), XYMAE(3)):
        assert type(m).from_config(m.get_config()).get_config() == m.get_config()
