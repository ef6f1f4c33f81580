"""The ``note`` of every (unit, node) row, built per distinct text rather than per row.

Why: a framework over a million units explains 40 million indicator rows, but they say only a
few thousand different things ("full points", "reaching 1 would add +0.34 points", ...).
A note is a sequence of parts joined by "; "; each part is added for many rows at once, its
text made by a function called once per distinct combination of the values it depends on.
The rows' notes come out as codes into a short list of texts.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

_FOLD_LIMIT = 1 << 62


def distinct(col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, one representative position per code) of a 1-d array, by hashing; floats are
    told apart by their bits (0.0 and -0.0 format differently), None and NaN get a code too."""
    arr = np.asarray(col)
    if arr.dtype.kind == "f":
        arr = np.ascontiguousarray(arr, dtype=np.float64).view(np.int64)
    elif arr.dtype.kind in "ub":
        arr = arr.astype(np.int64)
    codes, uniq = pd.factorize(arr, use_na_sentinel=False)
    first = np.empty(len(uniq), dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)  # the last write wins: first occurrence
    return codes.astype(np.int64, copy=False), first


def combine(*codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, representatives) of the distinct combinations of code arrays of one length."""
    if len(codes) == 1:
        return distinct(codes[0])
    key = np.zeros(len(codes[0]), dtype=np.int64)
    size = 1
    for c in codes:
        width = int(c.max()) + 1 if len(c) else 1
        if size * width >= _FOLD_LIMIT:
            key, first = distinct(key)
            size = len(first)
        key = key * width + c
        size *= width
    return distinct(key)


class Notes:
    """The notes of one node for ``n`` units: parts in the order they were added."""

    def __init__(self, n: int):
        self.n = n
        self.parts: list[tuple[np.ndarray, np.ndarray, list[str]]] = []  # (rows, codes, texts)

    def add(self, rows: np.ndarray, text: str | Callable[..., str], *values: np.ndarray) -> None:
        """Add a part to ``rows`` (each row at most once): a fixed text, or ``text(*values of
        one row)`` called once per distinct combination of ``values`` (arrays aligned with rows)."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if len(rows) == 0:
            return
        if isinstance(text, str):
            self.parts.append((rows, np.zeros(len(rows), dtype=np.int64), [text]))
            return
        arrays = [np.asarray(v) for v in values]
        codes, first = combine(*(distinct(v)[0] for v in arrays))
        texts = [text(*(_item(v[i]) for v in arrays)) for i in first]
        self.parts.append((rows, codes, texts))

    def add_each(self, rows: list[int], texts: list[str]) -> None:
        """One text per listed row (for the few rows an evaluator's verdict touches)."""
        if rows:
            self.add(np.array(rows, dtype=np.int64), str, np.array(texts, dtype=object))

    def encode(self) -> tuple[np.ndarray, list[str]]:
        """(code per unit, texts): each unit's parts joined by "; "; code -1 where it has none.
        Called once, when the node's notes are complete: the parts are let go.

        A unit with one part takes that part's text as it is; only units with several parts
        (few, usually) have their combinations of parts found and joined."""
        out = np.full(self.n, -1, dtype=np.int64)
        texts: list[str] = []
        if not self.parts:
            return out, texts
        count = np.bincount(np.concatenate([rows for rows, _, _ in self.parts]), minlength=self.n)
        for rows, codes, part_texts in self.parts:
            alone = count[rows] == 1
            out[rows[alone]] = codes[alone] + len(texts)
            texts += part_texts
        several = np.flatnonzero(count > 1)
        if len(several):
            pos = np.full(self.n, -1, dtype=np.int64)
            pos[several] = np.arange(len(several))
            cols = []
            for rows, codes, _ in self.parts:
                col = np.zeros(len(several), dtype=np.int64)
                here = pos[rows]
                col[here[here >= 0]] = codes[here >= 0] + 1
                cols.append(col)
            key, first = combine(*cols)
            joined = ["; ".join(part[2][int(col[i]) - 1] for col, part in zip(cols, self.parts, strict=True)
                                if col[i] > 0) for i in first]
            out[several] = key + len(texts)
            texts += joined
        self.parts = []
        return out, texts


def _item(x):
    return x.item() if isinstance(x, np.generic) else x
