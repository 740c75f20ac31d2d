"""The wheel model against held-out people: within-burst intervals and a detector's AUC.

    python benchmarks/scroll_benchmark.py [--data ../shared/data/balabit] [--scheme loo|shipped]
        [--bursts-per-person 300] [--max-sessions N] [--seed 0] [--no-clock] [--no-positions]

Schemes (who is fitted, who is judged; a person is never judged by a model fitted on them):

* ``loo`` (default): leave one person out. Balabit has 10 people: the wheel model
  (``training/scroll.py``: 21 interval quantiles per person with 50+ within-burst intervals)
  is refitted 10 times, each time on the 9 other people, and judged on the one left out, so
  all 10 people are judged, each by a model that never saw them. The detector and the human
  floor then have 10 people to fold over (the floor needs 8 for power).
* ``shipped``: the split ``actiongen scroll fit`` uses (7 people fitted, every third by name
  held out: 3 judged). Too few people for the human floor, and the CI is over sessions.

For every judged burst of 2+ notches (at most ``--bursts-per-person`` per person, drawn at
random; 0 = all) three scrollers write a burst of as many notches: the wheel model (one
fitted person drawn per burst, as ``act()`` does per scroll goal), a ``constant`` scroller
(every interval the median of the fold's wheel model, its fitted people weighed alike as
generation draws them, not by notch count: pooled, user20 alone would set it at 16 ms) and a
``uniform`` one (intervals uniform between that model's 5th and 95th percentiles). The wheel
model's notch times are put on the clock of the session's recorder (read off its moves, as
``act()`` does with its context: Balabit's ~15.6 ms capture tick, whole ms); the same draws
with continuous times are a row of their own (``--no-clock`` drops the clock). Printed:
interval quantiles, the share of 0 ms and of whole-ms intervals and KS distances, then the
project's detector
(``evaluation/detector.py``: gradient-boosted trees on the per-burst features of
``evaluation/scroll_features.py``, folds disjoint by person, a generated burst grouped with
the person whose burst it mirrors; 95% cluster-bootstrap CI) for each scroller against the
judged people's real bursts, the features that best give each away, and the human floor
(judged people told from other judged people: one random halving with its CI, and the AUCs of
``--floor-splits`` - 1 other halvings, since with 10 people it hangs on who falls in which half).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.stats import ks_2samp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from actiongen_keras.evaluation.detector import MIN_SUBJECTS_FOR_FLOOR, MIN_SUBJECTS_FOR_SUBJECT_CI, detector_auc, feature_cues, human_floor  # noqa: E402
from actiongen_keras.evaluation.scroll_features import FEATURES, bursts_features  # noqa: E402
from actiongen_keras.generation.clock import put_on_clock, recorder_of  # noqa: E402
from actiongen_keras.generation.scrolling import Scroller  # noqa: E402
from actiongen_keras.recordings.importers.balabit import read_balabit  # noqa: E402
from actiongen_keras.training.scroll import MIN_INTERVALS, burst_intervals, interval_quantiles, position_quantiles, scroll_people, session_bursts, split_people  # noqa: E402


def person_folds(names, scheme):
    """``[(fitted people, judged people)]``."""
    if scheme == "shipped":
        return [split_people(names)]
    return [([n for n in names if n != p], [p]) for p in names]


def _g(v):
    return f"{float(np.round(v, 3)) + 0.0:.3g}"


def mirror(real, intervals, clock=None):
    """A burst with the notch count of ``real``: notch times from its first notch on ``intervals``,
    put on the recorder's ``clock`` (``clock.put_on_clock``) when given."""
    t = real[0] + np.r_[0.0, np.cumsum(intervals)]
    return t if clock is None else put_on_clock(t, clock, after_ms=real[0])


def session_clocks(files):
    """``{file: clock}``: the recorder's clock of each session, read off its moves (``clock.recorder_of``)."""
    return {f: recorder_of(read_balabit(f, repair=True)[0].events, np.inf)[0] for f in files}


