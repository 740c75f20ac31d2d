"""Scoring windows: the model's decoded predictions and the heuristic baselines, side by side.

Below training in the stage order (it needs only ``data``, ``layers`` and ``models``), so
``train()``, ``actiongen evaluate`` and the tuner's objective all score with the same code:

* :mod:`~actiongen_keras.scoring.window_metrics`: decode model outputs, score any predictions;
* :mod:`~actiongen_keras.scoring.baselines`: the honest baselines;
* :mod:`~actiongen_keras.scoring.score`: predict a split, the model beside every baseline, the table.
"""
