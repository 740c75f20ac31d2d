"""The tensor contract between the data pipeline and the model.

One name per idea, from the recording format to the exported signature. Everything
here is plain Python/NumPy so both sides (and the exporters) import the same truth.

Shapes below omit the batch dimension. ``H`` = ``max_history_events``,
``A`` = ``max_actions``, ``K`` = ``history_ticks``, ``S`` = number of numeric state
features, ``C`` = number of categorical state features.

Time convention (inputs and targets alike): every event carries ``dt`` = milliseconds
since the previous event of the session (the first event of a session: 0), and its
offset from the window boundary ``T``: ``t_before`` = ``T - t`` for history events and
``t_after`` = ``t - T`` for target events. Positions are divided by the session's
screen size, so ``x``, ``y`` lie in [0, 1] on screen.

Inputs (``make_dataset`` yields them; ``build_model`` declares them):

=====================  ==========  =======  ===============================================
name                   shape       dtype    meaning
=====================  ==========  =======  ===============================================
state_numeric          (K, S)      float32  standardised numeric state per tick (0 if absent)
state_categorical      (K, C)      int32    vocabulary ids (0 = absent, 1 = unknown)
state_mask             (K,)        float32  1 where the tick has a game state
hist_type              (H,)        int32    EVENT_TYPE ids, right-aligned, 0 = padding
hist_button            (H,)        int32    BUTTON ids
hist_key               (H,)        int32    key vocabulary ids (0 = none, 1 = unknown)
hist_scroll            (H, 2)      int32    scroll class ids (dx, dy), see scroll_class()
hist_dt                (H,)        float32  ms since the previous event
hist_t_before          (H,)        float32  ms from the event to T (positive)
hist_xy                (H, 2)      float32  position / screen
dec_type ... dec_xy    (A+1, ...)  as hist  teacher-forcing input: step 0 is BOS (position =
                                            last cursor, dt = 0), step i is target event i-1;
                                            dec_t_after replaces hist_t_before
screen                 (2,)        float32  session screen (width, height) in pixels
anchor_xy              (P, 2)      float32  on-screen points the state at T declares (see below),
                                            position / screen
anchor_dt              (P,)        float32  ms from T until the anchor's moment (negative = past)
anchor_mask            (P,)        float32  1 where the anchor exists at T
=====================  ==========  =======  ===============================================

Anchors (``P`` = ``num_anchors``): a state column of ``session.json`` may declare that it is
the ``x`` or ``y`` (screen pixels) or ``dt_ms`` (wall ms from the snapshot until the
moment it names, e.g. an osu! hit time) of a named on-screen point::

    {"name": "obj0_x", "kind": "numeric", "anchor": "obj0", "role": "x"}

The windows carry each declared anchor of the last snapshot at or before ``T``, with
``anchor_dt`` moved to ``T`` (the snapshot's age subtracted). The model reads them relative
to the cursor and the time of each decoder step (``layers/state_anchor_query.py``), which a
standardised state vector cannot give it. Sources without anchors have ``anchor_mask`` 0.

Targets (same keys as the model's outputs) and sample weights (same keys; the only
place masks enter training):

=============  ==========  =======  ==========================================================
name           shape       dtype    weight is 1 where ...
=============  ==========  =======  ==========================================================
event_type     (A+1,)      int32    i <= seq_len (EOS at i = seq_len; see truncation below)
timing         (A+1,)      float32  i < seq_len (ms since the previous event)
xy             (A+1, 2)    float32  i < seq_len and the position is on screen
button         (A+1,)      int32    the event is a press or release
key            (A+1,)      int32    the event is a key_down or key_up
scroll         (A+1, 2)    int32    the event is a scroll
dwell          (A+1,)      float32  the event is a press / key_down whose release (same button /
                                    key) the session holds: ms from the press to that release
seq_len        ()          int32    always (number of events in [T, T + target_ms), <= A)
=============  ==========  =======  ==========================================================

Details the data side guarantees (``actiongen_keras/data/windows.py``):

* Truncation: when ``[T, T + target_ms)`` holds more than ``A`` events, the first ``A``
  are targets, ``seq_len = A`` and the EOS at ``i = A`` gets event_type weight 0 (the
  person did not stop there; teaching EOS would bias generation towards stopping early).
* Padding is all zeros in every input (type PAD). Real events that are not scrolls carry
  scroll class ``scroll_class(0)`` (= SCROLL_ZERO), as does the BOS step; non-key events
  key 0, non-button events button 0. Target values where the weight is 0 are arbitrary
  but finite.
* Off-screen positions (marked ``offscreen`` by the reader, outside the screen or NaN) are
  clipped into [0, 1] as inputs; their ``xy`` target weight is 0.
* Sample weights have the target's leading shape, ``(A+1,)`` (``()`` for seq_len), so each
  per-output loss must return per-step values of shape ``(batch, A+1)``: Keras' built-in
  ``mse`` reduces the last axis (use ``square(y - p)`` for timing, a sum over x/y for xy),
  and multi-axis targets (xy, scroll) must be reduced over their trailing axis inside the
  loss. On the torch backend Keras' sparse categorical cross-entropy on a rank-4 prediction
  ``(batch, A+1, 2, classes)`` fails in backward ("grad_input must be contiguous"): compute
  the scroll loss with one-hot cross-entropy or reshape to rank 3. A dict of per-output
  sample weights from ``tf.data`` is accepted by ``fit`` on TensorFlow, JAX and PyTorch
  (``tests/data/test_pipeline.py``).
"""

