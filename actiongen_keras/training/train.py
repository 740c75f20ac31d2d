"""``train()``: ``model.fit`` on a built dataset, then metrics beside honest baselines.

Writes ``RUN_DIR/model.keras`` (best on validation), ``RUN_DIR/config.json``,
``RUN_DIR/preprocessing.json`` (the dataset's vocabularies and statistics, so a run folder
is all that generation, evaluation and export need), ``RUN_DIR/dataset_meta.json``,
``RUN_DIR/metrics.json`` (``{split: {"model": {...}, "baselines": {name: {...}}}}`` for
``val`` and ``test``), ``RUN_DIR/history.csv`` (CSVLogger), ``RUN_DIR/logs/``
(TensorBoard) and ``RUN_DIR/loss.png``. The run is written into ``.RUN_DIR.partial/``
beside ``RUN_DIR`` and moved into place when it is complete (:mod:`actiongen_keras.atomic`),
so an existing ``RUN_DIR`` is only replaced by a finished run; while running, the partial
folder holds ``backup/`` (:class:`_Backup`: a killed run started again with the same
arguments continues the uninterrupted run's trajectory, bit for bit on TensorFlow). A loss
that becomes NaN or infinite ends the run with :class:`TrainingDiverged` and nothing is
written.
"""

from __future__ import annotations

import contextlib
import csv
import json
import shutil
import time
from pathlib import Path

import keras
import numpy as np
from matplotlib.figure import Figure

from actiongen_keras import load_model
from actiongen_keras.atomic import partial_path, staged_output
from actiongen_keras.config import Config
from actiongen_keras.data import features as F
from actiongen_keras.data.jsonfile import finite_json
from actiongen_keras.data.normalize import load_preprocessing
from actiongen_keras.data.pipeline import make_dataset, steps_per_epoch
from actiongen_keras.errors import ActiongenError, ConfigError
from actiongen_keras.models import build_gru_baseline, build_model
from actiongen_keras.models.dataset_meta import DatasetMeta
from actiongen_keras.scoring.score import event_class_counts, predict_split, split_metrics, train_seq_len_mode
from actiongen_keras.training.distributed import shard_for_workers, weights_digest, worker_strategy
from actiongen_keras.training.losses import build_losses, event_decision_bias
from actiongen_keras.training.metrics import build_weighted_metrics
from actiongen_keras.training.self_feed import self_feeding
from actiongen_keras.training.threads import set_intra_op_threads


class TrainingDiverged(ActiongenError):
    """The loss became NaN or infinite: the weights are garbage, nothing is saved."""


# Heads trained in each stage of progressive training (the rest have loss weight 0).
PROGRESSIVE_STAGES = (
    ("encoders, event type and timing", ("event_type", "timing", "seq_len"), 1.0),
    ("+ coordinates and details", F.TARGET_NAMES, 1.0),
    ("fine-tune everything", F.TARGET_NAMES, 0.3),  # learning-rate factor
)


def compile_model(model, config, meta, heads=F.TARGET_NAMES, lr_factor=1.0):
    """Compile with the package's losses, per-output weights and weighted metrics (updated in
    evaluation steps only, :func:`validation_only_metrics`)."""
    # No class weights on the event loss: its softmax must stay calibrated for sampling.
    # Balanced decisions for the argmax metrics come from `event_decision_bias` instead.
    t = config.train
    weights = {k: (float(t.loss_weights.get(k, 1.0)) if k in heads else 0.0) for k in F.TARGET_NAMES}
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=t.learning_rate * lr_factor, clipnorm=t.clipnorm),
        loss=build_losses(config, meta),
        loss_weights=weights,
        weighted_metrics=build_weighted_metrics(config, meta),
        jit_compile=t.jit_compile,
        run_eagerly=t.run_eagerly,
    )
    build_training_state(model, meta)
    return validation_only_metrics(model)


