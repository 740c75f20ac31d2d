"""``actiongen generate`` and ``actiongen evaluate``: add them with :func:`add_generation_parsers`."""

from __future__ import annotations

from pathlib import Path

from actiongen_keras.cliargs import add_overwrite, finite_float, int_at_least
from actiongen_keras.errors import ActiongenError


def _cmd_generate(args):
    from actiongen_keras.atomic import check_output, staged_output
    from actiongen_keras.generation.rollout import rollout
    from actiongen_keras.recordings.session import (
        find_sessions,
        read_session,
        write_session,
    )

    folders = find_sessions(args.context) if Path(args.context).exists() else []
    if len(folders) != 1:
        raise ActiongenError(f"{args.context}: expected one session folder (with session.json), found {len(folders)}")
    inputs = [folders[0], args.model]
    check_output(args.out, args.overwrite, inputs, nested_ok=False)  # before the rollout, not after it
    session, _ = read_session(folders[0], "repair")
    out = rollout(args.model, session, seconds=args.seconds, seed=args.seed, temperature=args.temperature, top_k=args.top_k,
                  top_p=args.top_p, start_ms=args.start_ms, progress=not args.quiet, xy_noise_corr=args.xy_noise_corr)
    with staged_output(args.out, args.overwrite, inputs, nested_ok=False) as work:
        write_session(out, work)
    n_gen = int((out.events.t_ms >= out.extra["generated_from_ms"]).sum())
    print(f"wrote {args.out}: {n_gen} generated events in {args.seconds:g} s after {out.extra['context_ms'] / 1000:g} s of real context "
          f"({len(out.events) - n_gen} events); windows ended by {out.extra['window_stops']}")
    return 0


def _cmd_evaluate(args):
    from actiongen_keras.atomic import staged_output
    from actiongen_keras.evaluation.evaluate import evaluate

    with staged_output(args.out, args.overwrite, inputs=[args.sessions, args.model, args.data]) as work:
        metrics = evaluate(args.model, args.sessions, work, seconds=args.seconds, max_sessions=args.max_sessions, seed=args.seed,
                           temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, beatmap_dir=args.beatmaps,
                           n_boot=args.n_boot, progress=not args.quiet, data_dir=args.data, split=args.split,
                           xy_noise_corr=args.xy_noise_corr)
    det = metrics.get("detector_auc", {})
    parts = [f"{k} {v['auc']:.3f}" for k, v in det.items() if v.get("auc") is not None]
    print(f"wrote {args.out}/report.md, metrics.json; detector AUC: " + (", ".join(parts) or "-"))
    return 0


def _sampling_args(s):
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--temperature", type=finite_float(0.0), default=1.0, help="0 = greedy")
    s.add_argument("--top-k", type=int_at_least(0), default=0, help="sample among the k most probable classes (0 = all)")
    s.add_argument("--top-p", type=finite_float(0.0, 1.0, low_open=True), default=1.0, help="nucleus sampling (1 = off)")
    s.add_argument("--xy-noise-corr", type=finite_float(0.0, 1.0, high_open=True), default=0.0,
                   help="correlation of consecutive moves' position noise, in [0, 1) (0 = independent; > 0 runs the Python step loop)")


def add_generation_parsers(subparsers):
    """Add ``generate`` and ``evaluate`` to the ``actiongen`` sub-command parsers."""
    s = subparsers.add_parser("generate", help="closed-loop generation from a real session's first seconds")
    s.add_argument("--model", required=True, help="RUN_DIR/model.keras (or RUN_DIR)")
    s.add_argument("--context", required=True, help="SESSION_DIR: the real session (context events and game state)")
    s.add_argument("--seconds", type=finite_float(0.0, low_open=True), default=30.0, help="seconds to generate after the context")
    s.add_argument("--out", required=True, help="OUT_DIR: the generated actiongen-session/1 folder")
    add_overwrite(s, "OUT_DIR")
    s.add_argument("--start-ms", type=finite_float(), help="first generated window on the session clock (default: first event + 6 s)")
    _sampling_args(s)
    s.set_defaults(func=_cmd_generate)

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
    _sampling_args(s)
    s.set_defaults(func=_cmd_evaluate)
    return subparsers


__all__ = ["add_generation_parsers"]
