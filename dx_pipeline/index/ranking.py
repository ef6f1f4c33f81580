"""Ranking: ranks within ranking groups, bands, and movement against last quarter.

How tied totals rank is the framework's ``ranking.ties``: ``shared`` (the default) gives
"competition" ranks (1, 2, 2, 4), as the national DTI, QĐ 766 across provinces and the UN EGDI
publish them; ``consecutive`` gives tied totals consecutive ranks (1, 2, 3, 4) in agency-code
order, as the national portal lists one province's units (it does not publish the order it
uses among tied units, so ours is the code). Ranks use the rounded total points, so two
agencies that look tied in the published table are tied. Units matching the framework's
``unranked`` rule (e.g. no public services) are scored and banded but get no rank.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dx_pipeline.reference.frameworks import Framework

RANKING_COLUMNS = [
    "framework_id", "peer_group", "agency_code", "agency_name", "total_points", "max_points",
    "rank", "band", "previous_rank", "rank_change",
]


def competition_rank(values: np.ndarray) -> np.ndarray:
    """1 for the largest value; ties share the best rank (1, 2, 2, 4).

    Finite values: one sort, each value's rank is where its run of equal values starts (a
    binary search per value cost 0.5 s at a million units, each a cache miss)."""
    values = np.asarray(values, dtype=float)
    if not np.isfinite(values).all():
        ordered = np.sort(values)[::-1]
        return 1 + np.searchsorted(-ordered, -values, side="left")
    n = len(values)
    order = np.argsort(-values, kind="stable")
    desc = values[order]
    starts = np.ones(n, dtype=bool)
    starts[1:] = desc[1:] != desc[:-1]
    first = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = first + 1
    return rank


def consecutive_rank(values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """1 for the largest value; tied values take consecutive ranks in ``keys`` order (1, 2, 3, 4)."""
    values = np.asarray(values, dtype=float)
    order = np.lexsort((np.asarray(keys, dtype=str), -values))
    rank = np.empty(len(values), dtype=float)
    rank[order] = np.arange(1, len(values) + 1)
    return rank


def rank_units(
    fw: Framework,
    units: pd.DataFrame,
    totals: pd.Series,
    total_max: pd.Series,
    previous_ranking: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Ranking rows (RANKING_COLUMNS) of the scored units: rank within each ranking group under
    the framework's tie rule, band, and movement against ``previous_ranking``."""
    peer = units["rank_group"].to_numpy(dtype=object)
    agency = units["agency_code"].to_numpy(dtype=object)
    df = pd.DataFrame({
        "framework_id": _text(np.full(len(units), fw.id, dtype=object)),
        "peer_group": _text(peer),
        "agency_code": _text(agency),
        "agency_name": _text(units["agency_name"].to_numpy(dtype=object)),
        "total_points": totals.to_numpy(dtype=float),
        "max_points": total_max.to_numpy(dtype=float),
    })
    ranked = units["ranked"].to_numpy(dtype=bool) & (df["max_points"].to_numpy() > 0)
    rank = np.full(len(df), np.nan)
    points, codes = df["total_points"].to_numpy(dtype=float), agency.astype(str)
    group, _ = pd.factorize(peer, sort=True)
    for g in np.unique(group[ranked]):
        pos = np.flatnonzero(ranked & (group == g))
        if fw.ranking.ties == "consecutive":
            rank[pos] = consecutive_rank(points[pos], codes[pos])
        else:
            rank[pos] = competition_rank(points[pos])
    df["rank"] = pd.array(rank, dtype="Float64").astype("Int32")  # NaN (not ranked) -> <NA>
    mx = df["max_points"].to_numpy()
    share = np.where(mx > 0, df["total_points"].to_numpy() / np.where(mx > 0, mx, 1.0), np.nan)
    df["band"] = _text(_bands(fw, share))
    prev = _previous_ranks(fw, previous_ranking)
    if prev is not None:
        df["previous_rank"] = df["agency_code"].map(prev).astype("Float64").round().astype("Int32")
    else:
        nothing = np.ones(len(df), dtype=bool)
        df["previous_rank"] = pd.arrays.IntegerArray(np.zeros(len(df), dtype=np.int32), nothing)
    df["rank_change"] = (df["previous_rank"] - df["rank"]).astype("Int32")
    # by ranking group, rank (unranked last), agency code: the codes' order from Arrow's sort
    # (UTF-8 bytes sort in code point order, as Python's strings do)
    by_code = np.empty(len(df), dtype=np.int64)
    by_code[pc.sort_indices(pa.array(agency, type=pa.string())).to_numpy()] = np.arange(len(df))  # pyright: ignore[reportAttributeAccessIssue]
    order = np.lexsort((by_code, rank, group))
    return df[RANKING_COLUMNS].take(order).reset_index(drop=True)


def _text(values: np.ndarray) -> pd.arrays.ArrowStringArray:
    """A "string" column from an object array of texts and Nones, without inferring its type."""
    return pd.arrays.ArrowStringArray(pa.array(values, type=pa.large_string(), from_pandas=True))


def _bands(fw: Framework, share: np.ndarray) -> np.ndarray:
    """Each unit's band name, looked up once per distinct share (totals are rounded, so a
    million units hold few distinct shares; one lookup per unit took seconds)."""
    distinct, where = np.unique(share, return_inverse=True)
    names = np.array([(b.name_vi if (b := fw.band_for(s)) else None) for s in distinct], dtype=object)
    return names[where.reshape(-1)]


def _previous_ranks(fw: Framework, previous: pd.DataFrame | None) -> pd.Series | None:
    """agency_code -> last quarter's rank under the same framework id."""
    if previous is None or len(previous) == 0:
        return None
    prev = previous
    if "framework_id" in prev.columns:
        prev = prev[prev["framework_id"] == fw.id]
    prev = prev.dropna(subset=["rank"])
    if prev.empty:
        return None
    return prev.drop_duplicates("agency_code", keep="last").set_index("agency_code")["rank"].astype(float)
