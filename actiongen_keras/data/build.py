"""Build the windowed dataset: sessions -> splits.json, preprocessing.json, TFDS records.

``build_dataset(SESSIONS_DIR, DATA_DIR)`` is what ``actiongen dataset build`` runs. It
drives the TFDS builder :class:`ActiongenSessions` (defined here so that the installed
package has it; ``datasets/actiongen_sessions/`` re-exports it for the ``tfds`` CLI and
the TFDS test). The builder is registered with TFDS when this module is imported
(``import actiongen_keras.data.build``, ``actiongen_keras.data.pipeline`` or
``datasets.actiongen_sessions``); after that
``tfds.load("actiongen_sessions/<config>", data_dir=DATA_DIR, split="train")`` works.

Statistics are fitted *inside* ``_split_generators`` on the training split before any
window is written, and the TFDS records hold finished, normalised contract tensors
(``{"inputs", "targets", "weights", "session_id", "t_ms"}``). Why not raw windows
normalised in tf.data: the pipeline then does no per-element work (fast, identical on
every backend), the NumPy path (:func:`~actiongen_keras.data.windows.windows_from_sessions`)
and the records come from the same code, and no ``tf.lookup`` tables are needed. The price:
the records are tied to their statistics, so a new split or DataConfig means a rebuild
(which ``build_dataset`` always does). The fitted ``splits.json``, ``preprocessing.json``
and ``build_report.json`` are written into the TFDS version folder and copied to
``DATA_DIR/``.

Config-dependent sizes (H, A+1, K, S, C) are stored as unknown dimensions in the TFDS
features (TFDS must know its features before the statistics exist); ``make_dataset``
restores the static shapes from ``preprocessing.json``.

The builder never touches the network: sessions come from ``manual_dir`` and
``download_and_prepare`` always runs with ``try_download_gcs=False``.

**On Apache Beam** (``build_dataset(..., beam_runner="DirectRunner", workers=N)``,
``actiongen dataset build ... --beam-runner DirectRunner --workers N``): reading the
sessions, splitting and fitting the statistics stay in the driver (the statistics need the
whole training split, and they are small); the windowing and serialising, which is the
work, becomes a Beam pipeline over ``(session folder, time range)`` items, each read again
by the worker that windows it (so every worker must see the sessions folder: a local disk
for DirectRunner, a shared file system for Flink or Spark). Both paths call
:func:`session_examples`, and examples are serialised deterministically on both (also in
Beam's worker processes: :class:`DeterministicExampleSerializer` travels pickled with the
pipeline), so a Beam build and a single-process build hold the same serialised examples
(:func:`split_checksums` compares them, order aside).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import shutil
import time
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds
from tensorflow_datasets.core import example_serializer
from tqdm.auto import tqdm

from actiongen_keras.atomic import staged_output
from actiongen_keras.config import DataConfig, SplitConfig
from actiongen_keras.data import features as F
from actiongen_keras.data.normalize import (
    PREPROCESSING_FILE,
    Preprocessing,
    fit_preprocessing,
)
from actiongen_keras.data.splits import SPLITS, SPLITS_FILE, assign_splits
from actiongen_keras.data.windows import check_session, session_windows, window_times
from actiongen_keras.errors import ConfigError, DataError
from actiongen_keras.recordings.session import iter_sessions, read_session

REPORT_FILE = "build_report.json"
SOURCE_CONFIGS = {
    "all": None,  # first: the default config
    "osu": ("osu",),
    "sapimouse": ("sapimouse",),
    "balabit": ("balabit",),
    "osrs": ("osrs",),
    "aalto": ("aalto", "keystrokes_aalto"),
}


def config_for_sources(sources):
    """``(builder config name, source filter or None)`` for ``sources``.

    ``None``/``[]``/``"all"``: config ``all``, no filter. One config name (``osu``, ...) or
    one source name of a config (``keystrokes_aalto``): that config. Anything else (several
    sources, an unknown source name): config ``all`` keeping only those sources (the
    filter is recorded in ``preprocessing.json`` as ``sources``).
    """
    if sources is None:
        return "all", None
    if isinstance(sources, str):
        sources = [sources]
    sources = [str(s) for s in sources]
    if not sources or sources == ["all"]:
        return "all", None
    if len(sources) == 1:
        if sources[0] in SOURCE_CONFIGS:
            return sources[0], None
        for name, srcs in SOURCE_CONFIGS.items():
            if srcs is not None and sources[0] in srcs:
                return name, None
    if "all" in sources:
        raise ConfigError(f"sources: 'all' cannot be combined with other sources, got {sources}")
    return "all", tuple(sorted(set(sources)))


# --------------------------------------------------------------------------- preparation


@dataclasses.dataclass
class Prepared:
    """Sessions read and checked, splits assigned, statistics fitted."""

    sessions: list
    skipped: list  # [(session path or id, reason)]
    other_sources: int  # sessions of sources outside the config (not counted as skipped)
    splits: object
    preprocessing: Preprocessing
    windows: dict  # split -> number of windows
    sessions_per_split: dict

    def report(self):
        return {
            "sessions": len(self.sessions),
            "skipped": [{"session": s, "reason": r} for s, r in self.skipped],
            "other_sources": self.other_sources,
            "windows": dict(self.windows),
            "sessions_per_split": dict(self.sessions_per_split),
            "split_modes": dict(self.splits.modes),
            "split_lines": self.splits.summary_lines(),
            "dropped_moves": int(self.preprocessing.train.get("dropped_moves", 0)),
        }


def prepare(sessions_dir, sources=None, config=None, builder_config=None, split_config=None, mode="strict", progress=False):
    """Read every session under ``sessions_dir``, skip the unusable ones, split, fit.

    Skipped (listed with a reason, never silently): unreadable sessions (the reader's
    error), a zero-size screen, a game session without state, a session shorter than one
    window.

    Raises:
        DataError: no usable session, two sessions with the same ``session_id`` (the
            records are keyed by it; the message names both folders), or a split left
            without windows (the message gives the per-split counts).
    """
    config = config or DataConfig()
    wanted = tuple(sources) if sources else (SOURCE_CONFIGS.get(builder_config) if builder_config else None)
    sessions, skipped, other, seen = [], [], 0, {}
    root = Path(sessions_dir)
    if not root.exists():
        raise DataError(f"{root}: no such sessions folder")
    for session, rep in tqdm(iter_sessions(root, mode=mode, on_error="skip"), desc="read sessions", unit="session", disable=not progress):
        if session is None:
            where = Path(getattr(rep, "path", "?"))
            if where.name.startswith(("session.json", "events.csv", "state.csv")):
                where = where.parent  # name the session folder; the message names the file
            skipped.append((str(where), f"unreadable: {rep}"))
            continue
        if wanted is not None and session.source not in wanted:
            other += 1
            continue
        reason = check_session(session, config)
        if reason is not None:
            skipped.append((session.path or session.session_id, reason))
            continue
        if session.session_id in seen:
            raise DataError(
                f"{session.path}: session_id '{session.session_id}' is also the id of {seen[session.session_id]}; "
                "session ids must be unique (rename one: session.json 'session_id')"
            )
        seen[session.session_id] = session.path
        sessions.append(session)
    if not sessions:
        detail = f" ({len(skipped)} skipped: " + "; ".join(f"{s}: {r}" for s, r in skipped[:5]) + ")" if skipped else ""
        raise DataError(f"{root}: no usable session for config '{builder_config or 'all'}'{detail}")
    sessions.sort(key=lambda s: (s.source, s.session_id))
    sc = split_config or SplitConfig()
    splits = assign_splits(sessions, fractions=sc.fractions, min_subjects=sc.min_subjects, mode=sc.mode)
    train_parts = splits.parts("train", sessions)
    prep = fit_preprocessing(train_parts, config, builder_config=builder_config, sources=wanted, all_sessions=sessions)
    counts, nsess = {}, {}
    for sp in SPLITS:
        parts = splits.parts(sp, sessions)
        counts[sp] = int(sum(len(window_times(float(s.events.t_ms[0]), float(s.events.t_ms[-1]), config, r, s.events.t_ms)) for s, r in parts))
        nsess[sp] = len(parts)
    empty = [sp for sp in SPLITS if counts[sp] == 0]
    if empty:
        raise DataError(
            f"split(s) {empty} would have no windows (windows per split: {counts}; sessions per split: {nsess}; "
            f"split modes: {splits.modes}). Add sessions/people, or use longer sessions for time-block splits."
        )
    return Prepared(sessions, skipped, other, splits, prep, counts, nsess)


# --------------------------------------------------------------------------- TFDS builder


@dataclasses.dataclass(eq=False)
class ActiongenSessionsConfig(tfds.core.BuilderConfig):
    """One config per source; ``sources=None`` takes every source (``all``)."""

    sources: tuple | None = None


class _TfdsDtypeNotice(logging.Filter):
    """Drops TFDS's "``.dtype`` is deprecated" notice, and only it.

    TFDS logs it from its own ``Tensor.decode_example`` (``tensor_feature.py`` reads
    ``self.dtype`` for byte-encoded tensors), ten times per process on the first dataset
    read; our features are declared with NumPy dtypes, so there is nothing to change here.
    """

    def filter(self, record):
        return ".dtype` is deprecated. Please change your code" not in record.getMessage()


logging.getLogger("absl").addFilter(_TfdsDtypeNotice())


def _feature(shape, dtype):
    # Raw bytes: needed for tensors with several unknown dimensions, and decoding is a
    # single decode_raw + reshape per tensor (faster than int64/float lists).
    encoding = tfds.features.Encoding.BYTES if len(shape) else tfds.features.Encoding.NONE
    return tfds.features.Tensor(shape=shape, dtype=np.dtype(dtype), encoding=encoding)


def _dyn(shape):
    """Contract shape with config-dependent sizes unknown; fixed 2s (x/y, dx/dy, screen) kept."""
    return tuple(2 if d == 2 and i == len(shape) - 1 else None for i, d in enumerate(shape))


def tfds_features():
    ins = F.input_signature(7, 7, 7, 7, 7)  # placeholder sizes, only the structure is used
    tgs = F.target_signature(7)
    wts = F.weight_signature(7)
    feats = {
        "inputs": {k: _feature(_dyn(s) if k != "screen" else (2,), dt) for k, (s, dt) in ins.items()},
        "targets": {k: _feature(_dyn(s), dt) for k, (s, dt) in tgs.items()},
        "weights": {k: _feature(_dyn(s), "float32") for k, s in wts.items()},
        "session_id": tfds.features.Text(),
        "t_ms": _feature((), "float64"),
    }
    return tfds.features.FeaturesDict(feats)


class ActiongenSessions(tfds.core.GeneratorBasedBuilder):
    """Windows of ``actiongen-session/1`` recordings, as the model's tensors."""

    VERSION = tfds.core.Version("1.3.0")
    RELEASE_NOTES = {
        "1.0.0": "First release: windows per features.py, splits by person or time block, train-fitted statistics.",
        "1.1.0": "Anchor inputs (anchor_xy, anchor_dt, anchor_mask): the on-screen points the state declares.",
        "1.2.0": "Scroll classes are the bins of features.SCROLL_BINS (fractions of a notch, 23 classes) instead of whole notches clipped at +-2.",
        "1.3.0": "Dwell target: ms from each press / key_down to its release (the dwell head's).",
    }
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Nothing is downloaded. Point manual_dir at a folder of sessions in the
    actiongen-session/1 format (one folder per session holding session.json and
    events.csv[.gz]), e.g. the output of `actiongen import ...`:

        build_dataset(SESSIONS_DIR, DATA_DIR)            # from Python, or
        actiongen dataset build SESSIONS_DIR --out DATA_DIR
    """
    BUILDER_CONFIGS = [
        ActiongenSessionsConfig(name=name, sources=srcs, description=f"sessions of source(s) {srcs or 'all'}")
        for name, srcs in SOURCE_CONFIGS.items()
    ]
    DEFAULT_CONFIG_NAME = "all"

    def __init__(self, *, data_config=None, source_filter=None, split_config=None, session_mode="strict", progress=False, beam=False,
                 prepared=None, examples=None, **kwargs):
        self._beam = bool(beam)
        self._prepared = prepared  # a Prepared to write instead of preparing the manual_dir's sessions
        self._examples = examples  # examples(prepared, split) -> (key, example) pairs, instead of session_examples
        self._data_config = data_config or DataConfig()
        self._source_filter = tuple(source_filter) if source_filter else None
        self._split_config = split_config or SplitConfig()
        self._session_mode = session_mode
        self._progress = progress
        self.prepared = None
        super().__init__(**kwargs)

    def _info(self):
        return self.dataset_info_from_configs(
            description="Fixed-size windows of recorded human input (see actiongen_keras/data/features.py).",
            features=tfds_features(),
            supervised_keys=None,
            homepage=None,
        )

    def download_and_prepare(self, *, download_dir=None, download_config=None, **kwargs):
        download_config = dataclasses.replace(download_config or tfds.download.DownloadConfig(), try_download_gcs=False)
        return super().download_and_prepare(download_dir=download_dir, download_config=download_config, **kwargs)

    def _split_generators(self, dl_manager):
        prepared = self._prepared or prepare(
            Path(str(dl_manager.manual_dir)), sources=self._source_filter, config=self._data_config,
            builder_config=self.builder_config.name, split_config=self._split_config, mode=self._session_mode, progress=self._progress,
        )
        self.prepared = prepared
        out = Path(str(self.data_path))
        out.mkdir(parents=True, exist_ok=True)
        prepared.splits.save(out / SPLITS_FILE)
        prepared.preprocessing.save(out / PREPROCESSING_FILE)
        (out / REPORT_FILE).write_text(json.dumps(prepared.report(), indent=1) + "\n")
        return {sp: self._generate_examples(prepared, sp) for sp in SPLITS}

    def _generate_examples(self, prepared, split):
        if self._examples is not None:
            return self._examples(prepared, split)
        prep, parts = prepared.preprocessing, prepared.splits.parts(split, prepared.sessions)
        if not self._beam:
            return (ex for session, time_range in parts for ex in session_examples(session, prep, time_range))
        from tensorflow_datasets.core.utils.lazy_imports_utils import apache_beam as beam  # deferred: only Beam builds need it

        items = [(session.path, time_range) for session, time_range in parts]
        return beam.Create(items) | beam.FlatMap(_read_and_window, prep=prep, mode=self._session_mode)


def session_examples(session, preprocessing, time_range=None):
    """The ``(key, example)`` pairs of one session's windows: what both builds write."""
    ins, tgs, wts, T = session_windows(session, preprocessing, preprocessing.data_config, time_range)
    sid = session.session_id
    for i in range(len(T)):
        yield f"{sid}/{T[i]:.0f}", {
            "inputs": {k: v[i] for k, v in ins.items()},
            "targets": {k: v[i] for k, v in tgs.items()},
            "weights": {k: v[i] for k, v in wts.items()},
            "session_id": sid,
            "t_ms": T[i],
        }


