"""The ``actiongen`` command. Thin: parse arguments, call a stage, print, set the exit status.

Every command turns the package's own errors into one clear line on stderr and a
non-zero exit status; a traceback means a bug in this package, not in the input.
The stage modules that import TensorFlow, TFDS, KerasTuner or matplotlib are imported inside
the commands, so building the parser does not load them and a command loads only what it runs.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from pathlib import Path

from actiongen_keras.atomic import staged_output
from actiongen_keras.cliargs import add_overwrite, finite_float, int_at_least, split_fractions
from actiongen_keras.config import COMPILED_SAMPLING, SPLIT_MODES, Config
from actiongen_keras.errors import ActiongenError
from actiongen_keras.evaluation.cli import add_evaluation_parsers, sampling_args, sampling_settings
from actiongen_keras.evaluation.osu_circleguard import export_replay
from actiongen_keras.export.cli import add_export_parsers
from actiongen_keras.recordings.click_targets import add_click_targets
from actiongen_keras.recordings.importers.base import list_broken_links
from actiongen_keras.recordings.session import event_notes, find_sessions, notes_text, read_session

IMPORTERS = {
    "osu": "actiongen_keras.recordings.importers.osu",
    "osu_replays": "actiongen_keras.recordings.importers.osu_pseudo",  # osu, plus pseudo state where the map is missing
    "sapimouse": "actiongen_keras.recordings.importers.sapimouse",
    "balabit": "actiongen_keras.recordings.importers.balabit",
    "osrs": "actiongen_keras.recordings.importers.osrs",
    "aalto": "actiongen_keras.recordings.importers.aalto",
}


def _cmd_import(args):
    if not Path(args.in_dir).is_dir():
        raise ActiongenError(f"{args.in_dir}: no such folder")
    module = importlib.import_module(IMPORTERS[args.source])
    with staged_output(args.out_dir, args.overwrite, inputs=[args.in_dir], nested_ok=False) as work:
        summary = module.import_folder(args.in_dir, work, repair=args.repair, progress=not args.quiet)
        list_broken_links(summary, args.in_dir)
        if args.click_targets:
            added = add_click_targets(summary.written, summary)
            summary.notes.append((str(args.in_dir), f"click targets (state from the presses) added to {added} of {len(summary.written)} session(s)"))
        print(summary.text().replace(str(work), str(args.out_dir)))
        if summary.failed and not summary.written:
            raise ActiongenError(f"{args.out_dir}: no session imported, nothing written")
    return summary.exit_code


def _cmd_validate(args):
    problems = 0
    checked = 0
    for root in args.dirs:
        if not Path(root).exists():
            print(f"{root}: no such file or folder")
            problems += 1
            continue
        folders = find_sessions(root)
        if not folders:
            print(f"{root}: no session (no session.json) found")
            problems += 1
        seen = {}
        for folder in folders:
            checked += 1
            try:
                session, _ = read_session(folder, "strict")
            except ActiongenError as e:
                print(e)
                problems += 1
                continue
            note = notes_text(event_notes(session.events, session.screen))
            if note:  # valid but unusual values (spec): a note, not a problem
                print(f"{folder}: note: {note}")
            if session.session_id in seen:
                print(f"{folder}/session.json: field 'session_id': duplicate of {seen[session.session_id]}")
                problems += 1
            seen[session.session_id] = folder
    print(f"{checked} session(s) checked, {problems} problem(s)", file=sys.stderr)
    return 1 if problems else 0


def _cmd_stats(args):
    from actiongen_keras.recordings.stats import write_report  # deferred: imports matplotlib

    text, errors, paths = write_report(args.dir, args.out, mode="repair" if args.repair else "strict", progress=not args.quiet)
    print(text)
    for e in errors:
        print(f"unreadable: {e}", file=sys.stderr)
    print("wrote " + ", ".join(str(p) for p in paths), file=sys.stderr)
    return 1 if errors else 0


def _cmd_export_replay(args):
    session, _ = read_session(args.session_dir, "strict")
    path, j = export_replay(session, args.beatmap, args.out, player=args.player)
    print(f"wrote {path}: {len(session.events)} events; circleguard: {j['n300']} x300, {j['n100']} x100, {j['n50']} x50, "
          f"{j['nmiss']} misses of {j['n_objects']} objects")
    return 0


def _cmd_dataset_build(args):
    from actiongen_keras.data.build import build_dataset  # deferred: imports TensorFlow Datasets

    config = Config.from_json(args.config) if args.config else Config()
    if args.split_fractions is not None:
        config.splits.fractions = args.split_fractions
    if args.split_mode is not None:
        config.splits.mode = args.split_mode
    if args.min_subjects is not None:
        config.splits.min_subjects = args.min_subjects
    summary = build_dataset(args.sessions_dir, args.out, config=config.data, sources=args.sources, progress=not args.quiet,
                            split_config=config.splits, overwrite=args.overwrite, beam_runner=args.beam_runner, workers=args.workers,
                            beam_options=args.beam_option or ())
    print(summary.text() if hasattr(summary, "text") else summary)
    return 0


def _cmd_dataset_rollouts(args):
    from actiongen_keras.generation.rollout_windows import build_rollout_dataset  # deferred: imports TensorFlow

    sampling = sampling_settings(args)
    seed = sampling.pop("seed")
    build_rollout_dataset(args.model, args.data, args.sessions_dir, args.out, windows_ahead=args.windows_ahead, recovery=args.recovery,
                          seed=seed, real=not args.rollouts_only, sampling=sampling, batch_size=args.batch_size, mode=args.mode,
                          overwrite=args.overwrite, progress=not args.quiet)
    return 0


def _cmd_train(args):
    # deferred: both import TensorFlow and Keras
    from actiongen_keras.scoring.score import metrics_table
    from actiongen_keras.training.train import train

    config = Config.from_json(args.config) if args.config else Config()
    if args.batch_size is not None:
        config.train.batch_size = args.batch_size
    if args.progressive:
        config.train.progressive = True
    monitors = []
    if args.closed_loop:
        from actiongen_keras.data.normalize import load_preprocessing
        from actiongen_keras.evaluation.closed_loop_monitor import ClosedLoopMonitor, split_contexts

        if args.distributed:
            raise ActiongenError("--closed-loop rolls out in one process: not with --distributed (evaluate the run afterwards)")
        prep = load_preprocessing(args.data)
        contexts = split_contexts(args.closed_loop, args.data, "validation", args.closed_loop_contexts, progress=not args.quiet)
        g = config.generation
        sampling = {k: getattr(g, k) for k in ("temperature",) + COMPILED_SAMPLING}
        monitors.append(ClosedLoopMonitor(contexts, prep, config, seconds=args.closed_loop_seconds, seed=g.seed or 0, sampling=sampling))
    metrics = train(args.data, args.out, config, epochs=args.epochs, progress=not args.quiet, gru_baseline=not args.no_gru,
                    overwrite=args.overwrite, init_from=args.init_from, distributed=args.distributed, monitors=monitors)
    if metrics is None:  # a worker of a distributed job: the chief writes and scores the run
        print("worker done: the chief writes the run")
        return 0
    print(f"trained in {metrics['train_seconds']:.0f} s, {metrics['parameters']:,} parameters; test split:")
    print(metrics_table(metrics, "test"))
    print(f"wrote {args.out}/model.keras, config.json, metrics.json, history.csv, loss.png")
    return 0


def build_parser():
    p = argparse.ArgumentParser(prog="actiongen", description="Learn and generate human computer input (actiongen_keras).")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("import", help="import recordings of one source into actiongen-session/1 folders")
    s.add_argument("--source", required=True, choices=sorted(IMPORTERS))
    s.add_argument("--repair", action="store_true", help="fix what can be fixed and report every change")
    s.add_argument("--click-targets", action="store_true",
                   help="give sessions without game state a state of click targets taken from their presses (recordings/click_targets.py)")
    s.add_argument("in_dir")
    s.add_argument("out_dir")
    add_overwrite(s, "OUT_DIR")
    s.set_defaults(func=_cmd_import)

    s = sub.add_parser("validate", help="check every session under the folders (exit 0 when all are valid)")
    s.add_argument("dirs", nargs="+")
    s.set_defaults(func=_cmd_validate)

    s = sub.add_parser("stats", help="tables and histograms of a folder of sessions")
    s.add_argument("dir")
    s.add_argument("--out", help="where stats.txt/json and the PNGs go (default: DIR)")
    s.add_argument("--repair", action="store_true", help="read sessions in repair mode")
    s.set_defaults(func=_cmd_stats)

    s = sub.add_parser("export-replay", help="write an osu! session (imported or generated) as an osu! replay (.osr)")
    s.add_argument("session_dir")
    s.add_argument("--beatmap", required=True, help="the map's .osu file (its MD5 goes into the replay)")
    s.add_argument("--out", required=True, help="FILE.osr")
    s.add_argument("--player", help="player name in the replay (default: the session's, 'actiongen' for generated ones)")
    s.set_defaults(func=_cmd_export_replay)

    s = sub.add_parser("dataset", help="windowed training data")
    dsub = s.add_subparsers(dest="dataset_command", required=True)
    b = dsub.add_parser("build", help="build the TFDS dataset (splits, statistics, windows) from sessions")
    b.add_argument("sessions_dir")
    b.add_argument("--out", required=True, help="DATA_DIR")
    b.add_argument("--config", help="config JSON (its 'data' section is used)")
    b.add_argument("--sources", nargs="*", help="only these sources")
    b.add_argument("--split-fractions", type=split_fractions, metavar="TRAIN,VAL,TEST",
                   help="shares of the splits, summing to 1 (default: the config's splits.fractions, 0.7,0.1,0.2)")
    b.add_argument("--split-mode", choices=SPLIT_MODES,
                   help="subject: held-out people; map: held-out maps (and people where there are enough); blocks: each session "
                        "cut by time; auto (default): map where sessions name their map, else subject, else blocks")
    b.add_argument("--min-subjects", type=int_at_least(2), help="people a source needs for held-out people (default 10)")
    b.add_argument("--beam-runner", metavar="RUNNER", help="window and serialise on Apache Beam with this runner (DirectRunner, FlinkRunner, "
                   "SparkRunner, DataflowRunner; needs the 'beam' extra); the result equals the single-process build")
    b.add_argument("--workers", type=int_at_least(1), help="DirectRunner's local worker processes (with --beam-runner DirectRunner)")
    b.add_argument("--beam-option", action="append", metavar="FLAG",
                   help="a Beam pipeline argument passed as it is, e.g. --beam-option=--flink_master=host:8081 (repeatable)")
    add_overwrite(b, "DATA_DIR")
    b.set_defaults(func=_cmd_dataset_build)
    r = dsub.add_parser("rollouts", help="a dataset like DATA_DIR whose training split adds windows after the model's own rollouts "
                                         "(training against exposure bias; generation/rollout_windows.py)")
    r.add_argument("sessions_dir", help="the sessions DATA_DIR was built from")
    r.add_argument("--model", required=True, help="RUN_DIR or RUN_DIR/model.keras, trained on DATA_DIR")
    r.add_argument("--data", required=True, help="DATA_DIR: its statistics, splits, validation and test windows are kept")
    r.add_argument("--out", required=True, help="the new DATA_DIR (train it with: actiongen train --data OUT --init-from MODEL)")
    r.add_argument("--windows-ahead", type=int_at_least(1), default=10,
                   help="windows per rollout; a window is written at each of its boundaries (default 10: up to 6 s of own history)")
    r.add_argument("--recovery", type=finite_float(0.0, 1.0), default=0.2,
                   help="share of the drift from the person's path the targets take back per event (default 0.2)")
    r.add_argument("--rollouts-only", action="store_true", help="leave the person's own training windows out")
    r.add_argument("--batch-size", type=int_at_least(1), default=64, help="rollouts per sampling call (default 64)")
    r.add_argument("--mode", choices=("strict", "repair"), default="strict", help="how the sessions are read (as for the build)")
    sampling_args(r)
    add_overwrite(r, "OUT")
    r.set_defaults(func=_cmd_dataset_rollouts)

    s = sub.add_parser("train", help="train the model with model.fit; metrics beside baselines")
    s.add_argument("--data", required=True, help="DATA_DIR from 'actiongen dataset build'")
    s.add_argument("--out", required=True, help="RUN_DIR")
    s.add_argument("--config", help="config JSON (see actiongen_keras/config.py)")
    s.add_argument("--epochs", type=int_at_least(1), help="default: the config's train.epochs")
    s.add_argument("--batch-size", type=int_at_least(1), help="default: the config's train.batch_size")
    add_overwrite(s, "RUN_DIR")
    s.add_argument("--progressive", action="store_true", help="train in stages (encoders+event/timing, +details, fine-tune)")
    s.add_argument("--no-gru", action="store_true", help="skip the GRU ablation baseline")
    s.add_argument("--distributed", action="store_true",
                   help="one worker of a multi-worker job described by TF_CONFIG (TensorFlow backend; README, Training)")
    s.add_argument("--init-from", metavar="MODEL", help="start from the weights of a trained model.keras (e.g. one pretrained on "
                                                        "another dataset); weights it lacks keep their fresh values, named in the log")
    s.add_argument("--closed-loop", metavar="SESSIONS_DIR", help="after every epoch, roll the model out from the first validation "
                   "sessions (SESSIONS_DIR: those DATA_DIR was built from) and log closed-loop figures (edge share, silent share, "
                   "osu! hit rate, targets a minute) beside the losses (history.csv, TensorBoard)")
    s.add_argument("--closed-loop-contexts", type=int_at_least(1), default=8, help="sessions rolled out each epoch (default 8)")
    s.add_argument("--closed-loop-seconds", type=finite_float(0.0, low_open=True), default=10.0,
                   help="seconds generated from each (default 10)")
    s.set_defaults(func=_cmd_train)

    from actiongen_keras.tuning.cli import add_tune_parser  # deferred: tuning imports KerasTuner and TensorFlow

    add_evaluation_parsers(sub)
    add_export_parsers(sub)
    from actiongen_keras.training.keystroke_cli import add_typing_parsers  # typing train, scroll fit

    add_typing_parsers(sub)
    add_tune_parser(sub)
    return p


def _quiet_libraries():
    """Keep the terminal for our output, not TensorFlow's start-up and TFDS's deprecation notices.

    TensorFlow's C++ log level is 2 (errors only), and 3 on a machine without an NVIDIA
    driver, where its only "errors" are the CUDA probing (``failed call to cuInit``); a value
    the user set is kept. The CUDA stub's "Could not find cuda drivers" lines are written
    before TensorFlow reads its log level, so standard error is closed while it is imported.
    """
    no_gpu = not os.path.exists("/proc/driver/nvidia")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3" if no_gpu else "2")
    if "tensorflow" not in sys.modules:
        sys.stderr.flush()
        saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            import tensorflow  # noqa: F401  (imported here only to keep its start-up quiet)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
    logging.getLogger("absl").setLevel(logging.ERROR)


def main(argv=None):
    _quiet_libraries()
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ActiongenError as e:
        print(f"actiongen {args.command}: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and closed: not an error of ours
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
