"""The closed-loop columns of the README's ablation tables, one row per seed, from ``actiongen evaluate`` folders.

    python benchmarks/ablation_table.py REPORT_DIR [REPORT_DIR ...]

Reads each ``REPORT_DIR/seed_<s>/metrics.json`` (or ``REPORT_DIR/metrics.json`` of a
single-seed run): detector AUC of the model, the bots and the human floor; the segment
medians of reversing steps and mean absolute turn (the detector's cues; a report written
before every cue was kept in metrics.json has only its top six, and the missing medians
are computed from its generated sessions with the same segment features); curvature and
stroke straightness; the interval histogram's TV at 1 ms; the button dwell; the share of
cursor samples at a screen edge; the share of moves that stand still (recomputed from the saved rollouts
where the report predates it); the three top cues; and the teacher-forced heads. For click-target
sessions (``--click-targets``) a second line per seed: targets clicked and reached, the pace, when
they were reached and clicked, where the first press fell, and the silent 3 s slices (recomputed
from the saved rollouts where the report predates them). For osu! sessions a line per seed: the
objects hit, and why the others were missed (inside the circle at its time, clicked within its
window, reached within its reach span), the human's hit rate beside them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SEGMENT_CUES = ("reversal_frac", "turn_abs_mean", "decel_frac", "speed_q10")


def _cue_medians(seed_dir, m):
    cues = {c["feature"]: c for c in m["detector_cues"]["model"]}
    out = {n: (cues[n]["median_real"], cues[n]["median_gen"]) for n in SEGMENT_CUES if n in cues}
    if len(out) < len(SEGMENT_CUES):  # an older report: only the top cues were kept
        from actiongen_keras.evaluation import kinematics as K
        from actiongen_keras.generation.rollout import generated_part
        from actiongen_keras.recordings.session import read_session

        X = [K.segment_features(generated_part(read_session(d)[0]))[0] for d in sorted((seed_dir / "generated").iterdir())]
        X = np.concatenate([x for x in X if len(x)])
        col = {n: i for i, n in enumerate(K.FEATURE_NAMES)}
        for n in SEGMENT_CUES:
            out.setdefault(n, (None, float(np.nanmedian(X[:, col[n]]))))
    return out


def _still(seed_dir, m):
    """``still_share`` of the model's rollouts and the people's: from the report, or (the model's
    alone) from its saved rollouts where the report predates it."""
    if "still_share" in m:
        return m["still_share"]["model"], m["still_share"]["real"]
    from actiongen_keras.evaluation import kinematics as K
    from actiongen_keras.generation.rollout import generated_part
    from actiongen_keras.recordings.session import read_session

    return K.still_share([generated_part(read_session(d)[0]) for d in sorted((seed_dir / "generated").iterdir())]), None


def _click_targets(seed_dir, m):
    """``target_clicks`` and ``silent_share`` of the model's rollouts: from the report, or from its saved rollouts."""
    tc, silent = m.get("target_clicks", {}).get("model"), m.get("silent_share", {}).get("model")
    if tc is None or "stray_press_share" not in tc or silent is None:
        from actiongen_keras.evaluation import kinematics as K
        from actiongen_keras.evaluation.target_clicks import pooled_target_clicks
        from actiongen_keras.generation.rollout import generated_part
        from actiongen_keras.recordings.session import read_session

        gen = [generated_part(read_session(d)[0]) for d in sorted((seed_dir / "generated").iterdir())]
        tc, silent = pooled_target_clicks(gen), K.silent_share(gen)
    return tc, silent


def _f(v, fmt="{:.3f}"):
    return "-" if v is None else fmt.format(v)


