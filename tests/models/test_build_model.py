import keras
import numpy as np
import pytest

from actiongen_keras.config import Config, ModelConfig
from actiongen_keras.data import features as F
from actiongen_keras.errors import ConfigError
from actiongen_keras.models import (
    DatasetMeta,
    build_gru_baseline,
    build_model,
    output_signature,
    timing_spec,
)
from actiongen_keras.testing.batches import random_batch
from actiongen_keras.testing.runs import tiny_config
from actiongen_keras.training.losses import build_losses
from actiongen_keras.training.train import compile_model

META = {"num_state_numeric": 3, "state_categorical_vocab_sizes": [4, 6], "num_keys": 10, "max_history_events": 6, "max_actions": 3, "history_ticks": 3}
CFG = tiny_config().model
BUILDERS = {"attention": build_model, "efficient": lambda c, m: build_model(ModelConfig(**{**CFG.__dict__, "efficient_attention": True}), m), "gru": build_gru_baseline}


@pytest.fixture(scope="module", params=list(BUILDERS))
def model(request):
    return BUILDERS[request.param](CFG, META)


def _predict(model, x):
    return {k: np.asarray(v) for k, v in model.predict(x, verbose=0).items()}


def test_named_inputs_outputs_and_shapes(model):
    assert sorted(model.input_names if hasattr(model, "input_names") else [t.name for t in model.inputs]) == sorted(F.INPUT_NAMES)
    assert set(model.output.keys()) == set(F.TARGET_NAMES)
    sig = output_signature(CFG, META)
    x, _, _ = random_batch(META, 3)
    out = _predict(model, x)
    for name in F.TARGET_NAMES:
        assert out[name].shape == (3,) + sig[name], name
        assert np.isfinite(out[name]).all()


@pytest.mark.parametrize("builder", ["attention", "gru"])
def test_sources_without_state_features_train(builder):
    """SapiMouse-like data: no state column at all (S = C = 0), anchors absent."""
    meta = {**META, "num_state_numeric": 0, "state_categorical_vocab_sizes": []}
    m = BUILDERS[builder](CFG, meta)
    x, y, w = random_batch(meta, 5, seed=1)
    x["state_mask"][:] = 0.0
    x["anchor_mask"][:] = 0.0
    out = _predict(m, x)
    assert out["event_type"].shape == (5, 4, F.NUM_EVENT_CLASSES) and all(np.isfinite(v).all() for v in out.values())
    config = Config()
    config.model = CFG
    compile_model(m, config, meta)
    # compile_model built the optimizer's and the metrics' variables ahead (TensorFlow: the train
    # step is then traced once, not a second time after the first call creates them)
    assert m.optimizer.built and len(m.optimizer.variables) > 1
    m.run_eagerly = True  # one step: tracing and XLA-compiling it would take a minute
    logs = m.train_on_batch(x, y, sample_weight=w, return_dict=True)
    assert np.isfinite(logs["loss"])


@pytest.mark.parametrize("frame", ["motion", "polar", "polar_factored", "polar with the step context"])
def test_motion_and_polar_frame_models_output_train_and_reload(tmp_path, frame):
    """``model.xy_frame`` "motion" / "polar": the xy output carries the direction / the cursor
    after the 5M params ("polar_factored": then its M turn logits; output_signature says so),
    the compiled loss reads that frame, a training step's loss is finite, and the frame reloads."""
    step_context = frame.endswith("step context")
    frame = frame.split()[0]
    cfg = ModelConfig(**{**CFG.__dict__, "xy_frame": frame, "step_context": step_context})
    m = build_model(cfg, META)
    x, y, w = random_batch(META, 3, seed=4)
    out = {k: keras.ops.convert_to_numpy(v) for k, v in m(x).items()}  # eager: no predict function traced
    M = CFG.num_xy_mixtures
    width = 5 * M + 2 + (M if frame == "polar_factored" else 0)
    assert output_signature(cfg, META)["xy"] == (META["max_actions"] + 1, width) == out["xy"].shape[1:]
    if frame == "motion":
        np.testing.assert_allclose(np.linalg.norm(out["xy"][..., -2:], axis=-1), 1.0, atol=1e-5)
    else:
        np.testing.assert_allclose(out["xy"][..., 5 * M : 5 * M + 2], np.asarray(x["dec_xy"]), atol=1e-6)
    config = Config()
    config.model = cfg
    compile_model(m, config, META)
    assert build_losses(config, META)["xy"].frame == frame
    m.run_eagerly = True
    assert np.isfinite(m.train_on_batch(x, y, sample_weight=w, return_dict=True)["loss"])
    m.save(tmp_path / "m.keras")
    clone = keras.saving.load_model(tmp_path / "m.keras")
    assert clone.get_layer("generator").xy_frame == frame
    assert clone.get_layer("generator").step_context == step_context
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(clone(x)["xy"]), keras.ops.convert_to_numpy(m(x)["xy"]))
    with pytest.raises(ConfigError, match="model.xy_frame must be one of"):
        build_model(ModelConfig(**{**CFG.__dict__, "xy_frame": "spherical"}), META)


