"""circleguard as the osu! judge: agreement with the project's hit counting on real replays, the report section."""

import dataclasses
import json
import shutil

import numpy as np
import pytest

from actiongen_keras.errors import ActiongenError
from actiongen_keras.evaluation import osu_circleguard as C
from actiongen_keras.evaluation.report import render_markdown
from actiongen_keras.recordings.importers import osu
from actiongen_keras.recordings.session import read_session
from actiongen_keras.testing.paths import shared_data

RED_GOOSE = "0004_abraker_-_Mutsuhiko_Izumi_-_Red_Goose_ERT_Basic_2019-08-24_Osu"
RAPID_PRESS = "0015_abraker_-_rapid_press_score_test_2019-06-07_Osu"


def _import(stem, tmp):
    """(session, beatmap path, replay path) of one real replay of ../shared/data/osu."""
    shared = shared_data("osu")
    osr = shared / "replays_osr" / f"{stem}.osr"
    src = tmp / stem
    src.mkdir(parents=True)
    shutil.copy(osr, src)
    for m in (shared / "beatmaps_osu").glob("*.osu"):
        shutil.copy(m, src)
    summary = osu.import_folder(src, tmp / "sessions", progress=False)
    session, _ = read_session(summary.written[0])
    return session, src / session.extra["beatmap_file"], osr


@pytest.fixture(scope="module")
def red_goose(tmp_path_factory):
    return _import(RED_GOOSE, tmp_path_factory.mktemp("cg"))


def test_our_hit_counting_agrees_with_circleguard_on_a_real_replay(red_goose):
    session, beatmap, osr = red_goose
    a = C.object_agreement(session, beatmap, osr)
    assert a["n_objects"] == 100 and a["agree"] >= 0.97 and a["agree_at_press"] >= 0.97
    assert (a["ours"], a["circleguard"]) == (100, 100)
    # circleguard judges our rewrite of the session as it judges the original replay
    assert C.object_agreement(session, beatmap)["circleguard"] == 100


def test_where_they_differ_notelock(tmp_path):
    """Presses spammed on a 'rapid press' test play: our rule counts any click in the window,
    osu! (and circleguard) let a press hit only the oldest object still open (notelock)."""
    session, beatmap, osr = _import(RAPID_PRESS, tmp_path)
    a = C.object_agreement(session, beatmap, osr)
    assert (a["n_objects"], a["ours"], a["circleguard"]) == (11, 11, 9)
    assert a["agree"] == pytest.approx(9 / 11)


def _span(session, t0, t1):
    return dataclasses.replace(session, events=session.events.take((session.events.t_ms >= t0) & (session.events.t_ms < t1)))


def test_compare_judges_the_human_and_the_model_over_the_same_span(red_goose, tmp_path):
    session, beatmap, _ = red_goose
    human = _span(session, 20_000, 50_000)
    # a "model" that aims 60 px to the right of the person: a cursor outside every circle
    ev = dataclasses.replace(human.events, x=human.events.x + 60.0)
    model = dataclasses.replace(human, events=ev, source="generated", session_id="m")
    out = C.compare([human], {"model": [model], "bezier": [human]}, beatmap.parent)
    assert set(out) == {"human", "model"}  # bots make only a cursor: not judged
    h, m = out["human"], out["model"]
    assert h["n_objects"] == m["n_objects"] > 10
    assert h["hit_rate"] > 0.9 and m["hits"] == 0 and m["nmiss"] == m["n_objects"]
    assert h["n300"] + h["n100"] + h["n50"] + h["nmiss"] == h["n_objects"]
    assert h["frametime_ms"] == pytest.approx(m["frametime_ms"]) and h["ur"] is not None and m["ur"] is None
    json.dumps(out)  # goes into metrics.json as it is
    text = C.markdown(out)
    assert "| human | " in text and f"| model | {m['n_objects']} | 0 | 0 | 0 | {m['nmiss']} | 0.000 |" in text
    assert C.compare([human], {}, None) is None  # without the maps there is nothing to judge