def rows(report_dir):
    report_dir = Path(report_dir)
    top = json.loads((report_dir / "metrics.json").read_text())
    seeds = [(s, report_dir / f"seed_{s}") for s in top["seeds"]] if "seeds" in top else [(None, report_dir)]
    for s, d in seeds:
        m = json.loads((d / "metrics.json").read_text())
        auc = {k: m["detector_auc"][k]["auc"] for k in ("model", "bezier", "wind", "human_floor")}
        dist = m["distances"]["model"]
        th = m["timing_histograms"]
        dwell = th.get("dwell_button_ms", {}).get("samples", {}).get("model", {})
        cue = _cue_medians(d, m)
        yield (f"seed {s}: AUC model {_f(auc['model'])} (bezier {_f(auc['bezier'])}, wind {_f(auc['wind'])}, human floor {_f(auc['human_floor'])})"
               + "".join(f" | {n} {_f(g)} (real {_f(r)})" for n, (r, g) in cue.items())
               + f" | curvature {_f(dist['curvature']['median_gen'], '{:.4f}')} (real {_f(dist['curvature']['median_real'], '{:.4f}')})"
               + f" | straightness {_f(dist['straightness_stroke']['median_gen'])} (real {_f(dist['straightness_stroke']['median_real'])})"
               + f" | interval TV {_f(th['interval_ms']['samples']['model']['tv'])}"
               + f" | dwell {_f(dwell.get('median'), '{:.0f}')}, {_f(dwell.get('p10'), '{:.0f}')}-{_f(dwell.get('p90'), '{:.0f}')} ms, TV {_f(dwell.get('tv'))}"
               + f" | at an edge {_f(m['edge_share']['model'])} (real {_f(m['edge_share']['real'])})"
               + " | still moves {} (real {})".format(*(_f(v) for v in _still(d, m)))
               + " | cues " + ", ".join(f"{c['feature']} {c['auc']:.2f}" for c in m["detector_cues"]["model"][:3]))
        tc, silent = _click_targets(d, m)
        if tc["n_targets"]:
            yield (f"seed {s} click targets: clicked {_f(tc['rate_clicked'])} | reached {_f(tc['rate_reached'])}"
                   f" | per minute {_f(tc['clicked_per_minute'], '{:.1f}')} | reached after {_f(tc['reach_ms_median'], '{:.0f}')} ms"
                   f" | clicked after {_f(tc['click_ms_median'], '{:.0f}')} ms | first press {_f(tc['first_press_px_median'], '{:.1f}')} px"
                   f" | stray presses {_f(tc['stray_press_share'])} | silent 3 s slices {_f(silent)}")
            real = m.get("target_clicks", {}).get("human", {}).get("steering", {})
            yield (f"seed {s} steering: pull {_f(tc['steering']['pull_slope'])} (real {_f(real.get('pull_slope'))})"
                   f" | off course {_f(tc['steering']['off_course_median'])} rad (real {_f(real.get('off_course_median'))})"
                   f" | fast steps off course {_f(tc['steering']['off_course_fast_median'])} rad (real {_f(real.get('off_course_fast_median'))})")
        osu = m.get("osu_hit_rate", {}).get("details", {}).get("model")
        if osu:
            yield (f"seed {s} osu!: hit {_f(osu['rate'])} (human {_f(m['osu_hit_rate'].get('human'))}) | inside {_f(osu['rate_inside'])}"
                   f" | clicked {_f(osu['rate_clicked'])} | reached {_f(osu['rate_reached'])} | {osu['n_objects']} objects")
    ph = top.get("per_head", {}).get("model")
    if ph:
        yield "teacher-forced: " + " ".join(f"{k} {ph[k]:.3f}" for k in ("event_accuracy", "event_macro_f1", "timing_mae_ms", "timing_mae_ms_nonmove", "coord_mae_px"))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("report_dirs", nargs="+", metavar="REPORT_DIR", help="folders written by actiongen evaluate")
    args = p.parse_args(argv)
    for report_dir in args.report_dirs:
        if not (Path(report_dir) / "metrics.json").is_file():
            p.error(f"{report_dir}: no metrics.json here (a folder written by actiongen evaluate)")
        print(f"== {report_dir}")
        for line in rows(report_dir):
            print(line)


if __name__ == "__main__":
    main()