def test_step_context_starts_where_a_model_without_it_was(tmp_path):
    """``model.step_context``'s step processor starts as a no-op: the same seed builds the same
    untrained model with and without it, and a model trained without it warm-starts
    (``--init-from``) into one with it with every output unchanged."""
    from actiongen_keras.training.train import warm_start

    x, _, _ = random_batch(META, 3, seed=2)
    outputs = {}
    for flag in (False, True):
        keras.utils.set_random_seed(11)
        m = build_model(ModelConfig(**{**CFG.__dict__, "step_context": flag}), META)
        outputs[flag] = {k: keras.ops.convert_to_numpy(v) for k, v in m(x).items()}
    for k in F.TARGET_NAMES:
        np.testing.assert_array_equal(outputs[True][k], outputs[False][k], err_msg=k)
    keras.utils.set_random_seed(12)
    without = build_model(ModelConfig(**{**CFG.__dict__, "step_context": False}), META)
    for w in without.weights:  # as if trained: no weight at its initial value
        w.assign(keras.ops.convert_to_numpy(w) + np.random.default_rng(0).normal(0, 0.05, w.shape).astype(w.dtype))
    without.save(tmp_path / "without.keras")
    keras.utils.set_random_seed(13)
    with_it = build_model(ModelConfig(**{**CFG.__dict__, "step_context": True}), META)
    copied, kept = warm_start(with_it, tmp_path / "without.keras", log=lambda *_: None)
    assert (copied, kept) == (len(without.weights), 3)  # the step processor's kernel and bias and the gate's kernel start fresh
    want = {k: keras.ops.convert_to_numpy(v) for k, v in without(x).items()}
    got = {k: keras.ops.convert_to_numpy(v) for k, v in with_it(x).items()}
    for k in F.TARGET_NAMES:
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)


def test_save_reload_identical(model, tmp_path):
    x, _, _ = random_batch(META, 4, seed=1)
    path = tmp_path / "m.keras"
    model.save(path)
    clone = keras.saving.load_model(path)
    for w1, w2 in zip(model.weights, clone.weights, strict=True):
        assert w1.path == w2.path
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(w1), keras.ops.convert_to_numpy(w2))
    # Same call path on both (a predict() function traced for another batch size can
    # differ in the last float bit from a fresh trace, even for the same model).
    a, b = model(x, training=False), clone(x, training=False)
    for k in F.TARGET_NAMES:
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a[k]), keras.ops.convert_to_numpy(b[k]))


def test_causal_and_padding_invariance(model):
    x, _, _ = random_batch(META, 4, seed=2)
    base = _predict(model, x)
    x2 = {k: v.copy() for k, v in x.items()}
    # later decoder steps (step i's attribute heads read its own type, dec_type[i + 1], by design)
    x2["dec_type"][:, 3:] = F.MOVE
    x2["dec_dt"][:, 2:] += 77.0
    x2["dec_xy"][:, 2:] = 0.123
    # padded history events (hist_type == 0) and absent ticks
    pad = x2["hist_type"] == 0
    x2["hist_dt"][pad] = 555.0
    x2["hist_xy"][pad] = 0.9
    x2["hist_key"][pad] = 3
    x2["hist_t_before"][pad] = 4321.0
    absent = x2["state_mask"] == 0
    x2["state_numeric"][absent] = 3.0
    x2["state_categorical"][absent] = 1
    out = _predict(model, x2)
    for k in ("event_type", "timing", "xy", "button", "key", "scroll", "dwell"):
        np.testing.assert_allclose(out[k][:, :2], base[k][:, :2], rtol=1e-4, atol=1e-4, err_msg=k)
    np.testing.assert_allclose(out["seq_len"], base["seq_len"], rtol=1e-4, atol=1e-4)