def _read_and_window(item, prep, mode):
    """A Beam worker's step: read the session folder again (the driver checked it) and window it."""
    path, time_range = item
    session, _ = read_session(path, mode)
    return list(session_examples(session, prep, time_range))


# --------------------------------------------------------------------------- build_dataset


class DeterministicExampleSerializer(example_serializer.ExampleSerializer):
    """TFDS writes ``tf.train.Example.SerializeToString()``, whose feature-map order follows
    Python's per-process string hashing: the same windows gave different TFRecord bytes in
    each run. This serializer uses protobuf's deterministic (sorted-map) option instead, so
    two builds of the same sessions are byte-identical. A class (not a patched method) so that
    Beam's worker processes, which unpickle the writer's serializer, use it too."""

    def serialize_example(self, example):
        return self.get_tf_example(example).SerializeToString(deterministic=True)


@contextlib.contextmanager
def _deterministic_serialization():
    """During a build, TFDS's writers are given :class:`DeterministicExampleSerializer`."""
    original = example_serializer.ExampleSerializer
    example_serializer.ExampleSerializer = DeterministicExampleSerializer
    try:
        yield
    finally:
        example_serializer.ExampleSerializer = original


def beam_pipeline_options(runner, workers=None, options=()):
    """``(runner, PipelineOptions)`` for a Beam build.

    ``workers`` sets DirectRunner's local worker processes (``direct_num_workers``, in
    ``multi_processing`` mode; one worker runs in this process); other runners take their
    own flags through ``options`` (Beam pipeline arguments such as ``--project=...``,
    ``--flink_master=...``), passed as they are.
    """
    try:
        from apache_beam.options.pipeline_options import PipelineOptions  # deferred: Beam is an optional dependency
    except ImportError:
        raise ConfigError("a Beam build needs Apache Beam: pip install 'actiongen_keras[beam]'") from None
    args = list(options)
    if not any(a.startswith("--default_sdk_harness_log_level") for a in args):
        args.append("--default_sdk_harness_log_level=WARNING")  # the workers' INFO lines would bury the build's summary
    if workers is not None:
        if int(workers) < 1:
            raise ConfigError(f"workers: must be >= 1, got {workers}")
        if runner != "DirectRunner":
            raise ConfigError(f"workers: sets DirectRunner's local processes; runner {runner} takes its own flags (beam_options)")
        args.append(f"--direct_num_workers={int(workers)}")
        if int(workers) > 1:
            args.append("--direct_running_mode=multi_processing")
    return runner, PipelineOptions(args)


