"""SavedModel / TFLite / TF Serving export of a (tiny, untrained) run, checked against the Keras model.

One export per module (the TensorFlow backend); every check runs the exported graph on raw
requests built from real session windows and compares with the Keras model on the data
pipeline's encoding of the same windows (``generate``: greedy windows are the model's own
point predictions on the generated prefix, ``testing.generation.check_greedy_window``). The
tiny model's event head is biased towards release / key_up, so the held-button/key masks
decide events (a release must name the held button, ...).
"""

import argparse
import json

import numpy as np
import pytest
import tensorflow as tf

from actiongen_keras.data import features as F
from actiongen_keras.data.windows import windows_from_sessions
from actiongen_keras.errors import ActiongenError
from actiongen_keras.export import graph as G
from actiongen_keras.export import requests as R
from actiongen_keras.export import serving
from actiongen_keras.export.cli import add_export_parsers
from actiongen_keras.export.saved_model import (
    export_saved_model,
    load_run,
    load_saved_model,
    read_export_meta,
)
from actiongen_keras.export.tflite import TFLiteRunner, convert_tflite
from actiongen_keras.generation import rules
from actiongen_keras.layers.context_aware_generator import xy_point
from actiongen_keras.layers.multi_scale_timing import timing_quantile
from actiongen_keras.testing.generation import check_greedy_window
from actiongen_keras.testing.runs import make_tiny_run
from actiongen_keras.testing.sessions import tiny_sessions

ATTRS = ("timing", "xy", "button", "key", "scroll", "dwell")
EVENT_BIAS = {F.RELEASE: 4.0, F.KEY_UP: 4.0}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    run = make_tiny_run(root / "run", event_bias=EVENT_BIAS)
    res = export_saved_model(run / "model.keras", root / "saved_models" / "actiongen" / "1", log=lambda *_: None)
    model, prep = load_run(run / "model.keras")
    sm = res["saved_model"]
    return {"root": root, "run": run, "sm": sm, "model": model, "prep": prep, "loaded": load_saved_model(sm), "meta": read_export_meta(sm)}


@pytest.fixture(scope="module")
def windows(exported):
    """Windows of both tiny sessions: pipeline inputs, their raw requests, and the sessions."""
    prep = exported["prep"]
    sessions = tiny_sessions()
    ins, _, _, meta = windows_from_sessions(sessions, prep, with_meta=True)
    by_id = {s.session_id: s for s in sessions}
    pick = np.concatenate([np.flatnonzero(meta["session_id"] == sid)[[0, 5, -1]] for sid in by_id])
    raw = R.stack_windows([R.raw_window(by_id[meta["session_id"][j]], prep, meta["t_ms"][j]) for j in pick])
    return {"inputs": {k: v[pick] for k, v in ins.items()}, "raw": raw, "sessions": by_id, "t_ms": meta["t_ms"][pick],
            "sid": meta["session_id"][pick]}


def keras_step0(model, inputs):
    """The Keras model's step-0 heads, attributes for every candidate type (dec_type[:, 1] = c)."""
    base = {k: np.array(v) for k, v in inputs.items()}
    for k in ("dec_type", "dec_button", "dec_key", "dec_scroll", "dec_dt", "dec_t_after", "dec_xy"):
        base[k][:, 1:] = 0  # only the BOS step
    out = {}
    for c in range(F.NUM_EVENT_TYPES):
        x = dict(base)
        x["dec_type"] = base["dec_type"].copy()
        x["dec_type"][:, 1] = c
        o = {k: np.asarray(v) for k, v in model(x, training=False).items()}
        if c == 0:
            out["event_type"], out["seq_len"] = o["event_type"][:, 0], o["seq_len"]
        for k in ATTRS:
            out.setdefault(k, []).append(o[k][:, 0])
    for k in ATTRS:
        out[k] = np.stack(out[k], axis=1)
    return out


def call(exported, sig, x):
    return R.call_signature(exported["loaded"], exported["meta"], sig, x)


