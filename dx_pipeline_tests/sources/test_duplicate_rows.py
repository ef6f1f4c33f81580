"""Duplicate rows found while rows stream in give exactly what the list version gave before
(kept by its old code here, as the oracle): the same rows kept, the same rejects in the same
order, each with its group's one reason."""

from __future__ import annotations

import datetime as dt
import random

from dx_pipeline.reference.listing import SHOWN, few, rows_phrase
from dx_pipeline.sources.duplicate_rows import DuplicateRows, reject_duplicates
from dx_pipeline.sources.submission_numbers import as_written
from dx_pipeline.sources.submission_rows import RawRow, make_reject


def _old_reject_duplicates(accepted: list[dict], what: str = "this file") -> tuple[list[dict], list[dict]]:
    """``submission_rows.reject_duplicates`` as it was before the streaming version."""
    by_key: dict[tuple, list[dict]] = {}
    for rec in accepted:
        by_key.setdefault((rec["agency_code"], rec["indicator_code"], rec["submitted_at"]), []).append(rec)
    reasons: dict[tuple, str] = {}
    keep, rejects = [], []
    for rec in accepted:
        key = (rec["agency_code"], rec["indicator_code"], rec["submitted_at"])
        group = by_key[key]
        if len(group) == 1:
            keep.append(rec)
            continue
        if key not in reasons:
            raws = [r["_raw"] for r in group[:SHOWN]]
            if all(r.row is not None for r in raws):
                where = rows_phrase((r.row for r in raws), total=len(group))
            else:
                where = few((r.row if r.row is not None else r.source_ref for r in raws), total=len(group))
            reasons[key] = (f"indicator {rec['indicator_code']} is reported more than once in {what} "
                            f"({len(group):,} times: {where}); send it once")
        raw: RawRow = rec["_raw"]
        rejects.append(make_reject(raw, field="MaChiSo" if raw.source == "inbox" else "indicator_code",
                                   reason=reasons[key], value=as_written(raw.value)))
    return keep, rejects


def _rows(n: int, seed: int) -> list[dict]:
    """Accepted rows of a few agencies, indicators and times: singletons, pairs and large groups,
    from the inbox and the reporting database, some without a row number."""
    rnd = random.Random(seed)
    t0 = dt.datetime(2025, 7, 5, 9, 30)
    out = []
    for i in range(n):
        agency, code = rnd.choice(["SO_YTE", "SO_TC", "UB_X"]), rnd.choice(["a_rate", "b_count", "c_flag"])
        when = t0 + dt.timedelta(minutes=rnd.choice([0, 0, 0, 1, 2, 3 + i]))
        source = rnd.choice(["inbox", "reporting_db"])
        raw = RawRow(source=source, source_ref=f"{source}#{i}", agency_code=f" {agency}", indicator_code=code,
                     value=rnd.choice([None, "45,5", 12.0, "80 %"]), file="f.xlsx", sheet="BaoCao",
                     row=None if rnd.random() < 0.1 else i + 2, submitted_at=when)
        out.append({"agency_code": agency, "indicator_code": code, "submitted_at": when, "value": 1.0,
                    "source_ref": raw.source_ref, "_raw": raw})
    return out


def test_the_streaming_groups_give_what_the_list_gave():
    for seed in range(20):
        rows = _rows(300, seed)
        assert reject_duplicates(rows, "x") == _old_reject_duplicates(rows, "x")
    one = _rows(1, 0)
    assert reject_duplicates(one) == (one, [])
    assert reject_duplicates([]) == ([], [])


def test_a_large_group_keeps_only_its_first_rows_and_counts_the_rest():
    raw = [RawRow(source="reporting_db", source_ref=f"db#{i}", indicator_code="a_rate", row=i + 1)
           for i in range(10_000)]
    when = dt.datetime(2025, 7, 5)
    rows = DuplicateRows("the reporting database")
    for r in raw:
        rows.add({"agency_code": "A", "indicator_code": "a_rate", "submitted_at": when, "_raw": r})
    assert len(rows._groups[("A", "a_rate", when)].shown) == SHOWN
    keep, rejects = rows.result()
    assert keep == [] and len(rejects) == 10_000 and len({r["reason"] for r in rejects}) == 1
    assert "(10,000 times: rows 1, 2, 3 and 9,997 others)" in rejects[0]["reason"]