def validation_only_metrics(model):
    """Leave the compiled metrics out of ``model``'s training steps; evaluation steps (``fit``'s
    validation, ``evaluate``) update them as before. Returns ``model``.

    The metrics are for reading a model, and ``fit`` reads them on the validation split
    (``val_*`` in the history); their training-split values, averaged over weights that
    change under them, served nobody. They cost: :class:`~actiongen_keras.training.metrics.TimingMAE`'s
    median alone, a grid over the timing mixture of every step, took 40 of the 290 ms of a
    training step (batch 64, one core, TensorFlow), all metrics about 50. The losses are
    logged as before (``loss``, ``<output>_loss``) and the weights are those of a run with
    the metrics on, bit for bit: the metrics never enter the gradient.

    How: the instance's ``train_step`` raises a flag around Keras's own step (read where the
    step is traced, TensorFlow and JAX, or run, PyTorch), and its ``compute_metrics`` then
    returns the losses' trackers without updating the compiled metrics, whose variables stay
    in ``model.metrics`` (JAX's stateless step maps them by position; ``fit`` reads every
    metric's result at the end of an epoch, so an eager step builds them). Idempotent: each
    progressive stage compiles the same model again.
    """
    if getattr(model, "_validation_only_metrics", False):
        return model
    train_step, compute_metrics = model.train_step, model.compute_metrics
    in_train_step = [False]

    def step(*args, **kwargs):
        in_train_step[0] = True
        try:
            return train_step(*args, **kwargs)
        finally:
            in_train_step[0] = False

    def metrics(x, y, y_pred, sample_weight=None):
        if not in_train_step[0]:
            return compute_metrics(x, y, y_pred, sample_weight=sample_weight)
        compiled = getattr(model, "_compile_metrics", None)
        if compiled is not None and not compiled.built:
            compiled.build(y, y_pred)  # an eager fit builds them at their first update, which is now in validation
        return {m.name: m.result() for m in model.metrics if m is not compiled}

    model.train_step, model.compute_metrics = step, metrics
    model._validation_only_metrics = True
    return model


def build_training_state(model, meta):
    """Create a compiled model's optimizer and metric variables now, from the input and target
    signatures, not in the first train step.

    Keras on TensorFlow creates them while it traces the first train step (it builds ahead
    only under a distribution strategy), and TensorFlow then traces the step a second time,
    with the variables in place: on a CPU that second trace cost 20-30 s per ``fit`` of the
    tiny test model, once per progressive stage. JAX and PyTorch build ahead themselves; an
    eager model traces nothing. The variables start as they would (zeros, step 0): the same
    numbers, one trace.
    """
    symbolic_build = getattr(model, "_symbolic_build", None)  # Keras's own pre-build (private, hence the guard)
    if keras.backend.backend() != "tensorflow" or model.run_eagerly or symbolic_build is None:
        return
    A = DatasetMeta.from_dict(meta).max_actions
    y = {k: keras.KerasTensor((None, *shape), dtype) for k, (shape, dtype) in F.target_signature(A).items()}
    w = {k: keras.KerasTensor((None, *shape), "float32") for k, shape in F.weight_signature(A).items()}
    symbolic_build(data_batch=(model.input, y, w))


def _callbacks(run_dir, config, stage_name, progress, log=print, monitors=()):
    t = config.train
    checkpoint = keras.callbacks.ModelCheckpoint(str(run_dir / "model.keras"), monitor="val_loss", save_best_only=True)
    early_stopping = keras.callbacks.EarlyStopping(monitor="val_loss", patience=t.early_stopping_patience, restore_best_weights=True)
    return [
        checkpoint,
        early_stopping,
        # After those two: it restores their state after their on_train_begin resets it,
        # and saves it after their on_epoch_end updates it.
        _Backup(run_dir / "backup" / stage_name, early_stopping, checkpoint, log),
        *monitors,  # figures they add to an epoch's logs reach TensorBoard and history.csv
        keras.callbacks.TensorBoard(str(run_dir / "logs" / stage_name)),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
        keras.callbacks.TerminateOnNaN(),
    ]


