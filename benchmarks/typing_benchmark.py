"""Typed text against held-out typists: exactness, words per minute and a detector's AUC.

    python benchmarks/typing_benchmark.py [--model MODEL_DIR] [--data ../shared/data/keystrokes_aalto]
        [--max-people 600] [--epochs 12] [--test-people 100] [--sentences-per-person 5] [--seed 0]
        [--tempo 0.5,0.75,1,1.5,2] [--style]

Without ``--model`` a keystroke model is trained first (``actiongen typing train`` on
``--max-people`` training typists) into a temporary folder. The held-out typists are the
first ``--test-people`` participants of the person-disjoint ``test`` split (never trained
on); each gives up to ``--sentences-per-person`` sentences. The model types each of those
sentences (typos on, at the learned rate; one training typist's pace per sentence), and so
do two naive typists on the same key plan without typos: ``constant`` (every interval the
training median interval, every dwell the median dwell) and ``uniform`` (intervals uniform
in 50-350 ms, dwells in 60-140 ms).

Per sentence features (:func:`sentence_features`): log interval mean, sd and 10/25/50/75/90th
percentiles, log dwell mean, sd and 10/50/90th percentiles, the rollover share (a key down
before the previous key is up), the backspace share, keystrokes per character, words per
minute, the share of key times that are whole milliseconds (the Aalto site stamped whole
ms; the model's times are put on that clock, and a row shows the same draws without it). The detector is the project's (``evaluation/detector.py``: gradient-boosted trees,
folds disjoint by person, a generated sentence grouped with the held-out typist whose
sentence it typed; cluster-bootstrap 95% CI), and the human floor the same test on held-out
people against held-out people.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from actiongen_keras.data import keystrokes as K  # noqa: E402
from actiongen_keras.evaluation.detector import detector_auc, human_floor  # noqa: E402
from actiongen_keras.generation.typing import Typist, key_presses, keystroke_events, keystroke_plan, typed_text  # noqa: E402

FEATURES = ("iv_mean", "iv_sd", "iv_q10", "iv_q25", "iv_q50", "iv_q75", "iv_q90", "dw_mean", "dw_sd", "dw_q10", "dw_q50", "dw_q90",
            "rollover", "backspace", "keys_per_char", "wpm", "whole_ms")


def wpm(press, n_chars):
    minutes = (press[-1] - press[0]) / 60000.0
    return (max(n_chars - 1, 1) / 5.0) / max(minutes, 1e-6)


def sentence_features(press, release, keys, text):
    order = np.argsort(press, kind="stable")
    press, release, keys = press[order], release[order], np.asarray(keys, dtype=object)[order]
    iv = np.log(np.clip(np.diff(press), 1.0, None))
    dw = np.log(np.clip(release - press, 1.0, None))
    q = np.percentile
    return [iv.mean(), iv.std(), *q(iv, [10, 25, 50, 75, 90]), dw.mean(), dw.std(), *q(dw, [10, 50, 90]),
            float((press[1:] < release[:-1]).mean()), float(np.mean(keys == "backspace")), len(press) / len(text), wpm(press, len(text)),
            float(np.mean(np.abs(np.r_[press, release] - np.round(np.r_[press, release])) < 1e-6))]


def naive_events(texts, rng, kind, median_iv, median_dw):
    out = []
    for text in texts:
        plan = keystroke_plan(text, rng)
        n = len(plan)
        if kind == "constant":
            iv, dw = np.full(n, median_iv), np.full(n, median_dw)
        else:
            iv, dw = rng.uniform(50, 350, n), rng.uniform(60, 140, n)
        out.append(keystroke_events(plan, iv, dw, 0.0, rng))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "keystrokes_aalto"))
    ap.add_argument("--max-people", type=int, default=600)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--test-people", type=int, default=100)
    ap.add_argument("--sentences-per-person", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tempo", default="", help="also type the sentences at these tempos (comma list; words per minute per tempo)")
    ap.add_argument("--style", action="store_true",
                    help="also type each held-out typist's sentences at their own pace, read off their other sentences")
    args = ap.parse_args(argv)
    model_dir = args.model
    if model_dir is None:
        from actiongen_keras.training.keystrokes import train_keystroke_model

        model_dir = tempfile.mkdtemp(prefix="keystroke_model_")
        meta = train_keystroke_model(args.data, model_dir, max_people=args.max_people, epochs=args.epochs, seed=args.seed)
        print(f"trained on {len(meta['people'])} typists ({meta['rows']} keystrokes) in {meta['train_seconds']} s; "
              f"validation NLL {meta['val_loss'][-1]:.3f} on {len(meta['validation_people'])} typists; model in {model_dir}")
    typist = Typist(model_dir)
    trained = set(typist.model.meta["people"])
    held = K.read_typists(args.data, "test", max_people=args.test_people)
    assert not trained & {t.pid for t in held}, "held-out typists overlap the training people"
    sections = [s for t in held for s in t.sections[: args.sentences_per_person]]
    texts = [s.sentence for s in sections]
    groups = [s.pid for s in sections]
    print(f"held out: {len(held)} typists never trained on, {len(sections)} sentences")

    real = np.array([sentence_features(s.press, s.release, np.array(s.letter, dtype=object), s.sentence) for s in sections])
    real[:, FEATURES.index("backspace")] = [np.mean(np.array(s.token) == K.BACKSPACE) for s in sections]
    rng = np.random.default_rng(args.seed)
    rows = {}
    gen = typist.type_texts(texts, np.random.default_rng(args.seed), typos=True)
    exact = [typed_text(ty, k) == text for (t, ty, k), text in zip(gen, texts)]
    rows["model (typos on)"] = gen
    # the same draws with the model's continuous times (not put on the recorder's whole-ms clock)
    rows["model, continuous times"] = typist.type_texts(texts, np.random.default_rng(args.seed), typos=True, clock=None)
    paces = np.exp(np.median(typist.model.paces, axis=0))
    rows["constant typist"] = naive_events(texts, rng, "constant", paces[0], paces[1])
    rows["uniform-random typist"] = naive_events(texts, rng, "uniform", 0, 0)
    wpm_real = real[:, FEATURES.index("wpm")]
    print(f"typed text exact: {sum(exact)} of {len(exact)} ({100.0 * np.mean(exact):.1f}%)")
    print(f"{'sample':24s} {'WPM median':>10s} {'WPM 5-95%':>14s} {'WPM min-max':>14s} {'AUC':>6s} {'95% CI':>14s}")
    print(f"{'held-out humans':24s} {np.median(wpm_real):10.1f} {np.percentile(wpm_real, 5):6.1f}-{np.percentile(wpm_real, 95):<7.1f} "
          f"{wpm_real.min():6.1f}-{wpm_real.max():<7.1f}")
    floor = human_floor(real, np.array(groups))
    for name, evs in rows.items():
        X = np.array([sentence_features(*key_presses(*e), text) for e, text in zip(evs, texts)])
        res = detector_auc(real, X, groups, groups)
        w = X[:, FEATURES.index("wpm")]
        print(f"{name:24s} {np.median(w):10.1f} {np.percentile(w, 5):6.1f}-{np.percentile(w, 95):<7.1f} {w.min():6.1f}-{w.max():<7.1f} "
              f"{res['auc']:6.3f} {res['ci_low']:.3f}-{res['ci_high']:.3f}")
    if isinstance(floor, dict) and "auc" in floor:
        print(f"{'human floor (A vs B)':24s} {'':10s} {'':14s} {'':14s} {floor['auc']:6.3f} {floor['ci_low']:.3f}-{floor['ci_high']:.3f}")
    if args.tempo:
        _tempo_rows(typist, texts, args, [float(x) for x in args.tempo.split(",")])
    if args.style:
        _style_rows(typist, held, texts, groups, real, args)


def _wpm_of(events, texts):
    return np.array([wpm(key_presses(*e)[0], len(text)) for e, text in zip(events, texts)])


def _tempo_rows(typist, texts, args, tempos):
    """Words per minute at each tempo: the same sentences, paces and seed (a training typist's pace per sentence)."""
    print(f"\n{'tempo':>6s} {'WPM median':>10s} {'WPM 5-95%':>14s} {'median ratio to tempo 1':>24s}")
    runs = {}

    def at(tempo):  # each tempo typed once (tempo 1 is the base of the ratio and may be a row too)
        if tempo not in runs:
            runs[tempo] = _wpm_of(typist.type_texts(texts, np.random.default_rng(args.seed), typos=True, tempo=tempo), texts)
        return runs[tempo]

    base = at(1.0)
    for tempo in tempos:
        w = at(tempo)
        print(f"{tempo:6.2f} {np.median(w):10.1f} {np.percentile(w, 5):6.1f}-{np.percentile(w, 95):<7.1f} {np.median(w / base):24.2f}")


def _style_rows(typist, held, texts, groups, real, args):
    """Each held-out typist's sentences typed at that typist's own pace (``K.pace_of`` over their
    sentences after the first ``--sentences-per-person``, the ones not typed here) against a
    training typist's pace: the per-person words per minute against the person's own."""
    own = {t.pid: K.Typist(t.pid, t.sections[args.sentences_per_person:]).pace() for t in held}
    usable = [i for i, g in enumerate(groups) if np.all(np.isfinite(own[g]))]
    people = sorted({groups[i] for i in usable})
    print(f"\nstyle: {len(people)} held-out typists with sentences beyond the first {args.sentences_per_person} "
          f"({len(usable)} sentences); per person, generated median WPM against the person's own")
    sub_texts = [texts[i] for i in usable]
    sub_groups = [groups[i] for i in usable]
    wpm_real = real[usable, FEATURES.index("wpm")]
    print(f"{'pace':24s} {'|log ratio| median':>18s} {'Spearman r':>10s} {'AUC':>6s} {'95% CI':>14s}")
    for name, paces in (("a training typist's", None), ("the person's own (style)", np.array([own[g] for g in sub_groups]))):
        evs = typist.type_texts(sub_texts, np.random.default_rng(args.seed), typos=True, paces=paces)
        w = _wpm_of(evs, sub_texts)
        per_gen = np.array([np.median(w[[g == p for g in sub_groups]]) for p in people])
        per_real = np.array([np.median(wpm_real[[g == p for g in sub_groups]]) for p in people])
        r = float(spearmanr(per_gen, per_real).statistic)
        X = np.array([sentence_features(*key_presses(*e), text) for e, text in zip(evs, sub_texts)])
        res = detector_auc(real[usable], X, sub_groups, sub_groups)
        print(f"{name:24s} {np.median(np.abs(np.log(per_gen / per_real))):18.3f} {r:10.2f} {res['auc']:6.3f} "
              f"{res['ci_low']:.3f}-{res['ci_high']:.3f}")


if __name__ == "__main__":
    main()
