"""Train the keystroke-timing model on the Aalto typing data (``actiongen typing train``).

Person-disjoint: only the participants :func:`~actiongen_keras.data.keystrokes.typist_split`
puts in ``train`` are read (the first ``max_people`` of them in id order); a tenth of those
people (at least one) is held back as the validation set whose NLL is reported. The
statistics written beside the model are learned from the same training people: their paces
(log median interval and dwell; generation draws a typist from them), the typo rate and
backspace run lengths, and the lags of a shift's release after the key it modified.

The data are for non-commercial research only: the model folder carries ``NOTICE`` and a
``license`` field in ``meta.json``.
"""

from __future__ import annotations

import time

import keras
import numpy as np

from actiongen_keras.data import keystrokes as K
from actiongen_keras.errors import ActiongenError
from actiongen_keras.models.keystroke import build_keystroke_model, save_keystroke_model

MAX_PEOPLE = 600


def train_keystroke_model(data_dir, out_dir, max_people=MAX_PEOPLE, epochs=12, batch_size=512, num_mixtures=8, seed=0, verbose=0):
    """Train on ``max_people`` training typists of ``data_dir`` and write the model folder ``out_dir``.

    Returns the ``meta`` dict written (people, rows, validation NLL, the learned statistics).
    """
    t_start = time.time()
    typists = K.read_typists(data_dir, "train", max_people=max_people)
    if len(typists) < 2:
        raise ActiongenError(f"{data_dir}: fewer than 2 training typists found under participants/ (got {len(typists)})")
    n_val = max(1, len(typists) // 10)
    fit_people, val_people = typists[:-n_val], typists[-n_val:]
    x, y = K.keystroke_rows(fit_people)
    xv, yv = K.keystroke_rows(val_people)
    keras.utils.set_random_seed(seed)
    model = build_keystroke_model(num_mixtures=num_mixtures)
    hist = model.fit(x, y, validation_data=(xv, yv), epochs=int(epochs), batch_size=int(batch_size), shuffle=True, verbose=verbose)
    lags = K.shift_release_lags(typists)
    repairs = [line for t in typists for line in t.report.lines()]
    meta = {
        "num_mixtures": int(num_mixtures),
        "data": "keystrokes_aalto",
        "split": f"participants whose sha1(id) % {K.HOLDOUT_EVERY} != 0 (held out: == 0)",
        "people": [t.pid for t in typists],
        "validation_people": [t.pid for t in val_people],
        "rows": int(len(y)), "validation_rows": int(len(yv)),
        "epochs": int(epochs),
        "loss": [float(v) for v in hist.history["loss"]],
        "val_loss": [float(v) for v in hist.history["val_loss"]],
        "paces": [list(t.pace()) for t in typists],
        "typos": K.typo_statistics(typists),
        "shift_release_lag_ms": np.percentile(lags, np.linspace(0, 100, 21)).tolist() if len(lags) else [50.0] * 21,
        "dropped_rows": int(sum(t.report.total for t in typists)),
        "repairs": repairs,
        "train_seconds": round(time.time() - t_start, 1),
    }
    save_keystroke_model(out_dir, model, meta)
    return meta


__all__ = ["MAX_PEOPLE", "train_keystroke_model"]
