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
sampling settings, wall-clock ms per generated window, how windows ended).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import numpy as np

from actiongen_keras.data.jsonfile import finite_json
from actiongen_keras.errors import ActiongenError


def predict_windows(model, inputs, targets, weights, config, meta, event_bias=None, batch_size=256):
    """:func:`~actiongen_keras.scoring.score.predict_batches` over windows given as NumPy dicts."""
    from actiongen_keras.data import features as F
    from actiongen_keras.scoring.score import predict_batches

    n = len(targets["seq_len"])
    batches = (
        tuple({k: d[k][i : i + batch_size] for k in keys} for d, keys in ((inputs, F.INPUT_NAMES), (targets, F.TARGET_NAMES), (weights, F.TARGET_NAMES)))
        for i in range(0, n, batch_size)
    )
    return predict_batches(model, batches, config, meta, event_bias)


def per_head_metrics(gen, sessions, batch_size=256, time_ranges=None):
    """(a): ``split_metrics`` of the model and every baseline on the windows of ``sessions``
    (within ``time_ranges[session_id]`` where given)."""
    from actiongen_keras.data.windows import windows_from_sessions
    from actiongen_keras.scoring.score import event_class_counts, split_metrics
    from actiongen_keras.training.losses import event_decision_bias

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
    import json
    from pathlib import Path

    p = Path(run_path)
    p = (p.parent if p.suffix == ".keras" else p) / "metrics.json"
    try:
        return int(json.loads(p.read_text())["train_seq_len_mode"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _usable(session, cfg):
    from actiongen_keras.data.windows import check_session

    return check_session(session, cfg) is None


def evaluate(model_or_run_dir, sessions, out_dir, seconds=30.0, max_sessions=None, seed=0, temperature=1.0, top_k=0, top_p=1.0,
             beatmap_dir=None, n_boot=500, progress=True, baselines=True, write_generated=True, data_dir=None, split=None,
             xy_noise_corr=0.0):
    """Run (a) and (b) of the module doc; write ``out_dir``; return the merged metrics dict.

    Args:
        model_or_run_dir: ``RUN_DIR``, ``RUN_DIR/model.keras`` or a
            :class:`~actiongen_keras.generation.rollout.Generator`.
        sessions: a folder of real sessions (any depth) or a list of Sessions.
        seconds: generated seconds per session; max_sessions: roll out at most this many.
        seed: session ``i`` is rolled out with seed ``seed + i``; also seeds the bots,
            the detector and the bootstraps.
        data_dir, split: evaluate only this split of that dataset's ``splits.json``.
    """
    from actiongen_keras.data.windows import history_ms
    from actiongen_keras.evaluation.report import (
        evaluate_sessions,
        is_human,
        load_sessions,
        render_markdown,
    )
    from actiongen_keras.generation.rollout import (
        Generator,
        crop_session,
        generated_part,
        rollout,
    )
    from actiongen_keras.recordings.session import write_session
    from actiongen_keras.scoring.score import metrics_table

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    gen = model_or_run_dir if isinstance(model_or_run_dir, Generator) else Generator(model_or_run_dir)
    cfg = gen.data_config
    if isinstance(sessions, (str, Path)) and not Path(sessions).exists():
        raise ActiongenError(f"{sessions}: no such folder")
    real_all = load_sessions(sessions, mode="repair", progress=progress)
    real = [s for s in real_all if _usable(s, cfg)]
    if not real:
        raise ActiongenError(f"{sessions}: no session the model can use (each needs a screen, state for a game, human keys "
                             f"and at least {(history_ms(cfg) + cfg.target_ms) / 1000:g} s)")

    ranges = {}
    if split is not None:
        from actiongen_keras.data.splits import load_splits

        if data_dir is None:
            raise ActiongenError("--split needs --data (the dataset whose splits.json defines it)")
        parts = load_splits(data_dir).parts(split, real)
        if not parts:
            raise ActiongenError(f"{sessions}: no session belongs to the '{split}' split of {data_dir}")
        real = [s for s, _ in parts]
        ranges = {s.session_id: r for s, r in parts if r is not None}

    # ---- (a) per head
    per_head = per_head_metrics(gen, real, time_ranges=ranges)

    # ---- (b) closed loop
    hist = history_ms(cfg)

    def span(s):
        """``(T0, end)``: the first generated window and the end of what may be used."""
        r = ranges.get(s.session_id)
        start, end = (float(s.events.t_ms[0]), float(s.events.t_ms[-1])) if r is None else (float(r[0]), float(r[1]))
        return start + hist, end

    todo = [s for s in real if is_human(s) and span(s)[1] - span(s)[0] >= cfg.target_ms]
    if max_sessions:
        todo = todo[: int(max_sessions)]
    if not todo:
        raise ActiongenError(f"{sessions}: no session with a human cursor and keys long enough to roll out")
    gen_parts, real_parts, n_windows, stops = [], [], 0, Counter()
    spans = [span(s) for s in todo]
    seconds_each = [min(float(seconds), (end - T0) / 1000.0) for T0, end in spans]
    t = time.perf_counter()
    rolled = rollout(gen, todo, seconds=seconds_each, seed=seed, temperature=temperature, top_k=top_k, top_p=top_p,
                     start_ms=[T0 for T0, _ in spans], xy_noise_corr=xy_noise_corr, progress=progress)
    gen_seconds = time.perf_counter() - t
    for s, g, (T0, _), span_s in zip(todo, rolled, spans, seconds_each):
        if isinstance(g, Exception):
            raise g
        n_windows += int(sum(g.extra["window_stops"].values()))
        stops.update(g.extra["window_stops"])
        if write_generated:
            write_session(g, out_dir / "generated" / g.session_id)
        gen_parts.append(generated_part(g))
        real_parts.append(crop_session(s, T0, T0 + span_s * 1000.0))
    hl = evaluate_sessions(real_parts, gen_parts, out_dir, baselines=baselines, seed=seed, beatmap_dir=beatmap_dir, n_boot=n_boot,
                           progress=progress)
    generation = {
        "sessions": len(todo), "seconds": float(seconds), "seed": seed, "temperature": temperature, "top_k": top_k, "top_p": top_p,
        "xy_noise_corr": xy_noise_corr,
        "windows": n_windows, "ms_per_window": 1000.0 * gen_seconds / max(n_windows, 1),
        "window_stops": dict(stops), "context_sessions": [s.session_id for s in todo],
        "model": str(gen.model_path),
    }
    metrics = dict(hl)
    metrics["per_head"] = per_head
    metrics["generation"] = generation
    (out_dir / "metrics.json").write_text(json.dumps(finite_json(metrics), indent=1, allow_nan=False) + "\n", encoding="utf-8")

    L = [f"# Evaluation of {gen.model_path}", ""]
    if per_head is not None:
        n = per_head["model"].get("windows", "-")
        L += ["## Per-head metrics (teacher-forced windows, model beside the baselines)", "",
              f"{n} windows of {len(real)} sessions" + (f" ({split} split of {data_dir})" if split else "") + ".", "",
              metrics_table({"eval": per_head}, "eval"), ""]
    L += ["## Closed-loop generation", "",
          f"{len(todo)} sessions, {seconds:g} s each after 6 s of real context (temperature {temperature:g}, top-k {top_k}, "
          f"top-p {top_p:g}, seeds {seed}..{seed + len(todo) - 1}); {n_windows} windows, "
          f"{generation['ms_per_window']:.1f} ms per window wall-clock (batched; incl. encoding the contexts); windows ended by "
          + ", ".join(f"{k}: {v}" for k, v in sorted(stops.items())) + ". "
          "The real and generated spans compared below exclude the shared real context.", ""]
    hl_md = render_markdown(hl).splitlines()
    L += [("#" + line) if line.startswith("#") else line for line in hl_md]
    (out_dir / "report.md").write_text("\n".join(L) + "\n", encoding="utf-8")
    return metrics


__all__ = ["evaluate", "per_head_metrics", "predict_windows"]
