"""The evaluators' verdicts in the engine: each verdict changes what it says, and only that, and
every changed point keeps what the reported value earned beside it."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from dx_pipeline.index import score
from dx_pipeline.index.appraised import APPRAISAL_COLUMNS
from dx_pipeline.reference import schemas
from dx_pipeline_tests.index.conftest import MINIMAL
from dx_pipeline_tests.index.test_engine import FULL, fw_from, long, pts


def verdicts(*rows) -> pd.DataFrame:
    """(agency, node, verdict, value, points, id) rows of the mini framework."""
    out = [
        {"framework_id": "mini", "agency_code": a, "node_id": n, "verdict": v, "value": val,
         "points": p, "adjustment_id": i, "reason": f"lý do {i}"}
        for a, n, v, val, p, i in rows
    ]
    return pd.DataFrame(out, columns=APPRAISAL_COLUMNS)


def test_without_verdicts_the_reported_columns_repeat_the_scored_ones():
    r = score(fw_from(MINIMAL), long(FULL))
    assert list(r.scores.columns) == schemas.INDEX_SCORES.names
    assert r.scores["points"].equals(r.scores["reported_points"])
    assert np.array_equal(r.scores["input_value"].to_numpy(), r.scores["reported_value"].to_numpy(),
                          equal_nan=True)
    assert r.scores["appraisal"].isna().all() and r.scores["adjustment_id"].isna().all()
    schemas.conform("index_scores", pa.Table.from_pandas(r.scores, preserve_index=False))


def test_an_adjusted_value_is_scored_and_the_reported_one_kept_beside_it():
    plain = score(fw_from(MINIMAL), long(FULL))
    r = score(fw_from(MINIMAL), long(FULL), appraisal=verdicts(("A", "P1.1", "adjust_value", 0.5, None, 7)))
    row = pts(r, "A", "P1.1")
    assert (row.input_value, row.points) == (0.5, 20.0)  # linear: 0.5 × 40
    assert (row.reported_value, row.reported_points) == (0.9, 36.0)
    assert (row.appraisal, row.adjustment_id) == ("adjust_value", 7)
    assert "appraisal #7 set the value to 0.5 (reported: 0.9) (lý do 7)" in row.note
    # the pillar and the total follow; what the reported values earned stays beside them
    assert pts(r, "A", "total").points == pts(plain, "A", "total").points - 16
    assert pts(r, "A", "total").reported_points == pts(plain, "A", "total").points
    # nothing else moved, B included
    other = r.scores[(r.scores.agency_code == "B")]
    assert other["points"].tolist() == plain.scores[plain.scores.agency_code == "B"]["points"].tolist()
    assert other["appraisal"].isna().all()
    ranked = r.ranking.set_index("agency_code")["total_points"]
    assert ranked["A"] == pts(r, "A", "total").points


def test_rejected_evidence_scores_zero_even_under_a_missing_data_policy():
    doc = copy.deepcopy(MINIMAL)
    doc["policies"]["missing"] = "carry_forward"
    previous = long([("B", "online_dossier_rate", 0.9)])
    r = score(fw_from(doc), long(FULL), previous=previous,
              appraisal=verdicts(("B", "P1.2", "reject", None, None, 8)))
    row = pts(r, "B", "P1.2")
    assert row.points == 0.0 and np.isnan(row.input_value)
    assert (row.reported_value, row.reported_points) == (0.3, 12.0)
    assert "appraisal #8 rejected the evidence: scored 0 (lý do 8)" in row.note
    assert "carried forward" not in row.note


def test_adjusted_points_replace_the_rules_within_the_maximum():
    r = score(fw_from(MINIMAL), long(FULL), appraisal=verdicts(
        ("B", "P1.1", "adjust_points", None, 25.456, 9), ("B", "P2.2", "adjust_points", None, 99, 10)))
    assert pts(r, "B", "P1.1").points == 25.46  # rounded half up to the framework's decimals
    assert pts(r, "B", "P1.1").reported_points == 33.0
    capped = pts(r, "B", "P2.2")
    assert capped.points == 30.0 and "above this unit's maximum: 30.00 awarded" in capped.note
    assert pts(r, "B", "total").points == pytest.approx(25.46 + 12 + 0 + 30)


def test_an_accepted_value_changes_no_point_but_names_its_record():
    plain = score(fw_from(MINIMAL), long(FULL))
    r = score(fw_from(MINIMAL), long(FULL), appraisal=verdicts(("A", "P1.2", "accept", None, None, 11)))
    assert r.scores["points"].tolist() == plain.scores["points"].tolist()
    row = pts(r, "A", "P1.2")
    assert (row.appraisal, row.adjustment_id) == ("accept", 11)
    assert "appraisal #11 accepted the reported value (lý do 11)" in row.note


def test_verdicts_on_units_or_nodes_not_scored_change_nothing():
    plain = score(fw_from(MINIMAL), long(FULL))
    r = score(fw_from(MINIMAL), long(FULL), appraisal=verdicts(
        ("Z", "P1.1", "adjust_value", 0.1, None, 1), ("A", "P9.9", "reject", None, None, 2)))
    assert r.scores["points"].tolist() == plain.scores["points"].tolist()
    assert r.scores["appraisal"].isna().all()


def test_the_appraisal_table_is_checked():
    fw = fw_from(MINIMAL)
    with pytest.raises(ValueError, match="unknown verdicts \\['approve'\\]"):
        score(fw, long(FULL), appraisal=verdicts(("A", "P1.1", "approve", None, None, 1)))
    twice = verdicts(("A", "P1.1", "accept", None, None, 1), ("A", "P1.1", "reject", None, None, 2))
    with pytest.raises(ValueError, match="two verdicts in force"):
        score(fw, long(FULL), appraisal=twice)
    with pytest.raises(ValueError, match="lacks columns"):
        one = verdicts(("A", "P1.1", "accept", None, None, 1))
        score(fw, long(FULL), appraisal=one.drop(columns="reason"))
