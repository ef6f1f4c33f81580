"""Robustness of the ranking (JRC/OECD Handbook practice): how much would ranks move if the
weights, the normalisation or the aggregation had been chosen differently?

Monte Carlo over ``n`` alternative indices, all computed at once with numpy:
- weights of indicators and pillars each multiplied by a factor drawn uniformly in ±spread;
- normalisation: the framework's own rules, or a min-max rescale, or percentile ranks of the
  indicator shares across units;
- aggregation: weighted arithmetic mean (= the framework's weighted sum of points) or
  weighted geometric mean (shares floored at ``GEOMETRIC_FLOOR`` so one zero does not wipe a
  unit out).
For every ranked agency: rank 5th percentile, median, 95th percentile within its ranking group,
and first-order sensitivity indices (share of its rank variance explained by each pillar's
weight, by the normalisation choice and by the aggregation choice).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dx_pipeline.index.builtins import resolve_framework
from dx_pipeline.index.engine import ScoreResult, score
from dx_pipeline.reference.frameworks import Framework, Node

NORMALISATIONS = ("framework", "minmax", "percentile_rank")
AGGREGATIONS = ("arithmetic", "geometric")
GEOMETRIC_FLOOR = 0.01
BINS = 10


def _top_pillar_of(fw: Framework) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Indicator ids, their weights, pillar membership matrix (I × P) and pillar weights."""
    ind_ids, ind_w, member = [], [], []
    for p_idx, pillar in enumerate(fw.pillars):
        for node in pillar.walk():
            if node.is_indicator:
                ind_ids.append(node.id)
                ind_w.append(_weight(node, fw, pillar))
                member.append(p_idx)
    mem = np.zeros((len(ind_ids), len(fw.pillars)))
    mem[np.arange(len(ind_ids)), member] = 1.0
    pw = np.array(
        [p.max_points if fw.aggregation == "sum" else p.effective_weight for p in fw.pillars], dtype=float
    )
    return ind_ids, np.array(ind_w, dtype=float), mem, pw


def _weight(node: Node, fw: Framework, pillar: Node) -> float:
    """An indicator's weight: its points (with those it receives from not-assessed siblings)
    under a sum, its weight in a mean."""
    if (pillar.aggregation or "sum") != "sum":
        return node.effective_weight
    return float(node.max_points) + fw.received_points().get(node.id, 0.0)


def _normalised(S: np.ndarray, how: str) -> np.ndarray:
    if how == "framework":
        return S
    out = np.full_like(S, np.nan)
    for j in range(S.shape[1]):
        col = S[:, j]
        ok = ~np.isnan(col)
        x = col[ok]
        if x.size == 0:
            continue
        if how == "minmax":
            lo, hi = x.min(), x.max()
            out[ok, j] = 1.0 if hi - lo <= 1e-12 else (x - lo) / (hi - lo)
        else:  # percentile rank, ties counted half
            n = x.size
            if n == 1:
                out[ok, j] = 1.0
                continue
            s = np.sort(x)
            below = np.searchsorted(s, x, side="left")
            equal = np.searchsorted(s, x, side="right") - below
            out[ok, j] = (below + 0.5 * (equal - 1)) / (n - 1)
    return out


