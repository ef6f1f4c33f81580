"""The ``note`` of every (unit, node) row, built per distinct text rather than per row.

Why: a framework over a million units explains 40 million indicator rows, but they say only a
few thousand different things ("full points", "reaching 1 would add +0.34 points", ...).
A note is a sequence of parts joined by "; "; each part is added for many rows at once, its
text made by a function called once per distinct combination of the values it depends on.
The rows' notes come out as codes into a short list of texts.

Scoring in chunks of units (:mod:`dx_pipeline.index.streaming`) would make the same texts again
in every chunk: inside :func:`shared_texts` they are remembered across ``Notes`` objects, keyed
by the text function's code, the plain values its closure holds and the values it is given.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

import numpy as np
import pandas as pd

_FOLD_LIMIT = 1 << 62
_PLAIN = (str, int, float, bool, type(None))
_MEMO_LIMIT = 100_000
"""Texts remembered at most per text function: notes showing each unit's own value (a carried-forward value)
are as many as the units; past the limit new texts are made, not kept."""
_MEMO: ContextVar[dict | None] = ContextVar("note_texts", default=None)


@contextlib.contextmanager
def shared_texts() -> Iterator[dict]:
    """Within this block, a note text made once (same function, same closure, same values) is
    reused by every later ``Notes.add`` instead of made again. Yields the memo (for tests): per
    text function and kinds of values, a dict of the values' keys to texts."""
    memo: dict = {}
    token = _MEMO.set(memo)
    try:
        yield memo
    finally:
        _MEMO.reset(token)


def _function_key(text: Callable) -> tuple | None:
    """What a text function's result depends on besides its arguments: its code and the values
    its closure holds, when all are plain (a text, a number, None); else None (not remembered).
    Floats by their ``repr``: 0.0 and -0.0 format differently."""
    code = getattr(text, "__code__", None)
    if code is None or getattr(text, "__defaults__", None) or getattr(text, "__kwdefaults__", None):
        return None
    held = []
    for cell in getattr(text, "__closure__", None) or ():
        value = cell.cell_contents
        if not isinstance(value, _PLAIN):
            return None
        held.append((type(value).__name__, repr(value) if isinstance(value, float) else value))
    return code, tuple(held)


def _value_keys(arr: np.ndarray) -> np.ndarray:
    """The values as dictionary keys that tell apart what formats differently: floats by their
    bits (0.0 and -0.0; every NaN alike), other numbers as they are, objects as they are."""
    if arr.dtype.kind == "f":
        return np.ascontiguousarray(arr, dtype=np.float64).view(np.int64)
    return arr


def distinct(col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, one representative position per code) of a 1-d array, by hashing; floats are
    told apart by their bits (0.0 and -0.0 format differently), None and NaN get a code too."""
    arr = np.asarray(col)
    if arr.dtype.kind == "f":
        arr = np.ascontiguousarray(arr, dtype=np.float64).view(np.int64)
    elif arr.dtype.kind in "ub":
        arr = arr.astype(np.int64)
    if arr.dtype.kind == "i" and len(arr) and (arr == arr[0]).all():  # one value: no hashing
        return np.zeros(len(arr), dtype=np.int64), np.zeros(1, dtype=np.int64)
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


def _texts(text: Callable[..., str], arrays: list[np.ndarray], first: np.ndarray) -> list[str]:
    """``text`` of the values at each position in ``first``; inside :func:`shared_texts`, made
    once for all chunks (a memo per text function and kinds of values, keyed by the values)."""
    memo = _MEMO.get()
    key = _function_key(text) if memo is not None else None
    if memo is None or key is None:
        return [text(*(_item(v[i]) for v in arrays)) for i in first]
    table = memo.setdefault((key, tuple(a.dtype.kind for a in arrays)), {})
    cols = [_value_keys(a)[first].tolist() for a in arrays]
    keys = cols[0] if len(cols) == 1 else list(zip(*cols, strict=True))
    texts = [table.get(k) for k in keys]
    for j, said in enumerate(texts):
        if said is None:
            i = first[j]
            said = texts[j] = text(*(_item(v[i]) for v in arrays))
            if len(table) < _MEMO_LIMIT:
                table[keys[j]] = said
    return texts


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
        found = [distinct(v) for v in arrays]
        varying = [c for c, f in found if len(f) > 1]  # values alike in every row add nothing
        if len(varying) > 1:
            codes, first = combine(*varying)
        else:
            codes, first = next(((c, f) for c, f in found if len(f) > 1), found[0])
        self.parts.append((rows, codes, _texts(text, arrays, first)))

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
        if len(self.parts) == 1:  # each row at most once: nothing to join
            rows, codes, texts = self.parts.pop()
            out[rows] = codes
            return out, list(texts)
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
