"""Rows for the site's pages: ``records`` gives ``to_dict("records")``'s values (types too),
None for every missing value, whatever the column types."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dx_pipeline.publish.site import words
from dx_pipeline.publish.site.pages import records


def test_records_are_to_dict_records_with_none_for_missing_values():
    df = pd.DataFrame({
        "code": pd.array(["a", None, "c"], dtype="str"),
        "text": pd.array(["x", None, "z"], dtype="string"),
        "points": [1.5, np.nan, 3.0],
        "n": np.array([1, 2, 3], dtype="int32"),
        "rank": pd.array([1, None, 3], dtype="Int32"),
        "share": pd.array([0.5, None, 1.0], dtype="Float64"),
        "met": pd.array([True, None, False], dtype="boolean"),
        "flag": [True, False, True],
        "at": pd.Series([pd.Timestamp("2025-07-01"), pd.NaT, pd.Timestamp("2025-07-03")]),
        "any": [np.int64(4), None, "w"],
    })
    old = [{k: (None if words.missing(v) else v) for k, v in r.items()} for r in df.to_dict("records")]
    new = records(df)
    assert new == old
    assert [[type(v) for v in r.values()] for r in new] == [[type(v) for v in r.values()] for r in old]
    assert records(None) == [] and records(df.iloc[:0]) == []
