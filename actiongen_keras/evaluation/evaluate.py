"""``actiongen evaluate``: per-head metrics beside the baselines, then closed-loop human-likeness.

:func:`evaluate` takes a run (``RUN_DIR/model.keras``) and a folder of real sessions and
writes one ``report.md`` + ``metrics.json`` (and the PNGs of
:func:`~actiongen_keras.evaluation.report.evaluate_sessions`) into ``out_dir``:

(a) **per head** (teacher-forced, open loop): every window of the sessions
    (:func:`~actiongen_keras.data.windows.windows_from_sessions` with the run's
    preprocessing), the model's outputs decoded with
    :func:`~actiongen_keras.scoring.window_metrics.decode_outputs` and scored with
    :func:`~actiongen_keras.scoring.score.split_metrics` beside every baseline. The
    majority-length baseline uses the training split's most common length, as recorded in
    ``RUN_DIR/metrics.json``;
(b) **closed loop**: for each session whose cursor and keys are human
    (:func:`~actiongen_keras.evaluation.report.is_human`; at most ``max_sessions``, in path
    order) a :func:`~actiongen_keras.generation.rollout.rollout` of ``seconds`` after its
    first 6 s. The human-likeness report compares, over the same span
    ``[T0, T0 + seconds)`` of each session (shorter when the session ends earlier), the
    generated events with the real ones (and the Bezier/WindMouse bots made on the real
    span): the shared real context is left out of both so it cannot make the model look
    human. The full rollouts (with context) are written to ``out_dir/generated/``.

With ``data_dir`` and ``split`` (e.g. the dataset the run was trained on and ``"test"``)
only that split is used: sessions of the split's people, or, for a source split into time
blocks, each session's block of that split, both for the windows of (a) and for the
rollouts of (b), which then start 6 s into the block (the context is inside it too).

``metrics.json``: the keys of ``evaluate_sessions`` (``detector_auc`` with ``model``,
``bezier``, ``wind``, ``human_floor``; ``distances``, ``coherence``, ``osu_hit_rate`` when the
sessions have hit objects, ``fitts``, ``counts``, ``settings``) plus ``per_head``
(``{"model": {...}, "baselines": {name: {...}}}``) and ``generation`` (sessions, seconds,
sampling settings, wall-clock ms per generated window, how windows ended), and with a
split ``split`` (the split's ``modes``, ``held_out`` maps/people and summary ``lines`` from
``splits.json``, also at the top of ``report.md``).

**Several seeds** (``seeds=[0, 1, 2]``, ``actiongen evaluate --seeds 0,1,2`` or ``--seeds 3``):
the per-head part runs once; the closed loop (rollouts, the bots, the detector and its human
floor, the histograms) once per seed, each written in full into ``out_dir/seed_S/`` (its own
``report.md``, ``metrics.json``, PNGs, ``generated/``). ``out_dir/metrics.json`` then holds
``per_head``, ``seeds``, ``per_seed`` (:func:`headline` of each seed: detector AUCs of the
model and the bots, the human floor with its people and ``has_power``, osu! hit rates,
histogram distances), ``summary`` (per key: ``per_seed``, ``mean``, ``min``, ``max``) and
``generation``; ``report.md`` a table over the seeds with each seed's floor beside every
AUC. One seed is the single-seed report above (nothing in ``seed_S/``). Context ``i`` of
seed ``S`` is rolled out with seed ``S + i`` for one seed and ``S * N + i`` (``N``
contexts) for several, so no two rollouts of a run share random numbers.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import numpy as np

from actiongen_keras.data import features as F
from actiongen_keras.data.jsonfile import finite_json
from actiongen_keras.data.splits import load_splits
from actiongen_keras.data.windows import check_session, history_ms, windows_from_sessions
from actiongen_keras.errors import ActiongenError
from actiongen_keras.evaluation.closed_loop_monitor import rollout_contexts
from actiongen_keras.evaluation.detector import MIN_SUBJECTS_FOR_FLOOR
from actiongen_keras.evaluation.kinematics import EDGE_MARGIN, SEGMENT_MS
from actiongen_keras.evaluation.osu_hits import REACH_MS, REASONS
from actiongen_keras.evaluation.report import (
    _f,
    evaluate_sessions,
    load_sessions,
    render_markdown,
    timing_markdown,
)
from actiongen_keras.generation.rollout import as_generator, crop_session, generated_part, rollout
from actiongen_keras.recordings.session import write_session
from actiongen_keras.scoring.score import event_class_counts, metrics_table, predict_batches, split_metrics
from actiongen_keras.training.losses import event_decision_bias


def predict_windows(model, inputs, targets, weights, config, meta, event_bias=None, batch_size=256):
    """:func:`~actiongen_keras.scoring.score.predict_batches` over windows given as NumPy dicts."""
    n = len(targets["seq_len"])
    batches = (
        tuple({k: d[k][i : i + batch_size] for k in keys} for d, keys in ((inputs, F.INPUT_NAMES), (targets, F.TARGET_NAMES), (weights, F.TARGET_NAMES)))
        for i in range(0, n, batch_size)
    )
    return predict_batches(model, batches, config, meta, event_bias)


def per_head_metrics(gen, sessions, batch_size=256, time_ranges=None):
    """(a): ``split_metrics`` of the model and every baseline on the windows of ``sessions``
    (within ``time_ranges[session_id]`` where given)."""
    prep = gen.preprocessing
    ins, tgs, wts = windows_from_sessions(sessions, prep, time_ranges=time_ranges)
    if len(tgs["seq_len"]) == 0:
        return None
    bias = event_decision_bias(event_class_counts(prep))
    data = predict_windows(gen.model, ins, tgs, wts, gen.run.config, gen.run.meta, bias, batch_size)
    mode_len = _train_seq_len_mode(gen.run.path)
    if mode_len is None:  # a run from before it was recorded: the evaluated windows' own mode (flatters the baseline)
        mode_len = int(np.bincount(tgs["seq_len"].astype(np.int64)).argmax())
    return split_metrics(data, prep, mode_len)


def _train_seq_len_mode(run_path):
    """The training split's most common window length, as ``actiongen train`` recorded it."""
    p = Path(run_path)
    p = (p.parent if p.suffix == ".keras" else p) / "metrics.json"
    try:
        return int(json.loads(p.read_text())["train_seq_len_mode"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _usable(session, cfg):
    return check_session(session, cfg) is None


def evaluate(model_or_run_dir, sessions, out_dir, seconds=30.0, max_sessions=None, seed=0, temperature=1.0, top_k=0, top_p=1.0,
             beatmap_dir=None, n_boot=500, progress=True, baselines=True, write_generated=True, data_dir=None, split=None,
             xy_noise_corr=0.0, xy_top_p=1.0, seeds=None, dwell=True, clock=True, pixel_grid=True, follow_clicks=True, best_of=1,
             moves_on_change=True):
    """Run (a) and (b) of the module doc; write ``out_dir``; return the merged metrics dict.

    Args:
        model_or_run_dir: ``RUN_DIR``, ``RUN_DIR/model.keras`` or a
            :class:`~actiongen_keras.generation.rollout.Generator`.
        sessions: a folder of real sessions (any depth) or a list of Sessions.
        seconds: generated seconds per session; max_sessions: roll out at most this many.
        seed: session ``i`` is rolled out with seed ``seed + i``; also seeds the bots,
            the detector and the bootstraps.
        seeds: several seeds (instead of ``seed``): the closed loop (rollouts, bots, detector,
            human floor) once per seed, each into ``out_dir/seed_S/``; ``out_dir`` gets the
            per-head metrics once and the numbers per seed with mean/min/max.
        data_dir, split: evaluate only this split of that dataset's ``splits.json``.
        dwell, clock, pixel_grid: the sampling loop's mechanisms
            (:class:`~actiongen_keras.generation.sampler.SamplingConfig`; off for ablations).
        follow_clicks: click targets advance on the rollout's own clicks
            (:func:`~actiongen_keras.generation.rollout.rollout`; False for the ablation).
        best_of: windows drawn per window, the one nearest to its anchors kept
            (:mod:`~actiongen_keras.generation.best_of`).
        moves_on_change: leave out generated moves that stand still where the context's
            recorder reports moves only on change (:func:`~actiongen_keras.generation.rollout.rollout`;
            False for the ablation).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    gen = as_generator(model_or_run_dir)
    cfg = gen.data_config
    if isinstance(sessions, (str, Path)) and not Path(sessions).exists():
        raise ActiongenError(f"{sessions}: no such folder")
    real_all = load_sessions(sessions, mode="repair", progress=progress)
    real = [s for s in real_all if _usable(s, cfg)]
    if not real:
        raise ActiongenError(f"{sessions}: no session the model can use (each needs a screen, state for a game, human keys "
                             f"and at least {(history_ms(cfg) + cfg.target_ms) / 1000:g} s)")

    ranges, split_info = {}, None
    if split is not None:
        if data_dir is None:
            raise ActiongenError("--split needs --data (the dataset whose splits.json defines it)")
        splits = load_splits(data_dir)
        parts = splits.parts(split, real)
        if not parts:
            raise ActiongenError(f"{sessions}: no session belongs to the '{split}' split of {data_dir}")
        real = [s for s, _ in parts]
        ranges = {s.session_id: r for s, r in parts if r is not None}
        # what the split holds out (maps, people or only later play), for the report
        sources = {s.source for s in real}
        split_info = {"data": str(data_dir), "split": split, "modes": {k: v for k, v in splits.modes.items() if k in sources},
                      "held_out": {k: v for k, v in splits.held_out.items() if k in sources},
                      "lines": [line for line in splits.summary_lines() if line.split(":")[0] in sources]}

    # ---- (a) per head
    per_head = per_head_metrics(gen, real, time_ranges=ranges)

    # ---- (b) closed loop
    found = rollout_contexts(real, cfg, ranges, max_sessions)
    if not found:
        raise ActiongenError(f"{sessions}: no session with a human cursor and keys long enough to roll out")
    todo, spans = [s for s, _, _ in found], [(T0, end) for _, T0, end in found]
    seconds_each = [min(float(seconds), (end - T0) / 1000.0) for T0, end in spans]
    real_parts = [crop_session(s, T0, T0 + span_s * 1000.0) for s, (T0, _), span_s in zip(todo, spans, seconds_each)]
    seeds = [int(seed)] if seeds is None else [int(v) for v in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ActiongenError(f"seeds must be distinct, got {seeds}")
    runs = {}
    for sd in seeds:
        sd_dir = out_dir if len(seeds) == 1 else out_dir / f"seed_{sd}"
        # one seed: context i gets seed + i (as always); several: sd * N + i, so no two rollouts share random numbers
        ctx_seeds = [sd + i if len(seeds) == 1 else sd * len(todo) + i for i in range(len(todo))]
        t = time.perf_counter()
        rolled = rollout(gen, todo, seconds=seconds_each, seed=ctx_seeds, temperature=temperature, top_k=top_k, top_p=top_p,
                         start_ms=[T0 for T0, _ in spans], xy_noise_corr=xy_noise_corr, xy_top_p=xy_top_p, progress=progress, dwell=dwell, follow_clicks=follow_clicks,
                         clock=clock, pixel_grid=pixel_grid, best_of=best_of,
                         moves_on_change=moves_on_change)
        gen_seconds = time.perf_counter() - t
        gen_parts, n_windows, stops, still = [], 0, Counter(), 0
        for g in rolled:
            if isinstance(g, Exception):
                raise g
            n_windows += int(sum(g.extra["window_stops"].values()))
            stops.update(g.extra["window_stops"])
            still += int(g.extra["still_moves_dropped"])
            if write_generated:
                write_session(g, sd_dir / "generated" / g.session_id)
            gen_parts.append(generated_part(g))
        hl = evaluate_sessions(real_parts, gen_parts, sd_dir, baselines=baselines, seed=sd, beatmap_dir=beatmap_dir, n_boot=n_boot,
                               progress=progress)
        generation = {
            "sessions": len(todo), "seconds": float(seconds), "seed": sd, "context_seeds": ctx_seeds, "temperature": temperature,
            "top_k": top_k, "top_p": top_p, "xy_noise_corr": xy_noise_corr, "xy_top_p": xy_top_p, "dwell": dwell, "clock": clock, "pixel_grid": pixel_grid, "follow_clicks": follow_clicks,
            "best_of": int(best_of), "moves_on_change": bool(moves_on_change), "still_moves_dropped": still, "windows": n_windows, "ms_per_window": 1000.0 * gen_seconds / max(n_windows, 1),
            "window_stops": dict(stops), "context_sessions": [s.session_id for s in todo],
            "model": str(gen.model_path),
        }
        runs[sd] = (hl, generation)
        if len(seeds) > 1:  # each seed's own full report, beside the summary
            m_sd = {**hl, "per_head": per_head, "generation": generation}
            _write(sd_dir, m_sd, _report(gen, per_head, real, split_info, [(sd, hl, generation)]))

    if len(seeds) == 1:
        hl, generation = runs[seeds[0]]
        metrics = {**hl, "per_head": per_head, "generation": generation}
        if split_info:
            metrics["split"] = split_info
    else:
        per_seed = {str(sd): headline(hl) for sd, (hl, _) in runs.items()}
        metrics = {"per_head": per_head, "seeds": seeds, "per_seed": per_seed, "summary": summarize(list(per_seed.values())),
                   "generation": {**runs[seeds[0]][1], "seed": seeds, "per_seed": {str(sd): g for sd, (_, g) in runs.items()}},
                   **({"split": split_info} if split_info else {})}
    _write(out_dir, metrics, _report(gen, per_head, real, split_info, [(sd, hl, g) for sd, (hl, g) in runs.items()]))
    return metrics


def _write(out_dir, metrics, text):
    (out_dir / "metrics.json").write_text(json.dumps(finite_json(metrics), indent=1, allow_nan=False) + "\n", encoding="utf-8")
    (out_dir / "report.md").write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------- several seeds


def headline(hl):
    """The closed-loop numbers compared across seeds, flat: ``{key: value}`` from one
    :func:`~actiongen_keras.evaluation.report.evaluate_sessions` metrics dict (None where absent)."""
    det = hl.get("detector_auc", {})
    out = {f"detector_auc.{name}": det.get(name, {}).get("auc") for name in ("model", "bezier", "wind", "human_floor")}
    hf = det.get("human_floor", {})
    out["human_floor.n_subjects"] = hf.get("n_subjects")
    out["human_floor.has_power"] = hf.get("has_power")
    if "osu_hit_rate" in hl:
        for name in ("human", "model", "bezier", "wind"):
            out[f"osu_hit_rate.{name}"] = hl["osu_hit_rate"].get(name)
            d = hl["osu_hit_rate"].get("details", {}).get(name) or {}  # why objects are missed (evaluation/osu_hits.py)
            for reason in REASONS:
                out[f"osu_{reason}.{name}"] = d.get(f"rate_{reason}")
            out[f"osu_approach_offset_ms.{name}"] = (d.get("approach_offset_ms") or {}).get("median")
    for name, d in hl.get("target_clicks", {}).items():  # click targets (evaluation/target_clicks.py)
        out[f"target_clicked.{name}"] = d.get("rate_clicked")
        out[f"target_reached.{name}"] = d.get("rate_reached")
        out[f"target_clicked_per_minute.{name}"] = d.get("clicked_per_minute")
        out[f"target_steering_pull.{name}"] = (d.get("steering") or {}).get("pull_slope")
        out[f"target_stray_presses.{name}"] = d.get("stray_press_share")
    for name, v in hl.get("edge_share", {}).items():
        out[f"edge_share.{name}"] = v
    for name, v in hl.get("silent_share", {}).items():
        out[f"silent_share.{name}"] = v
    for name, v in hl.get("still_share", {}).items():
        out[f"still_share.{name}"] = v
    for q, h in hl.get("timing_histograms", {}).items():
        for name, d in h["samples"].items():
            if name != "real":
                out[f"{q}.tv.{name}"] = d["tv"]
            if q == "interval_ms":
                out[f"{q}.on_ticks.{name}"] = d["on_ticks"]
    return out


def summarize(per_seed):
    """``{key: {"per_seed": [...], "mean", "min", "max", "n"}}`` over the seeds' :func:`headline` dicts
    (numbers only; a seed without a value is left out of mean/min/max and ``n`` says how many had one)."""
    out = {}
    for key in per_seed[0]:
        vals = [h.get(key) for h in per_seed]
        nums = [float(v) for v in vals if isinstance(v, (int, float)) and not isinstance(v, bool) and v is not None]
        out[key] = {"per_seed": vals, "n": len(nums), "mean": float(np.mean(nums)) if nums else None,
                    "min": float(np.min(nums)) if nums else None, "max": float(np.max(nums)) if nums else None}
    return out


_SAMPLES = (("model", "model"), ("bezier", "Bezier bot"), ("wind", "WindMouse bot"))


def seeds_markdown(runs):
    """The table of closed-loop numbers over seeds: one column per seed, then mean, min, max.
    Every detector AUC has the same seed's human floor beside it."""
    seeds = [sd for sd, _, _ in runs]
    heads = [headline(hl) for _, hl, _ in runs]
    summ = summarize(heads)
    L = ["| | " + " | ".join(f"seed {sd}" for sd in seeds) + " | mean | min | max |", "|---" * (len(seeds) + 4) + "|"]

    def row(label, key, floor=False, always=False):
        if key not in summ or not (summ[key]["n"] or always):
            return
        cells = []
        for h in heads:
            c = _f(h.get(key))
            if floor:
                c += f" (floor {_f(h.get('detector_auc.human_floor'))})"
            cells.append(c)
        s = summ[key]
        L.append(f"| {label} | " + " | ".join(cells) + f" | {_f(s['mean'])} | {_f(s['min'])} | {_f(s['max'])} |")

    for name, label in _SAMPLES:
        row(f"detector AUC, {label}", f"detector_auc.{name}", floor=True)
    n = [h.get("human_floor.n_subjects") for h in heads]
    power = "has power" if all(h.get("human_floor.has_power") for h in heads) else f"no power: needs {MIN_SUBJECTS_FOR_FLOOR}"
    row(f"human floor AUC ({n[0]} people, {power})", "detector_auc.human_floor", always=True)
    for key, what in (("osu_hit_rate", "osu! hit rate"), ("osu_inside", "osu! cursor inside at the hit time"),
                      ("osu_clicked", "osu! objects with a click in the window"),
                      ("osu_reached", f"osu! objects reached within {REACH_MS:.0f} ms"),
                      ("osu_approach_offset_ms", "osu! closest approach, ms after the hit time (median)")):
        for name, label in (("human", "human"),) + _SAMPLES:
            row(f"{what}, {label}", f"{key}.{name}")
    for key, what in (("target_clicked", "click targets clicked"), ("target_reached", "click targets reached"),
                      ("target_clicked_per_minute", "click targets clicked per minute")):
        for name, label in (("human", "human"),) + _SAMPLES:
            row(f"{what}, {label}", f"{key}.{name}")
    for name, label in (("real", "real"),) + _SAMPLES:
        row(f"cursor within {EDGE_MARGIN:.0%} of a screen edge, {label}", f"edge_share.{name}")
    for name, label in (("real", "real"),) + _SAMPLES:
        row(f"{SEGMENT_MS / 1000:g} s slices without an event, {label}", f"silent_share.{name}")
    for name, label in (("real", "real"),) + _SAMPLES:
        row(f"moves at the position before them, {label}", f"still_share.{name}")
    row("intervals on the real's ticks, real", "interval_ms.on_ticks.real")
    for q, what in (("interval_ms", "interval TV at 1 ms"), ("dwell_button_ms", "button dwell TV at 5 ms"),
                    ("dwell_key_ms", "key dwell TV at 5 ms")):
        for name, label in _SAMPLES:
            if q == "interval_ms":
                row(f"intervals on the real's ticks, {label}", f"{q}.on_ticks.{name}")
            row(f"{what}, {label}", f"{q}.tv.{name}")
    return L


def _report(gen, per_head, real, split_info, runs):
    """``report.md``: per-head metrics, then the closed loop (one seed: its full report; several:
    the table over seeds, then the first seed's histograms; each seed's report is in ``seed_S/``)."""
    L = [f"# Evaluation of {gen.model_path}", ""]
    if split_info:
        L += [f"The {split_info['split']} split of {split_info['data']} (its splits.json), per source: "
              + "; ".join(split_info["lines"]) + ". Time blocks hold later play of the same people and maps; "
              "held-out maps and people were never trained on.", ""]
    if per_head is not None:
        n = per_head["model"].get("windows", "-")
        L += ["## Per-head metrics (teacher-forced windows, model beside the baselines)", "",
              f"{n} windows of {len(real)} sessions" + (f" ({split_info['split']} split)" if split_info else "") + ".", "",
              metrics_table({"eval": per_head}, "eval"), ""]
    _, _, g = runs[0]
    stops = Counter()
    for _, _, gi in runs:
        stops.update(gi["window_stops"])
    n_windows = sum(gi["windows"] for _, _, gi in runs)
    ms = np.mean([gi["ms_per_window"] for _, _, gi in runs])
    seeds_text = (f"seeds {g['context_seeds'][0]}..{g['context_seeds'][-1]}" if len(runs) == 1
                  else f"{len(runs)} seeds: " + ", ".join(str(sd) for sd, _, _ in runs))
    still_text = (f"{sum(gi.get('still_moves_dropped', 0) for _, _, gi in runs)} moves that stood still left out"
                  if g.get("moves_on_change", True) else "moves that stand still kept")
    L += ["## Closed-loop generation", "",
          f"{g['sessions']} sessions, {g['seconds']:g} s each after 6 s of real context (temperature {g['temperature']:g}, "
          f"top-k {g['top_k']}, top-p {g['top_p']:g}, position nucleus {g['xy_top_p']:g}, "
          f"{'one draw' if g['best_of'] == 1 else 'best of %d draws' % g['best_of']} a window, {seeds_text}; {still_text}); {n_windows} windows, {ms:.1f} ms per window wall-clock "
          "(batched; incl. encoding the contexts); windows ended by " + ", ".join(f"{k}: {v}" for k, v in sorted(stops.items())) + ". "
          "The real and generated spans compared below exclude the shared real context.", ""]
    if len(runs) == 1:
        hl_md = render_markdown(runs[0][1]).splitlines()
        L += [("#" + line) if line.startswith("#") else line for line in hl_md]
        return "\n".join(L) + "\n"
    sd0, hl0, _ = runs[0]
    L += ["### Over seeds (bots and the human floor redrawn with each seed)", ""] + seeds_markdown(runs) + [
        "", "Each seed's full report (detector cues, distances, coherence, plots): "
        + ", ".join(f"[seed_{sd}/report.md](seed_{sd}/report.md)" for sd, _, _ in runs) + ".", ""]
    if hl0.get("timing_histograms"):
        L += [("#" + line) if line.startswith("#") else line for line in timing_markdown(hl0["timing_histograms"])]
        L += ["", f"(seed {sd0}) ![intervals at 1 ms and dwell times, seed {sd0}](seed_{sd0}/interval_dwell_hist.png)", ""]
    return "\n".join(L) + "\n"


__all__ = ["evaluate", "headline", "per_head_metrics", "predict_windows", "seeds_markdown", "summarize"]
