"""Closed-loop generation: real sessions' first seconds as context, then the model alone, in batches.

:func:`rollout` starts each context from the real events of the ``history_ms`` (6 s) before
its first window boundary ``T0``, then repeatedly samples the next ``target_ms`` (600 ms) of
every context at once with the one sampling loop
(:class:`~actiongen_keras.generation.sampler.WindowSampler`), appends what each generated
to its own history and moves its window boundary on by ``target_ms``. The model's own
events become its history: after 6 s of generation nothing real is left in it.

**Batches.** Many contexts generate together (``batch_size`` rows per call): game-testing
users run tens to hundreds of agents at once. Contexts of different lengths, screens and
sources batch together: each row has its own window boundary, screen, held buttons and
keys and previous-event time. A context that cannot be encoded (too short, no screen, bot
keys, ...) is reported by name, the others still run. Context ``i`` of a list is rolled out
with seed ``seed + i`` (or its own seed from a list); its random numbers depend on that
seed and the window index only (:mod:`~actiongen_keras.generation.counter_rng`), so a
context gives the same session alone or in any batch (tested).

The game state is the real session's (osu!: the beatmap at the replay's times, i.e. the
session's ``state.csv``), encoded with the run's preprocessing exactly as in training
(:func:`~actiongen_keras.data.windows.make_windows` on the running token arrays), so the
model sees the hit objects the person saw at the same times. Click targets
(``recordings/click_targets.py``) are the exception: a target stands until it is clicked, so
from ``T0`` on the rollout's own clicks advance them (:class:`~actiongen_keras.recordings.click_targets.ClickTask`;
``follow_clicks=False`` keeps the person's schedule, for the ablation), and the generated
session's state is the one the model was shown.

The result of each context is a :class:`~actiongen_keras.recordings.session.Session` that
``write_session``/``read_session(strict)`` accept:

* ``source: "generated"``; the real session's ``subject``, ``screen``, ``game``,
  ``state_columns``, ``time_scale`` and its state rows up to the end of the generated span;
  its ``extra`` (e.g. osu! ``beatmap_file``, ``mods``, ``map_time_offset_ms``) except facts
  about the recording itself (``replay``, ``frames_used``);
* events: the real events before ``T0`` (the context, from ``T0 - history_ms``), then the
  generated events in ``[T0, T0 + seconds)``; ``T0`` = the first event + ``history_ms``
  (or ``start_ms``);
* ``extra``: ``context_session_id``, ``model`` (path), ``seed``, ``temperature``, ``top_k``,
  ``top_p``, ``context_ms`` (= ``history_ms``, the length of the real context),
  ``generated_from_ms`` (= ``T0``: events before it are real), ``generated_ms``
  (= ``seconds * 1000``), ``window_stops`` (how the windows ended: eos/time/max_actions)
  and ``best_of`` (draws per window; with more than one, each window kept is the draw
  nearest to the anchors the state shows, :mod:`~actiongen_keras.generation.best_of`),
  ``moves_on_change`` and ``still_moves_dropped`` (below).

**Moves on change.** A browser or an OS reports the pointer when it moves: a recorded
stream almost never holds two moves at the same position (:func:`~actiongen_keras.generation.clock.moves_on_change`
reads that off the context). The model, sampling positions on the recorder's pixel grid,
puts a tenth of its SapiMouse moves on the pixel it already stands on (people 1%), which
makes steps of zero speed and zero acceleration no person's stream has. Where the context's
recorder reports moves on change, the rollout leaves such moves out of the stream and out
of the history the model reads next (:func:`~actiongen_keras.generation.clock.still_moves`),
as the recorder would have; ``moves_on_change=False`` keeps them (the ablation).

Positions go back to pixels (``x * width``, ``y * height``), key ids to key names through
the run's key vocabulary, scroll classes to notches (``features.scroll_notches``).
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from pathlib import Path

import numpy as np
from keras import ops
from tqdm.auto import tqdm

from actiongen_keras.data import features as F
from actiongen_keras.data.windows import (
    encoded_sizes,
    history_ms,
    make_windows,
    tokenize_session,
)
from actiongen_keras.errors import ActiongenError
from actiongen_keras.generation import rules as R
from actiongen_keras.generation.best_of import anchor_cost, pick_best
from actiongen_keras.generation.clock import Recorder, recorder_input, recorder_of, still_moves
from actiongen_keras.generation.run import RunFiles, load_run
from actiongen_keras.generation.sampler import NEVER, STOPS, SamplingConfig, WindowSampler
from actiongen_keras.models.steps import WINDOW_INPUTS
from actiongen_keras.recordings.click_targets import STATE_SOURCE as CLICK_TARGETS
from actiongen_keras.recordings.click_targets import ClickTask
from actiongen_keras.recordings.session import Events, Session, State

DROP_EXTRA = ("replay", "frames_used")
DEFAULT_BATCH_SIZE = 16
"""Contexts per sampling call (``benchmarks/bench_generation.py``: events/s grows with the batch
and a batch of 16 already gives most of it on two cores)."""


class Generator:
    """A trained run, loaded once and ready to generate (model, preprocessing, compiled samplers).

    ``Generator(RUN_DIR or RUN_DIR/model.keras)``, or ``Generator(RunFiles(...))``. One
    :class:`~actiongen_keras.generation.sampler.WindowSampler` is compiled per set of
    sampling options (top-k, top-p, constraints, position-noise correlation); temperature
    and seed are inputs of the compiled loop.
    """

    def __init__(self, model_or_run_dir, jit=True):
        run = model_or_run_dir if isinstance(model_or_run_dir, RunFiles) else load_run(model_or_run_dir)
        self.run = run
        self.model = run.model
        self.preprocessing = run.preprocessing
        self.data_config = run.preprocessing.data_config
        self.model_path = run.path
        self.jit = bool(jit)
        self._samplers = {}

    def sampler(self, sampling=None):
        """The compiled :class:`WindowSampler` of these options (built on first use)."""
        sc = sampling or SamplingConfig()
        key = tuple(sorted(sc.static().items()))
        if key not in self._samplers:
            self._samplers[key] = WindowSampler(self.model, sc, target_ms=float(self.data_config.target_ms), jit=self.jit)
        return self._samplers[key]

    def num_keys(self):
        return int(self.model.get_layer("generator").num_keys)


def as_generator(model_or_run_dir):
    """``model_or_run_dir`` itself if it is a :class:`Generator`, else a Generator of that run."""
    return model_or_run_dir if isinstance(model_or_run_dir, Generator) else Generator(model_or_run_dir)


class _Running:
    """Token arrays of the session so far (real context, then generated), appended per window."""

    def __init__(self, tok, upto):
        keep = tok.t < upto
        self.base = tok
        self.parts = {k: [getattr(tok, k)[keep]] for k in ("t", "type", "button", "key", "scroll", "dt", "xy", "xy_ok")}

    def append(self, t, typ, button, key, scroll, dt, xy):
        for k, v in (("t", t), ("type", typ), ("button", button), ("key", key), ("scroll", scroll), ("dt", dt), ("xy", xy)):
            self.parts[k].append(np.asarray(v).astype(self.parts[k][0].dtype).reshape((-1,) + self.parts[k][0].shape[1:]))
        self.parts["xy_ok"].append(np.ones(len(t), dtype=bool))

    @property
    def last_xy(self):
        """The last known cursor position (screen units; None before any)."""
        for xy, ok in zip(reversed(self.parts["xy"]), reversed(self.parts["xy_ok"])):
            if ok.any():
                return xy[np.flatnonzero(ok)[-1]]
        return None

    @property
    def last_t(self):
        for part in reversed(self.parts["t"]):
            if len(part):
                return float(part[-1])
        return None

    def tokens(self):
        b = self.base
        arrays = {k: np.concatenate(v) for k, v in self.parts.items()}
        return dataclasses.replace(b, dwell=None, **arrays)  # no targets are read in generation


def state_upto(session, end_ms, start_ms=None):
    """The state rows of ``session`` up to ``end_ms``; with ``start_ms``, from the last one at or
    before it (what windows from ``start_ms`` on read)."""
    st = session.state
    if st is None:
        return None
    t = np.asarray(st.t_ms)
    keep = t <= end_ms
    if start_ms is not None:
        keep &= np.arange(len(t)) >= max(int(np.searchsorted(t, start_ms, side="right")) - 1, 0)
    return State(t_ms=t[keep], columns={k: np.asarray(v)[keep] for k, v in st.columns.items()})


def window_seed(seed, k, candidate=0):
    """The seed of window ``k`` of a context rolled out with ``seed`` (31 bits, from NumPy's SeedSequence);
    ``candidate`` ``c >= 1``: of the window's ``c``-th further draw (``best_of``,
    :mod:`~actiongen_keras.generation.best_of`; candidate 0 is the window's own draw)."""
    words = [int(seed) & 0xFFFFFFFFFFFFFFFF, int(k)] + ([int(candidate)] if candidate else [])
    return int(np.random.SeedSequence(words).generate_state(1)[0] & 0x7FFFFFFF)


@dataclasses.dataclass
class _Row:
    """One context during a batched rollout."""

    index: int
    session: Session
    seed: int
    T0: float
    seconds: float
    run: _Running
    carry: dict  # held state and scheduled releases (sampler.CARRY, without last_t_rel)
    recorder: Recorder  # of the context: clock, pixel grid, moves on change (clock.recorder_of)
    stops: Counter
    target_ms: float
    task: ClickTask | None = None  # click targets that advance on the rollout's own clicks
    still_dropped: int = 0  # generated moves left out by moves on change

    def show_task(self, prep, T, history):
        """Encode the task's state into the running tokens for the window at ``T`` (its snapshots
        from ``T - history`` on, a step more: what the window reads)."""
        st = self.task.state(T, since_ms=T - history - 2 * self.task.step_ms)
        shown = dataclasses.replace(self.session, state=st)
        tok = self.run.base
        tok.state_t = np.asarray(st.t_ms, dtype=np.float64)
        tok.state_numeric, tok.state_categorical = prep.encode_state(shown)
        tok.state_anchors, tok.state_anchor_present = prep.encode_anchors(shown)

    @property
    def n_windows(self):
        return math.ceil(self.seconds * 1000.0 / self.target_ms - 1e-9)


def _per_context(value, n, name):
    if isinstance(value, (list, tuple, np.ndarray)):
        if len(value) != n:
            raise ActiongenError(f"{name}: {len(value)} values for {n} contexts")
        return list(value)
    return [value] * n


def rollout(model_or_run_dir, contexts, seconds=30.0, seed=0, temperature=1.0, top_k=0, top_p=1.0, constrain=True, start_ms=None,
            progress=False, session_id=None, xy_noise_corr=0.0, xy_top_p=1.0, batch_size=None, dwell=True, clock=True, pixel_grid=True,
            follow_clicks=True, tasks=None, best_of=1, moves_on_change=True, recorders=None):
    """Generate ``seconds`` of input after the real context of each session (module doc).

    Args:
        model_or_run_dir: a :class:`Generator`, ``RUN_DIR`` or ``RUN_DIR/model.keras``.
        contexts: a real :class:`Session` (its events give the context, its state the game),
            or a list of them.
        seconds: how much to generate after each context (rounded up to whole windows; the
            last window's events past ``T0 + seconds`` are dropped); one value or one per context.
        seed: the seed of a single context; for a list, context ``i`` gets ``seed + i`` (or
            give one seed per context).
        temperature, top_k, top_p, constrain, xy_noise_corr, xy_top_p, dwell, clock, pixel_grid: see
            :class:`SamplingConfig` (``clock``: event times on the clock of the context's
            recorder, :func:`~actiongen_keras.generation.clock.estimate_clock`; ``pixel_grid``:
            positions on its grid, :func:`~actiongen_keras.generation.clock.pixel_grid`).
        start_ms: the first window boundary ``T0`` on the session clock (default: the first
            event + ``history_ms``); one value or one per context.
        session_id: of a single output (default ``<context id>.gen<seed>``).
        batch_size: contexts per sampling call (default :data:`DEFAULT_BATCH_SIZE`).
        follow_clicks: click-target contexts (``recordings/click_targets.py``) advance their
            targets on the rollout's own clicks (:class:`ClickTask`); False: on the person's.
        tasks: one :class:`ClickTask` (or None) per context, instead of the one its session
            implies (a plan's goals, ``generation/act.py``).
        best_of: draw every window this many times and keep the one nearest to its anchors
            (:mod:`~actiongen_keras.generation.best_of`; 1 = one draw, the default).
        moves_on_change: where the context's recorder reports moves only on change, leave
            out generated moves that stand still (module doc); False keeps them.
        recorders: one :class:`~actiongen_keras.generation.clock.Recorder` (or None) per
            context, instead of the one read off its real events (a plan's pointer, ``generation/act.py``).

    Returns:
        for one Session, the generated :class:`Session` (an unusable context raises
        ActiongenError); for a list, one entry per context: the generated Session, or the
        ActiongenError that names why that context could not be rolled out.
    """
    single = isinstance(contexts, Session)
    sessions = [contexts] if single else list(contexts)
    gen = as_generator(model_or_run_dir)
    try:
        sampling = SamplingConfig(temperature=float(temperature), top_k=int(top_k), top_p=float(top_p), constrain=bool(constrain),
                                  xy_noise_corr=float(xy_noise_corr), xy_top_p=float(xy_top_p), dwell=bool(dwell), clock=bool(clock),
                                  pixel_grid=bool(pixel_grid))
    except ValueError as e:
        raise ActiongenError(str(e)) from None
    if isinstance(best_of, bool) or not isinstance(best_of, (int, np.integer)) or best_of < 1:
        raise ActiongenError(f"best_of must be a whole number >= 1, got {best_of!r}")
    n = len(sessions)
    seeds = _per_context(seed, n, "seed") if isinstance(seed, (list, tuple, np.ndarray)) else [int(seed) + i for i in range(n)]
    seconds_l = _per_context(seconds, n, "seconds")
    starts = _per_context(start_ms, n, "start_ms")
    tasks_l = _per_context(tasks, n, "tasks") if tasks is not None else [None] * n
    recorders_l = _per_context(recorders, n, "recorders") if recorders is not None else [None] * n
    for sec in seconds_l:
        if not (isinstance(sec, (int, float, np.floating)) and math.isfinite(sec) and sec > 0):
            raise ActiongenError(f"seconds must be a positive finite number, got {sec}")
    results = [None] * n
    rows = []
    for i, s in enumerate(sessions):
        try:
            rows.append(_start_row(gen, i, s, seeds[i], seconds_l[i], starts[i], follow_clicks, tasks_l[i], recorders_l[i],
                                   bool(moves_on_change)))
        except ActiongenError as e:
            if single:
                raise
            results[i] = ActiongenError(f"{s.session_id}: {e}")
    bs = int(batch_size or DEFAULT_BATCH_SIZE)
    if bs < 1:
        raise ActiongenError(f"batch_size must be >= 1, got {batch_size}")
    chunks = [rows[c : c + bs] for c in range(0, len(rows), bs)]
    bar = None
    if progress and rows:
        bar = tqdm(total=sum(r.n_windows for r in rows), desc="rollout", leave=False, unit="window")
    for chunk in chunks:
        _run_chunk(gen, chunk, sampling, bar, int(best_of))
    if bar is not None:
        bar.close()
    for r in rows:
        results[r.index] = _to_session(gen, r, sampling, session_id if single else None, int(best_of))
    return results[0] if single else results


def _start_row(gen, i, s, seed, seconds, start_ms, follow_clicks=True, task=None, recorder=None, moves_on_change=True):
    prep, cfg = gen.preprocessing, gen.data_config
    tok = tokenize_session(s, prep, cfg)
    T0 = float(start_ms) if start_ms is not None else tok.t_start + history_ms(cfg)
    run = _Running(tok, T0)
    # the held state at T0 from every real event before it (it can span more than the history)
    types = run.parts["type"][0][None]
    held_b = R.held_from_history(types, run.parts["button"][0][None], F.NUM_BUTTONS, R.NAMES_BUTTON)
    held_k = R.held_from_history(types, run.parts["key"][0][None], gen.num_keys(), R.NAMES_KEY)
    carry = {"held_buttons": np.asarray(ops.convert_to_numpy(held_b))[0], "held_keys": np.asarray(ops.convert_to_numpy(held_k))[0],
             "release_buttons": np.full(F.NUM_BUTTONS, NEVER, np.float32), "release_keys": np.full(gen.num_keys(), NEVER, np.float32)}
    if recorder is None:
        recorder = recorder_of(s.events, T0)  # the recorder of the real events before T0
    if not moves_on_change:
        recorder = recorder._replace(on_change=False)  # the ablation: keep the still moves
    if task is None and follow_clicks and s.extra.get("state_source") == CLICK_TARGETS:
        task = ClickTask.from_session(s, T0)
    return _Row(i, s, int(seed), T0, float(seconds), run, carry, recorder, Counter(), float(cfg.target_ms), task)


def _run_chunk(gen, rows, sampling, bar, best_of=1):
    """Roll out ``rows`` together, window after window (rows whose span is done idle along);
    with ``best_of`` N each row's window is drawn N times in the same call and the candidate
    nearest to its anchors kept (:mod:`~actiongen_keras.generation.best_of`), where any row of
    the window shows an anchor (else one draw: there is nothing to choose by); moves that stand
    still left out where the row's recorder reports moves on change."""
    prep, cfg = gen.preprocessing, gen.data_config
    sampler = gen.sampler(sampling)
    target = float(cfg.target_ms)
    sizes = encoded_sizes(prep)
    for k in range(max(r.n_windows for r in rows)):
        wins, last, clocks = [], [], []
        for r in rows:
            T = r.T0 + k * target
            if r.task is not None:
                r.show_task(prep, T, history_ms(cfg))
            ins, _, _ = make_windows(r.run.tokens(), np.array([T]), cfg, *sizes)
            ins["bos_xy"] = ins["dec_xy"][:, 0]
            wins.append(ins)
            lt = r.run.last_t
            last.append((lt - T) if lt is not None else 0.0)
            clocks.append(recorder_input(r.recorder.clock, r.recorder.grid, T, sampling.clock, sampling.pixel_grid))
        window = {name: np.concatenate([w[name] for w in wins]) for name in WINDOW_INPUTS}
        carry = {name: np.stack([r.carry[name] for r in rows]) for name in rows[0].carry}
        carry["last_t_rel"] = np.array(last, np.float32)
        # a window without anchors has nothing to choose by: one draw (every candidate would cost 0)
        draws = best_of if best_of > 1 and window["anchor_mask"].any() else 1
        seeds = [[window_seed(r.seed, k, c) for c in range(draws)] for r in rows]
        if draws > 1:
            window = {name: np.repeat(v, draws, axis=0) for name, v in window.items()}
            carry = {name: np.repeat(v, draws, axis=0) for name, v in carry.items()}
            clocks = np.repeat(np.array(clocks, np.float32), draws, axis=0)
        out = sampler(window, np.full(len(rows) * draws, sampling.temperature, np.float32), np.array(seeds).reshape(-1),
                      carry, np.array(clocks, np.float32))
        if draws > 1:
            screens = np.repeat(np.array([r.session.screen for r in rows], np.float64), draws, axis=0)
            keep = pick_best(anchor_cost(out, window, target, screens), draws)
            out = {name: v[keep] for name, v in out.items()}
        for j, r in enumerate(rows):
            if k >= r.n_windows:
                continue
            T = r.T0 + k * target
            c = int(out["count"][j])
            r.stops[STOPS[int(out["stop"][j])]] += 1
            t_abs = T + out["t_ms"][j, :c].astype(np.float64)
            keep = t_abs < r.T0 + r.seconds * 1000.0
            dt = out["dt_ms"][j, :c]
            if r.recorder.on_change:
                # within a millionth of the screen: the context's positions (x / width) and the
                # loop's grid (round(x / cell) * cell) put one pixel a float32 step apart
                still = still_moves(out["event_type_id"][j, :c], out["xy"][j, :c], r.run.last_xy, F.MOVE, atol=1e-6)[0] & keep
                if still.any():
                    r.still_dropped += int(still.sum())
                    keep &= ~still
                    # each kept event's interval from the kept one before it (the recorder's stream)
                    prev = np.maximum.accumulate(np.where(keep, t_abs, -np.inf))
                    before = np.maximum(np.r_[-np.inf, prev[:-1]], r.run.last_t)
                    dt = np.where(keep, t_abs - before, dt).astype(np.float32)
            if keep.any():
                r.run.append(t_abs[keep], out["event_type_id"][j, :c][keep], out["button_id"][j, :c][keep], out["key_id"][j, :c][keep],
                             out["scroll"][j, :c][keep], dt[keep], out["xy"][j, :c][keep])
                if r.task is not None:
                    typ, xy = out["event_type_id"][j, :c][keep], out["xy"][j, :c][keep].astype(np.float64)
                    r.task.observe(t_abs[keep], np.array(F.EVENT_TYPES, dtype=object)[typ], xy[:, 0] * float(r.session.screen[0]),
                                   xy[:, 1] * float(r.session.screen[1]),
                                   np.array(F.BUTTONS, dtype=object)[np.clip(out["button_id"][j, :c][keep], 0, F.NUM_BUTTONS - 1)])
            r.carry = {name: out[name][j] for name in r.carry}
            if bar is not None:
                bar.update(1)


def _to_session(gen, row, sampling, session_id=None, best_of=1):
    """A finished row as the generated :class:`Session` (module doc)."""
    prep, cfg = gen.preprocessing, gen.data_config
    s, T0, run = row.session, row.T0, row.run
    hist = history_ms(cfg)
    span = row.seconds * 1000.0
    end = T0 + span
    seed, stops, clock = row.seed, row.stops, row.recorder.clock
    temperature, top_k, top_p, constrain, xy_noise_corr = (sampling.temperature, sampling.top_k, sampling.top_p, sampling.constrain,
                                                           sampling.xy_noise_corr)
    real_ev = s.events.take((s.events.t_ms < T0) & (s.events.t_ms >= T0 - hist))
    g = run.tokens()
    sel = g.t >= T0
    gt = g.t[sel]
    typ = g.type[sel]
    names = np.array(F.EVENT_TYPES, dtype=object)[typ]
    w_px, h_px = float(s.screen[0]), float(s.screen[1])
    xy = g.xy[sel].astype(np.float64)
    is_btn = (typ == F.PRESS) | (typ == F.RELEASE)
    is_key = (typ == F.KEY_DOWN) | (typ == F.KEY_UP)
    is_scroll = typ == F.SCROLL
    button = np.where(is_btn, np.array(F.BUTTONS, dtype=object)[np.clip(g.button[sel], 0, F.NUM_BUTTONS - 1)], "").astype(object)
    key = np.where(is_key, prep.key_vocab.decode(g.key[sel]), "").astype(object)
    notches = F.scroll_notches(g.scroll[sel])
    gen_ev = Events(
        t_ms=np.round(gt, 3), type=names, x=np.round(xy[:, 0] * w_px, 3), y=np.round(xy[:, 1] * h_px, 3), button=button, key=key,
        scroll_dx=np.where(is_scroll, notches[:, 0], 0), scroll_dy=np.where(is_scroll, notches[:, 1], 0),
    )
    extra = {k: v for k, v in s.extra.items() if k not in DROP_EXTRA}
    extra.update({
        "context_session_id": s.session_id,
        "model": str(gen.model_path) if gen.model_path else None,
        "seed": int(seed) if seed is not None else None,
        "temperature": float(temperature), "top_k": int(top_k), "top_p": float(top_p), "constrain": bool(constrain),
        "xy_noise_corr": float(xy_noise_corr), "xy_top_p": float(sampling.xy_top_p), "dwell": bool(sampling.dwell),
        "clock": {"period_ms": clock[0], "phase_ms": clock[1], "resolution_ms": clock[2], "others_tick": bool(clock[3])}
        if sampling.clock else None,
        "pixel_grid_px": row.recorder.grid if sampling.pixel_grid else None,
        "best_of": int(best_of),
        "moves_on_change": bool(row.recorder.on_change), "still_moves_dropped": int(row.still_dropped),
        "context_ms": hist, "generated_from_ms": T0, "generated_ms": span,
        "window_stops": dict(stops),
    })
    if row.task is not None:
        extra["click_task"] = {"targets_done": row.task.targets_done, "radius_px": row.task.radius_px}
    model_name = Path(gen.model_path).parent.name if gen.model_path else "model"
    return Session(
        session_id=session_id or f"{s.session_id}.gen{seed}",
        source="generated",
        subject=s.subject,
        screen=tuple(s.screen),
        events=Events.concatenate([real_ev, gen_ev]),
        game=s.game,
        state_columns=[dict(c) for c in s.state_columns] if s.state_columns else None,
        state=row.task.state(end) if row.task is not None else state_upto(s, end),
        time_scale=s.time_scale,
        provenance=f"generated by actiongen_keras ({model_name}) from the context of {s.session_id}",
        extra=extra,
    )


def generated_part(session):
    """The generated events of a rollout session only (``t >= extra.generated_from_ms``)."""
    t0 = session.extra.get("generated_from_ms")
    if t0 is None:
        return session
    return dataclasses.replace(session, events=session.events.take(session.events.t_ms >= float(t0)))


def crop_session(session, start_ms, end_ms):
    """Events (and state rows) of ``session`` in ``[start_ms, end_ms)``."""
    ev = session.events.take((session.events.t_ms >= start_ms) & (session.events.t_ms < end_ms))
    return dataclasses.replace(session, events=ev, state=state_upto(session, end_ms))


__all__ = ["Generator", "as_generator", "crop_session", "generated_part", "rollout", "state_upto"]