def test_report_renders_the_section():
    section = {"human": {"n_objects": 4, "n300": 3, "n100": 1, "n50": 0, "nmiss": 0, "hits": 4, "hit_rate": 1.0, "ur": 90.0,
                         "frametime_ms": 16.0, "snaps": 0, "n_sessions": 1}, "model": None}
    m = {"counts": {"real_sessions": 1, "real_subjects": 1, "real_segments": 0}, "settings": {"segment_ms": 3000, "ci_method": "-"},
         "detector_auc": {}, "fitts": {"source": "-", "n": 0, "a": None, "b": None}, "distances": {},
         "coherence": {"human_ranges": {"max_speed": 1.0, "quantiles": {"speed": 0.99}, "rate_range": [0, 1], "pause_range": [0, 1]}},
         "osu_circleguard": section}
    text = render_markdown(m)
    assert "## osu! judged by circleguard" in text
    assert "| human | 4 | 3 | 1 | 0 | 0 | 1.000 | 90.0 | 16.0 | 0 | 1 |" in text and "| model | - |" in text
    assert np.isfinite(section["human"]["ur"])


def test_evaluate_sessions_reports_circleguard_over_the_rollout_span(red_goose, tmp_path):
    from actiongen_keras.evaluation.report import evaluate_sessions

    session, beatmap, _ = red_goose
    human = _span(session, 20_000, 50_000)
    # a rollout of 20 s from T0 = 26 s whose cursor is 60 px off: judged over [26 s, 46 s] like the person
    gen = _span(session, 26_000, 46_000)
    extra = {**gen.extra, "context_session_id": session.session_id, "generated_from_ms": 26_000.0, "generated_ms": 20_000.0}
    gen = dataclasses.replace(gen, events=dataclasses.replace(gen.events, x=gen.events.x + 60.0), source="generated",
                              session_id="gen", extra=extra)
    m = evaluate_sessions([human], [gen], tmp_path / "rep", baselines=False, plots=False, beatmap_dir=beatmap.parent, n_boot=10,
                          progress=False)
    cg = m["osu_circleguard"]
    direct = C.judge_session(human, beatmap, (26_000.0, 46_000.0))
    assert cg["human"]["n_objects"] == cg["model"]["n_objects"] == direct["n_objects"] > 10
    assert cg["human"]["hits"] == direct["hits"] and cg["model"]["hits"] == 0
    assert json.loads((tmp_path / "rep" / "metrics.json").read_text())["osu_circleguard"]["model"]["nmiss"] == direct["n_objects"]
    assert "## osu! judged by circleguard" in (tmp_path / "rep" / "report.md").read_text()


def test_generate_osr_writes_the_rollout_as_a_replay(red_goose, tmp_path, monkeypatch):
    """`generate --osr`: the rollout session, whatever the model made, goes out as an .osr that
    osrparse and circleguard open (the rollout itself is stubbed: it is tested in tests/generation)."""
    import argparse

    import osrparse

    from actiongen_keras.evaluation.cli import add_evaluation_parsers
    from actiongen_keras.generation import rollout as R

    session, beatmap, _ = red_goose
    fake = dataclasses.replace(_span(session, 0, 12_000), source="generated", session_id="g",
                               extra={**session.extra, "generated_from_ms": 6_000.0, "context_ms": 6_000.0, "window_stops": {"eos": 10}})
    monkeypatch.setattr(R, "rollout", lambda *a, **k: [fake])  # one context in, one session out
    p = argparse.ArgumentParser()
    p.add_argument("-q", "--quiet", action="store_true")
    add_evaluation_parsers(p.add_subparsers(dest="command"))
    osr = tmp_path / "rollout.osr"
    args = p.parse_args(["-q", "generate", "--model", "unused", "--context", session.path, "--seconds", "6", "--out",
                         str(tmp_path / "gen"), "--osr", str(osr), "--beatmap", str(beatmap)])
    assert args.func(args) == 0
    rp = osrparse.Replay.from_path(osr)
    assert rp.username == "actiongen" and rp.beatmap_hash == session.extra["beatmap_md5"]
    assert len(rp.replay_data) == 2 + len(osu.session_to_replay(fake, beatmap).frames)  # the dummies, then the frames
    judged = C.judge_osr(osr.read_bytes(), beatmap)
    assert judged["n_objects"] == 100 and (rp.count_300, rp.count_100, rp.count_50, rp.count_miss) == tuple(
        judged[k] for k in ("n300", "n100", "n50", "nmiss"))
    args = p.parse_args(["-q", "generate", "--model", "unused", "--context", session.path, "--out", str(tmp_path / "g2"),
                         "--osr", str(tmp_path / "x.osr")])
    with pytest.raises(ActiongenError, match="--osr needs --beatmap"):
        args.func(args)