def split_checksums(data_dir):
    """``{split: (examples, sha256)}`` of a built dataset's serialised examples, order aside
    (the digest of the sorted per-example digests): equal for two builds that hold the same
    examples, however their writers ordered or sharded them."""
    import tensorflow as tf  # deferred: imports TensorFlow

    version_dir = _version_dir(Path(data_dir))
    out = {}
    for sp in SPLITS:
        files = sorted(version_dir.glob(f"actiongen_sessions-{sp}.tfrecord*"))
        digests = sorted(hashlib.sha256(r.numpy()).digest() for r in tf.data.TFRecordDataset([str(f) for f in files]))
        out[sp] = (len(digests), hashlib.sha256(b"".join(digests)).hexdigest())
    return out


def _version_dir(data_dir):
    found = sorted(p.parent for p in data_dir.glob("actiongen_sessions/*/*/dataset_info.json"))
    if len(found) != 1:
        raise DataError(f"{data_dir}: expected one built actiongen_sessions version folder, found {len(found)}")
    return found[0]


@dataclasses.dataclass
class BuildSummary:
    out_dir: str
    builder_config: str
    windows: dict
    sessions: int
    sessions_per_split: dict
    skipped: list
    other_sources: int
    split_modes: dict
    split_lines: list
    dropped_moves: int
    seconds: float

    def text(self):
        lines = [
            f"dataset '{self.builder_config}' in {self.out_dir}: {self.sessions} session(s), windows "
            + ", ".join(f"{k} {v}" for k, v in self.windows.items())
            + f" in {self.seconds:.1f} s"
        ]
        lines += ["  split " + line for line in self.split_lines]
        if self.dropped_moves:
            lines.append(f"  move thinning dropped {self.dropped_moves} training event(s)")
        if self.other_sources:
            lines.append(f"  {self.other_sources} session(s) of other sources not in this config")
        for s in self.skipped:
            lines.append(f"  SKIPPED {s['session']}: {s['reason']}")
        return "\n".join(lines)