def judge(args):
    people = scroll_people(args.data)
    bursts = {p: session_bursts(files[: args.max_sessions]) for p, files in people.items()}
    intervals = {p: burst_intervals([b for _, b in bs]) for p, bs in bursts.items()}
    rng = np.random.default_rng(args.seed)
    real, session, groups, gen = [], [], [], {"wheel model": [], "constant scroller": [], "uniform-random scroller": []}
    if args.clock:
        gen["wheel model, continuous times"] = []
    clocks = {}
    fitted = []
    for train, held in person_folds(sorted(people), args.scheme):
        fit = [p for p in train if len(intervals[p]) >= MIN_INTERVALS]
        scroller = Scroller.from_quantiles({p: interval_quantiles(intervals[p]) for p in fit},
                                           {p: position_quantiles([b for _, b in bursts[p]]) for p in fit} if args.positions else None)
        fitted.append(len(scroller.quantiles))
        # the fitted people weighed alike (as generation draws them), not by their notch counts
        mixture = np.concatenate([np.interp(np.linspace(0, 1, 1001), np.linspace(0, 1, len(q)), q) for q in scroller.quantiles.values()])
        median, lo, hi = np.median(mixture), *np.percentile(mixture, [5, 95])
        for p in held:
            bs = [(f, b) for f, b in bursts[p] if len(b) >= 2]
            if args.bursts_per_person and len(bs) > args.bursts_per_person:
                bs = [bs[i] for i in sorted(rng.choice(len(bs), args.bursts_per_person, replace=False))]
            for f, b in bs:
                n = len(b) - 1
                real.append(b)
                session.append(f"{p}/{Path(f).name}")
                groups.append(p)
                iv = scroller.intervals(n, rng)
                if args.clock and f not in clocks:
                    clocks.update(session_clocks([f]))
                gen["wheel model"].append(mirror(b, iv, clocks[f] if args.clock else None))
                if args.clock:
                    gen["wheel model, continuous times"].append(mirror(b, iv))
                gen["constant scroller"].append(mirror(b, np.full(n, median)))
                gen["uniform-random scroller"].append(mirror(b, rng.uniform(lo, hi, n)))
    return real, np.array(session), np.array(groups), gen, fitted


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "balabit"))
    ap.add_argument("--scheme", choices=("loo", "shipped"), default="loo")
    ap.add_argument("--bursts-per-person", type=int, default=300)
    ap.add_argument("--max-sessions", type=int)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-positions", dest="positions", action="store_false",
                    help="draw every interval from the person's quantiles alike (default: by its position in the burst, as the fit keeps them)")
    ap.add_argument("--no-clock", dest="clock", action="store_false",
                    help="leave the wheel model's notch times continuous (default: on the session recorder's clock, as act() puts them)")
    ap.add_argument("--floor-splits", type=int, default=5, help="random halvings of the people for the human floor (the first gets the CI)")
    args = ap.parse_args(argv)
    real, session, groups, gen, fitted = judge(args)
    judged = sorted(set(groups))
    n_people = len(judged)
    span = f"{min(fitted)}" if min(fitted) == max(fitted) else f"{min(fitted)}-{max(fitted)}"
    scheme = f"leave one person out: {len(fitted)} fits on {span} people each" if args.scheme == "loo" else f"shipped split: fitted on {fitted[0]} people"
    print(f"{scheme}; judged {n_people} people never fitted on ({', '.join(judged)}): {len(real)} bursts of 2+ notches "
          f"(at most {args.bursts_per_person or 'all'} per person), {sum(len(b) - 1 for b in real)} intervals")
    ivs = {"held-out people": np.concatenate([np.diff(b) for b in real])}
    ivs.update({k: np.concatenate([np.diff(b) for b in v]) for k, v in gen.items()})
    for name, iv in ivs.items():
        q = np.percentile(iv, [10, 25, 50, 75, 90])
        print(f"{name:24s} intervals ms q10-q90 {' '.join(f'{v:6.0f}' for v in q)}  0 ms: {np.mean(iv == 0):.2f}  "
              f"whole ms: {np.mean(iv == np.round(iv)):.2f}")
    med_real = [np.median(np.diff(b)) for b in real]
    med_gen = [np.median(np.diff(b)) for b in gen["wheel model"]]
    print(f"wheel model KS distance: pooled intervals {ks_2samp(ivs['held-out people'], ivs['wheel model']).statistic:.3f}, "
          f"per-burst median {ks_2samp(med_real, med_gen).statistic:.3f}")

    # the detector: clusters are people when there are enough of them, else sessions
    by_person = n_people >= MIN_SUBJECTS_FOR_SUBJECT_CI
    clusters = groups if by_person else session
    ci = f"cluster bootstrap over {len(set(clusters))} {'people' if by_person else 'sessions'}"
    X_real = bursts_features(real)
    print(f"\ndetector on per-burst features ({', '.join(FEATURES)}), folds disjoint by person; 95% CI: {ci}")
    print(f"{'sample':24s} {'AUC':>6s} {'95% CI':>13s}  gives it away (feature: univariate AUC, median real/generated)")
    results = {}
    for name, bs in gen.items():
        X = bursts_features(bs)
        r = results[name] = detector_auc(X_real, X, groups, groups, real_clusters=clusters, gen_clusters=clusters, ci_method=ci)
        cues = "; ".join(f"{c['feature']}: {c['auc']:.2f}, {_g(c['median_real'])}/{_g(c['median_gen'])}" for c in feature_cues(X_real, X, FEATURES, top=2))
        print(f"{name:24s} {r['auc']:6.3f} {r['ci_low']:.3f}-{r['ci_high']:.3f}  {cues}")
    floor = human_floor(X_real, groups, clusters=clusters, ci_method=ci, seed=args.seed)
    if floor["auc"] is None:
        print(f"{'human floor (A vs B)':24s}    n/a  {floor['reason']}")
        print(f"power: NO: {n_people} people judged, the human floor needs {MIN_SUBJECTS_FOR_FLOOR}; the AUCs cannot be set against "
              f"a floor, and a CI over {len(set(clusters))} sessions of {n_people} people understates the between-person spread")
    else:
        print(f"{'human floor (A vs B)':24s} {floor['auc']:6.3f} {floor['ci_low']:.3f}-{floor['ci_high']:.3f}  "
              f"halves {'+'.join(floor['halves']['A'])} vs {'+'.join(floor['halves']['B'])}")
        floors = [floor["auc"]] + [human_floor(X_real, groups, seed=args.seed + k, n_boot=1)["auc"] for k in range(1, args.floor_splits)]
        if len(floors) > 1:
            print(f"{'':24s} other halvings of the people (seeds {args.seed + 1}-{args.seed + len(floors) - 1}): "
                  f"{', '.join(f'{a:.3f}' for a in floors[1:])}")
        top = max(floors)
        verdict = ", ".join(f"{name} {'yes' if r['ci_low'] > top else 'no'}" for name, r in results.items())
        print(f"power: {n_people} people judged, at the floor's minimum of {MIN_SUBJECTS_FOR_FLOOR} or above, but little: a half is "
              f"{n_people // 2} people and the floor moves {min(floors):.2f}-{top:.2f} over {len(floors)} halvings (below 0.5: a held-out "
              f"person's class is a member short in training). Told from people, i.e. the CI's low end above the highest floor "
              f"{top:.3f}: {verdict}")


if __name__ == "__main__":
    main()
