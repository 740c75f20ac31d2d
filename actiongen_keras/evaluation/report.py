"""Model-independent evaluation report: does generated input move like a person?

:func:`evaluate_sessions` compares generated sessions with the real sessions whose
contexts they were generated from, beside two hand-written bots
(:mod:`~actiongen_keras.evaluation.synthetic`) on the same contexts, and writes into
``out_dir``:

* ``metrics.json``: every number (see :func:`evaluate_sessions`);
* ``report.md``: the tables;
* PNGs: ``timing_hist.png`` (inter-event intervals and dwell), ``interval_dwell_hist.png``
  (intervals at 1 ms, dwell at 5 ms: :func:`~actiongen_keras.evaluation.distances.timing_histograms`),
  ``trajectories.png`` (a
  stretch of one real session beside the generated ones on the same context),
  ``detector_roc.png``, ``feature_distributions.png``.

Which real sessions count: those with at least :data:`MIN_MOVES` on-screen moves whose
``human_channels`` (osu!: relax and autopilot replays are half bot) holds both ``cursor``
and ``keys`` when the key is present. Generated sessions are taken as they are.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from actiongen_keras.evaluation import coherence as C
from actiongen_keras.evaluation import detector as D
from actiongen_keras.evaluation import distances as Dist
from actiongen_keras.evaluation import kinematics as K
from actiongen_keras.evaluation import osu_hits as H
from actiongen_keras.evaluation import synthetic as S
from actiongen_keras.evaluation import target_clicks as TC
from actiongen_keras.recordings.session import Session, find_sessions, read_session

MIN_MOVES = 10


def _tqdm(it, progress, **kw):
    if not progress:
        return it
    from tqdm.auto import tqdm

    return tqdm(it, **kw)


def load_sessions(src, mode="repair", progress=False):
    """Sessions from a folder (any depth), a session folder, or a list of folders/Sessions."""
    if src is None:
        return []
    if isinstance(src, Session):
        return [src]
    if isinstance(src, (str, Path)):
        src = find_sessions(src)
    out = []
    for s in _tqdm(list(src), progress, desc="read", leave=False):
        out.append(s if isinstance(s, Session) else read_session(s, mode)[0])
    return out


def is_human(session):
    """Real sessions used as the human reference (see the module docstring)."""
    ch = session.extra.get("human_channels")
    if ch is not None and not ({"cursor", "keys"} <= set(ch)):
        return False
    ev = session.events
    return int(np.sum((ev.type == "move") & ~ev.offscreen)) >= MIN_MOVES


def _context_id(s):
    return str(s.extra.get("context_session_id") or s.session_id)


def _features(sessions, segment_ms, progress, desc):
    Xs, subj, ctx = [], [], []
    for s in _tqdm(sessions, progress, desc=desc, leave=False):
        X, _ = K.segment_features(s, segment_ms=segment_ms)
        Xs.append(X)
        subj += [s.subject] * len(X)
        ctx += [_context_id(s)] * len(X)
    X = np.vstack(Xs) if Xs else np.zeros((0, len(K.FEATURE_NAMES)))
    return X, np.asarray(subj, dtype=str), np.asarray(ctx, dtype=str)


def _none_auc(reason):
    return {"auc": None, "ci_low": None, "ci_high": None, "reason": reason}


def _round(o, nd=6):
    if isinstance(o, float):
        return None if not np.isfinite(o) else round(o, nd)
    if isinstance(o, (np.floating,)):
        return _round(float(o), nd)
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, dict):
        return {str(k): _round(v, nd) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_round(v, nd) for v in o]
    if isinstance(o, np.ndarray):
        return _round(o.tolist(), nd)
    return o


def evaluate_sessions(real, generated, out_dir, baselines=True, seed=0, segment_ms=K.SEGMENT_MS, beatmap_dir=None,
                      n_boot=D.N_BOOT, plots=True, progress=True, real_filter=is_human):
    """Evaluate generated sessions against real ones; write ``out_dir``; return the metrics dict.

    Args:
        real: real sessions (a folder, session folders or Sessions).
        generated: generated sessions (same forms; ``None`` or empty: only the baselines).
            Each should carry the ``subject`` of the real session whose context it came
            from (and ideally ``extra.context_session_id``).
        out_dir: where ``report.md``, ``metrics.json`` and the PNGs go.
        baselines: also evaluate the Bezier and WindMouse bots on the real contexts.
        seed: seeds the bots, the detector and the bootstraps.
        beatmap_dir: where osu! ``.osu`` files are (else the hit objects come from state.csv).
        real_filter: which real sessions count (default :func:`is_human`).

    Returns:
        dict with ``detector_cues`` (per sample, :func:`~actiongen_keras.evaluation.detector.feature_cues`),
        ``detector_auc`` (``model``, ``bezier``, ``wind``, ``human_floor``: each a
        dict with ``auc``, ``ci_low``, ``ci_high``, ...), ``distances`` (set -> quantity ->
        Wasserstein/KS), ``coherence`` (``human_ranges`` and set -> counts), ``osu_hit_rate``
        (``model``, ``human``, ``bezier``, ``wind``; only when real sessions have hit objects),
        ``target_clicks`` (``human``, ``model``, ``bezier``, ``wind``: clicked and reached click targets and the strokes' steering,
        :mod:`~actiongen_keras.evaluation.target_clicks`; only when real sessions have them),
        ``osu_circleguard`` (``human``, ``model``: circleguard's judgments, UR, frametime, snaps;
        only with ``beatmap_dir`` holding the maps, see :mod:`~actiongen_keras.evaluation.osu_circleguard`),
        ``timing_histograms`` (:func:`~actiongen_keras.evaluation.distances.timing_histograms`),
        ``edge_share`` (per sample, :func:`~actiongen_keras.evaluation.kinematics.edge_share`: the drift),
        ``silent_share`` (per sample, :func:`~actiongen_keras.evaluation.kinematics.silent_share`: slices without an event),
        ``still_share`` (per sample, :func:`~actiongen_keras.evaluation.kinematics.still_share`: moves that do not move),
        ``fitts``, ``counts`` and ``settings``. ``detector_auc.human_floor`` also carries
        ``n_subjects`` and ``has_power`` (at least ``detector.MIN_SUBJECTS_FOR_FLOOR`` people).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    real = [s for s in load_sessions(real, progress=progress) if real_filter is None or real_filter(s)]
    if not real:
        raise ValueError("no usable real sessions")
    gen = load_sessions(generated, progress=progress)
    sets = {}
    if gen:
        sets["model"] = gen
    fitts = S.fit_fitts_sessions(real)
    if baselines:
        ab = (fitts["a"], fitts["b"])
        sets["bezier"] = [S.bezier_session(s, fitts=ab, seed=seed + i) for i, s in enumerate(_tqdm(real, progress, desc="bezier bot", leave=False))]
        sets["wind"] = [S.windmouse_session(s, seed=seed + i) for i, s in enumerate(_tqdm(real, progress, desc="windmouse bot", leave=False))]

    subjects = sorted({s.subject for s in real})
    by_subject = len(subjects) >= D.MIN_SUBJECTS_FOR_SUBJECT_CI
    ci_method = (f"percentile cluster bootstrap ({n_boot} resamples) over "
                 + (f"{len(subjects)} subjects" if by_subject else f"sessions (context session; only {len(subjects)} subjects)"))
    feats = {"real": _features(real, segment_ms, progress, "features real")}
    for name, ss in sets.items():
        feats[name] = _features(ss, segment_ms, progress, f"features {name}")

    # ---- detectors
    det = {}
    Xr, gr, cr = feats["real"]
    for name in ("model", "bezier", "wind"):
        if name not in sets:
            det[name] = _none_auc("no generated sessions given" if name == "model" else "baselines off")
            continue
        Xg, gg, cg = feats[name]
        try:
            det[name] = D.json_ready(D.detector_auc(
                Xr, Xg, gr, gg, cr if not by_subject else None, cg if not by_subject else None,
                ci_method=ci_method, n_boot=n_boot, seed=seed))
        except ValueError as e:
            det[name] = _none_auc(str(e))
    # every feature's cue (report.md shows the top four; metrics.json keeps all, for ablation tables)
    cues = {name: D.feature_cues(Xr, feats[name][0], K.FEATURE_NAMES, top=None) for name in sets}
    try:
        hf = D.human_floor(Xr, gr, clusters=None if by_subject else cr, ci_method=ci_method, seed=seed, n_boot=n_boot)
        det["human_floor"] = D.json_ready(hf)
    except ValueError as e:
        det["human_floor"] = _none_auc(str(e))
    # whether the floor can be trusted: D.MIN_SUBJECTS_FOR_FLOOR people or more
    det["human_floor"]["n_subjects"] = len(subjects)
    det["human_floor"]["has_power"] = len(subjects) >= D.MIN_SUBJECTS_FOR_FLOOR

    # ---- distances
    dists = {name: Dist.distribution_distances(real, ss, feats["real"][0], feats[name][0], seed=seed) for name, ss in sets.items()}

    # ---- coherence
    ranges = C.human_ranges(real)
    coh = {"human_ranges": ranges, "real": C.total_violations(real, ranges)}
    for name, ss in sets.items():
        coh[name] = C.total_violations(ss, ranges)

    metrics = {
        "detector_auc": det, "detector_cues": cues, "distances": dists, "coherence": coh, "fitts": fitts,
        "timing_histograms": Dist.timing_histograms(real, sets),
        "edge_share": {name: K.edge_share(ss) for name, ss in {"real": real, **sets}.items()},
        "silent_share": {name: K.silent_share(ss, segment_ms) for name, ss in {"real": real, **sets}.items()},
        "still_share": {name: K.still_share(ss) for name, ss in {"real": real, **sets}.items()},
        "counts": {"real_sessions": len(real), "real_subjects": len(subjects), "real_segments": int(len(Xr)),
                   **{f"{n}_sessions": len(ss) for n, ss in sets.items()},
                   **{f"{n}_segments": int(len(feats[n][0])) for n in sets}},
        "settings": {"segment_ms": segment_ms, "pause_ms": K.PAUSE_MS, "seed": seed, "n_boot": n_boot,
                     "features": list(K.FEATURE_NAMES), "detector": "HistGradientBoostingClassifier, subject-disjoint StratifiedGroupKFold",
                     "ci_method": ci_method},
    }

    # ---- osu!
    human_hits = H.pooled_hit_rate(real, beatmap_dir)
    if human_hits["n_objects"]:
        osu = {"human": human_hits["rate"], "model": None, "details": {"human": human_hits}}
        # deliberate_test_play (osu!): short plays made to miss or spam on purpose
        nd = H.pooled_hit_rate([s for s in real if not s.extra.get("deliberate_test_play")], beatmap_dir)
        osu["human_not_deliberate"] = nd["rate"]
        osu["details"]["human_not_deliberate"] = nd
        for name, ss in sets.items():
            r = H.pooled_hit_rate(ss, beatmap_dir)
            osu[name] = r["rate"]
            osu["details"][name] = r
        metrics["osu_hit_rate"] = osu
        from actiongen_keras.evaluation import osu_circleguard

        judged = osu_circleguard.compare(real, sets, beatmap_dir)
        if judged is not None:
            metrics["osu_circleguard"] = judged

    # ---- click targets (recordings imported with --click-targets, and their rollouts)
    human_targets = TC.pooled_target_clicks(real)
    if human_targets["n_targets"]:
        metrics["target_clicks"] = {"human": human_targets, **{name: TC.pooled_target_clicks(ss) for name, ss in sets.items()}}

    metrics = _round(metrics)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")
    if plots:
        _plots(out_dir, real, sets, feats, det)
    (out_dir / "report.md").write_text(render_markdown(metrics), encoding="utf-8")
    return metrics


