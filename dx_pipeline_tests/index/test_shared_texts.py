"""Note texts remembered across chunks (``notes.shared_texts``): the same notes as made afresh,
each text made once, and nothing remembered that could differ (closures holding other objects,
0.0 against -0.0)."""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dx_pipeline.index.streaming as streaming
from benchmarks.cases import synthetic_framework, synthetic_long
from dx_pipeline.index import load_builtin
from dx_pipeline.index.notes import Notes, shared_texts
from dx_pipeline_tests.index.test_engine import fw_from
from dx_pipeline_tests.index.test_streaming import UNITS, _cross_unit_doc, _cross_unit_registry, _long


def _decoded(notes: Notes) -> list[str | None]:
    codes, texts = notes.encode()
    return [texts[c] if c >= 0 else None for c in codes]


def _chunks(spec, n: int, suffix: str) -> list[list[str | None]]:
    """Each chunk's notes: a part per value with a text function holding a plain value."""
    out = []
    for values in spec:
        notes = Notes(n)
        v = np.array(values)
        notes.add(np.arange(n), lambda x: f"{suffix} {x!r}", v)
        big = v > 0.5
        notes.add(np.flatnonzero(big), lambda x, y: f"{x:g} and {y}", v[big], np.full(big.sum(), 2))
        out.append(_decoded(notes))
    return out


floats = st.sampled_from([0.0, -0.0, 0.5, 1.0, 0.75, float("nan"), 2.0, 1e-9])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(floats, min_size=6, max_size=6), min_size=1, max_size=4))
def test_remembered_texts_equal_the_texts_made_afresh(spec):
    fresh = _chunks(spec, 6, "v")
    with shared_texts():
        shared = _chunks(spec, 6, "v")
    assert shared == fresh  # -0.0 keeps its own text ('-0.0'), NaN its own


CALLS: list[float] = []


def _counted(x: float) -> str:
    CALLS.append(x)
    return f"value {x:g}"


def _saying(word):
    """A text function whose closure holds ``word``."""
    return lambda x: f"{word if isinstance(word, str) else word[0]} {x:g}"


def test_a_text_is_made_once_for_every_chunk():
    CALLS.clear()
    with shared_texts() as memo:
        for _ in range(5):
            Notes(4).add(np.arange(4), _counted, np.array([1.0, 2.0, 1.0, -0.0]))
            Notes(4).add(np.arange(4), _counted, np.array([0.0, 2.0, 2.0, 2.0]))
    assert sorted(map(repr, CALLS)) == ["-0.0", "0.0", "1.0", "2.0"]  # not 5 x 5
    assert len(memo) == 1


def test_a_closure_holding_other_objects_is_not_remembered():
    made = []
    for word in (["a"], ["b"]):  # a list in the closure: it may change, so no memo
        with shared_texts():
            notes = Notes(2)
            notes.add(np.arange(2), _saying(word), np.array([1.0, 1.0]))
            made.append(_decoded(notes))
    assert made == [["a 1", "a 1"], ["b 1", "b 1"]]
    shared = []
    with shared_texts() as memo:
        for word in (["a"], ["b"]):
            notes = Notes(2)
            notes.add(np.arange(2), _saying(word), np.array([1.0, 1.0]))
            shared.append(_decoded(notes))
    assert shared == made and memo == {}
    with shared_texts() as memo:  # two closures of one code holding other texts: two texts
        got = []
        for suffix in ("x", "y"):
            notes = Notes(1)
            notes.add(np.arange(1), _saying(suffix), np.array([3.0]))
            got.append(_decoded(notes))
    assert got == [["x 3"], ["y 3"]] and len(memo) == 2


def _file_without_memo(tmp_path, monkeypatch, fw, data, *args, chunk_units):
    with_memo = streaming.score_to_parquet(fw, data, tmp_path / "memo.parquet", *args,
                                           chunk_units=chunk_units)
    monkeypatch.setattr(streaming, "shared_texts", contextlib.nullcontext)
    without = streaming.score_to_parquet(fw, data, tmp_path / "fresh.parquet", *args,
                                         chunk_units=chunk_units)
    return with_memo.path.read_bytes(), without.path.read_bytes(), with_memo


def test_files_with_and_without_the_memo_are_byte_identical(tmp_path, monkeypatch):
    fw = synthetic_framework(7)
    memo, fresh, out = _file_without_memo(tmp_path, monkeypatch, fw, synthetic_long(53, 7), chunk_units=5)
    assert memo == fresh
    assert pd.read_parquet(out.path)["note"].str.contains("would add").any()


def test_files_with_and_without_the_memo_are_identical_under_every_policy(tmp_path, monkeypatch):
    fw = fw_from(_cross_unit_doc())
    reg = _cross_unit_registry(11)
    data = _long(fw, list(reg["agency_code"]), seed=5)
    memo, fresh, _ = _file_without_memo(tmp_path, monkeypatch, fw, data, reg, chunk_units=3)
    assert memo == fresh
    for fid in ("qd766", "dti_district"):
        fw = load_builtin(fid)
        sub = tmp_path / fid
        sub.mkdir()
        monkeypatch.undo()
        memo, fresh, _ = _file_without_memo(sub, monkeypatch, fw, _long(fw, UNITS, seed=9), chunk_units=2)
        assert memo == fresh