def _aggregate(S: np.ndarray, W: np.ndarray, mem: np.ndarray, how: str) -> np.ndarray:
    """S: A × I shares (NaN = not applicable); W: K × I weights; mem: I × G -> K × A × G."""
    present = (~np.isnan(S)).astype(float)
    if how == "geometric":
        vals = np.log(np.maximum(np.nan_to_num(S, nan=1.0), GEOMETRIC_FLOOR))
    else:
        vals = np.nan_to_num(S, nan=0.0)
    num = np.einsum("ai,ki,ig->kag", vals * present, W, mem, optimize=True)
    den = np.einsum("ai,ki,ig->kag", present, W, mem, optimize=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = num / den
    if how == "geometric":
        mean = np.exp(mean)
    return np.where(den > 0, mean, np.nan)


def _ranks(totals: np.ndarray) -> np.ndarray:
    """Competition ranks per row (K × M): 1 + number of units strictly ahead."""
    t = np.round(np.nan_to_num(totals, nan=-1.0), 10)
    out = np.empty(t.shape, dtype=np.int32)
    for start in range(0, t.shape[0], 64):
        block = t[start:start + 64]
        out[start:start + 64] = 1 + (block[:, None, :] > block[:, :, None]).sum(axis=2)
    return out


def _first_order(factor: np.ndarray, y: np.ndarray, discrete: bool) -> np.ndarray:
    """Var(E[y | factor]) / Var(y) per column of y (K × M), by binning the factor."""
    if discrete:
        codes = factor.astype(int)
    else:
        edges = np.quantile(factor, np.linspace(0, 1, BINS + 1)[1:-1])
        codes = np.searchsorted(edges, factor, side="right")
    onehot = np.eye(codes.max() + 1)[codes]  # K × B
    counts = onehot.sum(axis=0)
    keep = counts > 0
    onehot, counts = onehot[:, keep], counts[keep]
    means = onehot.T @ y / counts[:, None]  # B × M
    grand = y.mean(axis=0)
    between = (counts[:, None] * (means - grand) ** 2).sum(axis=0) / y.shape[0]
    total = y.var(axis=0)
    return np.where(total > 1e-12, np.clip(between / np.where(total > 1e-12, total, 1.0), 0, 1), 0.0)


def rank_uncertainty(
    framework: "Framework | str | Path",
    data: pd.DataFrame | None = None,
    registry: pd.DataFrame | None = None,
    n: int = 500,
    seed: int = 0,
    *,
    spread: float = 0.2,
    result: ScoreResult | None = None,
    previous: pd.DataFrame | None = None,
    quarter=None,
) -> pd.DataFrame:
    """Rank intervals of every ranked agency (rank_uncertainty contract + extra columns).

    Pass ``result`` (a :class:`ScoreResult` already computed for the quarter) to skip scoring
    again. Columns: framework_id, agency_code, rank_p05, rank_median, rank_p95, peer_group,
    rank (the published one), si_weight_<pillar> per pillar, si_normalisation, si_aggregation.
    """
    fw = resolve_framework(framework)
    if result is None:
        if data is None:
            raise ValueError("rank_uncertainty needs the quarter's data or a ScoreResult")
        result = score(fw, data, registry, previous, quarter=quarter)
    rng = np.random.default_rng(seed)
    ind_ids, ind_w, mem, pw = _top_pillar_of(fw)
    S = result.indicator_shares[ind_ids].to_numpy(dtype=float)
    draws = _Draws(
        weights=rng.uniform(1 - spread, 1 + spread, size=(n, len(ind_ids))),
        pillar_weights=rng.uniform(1 - spread, 1 + spread, size=(n, len(pw))),
        normalisation=rng.integers(0, len(NORMALISATIONS), size=n),
        aggregation=rng.integers(0, len(AGGREGATIONS), size=n),
    )
    totals = _sampled_totals(S, ind_w, mem, pw, draws)
    ranked = result.ranking[result.ranking["rank"].notna()]
    pos = {code: i for i, code in enumerate(result.indicator_shares.index)}
    frames = [
        _group_intervals(fw, str(group), rows, totals[:, [pos[c] for c in rows["agency_code"]]], draws)
        for group, rows in ranked.groupby("peer_group", sort=True)
    ]
    if not frames:
        return pd.DataFrame(columns=["framework_id", "agency_code", "rank_p05", "rank_median", "rank_p95"])
    df = pd.concat(frames, ignore_index=True)
    for col in ("framework_id", "agency_code", "peer_group"):
        df[col] = df[col].astype("string")
    df["rank"] = df["rank"].astype("Int32")
    return df.sort_values(["peer_group", "rank", "agency_code"], kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class _Draws:
    """The random choices of every sample: indicator and pillar weight factors, which
    normalisation and which aggregation."""

    weights: np.ndarray  # n × indicators
    pillar_weights: np.ndarray  # n × pillars
    normalisation: np.ndarray  # n
    aggregation: np.ndarray  # n


def _sampled_totals(
    S: np.ndarray, ind_w: np.ndarray, mem: np.ndarray, pw: np.ndarray, draws: _Draws
) -> np.ndarray:
    """Every sample's total of every agency (n × agencies), one batch per (normalisation,
    aggregation) pair: pillars aggregated with the sample's weights, then the pillars."""
    totals = np.empty((len(draws.normalisation), S.shape[0]))
    normalised = {how: _normalised(S, how) for how in NORMALISATIONS}
    for ni, nname in enumerate(NORMALISATIONS):
        for ai, aname in enumerate(AGGREGATIONS):
            k = np.flatnonzero((draws.normalisation == ni) & (draws.aggregation == ai))
            if k.size == 0:
                continue
            pillars = _aggregate(normalised[nname], ind_w * draws.weights[k], mem, aname)  # K × A × P
            # aggregate pillars per sample: treat each sample's pillar matrix as S with its own weights
            pw_k = pw * draws.pillar_weights[k]  # K × P
            present = ~np.isnan(pillars)
            if aname == "geometric":
                vals = np.log(np.maximum(np.nan_to_num(pillars, nan=1.0), GEOMETRIC_FLOOR))
            else:
                vals = np.nan_to_num(pillars, nan=0.0)
            num = np.einsum("kap,kp->ka", vals * present, pw_k)
            den = np.einsum("kap,kp->ka", present.astype(float), pw_k)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = num / den
            totals[k] = np.where(den > 0, np.exp(mean) if aname == "geometric" else mean, np.nan)
    return totals


def _group_intervals(
    fw: Framework, group: str, rows: pd.DataFrame, totals: np.ndarray, draws: _Draws
) -> pd.DataFrame:
    """One peer group's rank intervals and first-order sensitivity to each random choice."""
    ranks = _ranks(totals).astype(float)
    out = pd.DataFrame({
        "framework_id": fw.id,
        "agency_code": rows["agency_code"].to_numpy(dtype=object),
        "rank_p05": np.percentile(ranks, 5, axis=0),
        "rank_median": np.median(ranks, axis=0),
        "rank_p95": np.percentile(ranks, 95, axis=0),
        "peer_group": group,
        "rank": rows["rank"].to_numpy(),
    })
    for p_idx, pillar in enumerate(fw.pillars):
        out[f"si_weight_{pillar.id}"] = _first_order(draws.pillar_weights[:, p_idx], ranks, discrete=False)
    out["si_normalisation"] = _first_order(draws.normalisation, ranks, discrete=True)
    out["si_aggregation"] = _first_order(draws.aggregation, ranks, discrete=True)
    return out
