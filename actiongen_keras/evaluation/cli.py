"""``actiongen generate``, ``actiongen act`` and ``actiongen evaluate``: add them with :func:`add_evaluation_parsers`.

Both live in the evaluation stage: ``generate --osr`` writes the rollout as an osu! replay whose
counts are circleguard's judgments (:mod:`~actiongen_keras.evaluation.osu_circleguard`), and
nothing in ``generation`` may import ``evaluation`` (the stage order, see ``pyproject.toml``).
The stage modules that import TensorFlow are imported inside the commands: building the
parser (``actiongen --help``) does not.

The sampling settings (``--seed``, ``--temperature``, ``--top-k``, ``--top-p``,
``--xy-noise-corr``, ``--xy-top-p``, ``--best-of``) default to the ``generation`` section of the run's ``config.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

from actiongen_keras.atomic import check_output, staged_output
from actiongen_keras.cliargs import add_overwrite, finite_float, int_at_least, seed_list
from actiongen_keras.errors import ActiongenError
from actiongen_keras.evaluation.osu_circleguard import export_replay
from actiongen_keras.recordings.session import find_sessions, read_session, write_session

SAMPLING = ("seed", "temperature", "top_k", "top_p", "xy_noise_corr", "xy_top_p", "best_of")


def sampling_settings(args):
    """``{seed, temperature, top_k, top_p, xy_noise_corr, xy_top_p, best_of}``: those given on the command line, the
    others from the ``generation`` section of the run's ``config.json`` (a seed of null there: 0;
    ``generation.run.run_sampling``)."""
    from actiongen_keras.generation.run import run_sampling  # deferred: imports Keras

    out = run_sampling(args.model, {k: getattr(args, k) for k in SAMPLING}, SAMPLING)
    out["seed"] = 0 if out["seed"] is None else int(out["seed"])
    return out


def _cmd_generate(args):
    from actiongen_keras.generation.rollout import rollout  # deferred: imports TensorFlow

    if args.osr and not args.beatmap:
        raise ActiongenError("--osr needs --beatmap FILE.osu (the map whose MD5 the replay names)")
    folders = find_sessions(args.context) if Path(args.context).exists() else []
    if not folders:
        raise ActiongenError(f"{args.context}: no session folder (with session.json) here")
    single = len(folders) == 1 and Path(folders[0]).resolve() == Path(args.context).resolve()
    if args.osr and not single:
        raise ActiongenError("--osr writes one replay: give one session folder as --context")
    inputs = list(folders) + [args.model]
    check_output(args.out, args.overwrite, inputs, nested_ok=False)  # before the rollout, not after it
    sessions = [read_session(f, "repair")[0] for f in folders]
    results = rollout(args.model, sessions, seconds=args.seconds, start_ms=args.start_ms, progress=not args.quiet, **sampling_settings(args),
                      batch_size=args.batch_size, dwell=not args.no_dwell, clock=not args.no_clock, pixel_grid=not args.no_pixel_grid, moves_on_change=not args.no_moves_on_change,
                      follow_clicks=not args.targets_on_schedule)
    failed, lines = 0, []
    with staged_output(args.out, args.overwrite, inputs, nested_ok=False) as work:
        for folder, out in zip(folders, results):
            if isinstance(out, Exception):
                lines.append(f"skipped {folder}: {out}")
                failed += 1
                continue
            dest = Path(args.out) if single else Path(args.out) / out.session_id
            write_session(out, Path(work) if single else Path(work) / out.session_id)
            n_gen = int((out.events.t_ms >= out.extra["generated_from_ms"]).sum())
            lines.append(f"wrote {dest}: {n_gen} generated events in {args.seconds:g} s after {out.extra['context_ms'] / 1000:g} s of real "
                         f"context ({len(out.events) - n_gen} events); windows ended by {out.extra['window_stops']}")
    if args.osr and not failed:
        export_replay(results[0], args.beatmap, args.osr)
        lines.append(f"wrote {args.osr}")
    print("\n".join(lines))
    if not single:
        print(f"{len(results) - failed} of {len(results)} contexts generated" + (f", {failed} skipped" if failed else ""))
    return 1 if failed else 0


def _cmd_act(args):
    from actiongen_keras.generation.act import act, read_plan, timed_events  # deferred: imports TensorFlow

    plan = read_plan(args.plan, layout=args.layout)  # a bad plan is refused before the model loads
    context = read_session(args.context, "repair")[0] if args.context else None
    check_output(args.out, args.overwrite, [args.plan, args.model], nested_ok=False)
    settings = sampling_settings(args)
    session, result = act(args.model, plan, context=context, seconds_per_goal=args.seconds_per_goal, **settings,
                          dwell=not args.no_dwell, clock=not args.no_clock, pixel_grid=not args.no_pixel_grid, moves_on_change=not args.no_moves_on_change,
                          typing_model=args.typing_model, scroll_model=args.scroll_model, typos=args.typos, tempo=args.tempo)
    t0 = float(session.extra["generated_from_ms"])
    with staged_output(args.out, args.overwrite, [args.plan, args.model], nested_ok=False) as work:
        write_session(session, Path(work) / "session")
        (Path(work) / "events.json").write_text(json.dumps(timed_events(session, t0), indent=0) + "\n", encoding="utf-8")
        (Path(work) / "result.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}/session, events.json, result.json: {result['achieved']} of {result['of']} goals achieved "
          f"in {result['seconds']:.1f} s")
    return 0 if result["achieved"] == result["of"] else 1


def _cmd_evaluate(args):
    from actiongen_keras.evaluation.evaluate import evaluate  # deferred: imports TensorFlow

    with staged_output(args.out, args.overwrite, inputs=[args.sessions, args.model, args.data]) as work:
        metrics = evaluate(args.model, args.sessions, work, seconds=args.seconds, max_sessions=args.max_sessions, beatmap_dir=args.beatmaps,
                           n_boot=args.n_boot, progress=not args.quiet, data_dir=args.data, split=args.split, seeds=args.seeds,
                           dwell=not args.no_dwell, clock=not args.no_clock, pixel_grid=not args.no_pixel_grid, moves_on_change=not args.no_moves_on_change,
                           follow_clicks=not args.targets_on_schedule, **sampling_settings(args))
    if "summary" in metrics:  # several seeds
        summ = metrics["summary"]
        parts = [f"{k} {summ[f'detector_auc.{k}']['mean']:.3f} ({summ[f'detector_auc.{k}']['min']:.3f}-{summ[f'detector_auc.{k}']['max']:.3f})"
                 for k in ("model", "bezier", "wind", "human_floor") if summ.get(f"detector_auc.{k}", {}).get("n")]
        print(f"wrote {args.out}/report.md, metrics.json, seed_*/; detector AUC over {len(metrics['seeds'])} seeds, mean (min-max): "
              + (", ".join(parts) or "-"))
        return 0
    det = metrics.get("detector_auc", {})
    parts = [f"{k} {v['auc']:.3f}" for k, v in det.items() if v.get("auc") is not None]
    print(f"wrote {args.out}/report.md, metrics.json; detector AUC: " + (", ".join(parts) or "-"))
    return 0


SAMPLING_ARGS = {
    "seed": dict(type=int, help="default: the run config's generation.seed, else 0"),
    "temperature": dict(type=finite_float(0.0), help="0 = greedy (default: the run config's, 1)"),
    "top_k": dict(type=int_at_least(0), help="sample among the k most probable classes (0 = all; default: the run config's, 0)"),
    "top_p": dict(type=finite_float(0.0, 1.0, low_open=True), help="nucleus sampling (1 = off; default: the run config's, 1)"),
    "xy_noise_corr": dict(type=finite_float(0.0, 1.0, high_open=True),
                          help="correlation of consecutive moves' position noise, in [0, 1) (0 = independent; default: the run config's, 0)"),
    "xy_top_p": dict(type=finite_float(0.0, 1.0, low_open=True),
                     help="nucleus sampling of each move's position-mixture component (1 = the whole mixture; default: the run config's, 1)"),
    "best_of": dict(type=int_at_least(1),
                    help="draw each 600 ms window N times and keep the one nearest to the anchors the state shows "
                         "(generation/best_of.py; 1 = one draw; default: the run config's, 4)"),
}


def sampling_args(s, names=SAMPLING):
    """The sampling options ``names`` (:data:`SAMPLING`); each defaults to the run's config.json
    (``generation`` section, see :func:`sampling_settings`)."""
    for name in names:
        s.add_argument("--" + name.replace("_", "-"), **SAMPLING_ARGS[name])


def _sampling_args(s):
    """:func:`sampling_args` and the ablation switches of the sampling loop."""
    sampling_args(s)
    s.add_argument("--no-dwell", action="store_true",
                   help="releases sampled step by step instead of press durations drawn at the press (ablation)")
    s.add_argument("--no-clock", action="store_true",
                   help="continuous event times instead of the context recorder's clock (ablation)")
    s.add_argument("--no-pixel-grid", action="store_true",
                   help="continuous positions instead of the context recorder's pixel grid (ablation)")
    s.add_argument("--no-moves-on-change", action="store_true",
                   help="keep generated moves that stand still, where the context's recorder reports moves only on change (ablation)")
    s.add_argument("--targets-on-schedule", action="store_true",
                   help="click targets change when the person's did, not when the rollout clicks them (ablation)")


def add_evaluation_parsers(subparsers):
    """Add ``generate`` and ``evaluate`` to the ``actiongen`` sub-command parsers."""
    s = subparsers.add_parser("generate", help="closed-loop generation from a real session's first seconds")
    s.add_argument("--model", required=True, help="RUN_DIR/model.keras (or RUN_DIR)")
    s.add_argument("--context", required=True,
                   help="SESSION_DIR (the real session: context events and game state), or a folder of sessions: one rollout each")
    s.add_argument("--seconds", type=finite_float(0.0, low_open=True), default=30.0, help="seconds to generate after the context")
    s.add_argument("--out", required=True,
                   help="OUT_DIR: the generated actiongen-session/1 folder (a folder of them, one per context, for a folder of contexts)")
    add_overwrite(s, "OUT_DIR")
    s.add_argument("--batch-size", type=int_at_least(1), default=None, help="contexts generated together (default 16)")
    s.add_argument("--start-ms", type=finite_float(), help="first generated window on the session clock (default: first event + 6 s)")
    s.add_argument("--osr", help="also write the rollout (context and generated events) as this osu! replay (needs --beatmap)")
    s.add_argument("--beatmap", help="the map's .osu file, for --osr")
    _sampling_args(s)
    s.set_defaults(func=_cmd_generate)

    s = subparsers.add_parser("act", help="carry out a plan of goals (move, click, double/right click, drag, type, idle, scroll) with the models")
    s.add_argument("--model", required=True, help="RUN_DIR/model.keras (or RUN_DIR) of a model trained with click targets")
    s.add_argument("--plan", required=True, help="plan.json (generation/act.py)")
    s.add_argument("--out", required=True, help="OUT_DIR: session/, events.json (timed events), result.json (each goal: done, when)")
    s.add_argument("--context", "--style", dest="context",
                   help="SESSION_DIR whose first 6 s are the history: that person's pace and style, and their typing pace "
                        "where it has 20 key presses or more (default: a still cursor, a training typist)")
    s.add_argument("--tempo", type=finite_float(0.0, low_open=True), default=1.0,
                   help="the pace the models are told: this times the context person's presses per minute (else the training "
                        "sessions' mean) and typing speed (0.25-4; needs a model trained with the pace input; default 1)")
    s.add_argument("--seconds-per-goal", type=finite_float(0.0, low_open=True), default=10.0, help="generation time per goal (default 10)")
    s.add_argument("--typing-model", help="MODEL_DIR of `actiongen typing train`, for type goals (non-commercial research data: see its NOTICE)")
    s.add_argument("--typos", action="store_true", help="type goals make typos and correct them, at the rate learned from the data (default off)")
    s.add_argument("--layout", metavar="NAME",
                   help="keyboard layout of type goals (us, uk, de, fr; generation/layouts.py), overriding the plan's keyboard.layout; "
                        "a goal's own layout wins (default: the plan's, else us)")
    s.add_argument("--scroll-model", help="MODEL_DIR of `actiongen scroll fit`, for scroll goals")
    add_overwrite(s, "OUT_DIR")
    _sampling_args(s)
    s.set_defaults(func=_cmd_act)

    s = subparsers.add_parser("evaluate", help="per-head metrics beside baselines + closed-loop human-likeness report")
    s.add_argument("--model", required=True, help="RUN_DIR/model.keras (or RUN_DIR)")
    s.add_argument("--sessions", required=True, help="folder of real sessions")
    s.add_argument("--out", required=True, help="REPORT_DIR")
    s.add_argument("--seconds", type=finite_float(0.0, low_open=True), default=30.0, help="seconds to generate per session")
    add_overwrite(s, "REPORT_DIR")
    s.add_argument("--max-sessions", type=int_at_least(1), help="roll out only the first N usable sessions")
    s.add_argument("--beatmaps", help="folder of osu! .osu files (else hit objects come from state.csv)")
    s.add_argument("--n-boot", type=int_at_least(1), default=500, help="bootstrap resamples of the detector CIs")
    s.add_argument("--data", help="DATA_DIR whose splits.json defines --split")
    s.add_argument("--split", choices=["train", "val", "test"], help="evaluate only this split (needs --data)")
    s.add_argument("--seeds", type=seed_list, metavar="S0,S1,...|N",
                   help="run the closed loop once per seed (0,1,2; or 3 for seeds 0..2): numbers per seed and their "
                        "mean/min/max, each seed's full report in REPORT_DIR/seed_S/ (default: the one --seed)")
    _sampling_args(s)
    s.set_defaults(func=_cmd_evaluate)
    return subparsers


__all__ = ["add_evaluation_parsers"]