def test_in_graph_encoding_equals_the_data_pipeline(exported, windows):
    prep = exported["prep"]
    enc = G.encode_raw({k: tf.constant(v if v.dtype != object else v.astype(bytes)) for k, v in windows["raw"].items()}, prep,
                       G.make_tables(prep))
    ins = windows["inputs"]
    for k in ("hist_type", "hist_button", "hist_key", "hist_scroll", "state_categorical", "state_mask"):
        np.testing.assert_array_equal(enc[k].numpy(), ins[k], err_msg=k)
    assert (ins["hist_key"] >= 2).any() and (ins["state_categorical"] >= 2).any() and (ins["hist_button"] > 0).any()
    for k in ("hist_dt", "hist_t_before", "hist_xy", "screen", "state_numeric"):
        np.testing.assert_allclose(enc[k].numpy(), ins[k], atol=1e-5, rtol=1e-6, err_msg=k)
    np.testing.assert_allclose(enc["bos_xy"].numpy(), ins["dec_xy"][:, 0], atol=1e-6)
    # anchors: from the last tick's raw state and state_age_ms (snapshots every 170 ms: ages vary)
    np.testing.assert_array_equal(enc["anchor_mask"].numpy(), ins["anchor_mask"])
    assert ins["anchor_mask"].any() and not ins["anchor_mask"].all()  # the sapi session has none
    assert len(np.unique(windows["raw"]["state_age_ms"])) > 1
    np.testing.assert_allclose(enc["anchor_xy"].numpy(), ins["anchor_xy"], atol=1e-6, err_msg="anchor_xy")
    np.testing.assert_allclose(enc["anchor_dt"].numpy(), ins["anchor_dt"], atol=1e-3, err_msg="anchor_dt")


def test_serving_default_equals_keras_and_batch_is_dynamic(exported, windows):
    out = call(exported, "serving_default", windows["raw"])
    ref = keras_step0(exported["model"], windows["inputs"])
    for name, head in G.HEAD_OF.items():
        np.testing.assert_allclose(out[name], ref[head], atol=1e-5, rtol=0, err_msg=name)
    np.testing.assert_allclose(out["event_type_probs"].sum(-1), 1.0, atol=1e-5)
    # the point predictions: the layers' own functions on the Keras heads
    b_ms, Mt, max_ms = G_heads(exported)
    med = np.asarray(timing_quantile(tf.constant(ref["timing"]), 0.5, b_ms, Mt, max_ms))
    np.testing.assert_allclose(out["timing_median_ms"], med, rtol=1e-4, atol=1e-3)
    # a client reading the xy params needs the head's frame (screen: sigmas along x and y)
    assert exported["meta"]["heads"]["xy_frame"] == exported["model"].get_layer("generator").xy_frame == "screen"
    np.testing.assert_allclose(out["xy_point_px"], np.asarray(xy_point(tf.constant(ref["xy"]), exported["meta"]["heads"]["num_xy_mixtures"]))
                               * windows["raw"]["screen_px"][:, None, :], atol=1e-3)
    # dynamic batch: one window alone gives the same row; shorter (unpadded) histories too
    one = call(exported, "serving_default", {k: v[1:2] for k, v in windows["raw"].items()})
    np.testing.assert_allclose(one["event_type_logits"], out["event_type_logits"][1:2], atol=1e-5)
    n = int((windows["raw"]["hist_type"][1] != "").sum())
    short = {k: (v[1:2, -n:] if k.startswith("hist_") else v[1:2]) for k, v in windows["raw"].items()}
    np.testing.assert_allclose(call(exported, "serving_default", short)["timing_params"], out["timing_params"][1:2], atol=1e-5)


def G_heads(exported):
    h = exported["meta"]["heads"]
    return tuple(h["boundaries_ms"]), h["num_timing_components"], h["max_ms"]


def gen_inputs(raw, temperature, seed, recorder=(0.0,) * 5):
    B = len(raw["hist_type"])
    return dict(raw, temperature=np.full(B, temperature, np.float32), seed=np.asarray(seed, np.int64).reshape(-1) * np.ones(B, np.int64),
                recorder=np.broadcast_to(np.asarray(recorder, np.float32), (B, 5)).copy())


