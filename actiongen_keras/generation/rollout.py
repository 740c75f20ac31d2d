"""Closed-loop generation: a real session's first seconds as context, then the model alone.

:func:`rollout` starts from the real events of the first ``history_ms`` (6 s) of a
session, then repeatedly samples the next ``target_ms`` (600 ms) with
:func:`~actiongen_keras.generation.sampler.generate_window`, appends what it generated to
the history, and moves the window boundary ``T`` on by ``target_ms``. The model's own
events become its history: after 6 s of generation nothing real is left in the history.

The game state is the real session's (osu!: the beatmap at the replay's times, i.e. the
session's ``state.csv``), encoded with the run's preprocessing exactly as in training
(:func:`~actiongen_keras.data.windows.make_windows` on the running token arrays), so the
model sees the hit objects the person saw at the same times.

The result is a :class:`~actiongen_keras.recordings.session.Session` that
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
  (= ``seconds * 1000``) and ``window_stops`` (how the windows ended: eos/time/max_actions).

On the TensorFlow backend (with ``jit``), windows whose sampling the exported graph supports
(``top_k`` 0, ``top_p`` 1, ``constrain``: any temperature) run as one XLA-compiled TF
function, the ``generate`` signature's loop built in memory
(:func:`~actiongen_keras.export.saved_model.generate_window_function`; same rules, greedy
windows equal to the Python sampler's, sampled ones equal in distribution: its random
numbers come from a per-window seed drawn from the rollout's NumPy generator). Other settings
and the JAX / PyTorch backends step the decoder from Python (``Generator(graph=False)``
forces that path).

Positions go back to pixels (``x * width``, ``y * height``), key ids to key names through
the run's key vocabulary, scroll classes to notches (``features.scroll_notches``).
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from pathlib import Path

import numpy as np

from actiongen_keras.data import features as F
from actiongen_keras.data.windows import encoded_sizes, history_ms, make_windows, tokenize_session
from actiongen_keras.errors import ActiongenError
from actiongen_keras.generation.incremental import (
    IncrementalDecoder,
    RunFiles,
    load_run,
)
from actiongen_keras.generation.sampler import (
    Held,
    SamplingConfig,
    WindowEvents,
    generate_window,
)
from actiongen_keras.recordings.session import Events, Session, State

DROP_EXTRA = ("replay", "frames_used")
GRAPH_STOPS = ("max_actions", "eos", "time")  # generate_window_function's ``stop`` codes


class Generator:
    """A trained run, loaded once and ready to generate (model, preprocessing, compiled decoder).

    ``Generator(RUN_DIR or RUN_DIR/model.keras)``, or ``Generator(RunFiles(...))``.

    ``graph``: run the windows the in-graph loop supports (:meth:`graph_supports`) as one
    XLA-compiled TensorFlow function (module doc); ``None``: on the TensorFlow backend with
    ``jit``; ``False``: always the Python step loop.
    """

    def __init__(self, model_or_run_dir, jit=True, buckets=(8, 16, 32), graph=None):
        run = model_or_run_dir if isinstance(model_or_run_dir, RunFiles) else load_run(model_or_run_dir)
        self.run = run
        self.model = run.model
        self.preprocessing = run.preprocessing
        self.data_config = run.preprocessing.data_config
        self.decoder = IncrementalDecoder(run.model, buckets=buckets, jit=jit)
        g = self.decoder.generator
        self.timing = {"boundaries_ms": tuple(g.timing_boundaries_ms), "num_components": int(g.num_timing_components), "max_ms": float(g.max_timing_ms)}
        self.num_xy_mixtures = int(g.num_xy_mixtures)
        self.model_path = run.path
        import keras

        tf_backend = keras.backend.backend() == "tensorflow"
        if graph and not tf_backend:
            raise ActiongenError(f"graph=True needs the TensorFlow backend (got {keras.backend.backend()})")
        self.use_graph = bool(tf_backend and (jit if graph is None else graph))
        self._graph_fn = None

    def graph_supports(self, sampling):
        """Whether the in-graph loop runs ``sampling`` (no top-k / top-p / correlated position
        noise, constraint masks on)."""
        sc = sampling or SamplingConfig()
        return self.use_graph and int(sc.top_k) == 0 and float(sc.top_p) >= 1.0 and bool(sc.constrain) and not sc.xy_noise_corr

    def _graph(self):
        if self._graph_fn is None:
            from actiongen_keras.export.graph import encoded_window_spec
            from actiongen_keras.export.saved_model import generate_window_function

            fn, keys = generate_window_function(self.model, self.preprocessing, jit_compile=True)
            spec = encoded_window_spec(self.preprocessing)
            self._graph_fn = (fn, {k: np.dtype(spec[k][1]) for k in keys})
        return self._graph_fn

    def graph_window(self, inputs, rng, sampling=None, held=None, last_t_rel=None):
        """:meth:`generate_window` through the in-graph loop (one window, batch of 1)."""
        import tensorflow as tf

        sc = sampling or SamplingConfig()
        fn, dtypes = self._graph()
        ht = np.asarray(inputs["hist_type"])[0]
        if held is None:
            held = Held.from_tokens(ht, np.asarray(inputs["hist_button"])[0], np.asarray(inputs["hist_key"])[0])
        if last_t_rel is None:
            tb = np.asarray(inputs["hist_t_before"])[0]
            last_t_rel = -float(tb[ht != F.PAD].min()) if (ht != F.PAD).any() else 0.0
        window = {k: tf.constant(np.asarray(inputs["dec_xy"][:, 0] if k == "bos_xy" else inputs[k], dtype=d)) for k, d in dtypes.items()}
        seed = 0 if sc.greedy else int(rng.integers(0, 2**62))
        nk = int(self.decoder.generator.num_keys)
        out = fn(window, tf.constant([sc.temperature], tf.float32), tf.constant([seed], tf.int64),
                 tf.constant(held.button_vector()[None]), tf.constant(held.key_vector(nk)[None]),
                 tf.constant([float(last_t_rel)], tf.float64))
        n = int(out["count"][0])
        typ = out["event_type_id"][0, :n].numpy().astype(np.int32)
        button = out["button_id"][0, :n].numpy().astype(np.int32)
        key = out["key_id"][0, :n].numpy().astype(np.int32)
        for t, b, k in zip(typ.tolist(), button.tolist(), key.tolist()):
            held.update(t, b, k)
        return WindowEvents(
            t_rel=out["t_ms"][0, :n].numpy().astype(np.float64), dt=out["dt_ms"][0, :n].numpy().astype(np.float64), type=typ,
            button=button, key=key, scroll=(out["scroll"][0, :n].numpy() + F.SCROLL_CLIP).astype(np.int32),
            xy=out["xy"][0, :n].numpy().astype(np.float64), stop=GRAPH_STOPS[int(out["stop"][0])],
        )

    def generate_window(self, inputs, rng, sampling=None, held=None, last_t_rel=None, graph=None):
        """One window (:func:`~actiongen_keras.generation.sampler.generate_window`); ``graph``:
        ``None`` the in-graph loop where it applies (:meth:`graph_supports`), ``True`` / ``False``
        force it / the Python step loop."""
        if graph is None:
            graph = self.graph_supports(sampling)
        if graph:
            return self.graph_window(inputs, rng, sampling, held=held, last_t_rel=last_t_rel)
        return generate_window(
            self.decoder, inputs, rng, sampling, self.timing, self.num_xy_mixtures, held=held, last_t_rel=last_t_rel,
            target_ms=float(self.data_config.target_ms),
        )


def _as_generator(model_or_run_dir):
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
    def last_t(self):
        for part in reversed(self.parts["t"]):
            if len(part):
                return float(part[-1])
        return None

    def tokens(self):
        b = self.base
        arrays = {k: np.concatenate(v) for k, v in self.parts.items()}
        return dataclasses.replace(b, **arrays)


def _state_upto(session, end_ms):
    st = session.state
    if st is None:
        return None
    keep = np.asarray(st.t_ms) <= end_ms
    return State(t_ms=np.asarray(st.t_ms)[keep], columns={k: np.asarray(v)[keep] for k, v in st.columns.items()})


def rollout(model_or_run_dir, context_session, seconds=30.0, seed=0, temperature=1.0, top_k=0, top_p=1.0, constrain=True,
            start_ms=None, progress=False, session_id=None, graph=None, xy_noise_corr=0.0):
    """Generate ``seconds`` of input after the real context of ``context_session`` (module doc).

    Args:
        model_or_run_dir: a :class:`Generator`, ``RUN_DIR`` or ``RUN_DIR/model.keras``.
        context_session: the real :class:`Session` (its events give the context, its state
            the game).
        seconds: how much to generate after the context (rounded up to whole windows; the
            last window's events past ``T0 + seconds`` are dropped).
        seed: seeds the NumPy Generator (the same seed gives the same session).
        temperature, top_k, top_p, constrain, xy_noise_corr: see :class:`SamplingConfig`.
        start_ms: the first window boundary ``T0`` on the session clock (default: the first
            event + ``history_ms``); the context is the real events in ``[T0 - history_ms, T0)``.
        session_id: of the output (default ``<context id>.gen<seed>``).
        graph: ``None``: the in-graph window loop where it applies (module doc), ``False``: the
            Python step loop, ``True``: the in-graph loop (TensorFlow; no top-k / top-p /
            ``xy_noise_corr``).

    Returns:
        the generated :class:`Session`.

    Raises:
        ActiongenError (DataError) when the session cannot be encoded (bot keys, no screen ...).
    """
    gen = _as_generator(model_or_run_dir)
    prep, cfg = gen.preprocessing, gen.data_config
    try:
        sampling = SamplingConfig(temperature=float(temperature), top_k=int(top_k), top_p=float(top_p), constrain=constrain,
                                  xy_noise_corr=float(xy_noise_corr))
    except ValueError as e:
        raise ActiongenError(str(e)) from None
    if graph and not gen.graph_supports(sampling):
        raise ActiongenError("graph=True: the in-graph loop needs the TensorFlow backend, top_k=0, top_p=1, xy_noise_corr=0 and constrain")
    if not seconds > 0:
        raise ActiongenError(f"seconds must be positive, got {seconds}")
    s = context_session
    tok = tokenize_session(s, prep, cfg)
    hist = history_ms(cfg)
    T0 = float(start_ms) if start_ms is not None else tok.t_start + hist
    span = float(seconds) * 1000.0
    end = T0 + span
    target = float(cfg.target_ms)
    n_windows = math.ceil(span / target - 1e-9)
    rng = np.random.default_rng(seed)
    run = _Running(tok, T0)
    held = Held.from_tokens(run.parts["type"][0], run.parts["button"][0], run.parts["key"][0])
    stops = Counter()
    windows = range(n_windows)
    if progress:
        from tqdm.auto import tqdm

        windows = tqdm(windows, desc=f"rollout {s.session_id[:30]}", leave=False, unit="window")
    for k in windows:
        T = T0 + k * target
        ins, _, _ = make_windows(run.tokens(), np.array([T]), cfg, *encoded_sizes(prep))
        last = run.last_t
        w = gen.generate_window(ins, rng, sampling, held=held, last_t_rel=(last - T) if last is not None else 0.0,
                                 graph=graph)
        stops[w.stop] += 1
        t_abs = T + w.t_rel
        keep = t_abs < end
        if keep.any():
            run.append(t_abs[keep], w.type[keep], w.button[keep], w.key[keep], w.scroll[keep], w.dt[keep], w.xy[keep])

    # ---- back to a Session
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
        "xy_noise_corr": float(xy_noise_corr),
        "context_ms": hist, "generated_from_ms": T0, "generated_ms": span,
        "window_stops": dict(stops),
    })
    model_name = Path(gen.model_path).parent.name if gen.model_path else "model"
    return Session(
        session_id=session_id or f"{s.session_id}.gen{seed}",
        source="generated",
        subject=s.subject,
        screen=tuple(s.screen),
        events=Events.concatenate([real_ev, gen_ev]),
        game=s.game,
        state_columns=[dict(c) for c in s.state_columns] if s.state_columns else None,
        state=_state_upto(s, end),
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
    return dataclasses.replace(session, events=ev, state=_state_upto(session, end_ms))


__all__ = ["Generator", "crop_session", "generated_part", "rollout"]