# --------------------------------------------------------------------------- markdown


def _f(v, nd=3):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{nd}g}" if abs(v) >= 1000 or (v != 0 and abs(v) < 0.001) else f"{v:.{nd}f}"
    return str(v)


def floor_text(hf):
    """One sentence: the human floor, its people and whether it has power (the detector's
    AUCs are read against it)."""
    n = hf.get("n_subjects", "?")
    power = ("has power" if hf.get("has_power") else f"**no power**: needs {D.MIN_SUBJECTS_FOR_FLOOR} people")
    if hf.get("auc") is None:
        return f"Human floor (real against real of other people): - on {n} people ({power}; {hf.get('reason', '')})."
    return (f"Human floor (real against real of other people): AUC {_f(hf['auc'])} ({_f(hf.get('ci_low'))} - "
            f"{_f(hf.get('ci_high'))}) on {n} people ({power}). An AUC is only as good as its distance above the floor.")


_NAMES = {"interval_ms": "inter-event interval", "dwell_button_ms": "button dwell (press -> release)",
          "dwell_key_ms": "key dwell (key_down -> key_up)"}


def timing_markdown(th, n_values=8):
    """The ``timing_histograms`` section of ``report.md``: one summary table, and the
    interval shares at the real sample's most frequent 1 ms values."""
    L = ["## Intervals at 1 ms and dwell times", "",
         "Histograms of every inter-event interval (1 ms bins centred on whole ms) and of press -> release and "
         "key_down -> key_up durations (5 ms bins), real against each sample (plot: interval_dwell_hist.png). "
         "TV: total-variation distance to real at that bin width (0 = same histogram, 1 = disjoint); "
         "on ticks: share on the real sample's most frequent values.", "",
         "| quantity | sample | n | median ms | p10 - p90 ms | on real's ticks | TV to real |", "|---|---|---|---|---|---|---|"]
    for q, h in th.items():
        if not any(d["n"] for d in h["samples"].values()):
            L.append(f"| {_NAMES.get(q, q)} | (none in any sample) | | | | | |")
            continue
        ticks = ", ".join(f"{t:g}" for t in h["ticks_ms"]) or "-"
        for i, (name, d) in enumerate(h["samples"].items()):
            label = f"{_NAMES.get(q, q)} ({h['bin_ms']:g} ms bins" + (f"; ticks {ticks} ms)" if h["ticks_ms"] else ")") if i == 0 else ""
            L.append(f"| {label} | {name} | {d['n']} | {_f(d['median'])} | "
                     f"{_f(d['p10'])} - {_f(d['p90'])} | {_f(d['on_ticks'])} | {_f(d['tv'])} |")
    h = th.get("interval_ms")
    if h and h["samples"]["real"]["n"]:
        real = np.asarray(h["samples"]["real"]["counts"][:-1])
        values = sorted(int(i) for i in np.argsort(-real, kind="stable")[:n_values] if real[i] > 0)
        L += ["", f"Share of intervals at each of the real sample's {len(values)} most frequent ms values "
              f"(1 ms bins; the rest below {h['end_ms']:g} ms and at or above it in the last columns):", "",
              "| sample | " + " | ".join(f"{v * h['bin_ms']:g} ms" for v in values) + " | other < end | >= end |",
              "|---" * (len(values) + 3) + "|"]
        for name, d in h["samples"].items():
            c = np.asarray(d["counts"], np.float64)
            tot = c.sum() or 1.0
            cells = [f"{c[v] / tot:.3f}" for v in values]
            other = (c[:-1].sum() - c[values].sum()) / tot
            L.append(f"| {name} | " + " | ".join(cells) + f" | {other:.3f} | {c[-1] / tot:.3f} |")
    return L