def held_at_t(inputs, b):
    """Sets of the buttons / keys held at T in window ``b`` (replayed from its history)."""
    held = {"press": set(), "key_down": set()}
    for t, btn, key in zip(inputs["hist_type"][b].tolist(), inputs["hist_button"][b].tolist(), inputs["hist_key"][b].tolist()):
        if t in (F.PRESS, F.RELEASE):
            (held["press"].add if t == F.PRESS else held["press"].discard)(btn)
        elif t in (F.KEY_DOWN, F.KEY_UP):
            (held["key_down"].add if t == F.KEY_DOWN else held["key_down"].discard)(key)
    return held["press"], held["key_down"]


def check_rules(out, b, held, cursor_px):
    """The coherence rules on row ``b`` of ``generate``'s outputs (any temperature), by hand."""
    buttons, keys = set(held[0]), set(held[1])
    cursor = np.asarray(cursor_px, np.float64)
    for j in range(int(out["count"][b])):
        t, btn, key = int(out["event_type_id"][b, j]), int(out["button_id"][b, j]), int(out["key_id"][b, j])
        assert t not in (F.PAD, F.EOS, F.BOS), (j, t)
        if t == F.PRESS:
            assert btn >= 1 and btn not in buttons, (j, btn, buttons)
            buttons.add(btn)
        elif t == F.RELEASE:
            assert btn in buttons, (j, btn, buttons)
            buttons.discard(btn)
        elif t == F.KEY_DOWN:
            assert key >= rules.FIRST_KNOWN_KEY and key not in keys, (j, key, keys)
            keys.add(key)
        elif t == F.KEY_UP:
            assert key in keys, (j, key, keys)
            keys.discard(key)
        elif t == F.SCROLL:
            assert np.any(out["scroll"][b, j] != 0)
        if not rules.MOVES_CURSOR[t]:
            np.testing.assert_allclose(out["xy_px"][b, j], cursor, atol=1e-3)
        cursor = out["xy_px"][b, j]


def as_loop_outputs(out, b, screen_px):
    """Row ``b`` of ``generate``'s outputs in the sampling loop's units (screen units, scroll classes)."""
    o = {k: np.asarray(out[k][b : b + 1]) for k in ("count", "event_type_id", "button_id", "key_id", "t_ms", "dt_ms")}
    o["xy"] = np.asarray(out["xy_px"][b : b + 1]) / np.asarray(screen_px, np.float32)
    o["scroll"] = F.scroll_class(np.asarray(out["scroll"][b : b + 1]))  # notches back to classes (exact on the bins)
    o["stop"] = np.array([0])  # generate does not say how a window ended: the EOS step goes unchecked
    return o


def test_generate_greedy_is_the_models_point_prediction(exported):
    """Greedy ``generate`` (the one sampling loop, in the SavedModel) equals the Keras model's
    argmax / median / most probable position on its own generated prefix, event by event;
    windows with a button / key held at T included (the masks decide their events)."""
    model, prep = exported["model"], exported["prep"]
    sessions = tiny_sessions()
    ins, _, _, meta = windows_from_sessions(sessions, prep, with_meta=True)
    by_id = {s.session_id: s for s in sessions}
    n = len(ins["hist_type"])
    held = [held_at_t(ins, j) for j in range(n)]
    pick = sorted(set([j for j in range(n) if held[j][0]][:3] + [j for j in range(n) if held[j][1]][:2] + list(range(0, n, 6))))
    assert any(held[j][0] for j in pick) and any(held[j][1] for j in pick)
    raw = R.stack_windows([R.raw_window(by_id[meta["session_id"][j]], prep, meta["t_ms"][j]) for j in pick])
    out = call(exported, "generate", gen_inputs(raw, 0.0, 0))
    events = 0
    for b, j in enumerate(pick):
        window = {k: v[j : j + 1] for k, v in ins.items()}
        window["bos_xy"] = window["dec_xy"][:, 0]
        o = as_loop_outputs(out, b, raw["screen_px"][b])
        events += check_greedy_window(model, window, o, target_ms=prep.data_config.target_ms, atol_ms=2e-2, atol_xy=1e-4)
        check_rules(out, b, held[j], np.clip(raw["cursor_xy_px"][b], 0, raw["screen_px"][b]))
    assert events >= 20, events


