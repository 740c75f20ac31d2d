"""Closed-loop figures while a model trains (``actiongen train --closed-loop SESSIONS_DIR``).

The validation loss is teacher-forced: it falls while what matters, the closed loop, may not
move (osu! hit rate and SapiMouse pace are closed-loop properties that more teacher-forced
training does not buy, README). :class:`ClosedLoopMonitor` rolls the model out from a few
fixed contexts (by default the first sessions of the validation split) at the end of every
epoch, with the same seeds each time, and logs what the rollouts do beside the losses:
``closed_loop_edge_share`` (the cursor within 1% of an edge: the drift),
``closed_loop_silent_share`` (3 s slices without an event), and where the sessions have them
``closed_loop_osu_hit_rate`` (hit objects, :mod:`~actiongen_keras.evaluation.osu_hits`) and
``closed_loop_targets_per_minute`` (click targets clicked a minute, the targets following the
rollout's own clicks, :mod:`~actiongen_keras.evaluation.target_clicks`). They land in
``history.csv``, TensorBoard and the progress bar; the people's own figures over the same
spans are logged once when training starts. The detector is left to ``actiongen evaluate``:
it needs many people and seconds of rollout to have power.
"""

from __future__ import annotations

import time

import keras
import numpy as np

from actiongen_keras.data.normalize import load_preprocessing
from actiongen_keras.data.splits import load_splits
from actiongen_keras.data.windows import check_session, history_ms
from actiongen_keras.errors import ActiongenError
from actiongen_keras.evaluation import kinematics as K
from actiongen_keras.evaluation import osu_hits as H
from actiongen_keras.evaluation import target_clicks as TC
from actiongen_keras.evaluation.report import is_human, load_sessions
from actiongen_keras.generation.rollout import Generator, crop_session, generated_part, rollout
from actiongen_keras.generation.run import RunFiles
from actiongen_keras.models.dataset_meta import DatasetMeta

PREFIX = "closed_loop_"


def rollout_contexts(sessions, config, ranges=None, max_sessions=None):
    """``[(session, T0, end)]``: the sessions a closed loop can start from (a human cursor and
    keys, a whole context and a window after it; inside their split's time block where
    ``ranges`` names one), ``T0`` the first generated window (6 s into the session or block),
    ``end`` the last time the session may be used. ``actiongen evaluate``'s rule."""
    ranges = ranges or {}
    hist = history_ms(config)
    out = []
    for s in sessions:
        if check_session(s, config) is not None or not is_human(s):
            continue
        r = ranges.get(s.session_id)
        start, end = (float(s.events.t_ms[0]), float(s.events.t_ms[-1])) if r is None else (float(r[0]), float(r[1]))
        if end - (start + hist) >= float(config.target_ms):
            out.append((s, start + hist, end))
    return out[: int(max_sessions)] if max_sessions else out


def split_contexts(sessions_dir, data_dir, split="validation", max_sessions=8, progress=False):
    """:func:`rollout_contexts` of the sessions under ``sessions_dir`` in ``split`` of ``data_dir``'s ``splits.json``."""
    config = load_preprocessing(data_dir).data_config
    parts = load_splits(data_dir).parts(split, load_sessions(sessions_dir, mode="repair", progress=progress))
    found = rollout_contexts([s for s, _ in parts], config, {s.session_id: r for s, r in parts if r is not None}, max_sessions)
    if not found:
        raise ActiongenError(f"{sessions_dir}: no session of the '{split}' split of {data_dir} to roll out (a human cursor and keys, "
                             f"at least {(history_ms(config) + config.target_ms) / 1000:g} s)")
    return found


def closed_loop_figures(sessions, targets):
    """``{name: value}`` of ``sessions`` (a rollout's generated parts, or the people's same
    spans): edge share, silent share, osu! hit rate where they have hit objects, and with
    ``targets`` (the people's spans show click targets) the targets clicked a minute."""
    out = {"edge_share": K.edge_share(sessions), "silent_share": K.silent_share(sessions)}
    hits = H.pooled_hit_rate(sessions)
    if hits["n_objects"]:
        out["osu_hit_rate"] = hits["rate"]
    if targets:
        out["targets_per_minute"] = TC.pooled_target_clicks(sessions)["clicked_per_minute"]
    return {k: (np.nan if v is None else float(v)) for k, v in out.items()}


class ClosedLoopMonitor(keras.callbacks.Callback):
    """Rolls the model out from ``contexts`` (:func:`rollout_contexts`) for ``seconds`` at the
    end of every epoch (module doc) and adds ``closed_loop_*`` to the epoch's logs.

    Args:
        contexts: ``[(session, T0, end)]``.
        preprocessing: the dataset's (the run's) :class:`~actiongen_keras.data.normalize.Preprocessing`.
        config: the run's :class:`~actiongen_keras.config.Config`.
        seconds: generated seconds per context; seed: context ``i`` gets ``seed + i``, every epoch.
        sampling: ``rollout``'s sampling keyword arguments.
    """

    def __init__(self, contexts, preprocessing, config, seconds=10.0, seed=0, sampling=None, log=None):
        super().__init__()
        self.contexts, self.prep, self.config = list(contexts), preprocessing, config
        self.seconds = [min(float(seconds), (end - T0) / 1000.0) for _, T0, end in self.contexts]
        self.seed, self.sampling = int(seed), dict(sampling or {})
        self.log = log or (lambda message: print(message, flush=True))  # between progress bars, at once
        self.real = [crop_session(s, T0, T0 + sec * 1000.0) for (s, T0, _), sec in zip(self.contexts, self.seconds)]
        self.targets = TC.pooled_target_clicks(self.real)["n_targets"] > 0  # the people's spans show targets: read once
        self.meta = DatasetMeta.from_preprocessing(preprocessing).to_dict()

    def on_train_begin(self, logs=None):
        people = closed_loop_figures(self.real, self.targets)
        self.log("closed loop (" + f"{len(self.contexts)} contexts x {max(self.seconds):g} s): the people over the same spans: "
                 + ", ".join(f"{k} {v:.3f}" for k, v in people.items()))

    def figures(self):
        """The rollouts' :func:`closed_loop_figures` with the model as it is now."""
        model = getattr(self.model, "inner", self.model)  # the Functional model inside a self-fed wrapper
        gen = Generator(RunFiles(model, self.config, self.prep, self.meta))
        rolled = rollout(gen, [s for s, _, _ in self.contexts], seconds=self.seconds, seed=[self.seed + i for i in range(len(self.contexts))],
                         start_ms=[T0 for _, T0, _ in self.contexts], **self.sampling)
        parts = [generated_part(g) for g in rolled if not isinstance(g, Exception)]
        return closed_loop_figures(parts, self.targets)

    def on_epoch_end(self, epoch, logs=None):
        t = time.perf_counter()
        figures = self.figures()
        if logs is not None:
            logs.update({PREFIX + k: v for k, v in figures.items()})
        self.log(f"epoch {epoch + 1} closed loop ({time.perf_counter() - t:.0f} s): " + ", ".join(f"{k} {v:.3f}" for k, v in figures.items()))


__all__ = ["ClosedLoopMonitor", "closed_loop_figures", "rollout_contexts", "split_contexts"]
