"""String vocabularies (keys, categorical state values) with reserved ids.

Id 0 means "none / absent" (an empty string, a non-key event, a missing state value),
id 1 means "unknown" (a value not seen in the training split); the fitted values get
ids 2, 3, ... in the order stored (most frequent first, ties by name), so a saved
vocabulary reproduces the same ids.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

NONE_ID = 0
UNKNOWN_ID = 1
FIRST_ID = 2


class Vocabulary:
    """An ordered list of values; ``lookup`` maps arrays of strings to int32 ids."""

    def __init__(self, values=()):
        self.values = [str(v) for v in values]
        if len(set(self.values)) != len(self.values):
            raise ValueError("vocabulary values must be unique")
        if "" in self.values:
            raise ValueError("the empty string is reserved for id 0 (none)")
        self._ids = {v: i + FIRST_ID for i, v in enumerate(self.values)}

    @classmethod
    def fit(cls, counts, min_count=1):
        """From a ``Counter`` (or iterable of values): most frequent first, ties by value."""
        if not isinstance(counts, Counter):
            counts = Counter(counts)
        items = [(v, c) for v, c in counts.items() if v != "" and c >= min_count]
        items.sort(key=lambda vc: (-vc[1], vc[0]))
        return cls(v for v, _ in items)

    @property
    def size(self):
        """Number of ids including the two reserved ones (embedding input dimension)."""
        return len(self.values) + FIRST_ID

    def __len__(self):
        return len(self.values)

    def __eq__(self, other):
        return isinstance(other, Vocabulary) and other.values == self.values

    def __repr__(self):
        return f"Vocabulary({len(self.values)} values)"

    def lookup(self, values):
        """Strings -> int32 ids (0 for "" or None, 1 for unseen values), vectorised over uniques."""
        arr = np.asarray(values, dtype=object)
        if arr.size == 0:
            return np.zeros(arr.shape, dtype=np.int32)
        flat = np.array(["" if v is None else str(v) for v in arr.ravel()], dtype=object)
        uniq, inv = np.unique(flat.astype(str), return_inverse=True)
        ids = np.array([NONE_ID if u == "" else self._ids.get(u, UNKNOWN_ID) for u in uniq], dtype=np.int32)
        return ids[inv].reshape(arr.shape)

    def decode(self, ids):
        """int ids -> strings ("" for 0, "<unk>" for 1)."""
        table = np.array(["", "<unk>"] + self.values, dtype=object)
        return table[np.clip(np.asarray(ids, dtype=np.int64), 0, len(table) - 1)]

    def to_list(self):
        return list(self.values)