def test_generate_sampling_follows_the_rules(exported, windows):
    """Sampled windows (temperature 1, several seeds) obey every constraint of the loop."""
    raw, ins = windows["raw"], windows["inputs"]
    types = set()
    for seed in range(4):
        out = call(exported, "generate", gen_inputs(raw, 1.0, np.arange(6) + 100 * seed))
        for b in range(len(raw["hist_type"])):
            check_rules(out, b, held_at_t(ins, b), np.clip(raw["cursor_xy_px"][b], 0, raw["screen_px"][b]))
            types |= set(out["event_type_id"][b, : out["count"][b]].tolist())
    assert {F.MOVE, F.PRESS, F.RELEASE} <= types, types


def test_generate_without_xla_equals_xla(exported, windows):
    """``export --no-xla`` (the same loop op by op) == the XLA-compiled loop: the first events of
    every greedy window (an untrained model amplifies float rounding from event to event)."""
    from actiongen_keras.export.saved_model import ServingModule

    module = ServingModule(exported["model"], exported["prep"], jit_compile=False)
    x = gen_inputs(windows["raw"], 0.0, 0)
    spec = G.raw_input_spec(exported["prep"], generate=True)
    got = module.functions["generate"]({k: tf.constant(v.astype(bytes) if spec[k][1] == "string" else v, tf.as_dtype(spec[k][1]))
                                        for k, v in x.items()})
    ref = call(exported, "generate", x)
    k = 3
    for name in ("event_type_id", "button_id", "key_id", "scroll"):
        np.testing.assert_array_equal(got[name].numpy()[:, :k], ref[name][:, :k], err_msg=name)
    np.testing.assert_allclose(got["t_ms"].numpy()[:, :k], ref["t_ms"][:, :k], atol=1e-2, rtol=0)
    np.testing.assert_allclose(got["xy_px"].numpy()[:, :k], ref["xy_px"][:, :k], atol=1e-2, rtol=0)


def test_generate_samples_with_the_options_it_was_exported_with(exported, windows, tmp_path):
    """The ``generate`` loop compiles in the sampling options of the export (default: the run's
    ``config.json`` ``generation`` section; ``--xy-top-p`` etc. override them) and samples as
    the in-process loop does with the same options, seed for seed."""
    import shutil

    from actiongen_keras.config import Config
    from actiongen_keras.export.saved_model import ServingModule, export_sampling
    from actiongen_keras.generation.sampler import SamplingConfig, sample_window
    from actiongen_keras.models.steps import WINDOW_INPUTS, ModelSteps

    run = tmp_path / "run"
    shutil.copytree(exported["run"], run)
    config = Config.from_json(run / "config.json")
    config.generation.xy_top_p, config.generation.top_k = 0.3, 2
    config.to_json(run / "config.json")
    assert export_sampling(run / "model.keras") == SamplingConfig(xy_top_p=0.3, top_k=2)
    assert export_sampling(run / "model.keras", {"xy_top_p": 0.9, "top_p": None}) == SamplingConfig(xy_top_p=0.9, top_k=2)
    with pytest.raises(ActiongenError, match="xy_top_p"):
        export_sampling(run / "model.keras", {"xy_top_p": 0.0})
    assert exported["meta"]["generate_sampling"] == SamplingConfig().static()  # the tiny run's config: the defaults

    sampling = export_sampling(run / "model.keras")
    module = ServingModule(exported["model"], exported["prep"], jit_compile=False, sampling=sampling)
    assert module.meta()["generate_sampling"] == sampling.static()
    spec = G.raw_input_spec(exported["prep"], generate=True)
    x = gen_inputs(windows["raw"], 1.0, 7)
    got = module.functions["generate"]({k: tf.constant(v.astype(bytes) if spec[k][1] == "string" else v, tf.as_dtype(spec[k][1]))
                                        for k, v in x.items()})
    window = {k: windows["inputs"][k] for k in WINDOW_INPUTS if k != "bos_xy"}
    window["bos_xy"] = windows["inputs"]["dec_xy"][:, 0]
    B = len(x["seed"])
    ref = sample_window(ModelSteps(exported["model"]), window, np.ones(B, np.float32), np.full(B, 7, np.int32),
                        clock=np.zeros((B, 5), np.float32), target_ms=exported["prep"].data_config.target_ms, **sampling.static())
    n = int(min(np.min(got["count"].numpy()), 3))
    assert n >= 1
    np.testing.assert_array_equal(got["event_type_id"].numpy()[:, :n], np.asarray(ref["event_type_id"])[:, :n])
    np.testing.assert_allclose(got["t_ms"].numpy()[:, :n], np.asarray(ref["t_ms"])[:, :n], atol=1e-2)
    np.testing.assert_allclose(got["xy_px"].numpy()[:, :n] / x["screen_px"][:, None, :], np.asarray(ref["xy"])[:, :n], atol=1e-4)
    default = call(exported, "generate", x)  # the same seed without the options: other draws
    assert not np.allclose(default["xy_px"][:, :n], got["xy_px"].numpy()[:, :n], atol=1e-3)