def fit_model(model, data_dir, run_dir, config, meta, epochs, progress=True, log=print, callbacks=(), monitors=()):
    """``model.fit`` once, or once per stage with ``config.train.progressive``; with
    ``config.train.self_feed`` on decoder positions that are partly the model's own draws
    (:mod:`~actiongen_keras.training.self_feed`). ``monitors``: callbacks that add figures
    to each epoch's logs (run before the loggers). Returns ``model`` (trained in place)."""
    t = config.train
    fitted = self_feeding(model, config)
    val_ds = shard_for_workers(make_dataset(data_dir, "validation", t.batch_size, shuffle=False, cache=True), t.batch_size,
                               windows=steps_per_epoch(data_dir, "validation", 1))
    steps = steps_per_epoch(data_dir, "train", t.batch_size)
    stages = PROGRESSIVE_STAGES if t.progressive else (("all heads", F.TARGET_NAMES, 1.0),)
    per_stage = max(1, epochs // len(stages))
    for i, (name, heads, lr_factor) in enumerate(stages):
        if t.progressive:
            log(f"stage {i + 1}/{len(stages)}: {name} ({per_stage} epochs; heads: {', '.join(heads)})")
        stage = f"stage{i + 1}"
        resume_at = _resume_epoch(run_dir / "backup" / stage)
        if resume_at:
            log(f"resuming {stage} at epoch {resume_at + 1} from its backup ({run_dir / 'backup' / stage})")
        # The window order of each epoch depends only on the seed and the epoch (deterministic
        # tf.data: parallel map and batch otherwise hand windows over as threads finish), so
        # a run resumed by BackupAndRestore at epoch e reads what an uninterrupted one reads.
        train_ds = shard_for_workers(make_dataset(data_dir, "train", t.batch_size, shuffle=True, seed=t.seed + 1000 * i, deterministic=True,
                                                  first_epoch=resume_at), t.batch_size)
        compile_model(fitted, config, meta, heads, lr_factor)
        history = fitted.fit(
            train_ds,
            steps_per_epoch=steps,
            validation_data=val_ds,
            epochs=per_stage if t.progressive else epochs,
            callbacks=_callbacks(run_dir, config, stage, progress, log, monitors) + list(callbacks),
            shuffle=False,  # the pipeline shuffles
            verbose=1 if progress else 2,
        )
        _check_finite(history, name, t.learning_rate * lr_factor)
    return model


class _Backup(keras.callbacks.BackupAndRestore):
    """BackupAndRestore (weights, optimizer state, epoch) plus what it leaves out, so that a
    run killed and started again continues the uninterrupted run's trajectory bit for bit:

    * the random-number states of the dropout and input-noise layers, the ``model.variables``
      outside ``model.weights``: ``save_weights`` skips them, so after a restart they would
      start again from the seed instead of where the uninterrupted run has them;
    * the best-epoch bookkeeping of EarlyStopping (best value and epoch, wait counter, best
      weights) and ModelCheckpoint (best value): fresh callbacks would forget the epochs
      before the restart, and restore or save a worse epoch than the uninterrupted run.

    Written to ``resume_state.npz`` before the backup's weights and ``training_metadata.json``
    (Keras writes that last), tagged with the epoch, and used only when the epochs agree.

    A finished ``fit`` keeps its backup, marked complete, until the whole run is
    (``train()`` removes it): started again after a later progressive stage or the GRU
    ablation crashed, that fit runs no epoch and hands on the weights it handed on.
    """

    STATE = "resume_state.npz"

    def __init__(self, backup_dir, early_stopping, checkpoint, log=print):
        super().__init__(str(backup_dir), delete_checkpoint=False)
        self.early_stopping, self.checkpoint, self.log = early_stopping, checkpoint, log
        self.state_path = Path(backup_dir) / self.STATE

    def _random_states(self):
        weights = {id(w) for w in self.model.weights}
        return [v for v in self.model.variables if id(v) not in weights]

    def on_epoch_end(self, epoch, logs=None):
        es = self.early_stopping
        book = {"epoch": epoch + 1, "early_stopping": {"wait": es.wait, "best": es.best, "best_epoch": es.best_epoch},
                "checkpoint_best": self.checkpoint.best}
        arrays = {f"random_{i}": keras.ops.convert_to_numpy(v) for i, v in enumerate(self._random_states())}
        arrays.update({f"best_weights_{i}": w for i, w in enumerate(es.best_weights or [])})
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_name(self.STATE + ".tmp")
        with open(tmp, "wb") as f:
            np.savez(f, bookkeeping=np.array(json.dumps(book)), **arrays)  # Keras logs hold Python floats
        tmp.replace(self.state_path)
        super().on_epoch_end(epoch, logs)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        epoch = _resume_epoch(self.backup_dir)
        if epoch == 0:
            return
        try:
            with np.load(self.state_path) as f:
                saved = {k: f[k] for k in f.files}
            book = json.loads(str(saved["bookkeeping"]))
        except (OSError, KeyError, ValueError):
            saved, book = {}, {"epoch": None}
        states = self._random_states()
        if book["epoch"] != epoch or sum(k.startswith("random_") for k in saved) != len(states):
            self.log(f"note: {self.state_path} does not match the backup of epoch {epoch}: resuming with fresh "
                     "random streams and best-epoch bookkeeping (the run will differ from an uninterrupted one)")
            return
        for i, v in enumerate(states):
            v.assign(saved[f"random_{i}"])
        es = self.early_stopping
        es.wait, es.best, es.best_epoch = (book["early_stopping"][k] for k in ("wait", "best", "best_epoch"))
        n = sum(k.startswith("best_weights_") for k in saved)
        es.best_weights = [saved[f"best_weights_{i}"] for i in range(n)] or None
        self.checkpoint.best = book["checkpoint_best"]

    def on_train_end(self, logs=None):
        # After EarlyStopping restored the best weights: the backup of a complete fit.
        self.on_epoch_end(self.params["epochs"] - 1)
        super().on_train_end(logs)  # keeps the backup: delete_checkpoint=False
        self.model._initial_epoch = None  # else Keras starts every later fit of this model at the resumed epoch


def _resume_epoch(backup_dir):
    """The epoch BackupAndRestore resumes at (0 without a backup)."""
    p = Path(backup_dir) / "training_metadata.json"
    try:
        return int(json.loads(p.read_text())["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


class _TrainSeconds(keras.callbacks.Callback):
    """Keeps the training time of finished epochs in ``RUN_DIR/train_seconds.json``, so that a
    resumed run reports the time of both parts (the epoch a crash cut short is run again)."""

    def __init__(self, path):
        super().__init__()
        self.path = Path(path)

    def total(self):
        try:
            return float(json.loads(self.path.read_text())["train_seconds"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.path.write_text(json.dumps({"train_seconds": self.total() + time.perf_counter() - self._start}) + "\n")


def _check_finite(history, stage, learning_rate):
    """Raise :class:`TrainingDiverged` when a logged loss is NaN or infinite (TerminateOnNaN only stops ``fit``)."""
    for key in ("loss", "val_loss"):
        for epoch, v in enumerate(history.history.get(key, []) if history is not None else []):
            if not np.isfinite(v):
                raise TrainingDiverged(
                    f"training diverged: {key} is {v} in epoch {epoch + 1} of stage '{stage}' (learning rate {learning_rate:g}); "
                    "nothing was saved. Lower train.learning_rate or check the data"
                )


def plot_history(csv_path, png_path):
    """Training and validation loss per epoch (all stages, in order)."""
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return None
    fig = Figure(figsize=(6, 4))  # no pyplot: the user's matplotlib backend is left alone
    ax = fig.subplots()
    x = np.arange(1, len(rows) + 1)
    for key, label in (("loss", "train"), ("val_loss", "validation")):
        if key in rows[0]:
            ax.plot(x, [float(r[key]) for r in rows], marker="o", label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("total weighted loss")
    ax.set_title("actiongen training")
    ax.legend()
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    return png_path


def train(data_dir, run_dir, config=None, epochs=None, progress=True, gru_baseline=True, log=print, callbacks=(), overwrite=False,
          init_from=None, distributed=False, monitors=()):
    """Train the attention model (and, with ``gru_baseline``, the GRU ablation) and score both.

    ``callbacks`` are added to the package's own (checkpoint, backup, early stopping,
    TensorBoard, CSV log, NaN guard). ``monitors``: callbacks that add figures to each
    epoch's logs (for example ``evaluation.closed_loop_monitor.ClosedLoopMonitor``), run
    before TensorBoard and the CSV log so that those record them; the attention model's
    fit only (not the GRU ablation's). ``overwrite``: replace an existing ``run_dir``
    (refused otherwise). ``init_from``: a trained ``model.keras`` (for example one
    pretrained on another dataset) whose weights start the model (:func:`warm_start`);
    a resumed run continues from its own backup instead. ``distributed``: one worker of a
    multi-worker job (``TF_CONFIG``, TensorFlow or JAX backend; :mod:`~actiongen_keras.training.distributed`):
    the chief writes ``run_dir``; every other worker trains into ``.<name>.<task>-<index>.partial``
    beside it, which holds its backup (all workers of a restarted job resume from the same
    epoch) and is deleted when the job is done; the GRU ablation is left out. Returns the metrics dict written to ``RUN_DIR/metrics.json``
    (None on a worker that is not the chief).

    Raises:
        ConfigError: a config value out of range, ``epochs < 1``, an ``init_from`` model
            that shares no weight with this one.
        TrainingDiverged: the loss became NaN or infinite.
    """
    config = config or Config()
    if not isinstance(config, Config):
        raise ConfigError("train() takes a Config")
    config.check()
    epochs = config.train.epochs if epochs is None else epochs
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ConfigError(f"epochs must be an integer >= 1, got {epochs!r}")
    set_intra_op_threads(config.train.intra_op_threads, log)  # before the strategy or a dataset starts TensorFlow
    strategy = None
    if distributed:
        strategy, worker = worker_strategy()
        if gru_baseline:
            log("distributed: the GRU ablation is left out (train it in a run of its own)")
            gru_baseline = False
        if worker is not None:  # not the chief: the same training into a scratch folder, not scored
            scratch = Path(run_dir).with_name(f".{Path(run_dir).name}.{worker}.partial")
            scratch.mkdir(parents=True, exist_ok=True)  # kept until done: its backup resumes a restarted job
            _train_into(data_dir, scratch, config, int(epochs), progress, False, log, callbacks, init_from, strategy, score=False,
                        monitors=monitors)
            shutil.rmtree(scratch, ignore_errors=True)
            return None
    try:
        with staged_output(run_dir, overwrite, inputs=[data_dir], resumable=True) as work:
            return _train_into(data_dir, work, config, int(epochs), progress, gru_baseline, log, callbacks, init_from, strategy,
                               monitors=monitors)
    except TrainingDiverged:
        shutil.rmtree(partial_path(run_dir), ignore_errors=True)  # its backup holds the diverged weights
        raise


def warm_start(model, source, log=print):
    """Start ``model`` from the weights of the trained model at ``source`` (a ``.keras`` file).

    Weights are matched by their path (layer names, which the builder fixes) and shape; one
    that the source lacks or holds in another shape (a state embedding over another
    vocabulary, another key set) keeps its fresh initial value, and each of those is named
    in the log, so nothing is dropped silently. The normalisation is the new dataset's own
    (its training split's statistics), as for any run. Returns ``(copied, kept)``: the
    numbers of weights copied and kept fresh.

    Raises:
        ConfigError: no weight matches (another architecture or size).
    """
    src = {w.path: w for w in load_model(source, compile=False).weights}
    copied, kept = 0, []
    for w in model.weights:
        s = src.get(w.path)
        if s is not None and tuple(s.shape) == tuple(w.shape):
            w.assign(keras.ops.convert_to_numpy(s))
            copied += 1
        else:
            kept.append(f"{w.path} {tuple(w.shape)}" + ("" if s is None else f" (source {tuple(s.shape)})"))
    if copied == 0:
        raise ConfigError(f"{source}: init_from shares no weight with this model (another architecture or size)")
    log(f"init from {source}: {copied} of {len(model.weights)} weights copied" + (f"; kept fresh: {', '.join(kept)}" if kept else ""))
    return copied, len(kept)


def _train_into(data_dir, run_dir, config, epochs, progress, gru_baseline, log, callbacks, init_from=None, strategy=None, score=True,
                monitors=()):
    """Fit (under ``strategy``'s scope where given), save, then (``score``) score the saved
    model and its baselines on the validation and test splits, outside any strategy."""
    run_dir = Path(run_dir)
    keras.utils.set_random_seed(config.train.seed)
    prep = load_preprocessing(data_dir)
    if prep.data_config != config.data:
        log("note: using the dataset's data config (the one its windows were built with)")
        config.data = prep.data_config
    meta = DatasetMeta.from_preprocessing(prep)
    config.to_json(run_dir / "config.json")
    prep.save(run_dir / "preprocessing.json")  # generation, evaluation and export need the same encoding
    (run_dir / "dataset_meta.json").write_text(json.dumps(meta.to_dict(), indent=2) + "\n")
    if (run_dir / "history.csv").exists() and not (run_dir / "backup").exists():
        (run_dir / "history.csv").unlink()  # no epoch to resume from: start the log afresh
        (run_dir / "train_seconds.json").unlink(missing_ok=True)

    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model = build_model(config, meta)
        log(f"model: {model.count_params():,} parameters; backend {keras.backend.backend()}")
        if init_from is not None:
            warm_start(model, init_from, log)  # a resumed run's backup then restores its own weights over these
        timer = _TrainSeconds(run_dir / "train_seconds.json")
        fit_model(model, data_dir, run_dir, config, meta, epochs, progress, log, [timer, *callbacks], monitors)
        train_seconds = timer.total()  # epochs before a restart included
        model.save(run_dir / "model.keras")  # EarlyStopping restored the best weights
    if strategy is not None:
        log(f"weights digest {weights_digest(model)}")  # the same on every worker
        # scored by one process alone: predicting under the strategy would spread the windows
        # over the workers (and wait for all of them)
        model = load_model(run_dir / "model.keras")
    if not score:
        return None

    extra = {}
    gru = None
    if gru_baseline:
        log("training the GRU ablation (same data, epochs and losses, no attention)")
        gru_dir = run_dir / "gru_baseline"
        gru_dir.mkdir(exist_ok=True)
        gru = build_gru_baseline(config, meta)
        fit_model(gru, data_dir, gru_dir, config, meta, epochs, progress, log)

    mode_len = train_seq_len_mode(data_dir)
    metrics = {
        "train_seconds": train_seconds,
        "parameters": int(model.count_params()),
        "backend": keras.backend.backend(),
        "epochs_run": len((run_dir / "history.csv").read_text().splitlines()) - 1 if (run_dir / "history.csv").exists() else None,
        "train_seq_len_mode": mode_len,  # the majority-length baseline, reused by `actiongen evaluate`
        "init_from": None if init_from is None else str(init_from),
    }
    bias = event_decision_bias(event_class_counts(prep))
    for split in ("val", "test"):
        data = predict_split(model, data_dir, split, config, meta, bias)
        if gru is not None:
            extra = {"gru_no_attention": predict_split(gru, data_dir, split, config, meta, bias)["preds"]}
        metrics[split] = split_metrics(data, prep, mode_len, extra)
    metrics = finite_json(metrics)  # a metric without events to score is null, never NaN (not JSON)
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n")
    plot_history(run_dir / "history.csv", run_dir / "loss.png")
    _remove_backup(run_dir)
    return metrics


def _remove_backup(run_dir):
    shutil.rmtree(run_dir / "backup", ignore_errors=True)
    (run_dir / "train_seconds.json").unlink(missing_ok=True)
    shutil.rmtree(run_dir / "gru_baseline" / "backup", ignore_errors=True)
