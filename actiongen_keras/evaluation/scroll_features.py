"""Per-burst features of a scroll burst, for the detector (``evaluation/detector.py``).

A *burst* is a run of wheel notches in one direction without a gap of a second or more
(``training.scroll.notch_bursts`` cuts them); a burst of ``n`` notches has ``n - 1``
within-burst intervals. :func:`burst_features` describes one burst by its notch times:

| feature | what |
|---|---|
| ``n_notches`` | notches in the burst |
| ``duration_ms`` | first to last notch |
| ``iv_median`` | median within-burst interval (ms) |
| ``iv_iqr`` | interquartile range of the intervals (ms) |
| ``iv_cv`` | coefficient of variation (sd / mean; NaN when every interval is 0 ms) |
| ``zero_share`` | share of 0 ms intervals (notches coalesced in one packet) |
| ``first_iv``, ``last_iv`` | the first and the last interval (ms) |
| ``accel`` | acceleration: least-squares slope of the intervals over the burst, as the change (ms) from its first to its last interval (negative = speeding up); NaN with one interval |
| ``whole_ms`` | share of the notch times that are whole milliseconds (the recorder's stamps are; continuous generated times are not) |

No notch-size feature: Balabit logs one notch per wheel event and the generator writes
one-notch events, so it would be 1 on both sides. Features are NaN where undefined (the
detector's trees take NaN).
"""

from __future__ import annotations

import numpy as np

FEATURES = ("n_notches", "duration_ms", "iv_median", "iv_iqr", "iv_cv", "zero_share", "first_iv", "last_iv", "accel", "whole_ms")


def burst_features(notch_t_ms):
    """The :data:`FEATURES` of one burst of 2+ notches, given its notch times (ms, ascending)."""
    t = np.asarray(notch_t_ms, dtype=np.float64)
    if len(t) < 2:
        raise ValueError(f"a burst needs 2 or more notches for its features, got {len(t)}")
    iv = np.diff(t)
    mean = iv.mean()
    q25, q50, q75 = np.percentile(iv, [25, 50, 75])
    if len(iv) >= 2:
        pos = np.linspace(0.0, 1.0, len(iv))
        accel = float(np.polyfit(pos, iv, 1)[0])
    else:
        accel = np.nan
    whole = np.mean(np.abs(t - np.round(t)) < 1e-6)
    return np.array([len(t), t[-1] - t[0], q50, q75 - q25, iv.std() / mean if mean > 0 else np.nan, np.mean(iv == 0), iv[0], iv[-1], accel,
                     whole])


def bursts_features(bursts):
    """``[n, len(FEATURES)]`` features of a list of bursts (notch-time arrays)."""
    return np.array([burst_features(b) for b in bursts], dtype=np.float64).reshape(-1, len(FEATURES))


__all__ = ["FEATURES", "burst_features", "bursts_features"]