def test_generate_puts_events_on_the_recorders_clock_and_pixels(exported, windows):
    """The ``recorder`` input is the sampling loop's clock and pixel grid, as in a rollout: a
    60 Hz whole-ms clock puts every event on its ticks and a 1 px grid every position on a
    whole pixel; zeros leave both continuous. Bad values are refused by the client check and
    by the graph."""
    raw = windows["raw"]
    B = len(raw["hist_type"])
    period, phase = 1000.0 / 60.0, 3.0
    off_t, off_xy, on_t, on_xy = [], [], [], []
    for seed in range(8):  # (this test model favours releases and key_ups: a few moves per window)
        seeds = np.arange(B) + 10 * seed
        for rec, ts, xys in (((0.0,) * 5, off_t, off_xy), ((period, phase, 1.0, 1.0, 1.0), on_t, on_xy)):
            out = call(exported, "generate", gen_inputs(raw, 1.0, seeds, rec))
            live = np.arange(out["t_ms"].shape[1])[None] < out["count"][:, None]
            ts.append(out["t_ms"][live])
            xys.append(out["xy_px"][live & (out["event_type_id"] == F.MOVE)])
    on_t, on_xy, off_t, off_xy = (np.concatenate(a) for a in (on_t, on_xy, off_t, off_xy))
    assert len(on_t) > 100 and len(on_xy) >= 8 and len(off_xy) >= 8
    k = np.round((on_t - phase) / period)
    assert np.all(np.abs(on_t - (phase + k * period)) <= 0.5 + 1e-3)  # on a tick, to the 1 ms resolution
    np.testing.assert_allclose(on_t, np.round(on_t), atol=1e-3)
    np.testing.assert_allclose(on_xy, np.round(on_xy), atol=1e-2)
    assert np.mean(np.abs(off_t - np.round(off_t)) > 1e-2) > 0.5 and np.mean(np.abs(off_xy - np.round(off_xy)) > 1e-2) > 0.5
    bad = gen_inputs({k: v[:1] for k, v in raw.items()}, 1.0, 0, (-16.0, 0.0, 1.0, 1.0, 1.0))
    with pytest.raises(ActiongenError, match="recorder: period, resolution and pixel grid must be >= 0"):
        call(exported, "generate", bad)
    with pytest.raises(tf.errors.InvalidArgumentError, match="recorder: period, resolution and pixel grid must be >= 0"):
        exported["loaded"].signatures["generate"](**_tensors(bad))