from __future__ import annotations

import itertools

import numpy as np

from actiongen_keras.recordings.session import ANCHOR_ROLES  # noqa: F401  (re-exported)

# Event type ids. PAD never is a target (weight 0); EOS ends a target sequence;
# BOS starts the decoder input. The event-type head predicts NUM_EVENT_CLASSES classes.
EVENT_TYPES = ("pad", "move", "press", "release", "scroll", "key_down", "key_up", "eos", "bos")
PAD, MOVE, PRESS, RELEASE, SCROLL, KEY_DOWN, KEY_UP, EOS, BOS = range(9)
NUM_EVENT_TYPES = len(EVENT_TYPES)  # embedding size (includes BOS)
NUM_EVENT_CLASSES = EOS + 1  # head classes: pad..eos
EVENT_TYPE_ID = {name: i for i, name in enumerate(EVENT_TYPES)}

BUTTONS = ("none", "left", "right", "middle", "x1", "x2")
BUTTON_ID = {name: i for i, name in enumerate(BUTTONS)}
BUTTON_ID[""] = 0
NUM_BUTTONS = len(BUTTONS)

# Keys: 0 = no key, 1 = unknown key; real keys from the training vocabulary start at 2.
KEY_NONE, KEY_UNKNOWN = 0, 1

# Scroll: the notches of one axis -> one class of a per-axis categorical head. The bins
# include fractions of a notch, since touchpads, smooth scrolling and high-resolution
# wheels report parts of a notch (0.1, 0.25, ...) and rounding would turn most of their
# scrolls into 0. A value takes the nearest bin (edges halfway between bins); beyond the
# last bin it takes the last. This table is the only place the mapping lives.
_SCROLL_MAGNITUDES = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
SCROLL_BINS = tuple(-m for m in reversed(_SCROLL_MAGNITUDES)) + (0.0,) + _SCROLL_MAGNITUDES
SCROLL_EDGES = tuple((a + b) / 2 for a, b in itertools.pairwise(SCROLL_BINS))
NUM_SCROLL_CLASSES = len(SCROLL_BINS)
SCROLL_ZERO = SCROLL_BINS.index(0.0)  # the class of 0 notches (non-scroll events, BOS)

