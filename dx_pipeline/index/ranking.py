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

from dataclasses import dataclass

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


@dataclass(frozen=True)
class UnitsForRanking:
    """What the ranking takes from the units alone, not from their totals: their text columns,
    ranking groups and code order. Made apart (:func:`units_for_ranking`) so that a caller
    scoring in chunks can make it while it waits for its writer, not after the last chunk."""

    texts: dict[str, pd.arrays.ArrowStringArray]  # framework_id, peer_group, agency_code, agency_name
    ranked: np.ndarray
    group: np.ndarray  # ranking group, numbered in the groups' sorted order
    agency: pa.Array  # codes
    by_code: np.ndarray  # each unit's place in the codes' order


def units_for_ranking(fw: Framework, units: pd.DataFrame) -> UnitsForRanking:
    """The units' part of :func:`rank_units`. The text columns go from the units' Arrow strings
    to the ranking's without a Python string per unit (a million of them per column)."""
    peer = units["rank_group"]
    texts = {
        "framework_id": _text(np.full(len(units), fw.id, dtype=object)),
        "peer_group": _text_of(peer),
        "agency_code": _text_of(units["agency_code"]),
        "agency_name": _text_of(units["agency_name"]),
    }
    # groups numbered as pd.factorize(sort=True) of the texts would: the few distinct names
    # sorted by Python
    codes, names = pd.factorize(peer)
    if all(isinstance(n, str) for n in names):
        order = sorted(range(len(names)), key=lambda i: names[i])
        renumber = np.empty(len(names) + 1, dtype=np.int64)
        renumber[order] = np.arange(len(names))
        renumber[-1] = -1  # a missing group stays -1
        group = renumber[codes]
    else:
        group, _ = pd.factorize(peer.to_numpy(dtype=object), sort=True)
    agency = pa.array(texts["agency_code"])
    agency = (agency.combine_chunks() if isinstance(agency, pa.ChunkedArray) else agency).cast(pa.string())
    # the codes' order from Arrow's sort (UTF-8 bytes sort in code point order, as Python's
    # strings do)
    by_code = np.empty(len(units), dtype=np.int64)
    by_code[pc.sort_indices(agency).to_numpy()] = np.arange(len(units))  # pyright: ignore[reportAttributeAccessIssue]
    return UnitsForRanking(texts, units["ranked"].to_numpy(dtype=bool), group, agency, by_code)


def _text_of(column: pd.Series) -> pd.arrays.ArrowStringArray:
    """:func:`_text` of a column, straight from its Arrow strings when it has them."""
    if isinstance(column.array, pd.arrays.ArrowStringArray):
        strings = pa.array(column.array)
        if isinstance(strings, pa.ChunkedArray):
            strings = strings.combine_chunks()
        return pd.arrays.ArrowStringArray(strings.cast(pa.large_string()))
    return _text(column.to_numpy(dtype=object))


def rank_units(
    fw: Framework,
    units: pd.DataFrame,
    totals: pd.Series,
    total_max: pd.Series,
    previous_ranking: pd.DataFrame | None = None,
    prepared: UnitsForRanking | None = None,
) -> pd.DataFrame:
    """Ranking rows (RANKING_COLUMNS) of the scored units: rank within each ranking group under
    the framework's tie rule, band, and movement against ``previous_ranking``; ``prepared``:
    :func:`units_for_ranking` of the same units, if made already."""
    base = prepared if prepared is not None else units_for_ranking(fw, units)
    df = pd.DataFrame({
        **base.texts,
        "total_points": totals.to_numpy(dtype=float),
        "max_points": total_max.to_numpy(dtype=float),
    })
    ranked = base.ranked & (df["max_points"].to_numpy() > 0)
    rank = np.full(len(df), np.nan)
    points, group = df["total_points"].to_numpy(dtype=float), base.group
    codes = (base.agency.to_numpy(zero_copy_only=False).astype(str)  # pyright: ignore[reportAttributeAccessIssue]
             if fw.ranking.ties == "consecutive" else None)
    for g in np.unique(group[ranked]):
        pos = np.flatnonzero(ranked & (group == g))
        if codes is not None:
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
    # by ranking group, rank (unranked last), agency code
    order = np.lexsort((base.by_code, rank, group))
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