def test_generate_contract_seed_and_batch_independence(exported, windows):
    prep = exported["prep"]
    A, target = prep.data_config.max_actions, prep.data_config.target_ms
    raw = windows["raw"]
    for temp in (0.0, 1.0):
        out = call(exported, "generate", gen_inputs(raw, temp, [7, 8, 9, 10, 11, 12]))
        assert out["t_ms"].shape == (len(raw["hist_type"]), A) and out["xy_px"].shape[-1] == 2
        for b, n in enumerate(out["count"]):
            assert 0 <= n <= A
            t = out["t_ms"][b, :n]
            assert np.all(np.diff(t) >= 0) and np.all(t >= 0) and np.all(t < target)
            assert np.all(out["event_type"][b, n:] == "") and np.all(out["t_ms"][b, n:] == 0)
            assert np.all(out["scroll"][b, n:] == 0.0) and np.all(out["xy_px"][b, n:] == 0)
            assert set(out["event_type"][b, :n]) <= {"move", "press", "release", "scroll", "key_down", "key_up"}
            assert np.all((out["xy_px"][b, :n] >= 0) & (out["xy_px"][b, :n] <= raw["screen_px"][b]))
    # sampling: reproducible per seed, and a row does not depend on the rest of the batch
    a = call(exported, "generate", gen_inputs(raw, 1.0, [7, 8, 9, 10, 11, 12]))
    again = call(exported, "generate", gen_inputs(raw, 1.0, [7, 8, 9, 10, 11, 12]))
    np.testing.assert_array_equal(again["t_ms"], a["t_ms"])
    mixed = call(exported, "generate", gen_inputs(raw, 1.0, [70, 80, 9, 100, 110, 120]))  # other seeds beside row 2
    np.testing.assert_array_equal(mixed["event_type_id"][2], a["event_type_id"][2])
    np.testing.assert_allclose(mixed["t_ms"][2], a["t_ms"][2], atol=1e-3)
    assert not np.array_equal(mixed["t_ms"][[0, 1, 3]], a["t_ms"][[0, 1, 3]])
    one = call(exported, "generate", gen_inputs({k: v[2:3] for k, v in raw.items()}, 1.0, [9]))  # alone: the first events agree
    np.testing.assert_array_equal(one["event_type_id"][0, :2], a["event_type_id"][2, :2])
    np.testing.assert_allclose(one["t_ms"][0, :2], a["t_ms"][2, :2], atol=1e-2)