# Far outside anything a recording holds, so they never change real data, but they keep a
# value like 1e40 from becoming float32 inf (and the model's outputs NaN). The data
# pipeline (normalize.py) and the exported graph (export/graph.py) clip the same way.
STATE_Z_CLIP = 100.0  # standardised numeric state: +-100 standard deviations
ANCHOR_XY_CLIP = 10.0  # anchor positions: +-10 screens
ANCHOR_DT_CLIP_MS = 1e7  # anchor times: +-10,000 s
SCREEN_MIN_PX = 1.0  # a screen (screen_px) of less than one pixel is refused by the graph

INPUT_NAMES = (
    "state_numeric",
    "state_categorical",
    "state_mask",
    "hist_type",
    "hist_button",
    "hist_key",
    "hist_scroll",
    "hist_dt",
    "hist_t_before",
    "hist_xy",
    "dec_type",
    "dec_button",
    "dec_key",
    "dec_scroll",
    "dec_dt",
    "dec_t_after",
    "dec_xy",
    "screen",
    "anchor_xy",
    "anchor_dt",
    "anchor_mask",
)
TARGET_NAMES = ("event_type", "timing", "xy", "button", "key", "scroll", "dwell", "seq_len")


def scroll_class(notches):
    """Scroll notches (any real number) -> the id of the nearest bin of :data:`SCROLL_BINS`.

    The same rule as ``tf.raw_ops.Bucketize(boundaries=SCROLL_EDGES)`` (the export graph's).
    """
    return np.searchsorted(SCROLL_EDGES, np.asarray(notches, dtype=np.float64), side="right").astype(np.int32)


def scroll_notches(class_id):
    """Class id -> its bin's notches (the inverse of :func:`scroll_class` on the bins)."""
    return np.asarray(SCROLL_BINS, dtype=np.float64)[np.asarray(class_id, dtype=np.int64)]


def input_signature(max_history_events, max_actions, history_ticks, num_state_numeric, num_state_categorical, num_anchors=1):
    """``{name: (shape, dtype)}`` of the model inputs, batch dimension omitted."""
    H, A1, K, P = max_history_events, max_actions + 1, history_ticks, num_anchors
    return {
        "state_numeric": ((K, num_state_numeric), "float32"),
        "state_categorical": ((K, num_state_categorical), "int32"),
        "state_mask": ((K,), "float32"),
        "hist_type": ((H,), "int32"),
        "hist_button": ((H,), "int32"),
        "hist_key": ((H,), "int32"),
        "hist_scroll": ((H, 2), "int32"),
        "hist_dt": ((H,), "float32"),
        "hist_t_before": ((H,), "float32"),
        "hist_xy": ((H, 2), "float32"),
        "dec_type": ((A1,), "int32"),
        "dec_button": ((A1,), "int32"),
        "dec_key": ((A1,), "int32"),
        "dec_scroll": ((A1, 2), "int32"),
        "dec_dt": ((A1,), "float32"),
        "dec_t_after": ((A1,), "float32"),
        "dec_xy": ((A1, 2), "float32"),
        "screen": ((2,), "float32"),
        "anchor_xy": ((P, 2), "float32"),
        "anchor_dt": ((P,), "float32"),
        "anchor_mask": ((P,), "float32"),
    }


def target_signature(max_actions):
    """``{name: (shape, dtype)}`` of targets; sample weights share the leading shape, float32."""
    A1 = max_actions + 1
    return {
        "event_type": ((A1,), "int32"),
        "timing": ((A1,), "float32"),
        "xy": ((A1, 2), "float32"),
        "button": ((A1,), "int32"),
        "key": ((A1,), "int32"),
        "scroll": ((A1, 2), "int32"),
        "dwell": ((A1,), "float32"),
        "seq_len": ((), "int32"),
    }


def weight_signature(max_actions):
    """``{name: shape}`` of the sample weights (float32)."""
    A1 = max_actions + 1
    return {"event_type": (A1,), "timing": (A1,), "xy": (A1,), "button": (A1,), "key": (A1,), "scroll": (A1,), "dwell": (A1,), "seq_len": ()}