def test_dataset_meta_validation_and_timing_spec():
    meta = DatasetMeta.from_dict({**META, "timing_quantiles_ms": {"p10": 8, "p50": 40, "p90": 400}, "num_state_categorical": 2})
    assert DatasetMeta.from_dict(meta.to_dict()) == meta
    with pytest.raises(ConfigError, match="typo_key"):
        DatasetMeta.from_dict({**META, "typo_key": 1})
    with pytest.raises(ConfigError, match="num_keys"):
        DatasetMeta.from_dict({k: v for k, v in META.items() if k != "num_keys"})
    with pytest.raises(ConfigError, match="num_state_categorical"):
        DatasetMeta.from_dict({**META, "num_state_categorical": 5})
    assert timing_spec(CFG, META)["boundaries_ms"] == (100.0, 300.0)
    data_b = timing_spec(ModelConfig(timing_boundaries_ms=None), meta.to_dict())["boundaries_ms"]
    assert 8 < data_b[0] < 40 < data_b[1] < 400
    assert timing_spec(Config(), META)["num_components"] == 3
    with pytest.raises(ConfigError, match="divisible"):
        build_model(ModelConfig(d_model=10, num_heads=4), META)


def test_boundaries_from_data_reach_the_layer():
    cfg = ModelConfig(**{**CFG.__dict__, "timing_boundaries_ms": None})
    m = build_model(cfg, {**META, "timing_quantiles_ms": {"p10": 8, "p50": 40, "p90": 400}})
    assert m.get_layer("generator").timing.boundaries_ms == timing_spec(cfg, {**META, "timing_quantiles_ms": {"p10": 8, "p50": 40, "p90": 400}})["boundaries_ms"]


def test_xy_input_noise_only_in_training():
    clean_cfg = ModelConfig(**{**CFG.__dict__, "dropout": 0.0, "xy_dequantize_px": 0.0})
    noisy_cfg = ModelConfig(**{**CFG.__dict__, "dropout": 0.0, "xy_dequantize_px": 0.0, "xy_input_noise": 0.01})
    keras.utils.set_random_seed(3)
    clean = build_model(clean_cfg, META)
    noisy = build_model(noisy_cfg, META)
    noisy.set_weights(clean.get_weights())  # the noise layers have no weights
    x, _, _ = random_batch(META, 4, seed=2)
    a, b = clean(x, training=False), noisy(x, training=False)
    for name in F.TARGET_NAMES:
        np.testing.assert_allclose(np.asarray(b[name]), np.asarray(a[name]), atol=1e-6, err_msg=name)
    np.testing.assert_allclose(np.asarray(clean(x, training=True)["xy"]), np.asarray(a["xy"]), atol=1e-6)  # no dropout
    assert not np.allclose(np.asarray(noisy(x, training=True)["xy"]), np.asarray(a["xy"]), atol=1e-4)
    assert build_model(noisy_cfg, META).get_layer("dec_xy_noise").stddev == 0.01


def test_pixel_dequantization_moves_only_the_training_means_within_half_a_pixel():
    cfg = ModelConfig(**{**CFG.__dict__, "dropout": 0.0})  # xy_dequantize_px 1 (the default)
    keras.utils.set_random_seed(3)
    model = build_model(cfg, META)
    assert model.get_layer("xy_dequantization").pixels == 1.0
    x, _, _ = random_batch(META, 4, seed=2)
    M = cfg.num_xy_mixtures
    infer, train = np.asarray(model(x, training=False)["xy"]), np.asarray(model(x, training=True)["xy"])
    np.testing.assert_array_equal(train[..., :M], infer[..., :M])  # logits
    np.testing.assert_array_equal(train[..., 3 * M :], infer[..., 3 * M :])  # log sigmas
    shift_px = (infer[..., M : 3 * M] - train[..., M : 3 * M]).reshape(*infer.shape[:2], 2, M) * np.asarray(x["screen"])[:, None, :, None]
    assert 0.05 < np.abs(shift_px).max() <= 0.5 + 1e-3