def test_rest_json_round_trip_through_cli_and_grpc(exported, windows, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    add_export_parsers(parser.add_subparsers(dest="command"))
    sid = windows["sid"][0]
    folder = tmp_path / "session"
    from actiongen_keras.recordings.session import read_session, write_session

    write_session(windows["sessions"][sid], folder, compress=False)
    window = f"{folder}@{windows['t_ms'][0]}"
    session, _ = read_session(folder)  # what the CLI reads (the CSV round trip rounds values)
    direct = R.raw_window(session, exported["prep"], windows["t_ms"][0])
    expect = call(exported, "serving_default", direct)
    spec = R.signature_spec(exported["meta"], "serving_default")
    for fmt in ("instances", "inputs"):
        args = parser.parse_args(["serve-request", "--model", str(exported["sm"]), "--window", window, "--rest-format", fmt])
        assert args.func(args) == 0
        body = json.loads(capsys.readouterr().out)
        assert body["signature_name"] == "serving_default" and fmt in body
        got = call(exported, "serving_default", R.from_rest_body(body, spec))
        for k in expect:
            np.testing.assert_allclose(got[k], expect[k], atol=1e-6, err_msg=k)
    out = tmp_path / "req.pb"
    args = parser.parse_args(["serve-request", "--model", str(exported["run"] / "model.keras"), "--window", window, "--format", "grpc",
                              "--signature", "generate", "--label", "canary", "--out", str(out)])
    assert args.func(args) == 0
    from tensorflow_serving.apis import predict_pb2

    req = predict_pb2.PredictRequest.FromString(out.read_bytes())
    assert req.model_spec.signature_name == "generate" and req.model_spec.version_label == "canary"
    g = call(exported, "generate", R.from_predict_request(req))
    ref = call(exported, "generate", R.raw_window(session, exported["prep"], windows["t_ms"][0], generate=True))
    np.testing.assert_array_equal(g["event_type"], ref["event_type"])


def test_warmup_records_and_models_config(exported):
    sm = exported["sm"]
    recs = serving.read_warmup(sm)
    assert len(recs) == 4 and all(r.WhichOneof("log_type") == "predict_log" for r in recs)
    assert {r.predict_log.request.model_spec.signature_name for r in recs} == {"serving_default", "generate"}
    for r in recs:  # the model server replays them: they must run
        req = r.predict_log.request
        out = call(exported, req.model_spec.signature_name, R.from_predict_request(req))
        assert all(np.all(np.isfinite(v)) for v in out.values() if v.dtype.kind == "f")
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    path = sm.parent.parent / "models.config"
    cfg = text_format.Parse(path.read_text(), model_server_config_pb2.ModelServerConfig())
    (entry,) = cfg.model_config_list.config
    assert entry.name == "actiongen" and entry.base_path == "/models/actiongen" and entry.model_platform == "tensorflow"
    assert list(entry.model_version_policy.specific.versions) == [1] and dict(entry.version_labels) == {"stable": 1}
    (sm.parent / "2").mkdir()  # a second version: labelled canary, stable stays
    serving.update_models_config(sm.parent / "2")
    cfg = serving.read_models_config(path)
    (entry,) = cfg.model_config_list.config
    assert list(entry.model_version_policy.specific.versions) == [1, 2] and dict(entry.version_labels) == {"stable": 1, "canary": 2}
    serving.update_models_config(sm.parent / "2", label="stable")
    assert dict(serving.read_models_config(path).model_config_list.config[0].version_labels) == {"stable": 2, "canary": 2}
    (sm.parent / "2").rmdir()


def test_bad_requests_give_clear_errors(exported, windows):
    raw = {k: v[:1] for k, v in windows["raw"].items()}
    cases = [
        ({k: v for k, v in raw.items() if k != "screen_px"}, "missing input"),
        (dict(raw, screen=raw["screen_px"]), "unknown input"),
        (dict(raw, state_mask=np.ones((1, 3), np.float32)), "must have shape"),
        (dict(raw, hist_dt_ms=raw["hist_dt_ms"][:, :-1]), "history events"),
        (dict(raw, hist_xy_px=np.array([["a"] * raw["hist_xy_px"].shape[1]])), "must be float32"),
        (dict(raw, hist_type=raw["hist_dt_ms"]), "must be string"),
        (dict(raw, hist_t_before_ms=np.where(np.arange(raw["hist_dt_ms"].shape[1]) == 3, np.nan, raw["hist_t_before_ms"])), "NaN"),
        (dict(raw, hist_type=np.where(raw["hist_type"] == "move", "wiggle", raw["hist_type"])), "unknown event type"),
        (dict(raw, screen_px=np.zeros((1, 2), np.float32)), "screen_px must be >= 1"),
    ]
    for bad, msg in cases:
        with pytest.raises(ActiongenError, match=msg):
            call(exported, "serving_default", bad)
    # in the graph itself (a client that skips the Python checks): an assert with a message, not a crash
    fn = exported["loaded"].signatures["serving_default"]
    x = {k: tf.constant(v if v.dtype != object else v.astype(bytes)) for k, v in raw.items()}
    x["hist_dt_ms"] = tf.constant(np.full_like(raw["hist_dt_ms"], np.nan))
    with pytest.raises(tf.errors.InvalidArgumentError, match="hist_dt_ms contains NaN"):
        fn(**x)
    with pytest.raises(ActiongenError, match="temperature"):
        call(exported, "generate", gen_inputs(raw, np.nan, 0))
    with pytest.raises(ActiongenError, match="unknown signature"):
        R.signature_spec(exported["meta"], "predict")


def _tensors(raw):
    return {k: tf.constant(R._utf8(v) if v.dtype == object else v) for k, v in raw.items()}


def _all_finite(out):
    return all(np.all(np.isfinite(v.numpy())) for v in out.values() if v.dtype.is_floating)


def test_raw_signatures_clip_refuse_and_follow_the_cli_rules(exported, windows):
    """Issue #13, items 6-8: the graph itself (a client that skips the Python checks)."""
    sig = exported["loaded"].signatures
    raw = {k: v[:1] for k, v in windows["raw"].items()}
    assert "state_numeric" in raw and "state_age_ms" in raw  # the osu!-like window: state and anchors
    # 6: state values far outside training are clipped (they made every output NaN)
    for value in (1e40, -1e300):
        big = dict(raw, state_numeric=np.full_like(raw["state_numeric"], value))
        assert _all_finite(sig["serving_default"](**_tensors(big)))
        out = sig["generate"](**_tensors(gen_inputs(big, 1.0, 0)))
        assert _all_finite(out) and int(out["count"][0]) >= 0
    # 6: a screen under one pixel is refused
    with pytest.raises(tf.errors.InvalidArgumentError, match="screen_px must be >= 1"):
        sig["serving_default"](**_tensors(dict(raw, screen_px=np.full((1, 2), 1e-30, np.float32))))
    # 7: history inputs of different lengths are refused, not paired up wrongly
    n = raw["hist_dt_ms"].shape[1]
    for name in ("hist_dt_ms", "hist_key", "hist_xy_px"):
        short = dict(raw, **{name: raw[name][:, n // 2:]})
        with pytest.raises(tf.errors.InvalidArgumentError, match=f"{name} must hold as many history events as hist_type"):
            sig["serving_default"](**_tensors(short))
    # 8: one temperature rule for the CLI, the client check and the graph
    with pytest.raises(tf.errors.InvalidArgumentError, match="temperature must be >= 0"):
        sig["generate"](**_tensors(gen_inputs(raw, -1.0, 0)))
    with pytest.raises(ActiongenError, match="temperature must be >= 0"):
        call(exported, "generate", gen_inputs(raw, -0.5, 0))
    # a non-ASCII key name is UTF-8, not a UnicodeEncodeError
    uni = dict(raw, hist_key=np.where(raw["hist_key"] == "", "", "é").astype(object))
    assert _all_finite({k: tf.constant(v) for k, v in call(exported, "serving_default", uni).items() if v.dtype != object})


def test_tflite_float_and_dynamic_range(exported, windows, tmp_path):
    enc = R.encoded_window(windows["inputs"])
    ref = keras_step0(exported["model"], windows["inputs"])
    f32 = TFLiteRunner(convert_tflite(exported["sm"], tmp_path / "m.tflite"))
    out = f32(enc)
    worst = max(float(np.abs(out[head] - ref[head]).max()) for head in F.TARGET_NAMES)
    assert worst <= 1e-4, worst
    one = f32({k: v[:1] for k, v in enc.items()})  # batch 1 after batch 6: the runner resizes
    np.testing.assert_allclose(one["event_type"], out["event_type"][:1], atol=1e-5)
    q = TFLiteRunner(convert_tflite(exported["sm"], tmp_path / "q.tflite", quantize="dynamic"))
    qo = q(enc)
    assert (tmp_path / "q.tflite").stat().st_size < (tmp_path / "m.tflite").stat().st_size
    agree = float((qo["event_type"].argmax(-1) == ref["event_type"].argmax(-1)).mean())
    drift = float(np.abs(qo["xy"] - ref["xy"]).max())
    print(f"tflite float max|diff| {worst:.2e}; dynamic-range: event agreement {agree:.2f}, xy param drift {drift:.3f}")
    assert all(np.all(np.isfinite(v)) for v in qo.values()) and agree >= 0.5
    with pytest.raises(ActiongenError, match="missing input"):
        f32({k: v for k, v in enc.items() if k != "bos_xy"})


def test_torch_backend_is_a_clear_error(exported, monkeypatch, tmp_path):
    from actiongen_keras.export import saved_model

    monkeypatch.setattr(saved_model, "backend_name", lambda: "torch")
    with pytest.raises(ActiongenError, match="PyTorch backend cannot write a TensorFlow SavedModel"):
        export_saved_model(exported["run"] / "model.keras", tmp_path / "m" / "1")
    with pytest.raises(ActiongenError, match="positive integer version"):
        saved_model.version_dir(tmp_path / "m" / "latest")