def render_markdown(m):
    """``report.md`` text of a metrics dict."""
    L = ["# Does it move like a person?", ""]
    c = m["counts"]
    L += [f"Real: {c['real_sessions']} sessions, {c['real_subjects']} subjects, {c['real_segments']} segments of "
          f"{m['settings']['segment_ms'] / 1000:g} s. " + ", ".join(f"{k}: {v}" for k, v in c.items() if not k.startswith("real")), ""]
    L += ["## Detector (real vs generated, subject-disjoint folds)", "",
          f"ROC AUC of a gradient-boosted tree detector on segment features; 0.5 = indistinguishable, 1 = always caught. "
          f"CI: {m['settings']['ci_method']}.", "",
          floor_text(m["detector_auc"].get("human_floor", {})), "",
          "| sample | AUC | 95% CI | folds | segments (real / other) | note |", "|---|---|---|---|---|---|"]
    for name, r in m["detector_auc"].items():
        ci = f"{_f(r.get('ci_low'))} - {_f(r.get('ci_high'))}" if r.get("auc") is not None else "-"
        L.append(f"| {name} | {_f(r.get('auc'))} | {ci} | {r.get('n_folds', '-')} | {r.get('n_neg', '-')} / {r.get('n_pos', '-')} | {r.get('reason', '')} |")
    L += ["", "What gives each sample away: the segment features that alone best separate it from the real segments "
          "(univariate ROC AUC, 0.5 = no cue).", "", "| sample | feature | AUC | median real | median generated |", "|---|---|---|---|---|"]
    for name, cues in m.get("detector_cues", {}).items():
        for cue in cues[:4]:
            L.append(f"| {name} | {cue['feature']} | {_f(cue['auc'])} | {_f(cue['median_real'])} | {_f(cue['median_gen'])} |")
    if "edge_share" in m:
        L += ["", f"Cursor samples within {K.EDGE_MARGIN:.0%} of a screen edge (a drifting cursor ends up there): "
              + ", ".join(f"{name} {_f(v)}" for name, v in m["edge_share"].items()) + "."]
    if "silent_share" in m:
        L += ["", f"Slices of {m.get('settings', {}).get('segment_ms', K.SEGMENT_MS) / 1000:g} s without a single event (a rollout that falls silent; the detector, "
              "which needs moves in a segment, cannot see it): " + ", ".join(f"{name} {_f(v)}" for name, v in m["silent_share"].items()) + "."]
    if "still_share" in m:
        L += ["", "Moves at the position of the event before them (a recorder that reports moves on change writes almost none): "
              + ", ".join(f"{name} {_f(v)}" for name, v in m["still_share"].items()) + "."]
    f = m["fitts"]
    L += ["", f"Fitts' law for the Bezier bot ({f['source']}, n={f['n']}): MT = {_f(f['a'])} + {_f(f['b'])} log2(D/W+1) ms, R^2 = {_f(f.get('r2'))}.", ""]
    if "osu_hit_rate" in m:
        o = m["osu_hit_rate"]
        L += ["## osu! hit rate", "", "Cursor inside the circle at the hit time and a click within the 50-window. Why objects are "
              f"missed, apart: the cursor inside at the hit time; a click within the window; the cursor inside at some moment within "
              f"{H.REACH_MS:.0f} ms of the hit time (reached), and when it came closest (ms after the hit time, median and quartiles, "
              "over the reached objects).", "",
              "| sample | hit rate | hit rate (cursor at the click) | inside at the hit time | click in the window | reached "
              "| closest approach, ms | objects | sessions |", "|---|---|---|---|---|---|---|---|---|"]
        for name, d in o["details"].items():
            a = d.get("approach_offset_ms") or {}
            approach = f"{_f(a['median'])} ({_f(a['p25'])} to {_f(a['p75'])})" if a.get("n") else ""
            L.append(f"| {name} | {_f(d['rate'])} | {_f(d['rate_at_press'])} | {_f(d.get('rate_inside'))} | {_f(d.get('rate_clicked'))} "
                     f"| {_f(d.get('rate_reached'))} | {approach} | {d['n_objects']} | {d['n_sessions']} |")
        L.append("")
    if "target_clicks" in m:
        L += ["## Click targets", "", f"Targets shown (the state's click targets) that got a press within {TC.TARGET_RADIUS_PX:.0f} px "
              "while shown (clicked), or that the cursor came that close to while shown (reached), and the clicked ones per minute "
              "(where a rollout's targets follow its own clicks, the pace is the reading: the next target appears only once one is clicked). "
              "Steering: how much of its heading's error off the current target a stroke corrects per step (pull) and the median "
              "error, radians (off course), of every step and of the fast ones (30 px or more). Stray presses: the share of presses "
              f"made more than {TC.STRAY_PRESS_PX:.0f} px from the target shown.", "",
              "| sample | clicked | reached | clicked per minute | stray presses | steering pull | off course | fast steps off course | targets | sessions |",
              "|---|---|---|---|---|---|---|---|---|---|"]
        for name, d in m["target_clicks"].items():
            steer = d.get("steering") or {}
            L.append(f"| {name} | {_f(d['rate_clicked'])} | {_f(d['rate_reached'])} | {_f(d.get('clicked_per_minute'))} | {_f(d.get('stray_press_share'))} "
                     f"| {_f(steer.get('pull_slope'))} "
                     f"| {_f(steer.get('off_course_median'))} | {_f(steer.get('off_course_fast_median'))} | {d['n_targets']} | {d['n_sessions']} |")
        L.append("")
    if m.get("osu_circleguard"):
        from actiongen_keras.evaluation.osu_circleguard import markdown

        L += markdown(m["osu_circleguard"]).splitlines() + [""]
    if m.get("timing_histograms"):
        L += timing_markdown(m["timing_histograms"]) + [""]
    L += ["## Distribution distances to real", ""]
    for name, dd in m["distances"].items():
        L += [f"### {name}", "", "| quantity | median real | median gen | Wasserstein | W / IQR(real) | KS | n real / gen |", "|---|---|---|---|---|---|---|"]
        for q, d in dd.items():
            L.append(f"| {q} | {_f(d['median_real'])} | {_f(d['median_gen'])} | {_f(d['wasserstein'])} | {_f(d['wasserstein_iqr'])} | {_f(d['ks'])} | {d['n_real']} / {d['n_gen']} |")
        L.append("")
    coh = m["coherence"]
    hr = coh["human_ranges"]
    L += ["## Temporal coherence (violation counts)", "",
          f"Human ranges from real: max speed {_f(hr['max_speed'])} px/s (p{hr['quantiles']['speed'] * 100:g}), "
          f"event rate {_f(hr['rate_range'][0])} - {_f(hr['rate_range'][1])} /s, pauses {_f(hr['pause_range'][0])} - {_f(hr['pause_range'][1])} ms.", ""]
    names = [k for k in coh if k != "human_ranges"]
    L += ["| kind | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for kind in list(C.KINDS) + ["n_events", "n_steps", "n_segments", "n_pauses", "n_sessions"]:
        L.append(f"| {kind} | " + " | ".join(str(coh[n].get(kind, "-")) for n in names) + " |")
    L += ["", "Plots: timing_hist.png, interval_dwell_hist.png, trajectories.png, detector_roc.png, feature_distributions.png", ""]
    return "\n".join(L)


# --------------------------------------------------------------------------- plots


def _plots(out_dir, real, sets, feats, det):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"real": "k", "model": "tab:blue", "bezier": "tab:orange", "wind": "tab:green"}
    pooled = {"real": Dist.pooled_quantities(real)}
    for n, ss in sets.items():
        pooled[n] = Dist.pooled_quantities(ss)

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, q, title in zip(axes, ("interval_ms", "move_interval_ms", "dwell_ms"), ("inter-event interval", "cursor sample interval", "press-to-release dwell")):
        for n, p in pooled.items():
            a = p[q][np.isfinite(p[q]) & (p[q] > 0)]
            if len(a):
                bins = np.logspace(np.log10(max(a.min(), 0.5)), np.log10(a.max() + 1), 60)
                ax.hist(a, bins=bins, density=True, histtype="step", color=colors.get(n), label=n)
        ax.set_xscale("log")
        ax.set_title(title)
        ax.set_xlabel("ms")
        ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "timing_hist.png", dpi=90)
    plt.close(fig)

    _timing_plot(out_dir, real, sets, colors, plt)

    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    for ax, q in zip(axes.ravel(), ("speed", "accel", "jerk", "curvature", "turn_angle", "straightness_click")):
        allv = np.concatenate([p[q][np.isfinite(p[q])] for p in pooled.values()])
        if not len(allv):
            continue
        lo, hi = np.quantile(allv, [0.005, 0.995])
        for n, p in pooled.items():
            a = p[q][np.isfinite(p[q])]
            if len(a):
                ax.hist(np.clip(a, lo, hi), bins=80, range=(lo, hi), density=True, histtype="step", color=colors.get(n), label=n)
        ax.set_title(q)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "feature_distributions.png", dpi=90)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 5))
    for n, r in det.items():
        if r.get("roc"):
            ax.plot(r["roc"]["fpr"], r["roc"]["tpr"], label=f"{n} (AUC {r['auc']:.3f})", color=colors.get(n, "tab:gray"))
    ax.plot([0, 1], [0, 1], ":", color="gray")
    ax.set_xlabel("false positive rate (real called generated)")
    ax.set_ylabel("true positive rate")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "detector_roc.png", dpi=90)
    plt.close(fig)

    # trajectories: the first real session with the most clicks in a 5 s window, and the same window of each set
    s = max(real[: 20], key=lambda r: len(r.events))
    t = K.click_times(s)[0]
    t0 = float(t[len(t) // 2]) if len(t) else float(s.events.t_ms[0])
    panels = [("real", s)] + [(n, next((g for g in ss if _context_id(g) == s.session_id), None)) for n, ss in sets.items()]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.2), squeeze=False)
    for ax, (n, se) in zip(axes[0], panels):
        ax.set_title(f"{n}: {s.session_id[:40]}", fontsize=8)
        if se is None:
            continue
        tr = K.cursor_track(se)
        m = (tr.t >= t0) & (tr.t < t0 + 5000)
        ax.plot(tr.x[m], tr.y[m], ".-", ms=2, lw=0.6, color=colors.get(n))
        ct, cx, cy = K.click_times(se)
        cm = (ct >= t0) & (ct < t0 + 5000)
        ax.plot(cx[cm], cy[cm], "r+", ms=8)
        ax.set_xlim(0, se.screen[0])
        ax.set_ylim(se.screen[1], 0)
        ax.set_aspect("equal")
    fig.tight_layout()
    fig.savefig(out_dir / "trajectories.png", dpi=90)
    plt.close(fig)


def _timing_plot(out_dir, real, sets, colors, plt):
    """``interval_dwell_hist.png``: the histograms of :func:`Dist.timing_histograms`, as step plots of shares."""
    th = Dist.timing_histograms(real, sets)
    fig, axes = plt.subplots(1, len(th), figsize=(6 * len(th), 4))
    for ax, (q, h) in zip(np.atleast_1d(axes), th.items()):
        for name, d in h["samples"].items():
            c = np.asarray(d["counts"][:-1], np.float64)
            if d["n"]:
                x = np.arange(len(c)) * h["bin_ms"]
                ax.step(x, c / d["n"], where="mid", color=colors.get(name), label=f"{name} (n={d['n']})", lw=1.2 if name == "real" else 0.9)
        ax.set_title(f"{_NAMES.get(q, q)}, {h['bin_ms']:g} ms bins")
        ax.set_xlabel("ms")
        ax.set_ylabel("share of the sample")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "interval_dwell_hist.png", dpi=90)
    plt.close(fig)


__all__ = ["evaluate_sessions", "load_sessions", "is_human", "render_markdown"]
