"""Training windows whose history holds the model's own rollouts (``actiongen dataset rollouts``).

Teacher-forced, the model's history is always a person's; in closed loop, after 6 s it is
all the model's own. ``train.self_feed`` (``training/self_feed.py``) puts the model's draws
into the decoder's inputs of one window; this module puts whole generated windows into the
*history*, the multi-window half of training against exposure bias (a DAgger-style
aggregate, Ross et al. 2011, with the person as the expert):

1. from a training window boundary ``T0`` every ``windows_ahead * target_ms``, the model rolls out
   ``windows_ahead`` windows from the person's real context before ``T0``, with the
   session's real game state (click targets on the person's schedule: the labels below
   are the person's, so the state must be theirs too);
2. at each boundary ``T`` of the rollout (``T0 + target_ms``, ``T0 + 2 * target_ms``, ...)
   the session is spliced: the person's events before ``T0``, the generated ones in
   ``[T0, T)``, the person's from ``T`` on; with ``windows_ahead`` 10 the histories hold
   0.6 s to all 6 s of the model's own input, what a closed loop reads after 6 s;
3. the window at ``T`` of the spliced session is written with the person's targets, their
   positions moved towards where the model left the cursor: ``delta`` = the generated
   cursor at ``T`` minus the person's, and target ``i`` of the window (counting every
   event) moves by ``delta * (1 - recovery) ** (i + 1)``. With ``recovery`` below 1 the
   model learns to steer back from where it drifted by a share ``recovery`` a step, as the
   decoder's self-feeding does (``train.self_feed_recovery``; the same fading, so the two
   agree on what a recovering hand does); with 1 it would learn to jump back in one step.

A window is left out (and counted) where the person's next presses and releases do not
follow from the buttons and keys the rollout holds at ``T`` (a release of a key the model's
history never pressed, a press of one it holds); a key the rollout holds and the person's
window never touches stays held.

The dataset keeps the source dataset's statistics, splits, validation and test windows
(a rollout dataset is read as its source is: ``actiongen train --data OUT --init-from
RUN/model.keras``); its training split holds the rollout windows, and the person's own
training windows beside them unless ``real=False``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from actiongen_keras.config import SplitConfig
from actiongen_keras.data.build import build_dataset, prepare, session_examples
from actiongen_keras.data.normalize import load_preprocessing
from actiongen_keras.data.splits import load_splits
from actiongen_keras.data.windows import encoded_sizes, history_ms, make_windows, tokenize_session, window_times
from actiongen_keras.errors import ActiongenError, ConfigError
from actiongen_keras.generation.rollout import as_generator, generated_part, rollout, state_upto
from actiongen_keras.recordings.session import Events

AFTER_MS = 10_000.0
"""The person's events kept after a window's end (a press in the window needs its release for its dwell target)."""
ROLLOUTS_FILE = "rollouts.json"
"""What a rollout dataset records beside its windows: the model, the settings, the counts."""


def held_at(events, T, held=(), strict=False):
    """The buttons and keys held at ``T`` after ``events`` before it, starting from ``held``:
    a frozenset of ``("button", name)`` and ``("key", name)``. ``strict``: ``None`` where the
    events press what is held or release what is not (they do not follow from ``held``);
    otherwise such a release is ignored, as the sampler's ``rules.held_from_history`` does
    with a release whose press lies before the history."""
    before = events.t_ms < T
    held = set(held)
    for ty, b, k in zip(events.type[before].tolist(), events.button[before].tolist(), events.key[before].tolist()):
        who = ("button", b) if ty in ("press", "release") else ("key", k)
        if ty in ("press", "key_down"):
            if strict and who in held:
                return None
            held.add(who)
        elif ty in ("release", "key_up"):
            if strict and who not in held:
                return None
            held.discard(who)
    return frozenset(held)


def context_of(session, T0, config):
    """The part of ``session`` a rollout from ``T0`` reads: the events of the ``history_ms``
    before ``T0`` (and one more, for the first one's interval) and the state they need.
    The held buttons and keys at ``T0`` come from those events, so a hold begun longer ago
    than that is not seen (as in a cropped recording)."""
    ev = session.events
    start = float(T0) - history_ms(config)
    i0 = max(int(np.searchsorted(ev.t_ms, start, side="left")) - 1, 0)
    i1 = int(np.searchsorted(ev.t_ms, T0, side="left"))
    return dataclasses.replace(session, events=ev.take(np.arange(i0, i1)), state=state_upto(session, T0, start))


def splice(session, generated, T0, T, recovery, config, after_ms=AFTER_MS):
    """The events of ``session`` with ``generated`` (events in ``[T0, T)``) in place of the
    person's in that span, the person's target positions of the window at ``T`` moved
    towards the generated cursor (module doc), cropped to what the window at ``T`` reads.

    Returns ``(session, reason)``: the spliced session, or ``None`` and why the window is
    left out (another held state at ``T``).
    """
    ev = session.events
    t = ev.t_ms
    hist = history_ms(config)
    before = ev.take((t < T0) & (t >= T0 - hist))
    gen = generated.take((generated.t_ms >= T0) & (generated.t_ms < T))
    end = T + float(config.target_ms)
    held = held_at(Events.concatenate([before, gen]), T)
    if held_at(ev.take((t >= T) & (t < end)), end, held, strict=True) is None:
        return None, "held"
    lo = max(int(np.searchsorted(t, min(T - hist, T0), side="left")) - 1, 0)
    head = ev.take(np.arange(lo, int(np.searchsorted(t, T0, side="left"))))
    tail = ev.take((t >= T) & (t < T + float(config.target_ms) + float(after_ms)))
    both = Events.concatenate([head, gen])
    delta = np.nan_to_num(_cursor_before(both, T) - _cursor_before(ev, T))  # no position on either side: no drift
    in_window = int(np.searchsorted(tail.t_ms, T + float(config.target_ms), side="left"))
    fade = (1.0 - float(recovery)) ** np.arange(1, in_window + 1, dtype=np.float64)
    x, y = np.array(tail.x, np.float64), np.array(tail.y, np.float64)
    w, h = float(session.screen[0]), float(session.screen[1])
    on = np.isfinite(x[:in_window]) & np.isfinite(y[:in_window])
    x[:in_window] = np.where(on, np.clip(x[:in_window] + fade * delta[0], 0.0, w), x[:in_window])
    y[:in_window] = np.where(on, np.clip(y[:in_window] + fade * delta[1], 0.0, h), y[:in_window])
    tail = dataclasses.replace(tail, x=x, y=y)
    spliced = dataclasses.replace(session, events=Events.concatenate([both, tail]),
                                  state=state_upto(session, T + float(config.target_ms), T - hist))
    return spliced, None


def _cursor_before(events, T):
    """The cursor at ``T``: the last position before it (NaN without one)."""
    before = (events.t_ms < T) & np.isfinite(np.asarray(events.x, np.float64)) & np.isfinite(np.asarray(events.y, np.float64))
    i = np.flatnonzero(before)
    return np.array([events.x[i[-1]], events.y[i[-1]]], np.float64) if len(i) else np.full(2, np.nan)


def window_at(session, T, preprocessing):
    """``(inputs, targets, weights)`` of the one window of ``session`` at ``T``."""
    cfg = preprocessing.data_config
    tok = tokenize_session(session, preprocessing, cfg)
    return make_windows(tok, np.array([float(T)]), cfg, *encoded_sizes(preprocessing))


def rollout_times(session, preprocessing, windows_ahead, time_range=None):
    """``(T0, T)`` of ``session``'s rollouts: they start at training window boundaries
    ``T0`` every ``windows_ahead * target_ms`` (after a whole real context, inside
    ``time_range``), and ``T [len(T0), windows_ahead]`` are the boundaries ``T0 + k *
    target_ms`` (k = 1 .. ``windows_ahead``) where a window is written: NaN where the
    session has no training window there (past its end or its range, after a long idle)."""
    cfg = preprocessing.data_config
    t = session.events.t_ms
    grid = window_times(float(t[0]), float(t[-1]), cfg, time_range, t)
    k = max(int(windows_ahead), 1)
    if not len(grid):
        return grid, np.zeros((0, k))

    def on_grid(x):
        j = np.clip(np.searchsorted(grid, x - 1e-6), 0, len(grid) - 1)
        return np.where(np.abs(grid[j] - x) <= 1e-6, grid[j], np.nan)

    span = k * float(cfg.target_ms)
    T0 = on_grid(grid[0] + span * np.arange(int((grid[-1] - grid[0]) // span) + 1))
    T0 = T0[np.isfinite(T0)]
    return T0, on_grid(T0[:, None] + float(cfg.target_ms) * np.arange(1, k + 1)[None, :])


@dataclasses.dataclass
class RolloutWindows:
    """What :func:`rollout_examples` made: windows written, and left out (held state)."""

    written: int = 0
    left_out_held: int = 0
    failed: list = dataclasses.field(default_factory=list)  # [(session id, reason)]


def rollout_examples(model, parts, preprocessing, windows_ahead=10, recovery=0.2, seed=0, sampling=None, batch_size=64, chunk=512,
                     progress=False, tally=None):
    """``(key, example)`` pairs of rollout windows (module doc) for ``parts``
    (``[(session, time_range or None)]``, a split's): each rollout of ``windows_ahead``
    windows gives a window at each of its boundaries, whose history holds 1 to
    ``windows_ahead`` generated windows. ``sampling``: ``rollout``'s sampling keyword
    arguments (``{"xy_top_p": 0.8}``). Keys are ``<session id>/<T>/rollout``; ``tally`` (a
    :class:`RolloutWindows`) counts what was written and left out."""
    gen = as_generator(model)
    cfg = preprocessing.data_config
    tally = tally if tally is not None else RolloutWindows()
    jobs = []
    for s, rng in parts:
        T0, T = rollout_times(s, preprocessing, windows_ahead, rng)
        jobs += [(s, float(a), b) for a, b in zip(T0, T) if np.isfinite(b).any()]
    bar = tqdm(total=sum(int(np.isfinite(b).sum()) for _, _, b in jobs), desc="rollout windows", unit="window", disable=not progress)
    for c in range(0, len(jobs), int(chunk)):
        part = jobs[c : c + int(chunk)]
        seeds = [int(seed) * 1_000_003 + c + i for i in range(len(part))]
        outs = rollout(gen, [context_of(s, T0, cfg) for s, T0, _ in part], seconds=[float(np.nanmax(T) - T0) / 1000.0 for _, T0, T in part],
                       seed=seeds, start_ms=[T0 for _, T0, _ in part], follow_clicks=False, batch_size=batch_size, **(sampling or {}))
        for (s, T0, Ts), out in zip(part, outs):
            if isinstance(out, Exception):
                tally.failed.append((s.session_id, str(out)))
                bar.update(int(np.isfinite(Ts).sum()))
                continue
            generated = generated_part(out).events
            for T in Ts[np.isfinite(Ts)]:
                bar.update(1)
                spliced, _ = splice(s, generated, T0, T, recovery, cfg)
                if spliced is None:
                    tally.left_out_held += 1
                    continue
                ins, tgs, wts = window_at(spliced, T, preprocessing)
                tally.written += 1
                yield f"{s.session_id}/{T:.0f}/rollout", {
                    "inputs": {k: v[0] for k, v in ins.items()},
                    "targets": {k: v[0] for k, v in tgs.items()},
                    "weights": {k: v[0] for k, v in wts.items()},
                    "session_id": s.session_id,
                    "t_ms": T,
                }
    bar.close()


def _same_preparation(prepared, data_dir):
    """Refuse sessions that do not give ``data_dir``'s splits and statistics again."""
    want = load_preprocessing(data_dir).to_dict()
    got = prepared.preprocessing.to_dict()
    if json.dumps(got, sort_keys=True, default=str) != json.dumps(want, sort_keys=True, default=str):
        raise ActiongenError(f"{data_dir}: the sessions given do not give this dataset's statistics again "
                             "(preprocessing.json differs): give the sessions folder the dataset was built from")
    if prepared.splits.to_dict() != load_splits(data_dir).to_dict():
        raise ActiongenError(f"{data_dir}: the sessions given do not give this dataset's splits again (splits.json differs)")


def build_rollout_dataset(model, data_dir, sessions_dir, out_dir, windows_ahead=10, recovery=0.2, seed=0, real=True,
                          sampling=None, batch_size=64, mode="strict", overwrite=False, progress=True, log=print):
    """Write a dataset like ``data_dir`` whose training split holds rollout windows (module doc).

    Args:
        model: the run that rolls out (``RUN_DIR``, ``RUN_DIR/model.keras`` or a
            :class:`~actiongen_keras.generation.rollout.Generator`); trained on ``data_dir``'s
            statistics (refused otherwise).
        data_dir: the dataset the model was trained on (``actiongen dataset build``).
        sessions_dir: the sessions that dataset was built from (they must give its splits and
            statistics again: refused otherwise).
        out_dir: the new dataset folder.
        windows_ahead: windows in each rollout (>= 1); a window is written at each of
            its boundaries.
        recovery: in ``[0, 1]``, the share of the drift the targets take back per event.
        real: keep the person's training windows beside the rollout windows.
        sampling: ``rollout``'s sampling keyword arguments.

    Returns:
        ``(BuildSummary, RolloutWindows)``.
    """
    if int(windows_ahead) < 1:
        raise ConfigError(f"windows_ahead must be >= 1, got {windows_ahead}")
    if not 0.0 <= float(recovery) <= 1.0:
        raise ConfigError(f"recovery must be in [0, 1], got {recovery}")
    start = time.perf_counter()
    gen = as_generator(model)
    prep = load_preprocessing(data_dir)
    if json.dumps(gen.preprocessing.to_dict(), sort_keys=True, default=str) != json.dumps(prep.to_dict(), sort_keys=True, default=str):
        raise ActiongenError(f"{gen.model_path}: trained on other statistics than {data_dir}'s (its preprocessing.json differs)")
    splits = load_splits(data_dir)
    prepared = prepare(sessions_dir, sources=prep.sources, config=prep.data_config, builder_config=prep.builder_config,
                       split_config=SplitConfig(fractions=tuple(splits.fractions), min_subjects=splits.min_subjects, mode=splits.mode),
                       mode=mode, progress=progress)
    _same_preparation(prepared, data_dir)
    tally = RolloutWindows()

    def examples(prepared, split):
        parts = prepared.splits.parts(split, prepared.sessions)
        if split != "train" or real:
            yield from (ex for s, rng in parts for ex in session_examples(s, prepared.preprocessing, rng))
        if split == "train":
            yield from rollout_examples(gen, parts, prepared.preprocessing, windows_ahead, recovery, seed, sampling, batch_size,
                                        progress=progress, tally=tally)

    name = prep.builder_config if prep.builder_config not in (None, "all") else prep.sources
    summary = build_dataset(sessions_dir, out_dir, sources=name, progress=progress, mode=mode, overwrite=overwrite,
                            prepared=prepared, examples=examples)
    info = {"model": str(gen.model_path), "source_data": str(data_dir), "windows_ahead": int(windows_ahead), "recovery": float(recovery), "seed": int(seed), "real": bool(real), "sampling": dict(sampling or {}),
            "rollout_windows": tally.written, "left_out_held": tally.left_out_held, "failed": tally.failed,
            "seconds": round(time.perf_counter() - start, 1)}
    Path(out_dir, ROLLOUTS_FILE).write_text(json.dumps(info, indent=1) + "\n")
    log(f"{out_dir}: {tally.written} rollout windows ({windows_ahead} windows ahead, recovery {recovery}), "
        f"{tally.left_out_held} left out (another held state), {len(tally.failed)} contexts failed; "
        f"train {summary.windows['train']} windows in all ({info['seconds']} s)")
    return summary, tally


__all__ = ["ROLLOUTS_FILE", "RolloutWindows", "build_rollout_dataset", "context_of", "held_at", "rollout_examples", "rollout_times", "splice", "window_at"]