def build_dataset(sessions_dir, out_dir, config=None, sources=None, progress=True, mode="strict", split_config=None,
                  overwrite=False, beam_runner=None, workers=None, beam_options=(), prepared=None, examples=None):
    """Build the dataset of ``sessions_dir`` into ``out_dir``.

    Writes ``out_dir/splits.json``, ``out_dir/preprocessing.json``,
    ``out_dir/build_report.json`` and the TFDS records under
    ``out_dir/actiongen_sessions/<config>/<version>/``. Everything is written into a
    temporary folder beside ``out_dir`` and moved into place when complete
    (:mod:`actiongen_keras.atomic`): a failed build leaves an existing ``out_dir`` as it was.

    Args:
        sessions_dir: folder of ``actiongen-session/1`` sessions (searched recursively).
        out_dir: the dataset folder (``DATA_DIR``).
        config: a ``DataConfig``.
        sources: ``None`` (every source: config ``all``), one of ``osu``, ``sapimouse``,
            ``balabit``, ``osrs``, ``aalto`` (that config), or a list of source names
            (config ``all`` restricted to them; see :func:`config_for_sources`).
        mode: session reading mode, ``"strict"`` or ``"repair"``.
        split_config: a ``SplitConfig`` (fractions, split mode, ``min_subjects``; see
            :mod:`~actiongen_keras.data.splits`).
        overwrite: replace an existing, non-empty ``out_dir`` (refused otherwise).
        beam_runner: window and serialise on Apache Beam with this runner (``"DirectRunner"``,
            ``"FlinkRunner"``, ...; see the module docstring); ``None``: in this process.
        workers: DirectRunner's local worker processes (see :func:`beam_pipeline_options`).
        beam_options: further Beam pipeline arguments (``["--flink_master=..."]``).
        prepared, examples: a :class:`Prepared` to write instead of preparing ``sessions_dir``
            again, and ``examples(prepared, split)`` giving each split's ``(key, example)``
            pairs instead of :func:`session_examples` (the rollout windows of
            ``generation/rollout_windows.py``; not with Beam).

    Returns:
        :class:`BuildSummary` (windows per split, skipped sessions with reasons, ...).

    Raises:
        DataError: no sessions folder, no usable sessions, two sessions with the same id,
            or a split without windows.
        ActiongenError: ``out_dir`` exists (without ``overwrite``), is or contains the
            sessions, or cannot be written.
        ConfigError: ``workers`` or ``beam_options`` without ``beam_runner``, or Beam not installed.
    """
    start = time.perf_counter()
    if beam_runner is not None and examples is not None:
        raise ConfigError("examples (rollout windows): written in this process, not on Apache Beam (leave out beam_runner)")
    if beam_runner is None and (workers is not None or beam_options):
        raise ConfigError("workers, beam_options (--workers, --beam-option): only for a Beam build; give beam_runner (--beam-runner), e.g. DirectRunner")
    runner, pipeline_options = beam_pipeline_options(beam_runner, workers, beam_options) if beam_runner else (None, None)
    name, source_filter = config_for_sources(sources)
    out_dir = Path(out_dir)
    if not Path(sessions_dir).is_dir():
        raise DataError(f"{sessions_dir}: no such sessions folder")
    if not progress:
        tfds.disable_progress_bar()
    with staged_output(out_dir, overwrite, inputs=[sessions_dir]) as work:
        builder = ActiongenSessions(
            config=name, data_dir=str(work), data_config=config or DataConfig(), source_filter=source_filter,
            split_config=split_config, session_mode=mode, progress=progress, beam=runner is not None, prepared=prepared,
            examples=examples,
        )
        dl = tfds.download.DownloadConfig(
            beam_runner=runner, beam_options=pipeline_options,
            manual_dir=str(Path(sessions_dir).resolve()),
            download_mode=tfds.download.GenerateMode.FORCE_REDOWNLOAD,
            try_download_gcs=False,
            compute_stats=tfds.download.ComputeStatsMode.SKIP,
        )
        with _deterministic_serialization():
            builder.download_and_prepare(download_config=dl)
        version_dir = Path(str(builder.data_path))
        for f in (SPLITS_FILE, PREPROCESSING_FILE, REPORT_FILE):
            shutil.copyfile(version_dir / f, work / f)
        report = json.loads((work / REPORT_FILE).read_text())
        windows = {sp: int(builder.info.splits[sp].num_examples) for sp in SPLITS}
    return BuildSummary(
        out_dir=str(out_dir), builder_config=name, windows=windows, sessions=report["sessions"],
        sessions_per_split=report["sessions_per_split"], skipped=report["skipped"], other_sources=report["other_sources"],
        split_modes=report["split_modes"], split_lines=report["split_lines"], dropped_moves=report["dropped_moves"], seconds=time.perf_counter() - start,
    )
