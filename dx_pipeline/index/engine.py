"""Scoring one quarter: indicator points, pillar and total aggregation, with the why in ``note``.

Steps, each recorded in the output so any point can be traced back:
1. each indicator's input is looked up per agency; a 0 denominator or a missing value is
   resolved by the framework's policies (and flagged);
2. the rule gives a share in [0, 1]; points = share × max, rounded half up per indicator
   (QĐ 766 rounds before adding);
3. pillars and the total combine their children (sum of points, or a weighted arithmetic,
   geometric or harmonic mean of shares). Children that are not applicable (excluded missing
   data, or a 0 denominator under ``not_applicable``) get max 0 and their points are
   re-distributed to their siblings in proportion to max points, so the sums still hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dx_pipeline.index.appraised import NodeAppraisal, appraisal_by_node, unappraised
from dx_pipeline.index.builtins import resolve_framework
from dx_pipeline.index.inputs import LongTable, read_long, select_units
from dx_pipeline.index.notes import Notes
from dx_pipeline.index.ranking import rank_units
from dx_pipeline.index.rounding import floor_to, half_up
from dx_pipeline.index.rules import get_rule, next_steps
from dx_pipeline.index.rules import shares as rule_shares
from dx_pipeline.reference.frameworks import TOTAL_ID, Framework, Node, not_assessed_text
from dx_pipeline.reference.quarters import Quarter

SCORE_COLUMNS = [
    "framework_id", "framework_version", "agency_code", "node_id", "parent_id", "level",
    "kpi_code", "input_value", "rule", "points", "max_points", "note",
    "reported_value", "reported_points", "appraisal", "adjustment_id",
]


@dataclass(frozen=True)
class ScoreResult:
    """Scores of one quarter under one framework.

    ``scores``: index_scores rows (no quarter column); ``ranking``: ranking_snapshot rows
    without revision/published_at; ``indicator_shares``: agencies × indicators shares in [0, 1]
    (NaN where not applicable), the input of the sensitivity analysis; ``units``: the scored
    agencies with peer and ranking groups.
    """

    framework: Framework
    scores: pd.DataFrame
    ranking: pd.DataFrame
    indicator_shares: pd.DataFrame
    units: pd.DataFrame


@dataclass
class _Indicator:
    node: Node
    value: np.ndarray  # input value used (after carry-forward / group mean), NaN if none
    share: np.ndarray  # NaN where not applicable
    applicable: np.ndarray
    notes: Notes
    evaluated: np.ndarray  # value went through the rule
    points_set: np.ndarray | None = None  # an evaluator's points (NaN where not set)
    # every scored unit's evaluated values, when these arrays hold only some of the units (a
    # chunk): the next step of a relative rule looks at all of them (None: ``value[evaluated]``)
    xs: np.ndarray | None = None


def fmt_value(code: str | None, v: float) -> str:
    """A KPI value for an explanation: rates and shares also as a percentage; NaN as a dash."""
    if v != v:
        return "–"
    if code and (code.endswith("_rate") or code.endswith("_share")) and 0 <= v <= 1.5:
        return f"{v:g} ({v * 100:.4g} %)"
    return f"{v:g}"


def _pts(x: float, decimals: int) -> str:
    return f"{x:.{decimals}f}"


def score(
    framework: "Framework | str | Path",
    data: pd.DataFrame,
    registry: pd.DataFrame | None = None,
    previous: pd.DataFrame | None = None,
    *,
    previous_ranking: pd.DataFrame | None = None,
    quarter: "Quarter | str | None" = None,
    appraisal: pd.DataFrame | None = None,
) -> ScoreResult:
    """Score one quarter's long table under a framework (object, path or built-in id).

    ``registry``: agencies table (schemas.AGENCIES) choosing who is scored and how they are
    named, grouped and ranked; ``previous``: last quarter's long table, for the
    ``carry_forward`` missing-data policy; ``previous_ranking``: last quarter's ranking
    (agency_code, rank[, framework_id]) for movement; ``quarter``: restricts the registry to
    agencies existing in that quarter; ``appraisal``: the evaluators' verdicts in force
    (:data:`dx_pipeline.index.appraised.APPRAISAL_COLUMNS`). With verdicts, the unit is scored
    twice, as reported and as appraised: ``points`` and ``input_value`` are the appraised ones,
    ``reported_points`` and ``reported_value`` what the reported values alone earn, and
    ``appraisal``/``adjustment_id`` name the verdict behind each indicator row.
    """
    fw = resolve_framework(framework)
    if quarter is not None:
        fw = fw.at(quarter)  # the version in force, with its rounding
    long = read_long(data, "data")
    prev = read_long(previous, "previous") if previous is not None else None
    units = select_units(fw, long, registry, quarter)
    by_code = _Lookup(long, units)
    prev_by_code = _Lookup(prev, units) if prev is not None else None
    evaluated = {n.id: _evaluate(fw, n, by_code, prev_by_code, units) for n in fw.indicators()}
    scores, totals, total_max = _aggregate(fw, units, evaluated)
    scores = unappraised(scores)
    verdicts = appraisal_by_node(appraisal, fw.id)
    if verdicts:
        evaluated = {
            n.id: _evaluate(fw, n, by_code, prev_by_code, units,
                            NodeAppraisal.of(verdicts.get(n.id), units["agency_code"]))
            for n in fw.indicators()
        }
        appraised, totals, total_max = _aggregate(fw, units, evaluated)
        scores = _with_verdicts(appraised, scores, verdicts)
    ranking = rank_units(fw, units, totals, total_max, previous_ranking)
    shares = pd.DataFrame(
        {nid: ev.share for nid, ev in evaluated.items()},
        index=pd.Index(units["agency_code"], name="agency_code"),
    )
    return ScoreResult(fw, scores, ranking, shares, units)


def _with_verdicts(
    appraised: pd.DataFrame, reported: pd.DataFrame, verdicts: dict[str, pd.DataFrame]
) -> pd.DataFrame:
    """The appraised scores beside what the reported values earn, each indicator row naming
    the verdict (and the appraisal record) behind it."""
    keys = ["agency_code", "node_id"]
    if not appraised[keys].astype(str).equals(reported[keys].astype(str)):
        raise RuntimeError("scoring as reported and as appraised gave different rows")
    given = pd.concat(
        [g[["verdict", "adjustment_id"]].assign(node_id=node) for node, g in verdicts.items()]
    ).rename_axis("agency_code").reset_index()
    given = given.astype({"agency_code": str, "node_id": str})
    behind = appraised[keys].astype(str).merge(given, on=keys, how="left")
    return appraised.assign(
        reported_value=reported["reported_value"].to_numpy(),
        reported_points=reported["reported_points"].to_numpy(),
        appraisal=pd.array(behind["verdict"].to_numpy(dtype=object), dtype="string"),
        adjustment_id=pd.array(pd.to_numeric(behind["adjustment_id"]).to_numpy(), dtype="Int64"),
    )


@dataclass
class _Rows:
    """One KPI's rows of the long table aligned with the scored units (NaN / False where a
    unit has no row)."""

    value: np.ndarray
    numerator: np.ndarray
    denominator: np.ndarray
    raw_value: np.ndarray | None  # the text of values that are not numbers, else None
    present: np.ndarray  # the unit has a row for the KPI


class _RowSource(Protocol):
    """Where ``_evaluate`` finds a KPI's values for the units it scores: the long table
    (:class:`_Lookup`), or a chunk of its pivoted arrays (``index.streaming``)."""

    def rows(self, code: str) -> _Rows: ...


class _Lookup:
    """A long table's rows per KPI, placed at the scored units' positions."""

    def __init__(self, long: LongTable, units: pd.DataFrame):
        self.long = long
        scored = pa.array(units["agency_code"].to_numpy(dtype=object), type=pa.string())
        found = pc.index_in(pa.array(long.agencies, type=pa.string()), value_set=scored)  # pyright: ignore[reportAttributeAccessIssue]
        self.unit_of = found.to_numpy(zero_copy_only=False)  # float, NaN where not scored
        self.unit_of = np.where(np.isnan(self.unit_of), -1, self.unit_of).astype(np.int64)
        self.a = len(units)

    def rows(self, code: str) -> _Rows:
        """The KPI's values for every scored unit."""
        t, a = self.long, self.a
        out = _Rows(np.full(a, np.nan), np.full(a, np.nan), np.full(a, np.nan), None, np.zeros(a, dtype=bool))
        rows = t.rows.get(code)
        if rows is None:
            return out
        pos = self.unit_of[t.agency_id[rows]]
        keep = pos >= 0
        pos, rows = pos[keep], rows[keep]
        out.value[pos] = t.value[rows]
        if t.numerator is not None:
            out.numerator[pos] = t.numerator[rows]
        if t.denominator is not None:
            out.denominator[pos] = t.denominator[rows]
        out.present[pos] = True
        if t.raw_value is not None:
            out.raw_value = np.full(a, None, dtype=object)
            out.raw_value[pos] = t.raw_value[rows]
        return out


def _not_assessed(n: Node, a: int) -> _Indicator:
    """An indicator the framework does not assess: not applicable to anyone, and says why."""
    nothing = np.full(a, np.nan)
    notes = Notes(a)
    notes.add(np.arange(a), not_assessed_text(n))
    return _Indicator(n, nothing, nothing.copy(), np.zeros(a, dtype=bool), notes, np.zeros(a, dtype=bool))


def _evaluate(
    fw: Framework, n: Node, long: _RowSource, prev: _RowSource | None, units: pd.DataFrame,
    appraised: NodeAppraisal | None = None,
) -> _Indicator:
    """One indicator for every unit: its input looked up, the evaluator's values, the 0
    denominator and missing-data policies, then the rule's share where a value remains."""
    code = n.input_code
    a = len(units)
    if n.not_assessed is not None:
        return _not_assessed(n, a)
    assert code is not None and n.rule is not None  # the loader gives every indicator both
    rows = long.rows(code)
    out = _Outcome(rows.value.copy(), np.full(a, np.nan), np.ones(a, dtype=bool), Notes(a))
    num, den = rows.numerator, rows.denominator
    den, rejected = _appraise_values(appraised, out.value, den, out.share, out.notes)

    zero_den = (den == 0) & ~rejected
    _apply_zero_denominator(out, zero_den, num, n.zero_denominator or fw.zero_denominator)
    missing = np.isnan(out.value) & ~zero_den & ~rejected
    observed = ~np.isnan(out.value) & ~zero_den
    policy = n.missing or fw.missing
    if missing.any():
        carry = policy == "carry_forward"
        prev_rows = prev.rows(code) if prev is not None and carry else None
        _apply_missing(out, code, policy, missing, observed, rows, prev_rows, units)

    value, share, applicable = out.value, out.share, out.applicable
    evaluated = ~np.isnan(value) & applicable & np.isnan(share)
    if evaluated.any():
        share[evaluated] = rule_shares(n.rule, value[evaluated], n.params, n.direction, n.max_points)
    share[~applicable] = np.nan
    points_set = appraised.points_set() if appraised is not None else None
    return _Indicator(n, value, share, applicable, out.notes, evaluated, points_set)


@dataclass
class _Outcome:
    """An indicator's per-unit arrays while its policies are applied to them (in place)."""

    value: np.ndarray  # the value the rule will judge, NaN where none
    share: np.ndarray  # a share already decided by a policy, NaN where the rule decides
    applicable: np.ndarray
    notes: Notes


def _apply_zero_denominator(out: _Outcome, zero_den: np.ndarray, num: np.ndarray, policy: str) -> None:
    """A 0 denominator leaves nothing to judge: full points, 0, or not applicable, as the
    framework's policy says, with the fraction in the note."""
    idx = np.flatnonzero(zero_den)
    if len(idx) == 0:
        return
    out.value[idx] = np.nan
    if policy == "full":
        out.share[idx] = 1.0
        out.notes.add(idx, lambda x: f"zero denominator ({_frac(x)}): nothing to judge, full points "
                      "(policy full)", num[idx])
    elif policy == "zero":
        out.share[idx] = 0.0
        out.notes.add(idx, lambda x: f"zero denominator ({_frac(x)}): scored 0 (policy zero)", num[idx])
    else:
        out.applicable[idx] = False
        out.notes.add(idx, lambda x: f"zero denominator ({_frac(x)}): not applicable, "
                      "its points re-distributed to the other indicators", num[idx])


def _frac(x: float) -> str:
    """The numerator over a 0 denominator, for a note."""
    return f"{x:g}/0" if x == x else "0 denominator"


def _apply_missing(
    out: _Outcome, code: str, policy: str, missing: np.ndarray, observed: np.ndarray,
    rows: _Rows, prev_rows: _Rows | None, units: pd.DataFrame,
) -> None:
    """A missing value under the framework's policy: last quarter's value, the peer-group
    mean, excluded, or 0 -- always saying why it was missing and what was done."""
    group_mean = np.full(len(units), np.nan)
    if policy == "group_mean":
        groups = units["peer_group"].to_numpy(dtype=object)
        frame = pd.DataFrame({"g": groups, "v": np.where(observed, out.value, np.nan)})
        group_mean = frame.groupby("g")["v"].transform("mean").to_numpy(dtype=float)
    prev_vals = None
    if policy == "carry_forward" and prev_rows is not None:
        prev_vals = prev_rows.value
    idx = np.flatnonzero(missing)
    why = _why_missing(rows, idx)
    left = np.ones(len(idx), dtype=bool)  # not yet resolved by an earlier branch
    if policy == "carry_forward" and prev_vals is not None:
        here = ~np.isnan(prev_vals[idx])
        i = idx[here]
        out.value[i] = prev_vals[i]
        out.notes.add(i, lambda w, v: f"{w}: last quarter's value {fmt_value(code, v)} carried forward "
                      "(missing policy)", why[here], out.value[i])
        left &= ~here
    elif policy == "group_mean":
        here = ~np.isnan(group_mean[idx])
        i = idx[here]
        out.value[i] = group_mean[i]
        out.notes.add(i, lambda w, v: f"{w}: peer-group mean {fmt_value(code, v)} used (missing policy)",
                      why[here], out.value[i])
        left &= ~here
    i = idx[left]
    if policy == "exclude":
        out.applicable[i] = False
        out.notes.add(i, lambda w: f"{w}: excluded, its points re-distributed to the other indicators "
                      "(missing policy)", why[left])
    else:
        out.share[i] = 0.0
        extra = "" if policy == "zero" else f" (no value to {policy.replace('_', ' ')} either)"
        out.notes.add(i, lambda w: f"{w}: scored 0{extra} (missing policy)", why[left])


def _why_missing(rows: _Rows, idx: np.ndarray) -> np.ndarray:
    """Why each listed unit's value is missing: a text that is not a number (quoted), a row
    without a value, or no row at all."""
    why = np.where(rows.present[idx], "no value reported", "no data").astype(object)
    if rows.raw_value is not None:
        raw = rows.raw_value[idx]
        text = np.array([isinstance(r, str) for r in raw], dtype=bool) if len(raw) else np.zeros(0, bool)
        if text.any():
            said = pd.Series(raw[text], dtype=object)
            why[text] = said.map({r: f"value {r!r} is not a number" for r in said.unique()}).to_numpy()
    return why


def _appraise_values(
    appraised: NodeAppraisal | None, value: np.ndarray, den: np.ndarray, share: np.ndarray, notes: Notes,
) -> tuple[np.ndarray, np.ndarray]:
    """The evaluator's values in place of the reported ones (``value`` and ``share`` changed in
    place): returns the denominators that still count and where the evidence was rejected
    (scored 0, no missing-data policy)."""
    if appraised is None:
        return den, np.zeros(len(value), dtype=bool)
    den = den.copy()
    rejected = appraised.apply_values(value, den, notes)
    share[rejected] = 0.0
    return den, rejected


def _mean(shares: np.ndarray, weights: np.ndarray, how: str) -> np.ndarray:
    """Weighted mean of children's shares (rows: agencies, columns: children; weight 0 = N/A)."""
    wsum = weights.sum(axis=1)
    safe = np.where(wsum > 0, wsum, 1.0)
    s = np.where(weights > 0, shares, 1.0)
    if how == "arithmetic" or how == "sum":
        out = (s * weights).sum(axis=1) / safe
    elif how == "geometric":
        with np.errstate(divide="ignore"):
            logs = np.where(s > 0, np.log(np.maximum(s, 1e-300)), -np.inf)
        out = np.exp(np.where(weights > 0, logs * weights, 0.0).sum(axis=1) / safe)
    elif how == "harmonic":
        with np.errstate(divide="ignore"):
            inv = np.where(s > 0, weights / np.maximum(s, 1e-300), np.inf)
        total = np.where(weights > 0, inv, 0.0).sum(axis=1)
        out = np.where(np.isinf(total), 0.0, safe / np.where(total > 0, total, 1.0))
    else:
        raise ValueError(f"unknown aggregation {how!r}")
    return np.where(wsum > 0, np.clip(out, 0.0, 1.0), 0.0)


def _aggregate(
    fw: Framework, units: pd.DataFrame, ev: dict[str, _Indicator]
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """(index_scores rows, total points per agency, total maximum per agency)."""
    return _Aggregation(fw, units, ev).run()


class _Aggregation:
    """One framework's points for every unit at once: which nodes apply to a unit (bottom-up),
    each node's effective maximum (top-down), then points (bottom-up) and the rows.

    A class because the steps share what the earlier ones learned, each kept in one dict
    keyed by node id; every step is a method that reads them and adds its own.
    """

    def __init__(self, fw: Framework, units: pd.DataFrame, ev: dict[str, _Indicator]):
        self.fw, self.units, self.ev = fw, units, ev
        self.a, self.d = len(units), fw.decimals
        self.received = fw.received_points()
        # a parent combines its children's rounded points, or (rounding.combine: unrounded)
        # their unrounded values; either way every node's points are published rounded
        self.unrounded = fw.rounding_combine == "unrounded"
        self.applicable: dict[str, np.ndarray] = {}
        self.eff: dict[str, np.ndarray] = {}
        self.points: dict[str, np.ndarray] = {}
        self.notes: dict[str, Notes] = {}

    def run(self) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
        """Every step in order; the rows and the totals."""
        cols, total_pts, total_eff = self.columns()
        index = self.units["agency_code"]
        scores = cols.frame(self.fw, index.to_numpy(dtype=object))
        return scores, pd.Series(total_pts, index=index), pd.Series(total_eff, index=index)

    def columns(self) -> tuple[_ScoreColumns, np.ndarray, np.ndarray]:
        """Every step in order; the rows' columns (not laid out yet), total points and maximum."""
        fw = self.fw
        for p in fw.pillars:
            self._mark(p)
        any_pillar = np.any([self.applicable[p.id] for p in fw.pillars], axis=0)
        total_eff = np.where(any_pillar, fw.total_points, 0.0)
        self._spread(fw.pillars, total_eff, fw.total_points, fw.aggregation)
        pillar_pts = [self._compute(p) for p in fw.pillars]
        _, total_pts = self._combine(fw.pillars, pillar_pts, total_eff, fw.aggregation)
        return self._rows(total_pts, total_eff), total_pts, total_eff

    def _mark(self, n: Node) -> np.ndarray:
        """Where the node applies: an indicator's own answer, a parent's if any child applies."""
        if n.is_indicator:
            self.applicable[n.id] = self.ev[n.id].applicable
        else:
            self.applicable[n.id] = np.any([self._mark(c) for c in n.children], axis=0)
        return self.applicable[n.id]

    def _spread(
        self, children: tuple[Node, ...], parent_eff: np.ndarray, parent_max: float, how: str
    ) -> None:
        """Each child's effective maximum from its parent's.

        Under a sum, a child's share of its parent is its points plus those it receives from
        not-assessed siblings; children not applicable to a unit give theirs to the others.
        """
        applicable = self.applicable
        weight = {c.id: c.max_points + self.received.get(c.id, 0.0) for c in children}
        if how == "sum":
            denom = np.sum([np.where(applicable[c.id], weight[c.id], 0.0) for c in children], axis=0)
            factor = np.where(denom > 0, parent_eff / np.where(denom > 0, denom, 1.0), 0.0)
        else:
            factor = parent_eff / parent_max if parent_max else np.zeros(self.a)
        for c in children:
            share = weight[c.id] if how == "sum" else c.max_points
            self.eff[c.id] = np.where(applicable[c.id], share * factor, 0.0)
            if c.children:
                self._spread(c.children, self.eff[c.id], c.max_points, c.aggregation or "sum")

    def _compute(self, n: Node) -> np.ndarray:
        """The node's rounded points into ``points``; returns what its parent combines."""
        e = self.eff[n.id]
        if n.is_indicator:
            raw, self.points[n.id] = self._indicator_points(n, e)
            self.notes[n.id] = self.ev[n.id].notes
        else:
            kids = [self._compute(c) for c in n.children]
            raw, self.points[n.id] = self._combine(n.children, kids, e, n.aggregation or "sum")
            self.notes[n.id] = Notes(self.a)
        _reweight_notes(self.fw, n, e, self.applicable[n.id], self.notes[n.id])
        return raw if self.unrounded else self.points[n.id]

    def _indicator_points(self, n: Node, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(unrounded, rounded) points of an indicator: share x maximum, capped, or the
        evaluator's points; 0 where it does not apply."""
        ind, d = self.ev[n.id], self.d
        share = np.nan_to_num(ind.share, nan=0.0)
        raw = np.minimum(share * e, e)
        pts = np.minimum(half_up(raw, d), floor_to(e, d))
        if "cap" in n.params:
            cap = float(n.params["cap"]) * np.where(n.max_points > 0, e / (n.max_points or 1), 0.0)
            capped = pts > floor_to(cap, d)
            pts = np.where(capped, floor_to(cap, d), pts)
            raw = np.minimum(raw, cap)
            i = np.flatnonzero(capped)
            ind.notes.add(i, lambda c: f"capped at {_pts(c, d)} points", floor_to(cap, d)[i])
        if ind.points_set is not None:
            pts, raw = _set_points(ind, pts, raw, e, d)
        pts = np.where(self.applicable[n.id], pts, 0.0)
        raw = np.where(self.applicable[n.id], raw, 0.0)
        _explain_indicator(self.fw, n, ind, pts, e)
        return raw, pts

    def _combine(
        self, children: tuple[Node, ...], kids: list[np.ndarray], e: np.ndarray, how: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """(unrounded, rounded) points of a parent from its children's points."""
        d = self.d
        if how == "sum":
            raw = np.sum(kids, axis=0)
            return raw, half_up(raw, d)
        ch_eff = np.stack([self.eff[c.id] for c in children], axis=1)
        ch_pts = np.stack(kids, axis=1)
        sh = np.where(ch_eff > 0, ch_pts / np.where(ch_eff > 0, ch_eff, 1.0), 0.0)
        w = np.stack([np.where(self.applicable[c.id], c.effective_weight, 0.0) for c in children], axis=1)
        raw = _mean(sh, w, how) * e
        return raw, np.minimum(half_up(raw, d), floor_to(e, d))

    def _rows(self, total_pts: np.ndarray, total_eff: np.ndarray) -> _ScoreColumns:
        """index_scores columns: the total, then every node in the framework's order, per unit."""
        fw, a = self.fw, self.a
        cols = _ScoreColumns(a)
        total_notes = Notes(a)
        total_notes.add(np.flatnonzero(total_eff == 0), "nothing applicable to score")
        cols.add(TOTAL_ID, None, "total", None, np.nan, _agg_rule(fw.aggregation),
                 total_pts, total_eff, total_notes)
        for n in fw.nodes():
            if n.is_indicator:
                assert n.rule is not None  # the loader gives every indicator a rule
                rule = get_rule(n.rule).describe(n.params, n.direction)
                cols.add(n.id, n.parent_id, "indicator", n.input_code, self.ev[n.id].value, rule,
                         self.points[n.id], self.eff[n.id], self.notes[n.id])
            else:
                cols.add(n.id, n.parent_id, "pillar", None, np.nan, _agg_rule(n.aggregation or "sum"),
                         self.points[n.id], self.eff[n.id], self.notes[n.id])
        return cols


class _ScoreColumns:
    """index_scores columns collected one block (a node for every unit) at a time and laid out
    once, unit by unit and node by node within a unit.

    Text columns are Arrow strings taken from a short dictionary (a node's id, each distinct
    note) by integer codes: no Python string is made per row."""

    def __init__(self, units: int):
        self.a = units
        self.blocks: list[tuple] = []

    def add(self, node_id: str, parent: str | None, level: str, kpi: str | None, inp, rule: str,
            pts: np.ndarray, mx: np.ndarray, notes: Notes) -> None:
        """One node's block."""
        inputs = np.broadcast_to(np.asarray(inp, dtype=float), (self.a,))
        self.blocks.append((node_id, parent, level, kpi, rule, inputs, np.asarray(pts, dtype=float),
                            np.round(np.asarray(mx, dtype=float), 8), notes.encode()))

    def frame(self, fw: Framework, agencies: np.ndarray) -> pd.DataFrame:
        """The rows, unit by unit and node by node within a unit."""
        a, b = self.a, len(self.blocks)
        whole = np.zeros(a * b, dtype=np.int32)
        scores = pd.DataFrame({
            "framework_id": _strings(whole, [fw.id]),
            "framework_version": _strings(whole, [fw.version]),
            "agency_code": _strings(np.repeat(np.arange(a, dtype=np.int64), b), agencies),
        })
        for j, key in enumerate(("node_id", "parent_id", "level", "kpi_code")):
            scores[key] = _tiled([blk[j] for blk in self.blocks], a)
        scores["input_value"] = _by_unit([blk[5] for blk in self.blocks])
        scores["rule"] = _tiled([blk[4] for blk in self.blocks], a)
        scores["points"] = _by_unit([blk[6] for blk in self.blocks])
        scores["max_points"] = _by_unit([blk[7] for blk in self.blocks])
        texts: list[str] = []
        codes = []
        for blk in self.blocks:
            code, said = blk[8]
            codes.append(np.where(code >= 0, code + len(texts), -1))
            texts += said
        scores["note"] = _strings(_by_unit(codes), texts)
        return scores


def _by_unit(blocks: list[np.ndarray]) -> np.ndarray:
    """Per-node arrays (one value per unit each) laid out unit by unit, node by node."""
    return np.stack(blocks, axis=1).reshape(-1)


def _tiled(texts: list[str | None], units: int) -> pd.arrays.ArrowStringArray:
    """A "string" column repeating one text per node (None: missing) for every unit in turn,
    its Arrow buffers laid out by numpy (the node texts' bytes tiled, offsets from their lengths)."""
    valid = np.array([t is not None for t in texts], dtype=bool)
    if not valid.any():
        return pd.arrays.ArrowStringArray(pa.nulls(len(texts) * units, pa.large_string()))
    encoded = [(t or "").encode("utf-8") for t in texts]
    ends = np.cumsum([len(e) for e in encoded], dtype=np.int64)
    span = int(ends[-1])
    offsets = np.zeros(len(texts) * units + 1, dtype=np.int64)
    offsets[1:] = (np.arange(units, dtype=np.int64)[:, None] * span + ends[None, :]).reshape(-1)
    data = np.tile(np.frombuffer(b"".join(encoded), dtype=np.uint8), units)
    missing = int((~valid).sum()) * units
    bitmap = pa.py_buffer(np.packbits(np.tile(valid, units), bitorder="little")) if missing else None
    column = pa.LargeStringArray.from_buffers(len(texts) * units, pa.py_buffer(offsets), pa.py_buffer(data),
                                              bitmap, missing)
    return pd.arrays.ArrowStringArray(column)


def _strings(codes: np.ndarray, texts) -> pd.arrays.ArrowStringArray:
    """A "string" column of ``texts[code]`` per row; missing where the code is -1 or the text None."""
    texts = list(texts)
    n = len(codes)
    if not texts or all(t is None for t in texts):
        return pd.arrays.ArrowStringArray(pa.nulls(n, pa.large_string()))
    if len(texts) == 1:  # one text for every row (framework id, version)
        return pd.arrays.ArrowStringArray(pa.repeat(pa.scalar(texts[0], pa.large_string()), n))
    codes = np.asarray(codes)
    missing = codes < 0
    if any(t is None for t in texts):
        missing |= np.append(np.array([t is None for t in texts], dtype=bool), True)[codes]
    indices = pa.array(np.where(missing, 0, codes).astype(np.int32 if len(texts) < 2**31 else np.int64),
                       mask=missing if missing.any() else None)
    dictionary = pa.array(["" if t is None else str(t) for t in texts], type=pa.large_string())
    return pd.arrays.ArrowStringArray(pc.take(dictionary, indices))  # pyright: ignore[reportAttributeAccessIssue]


def _set_points(
    ind: _Indicator, pts: np.ndarray, raw: np.ndarray, eff: np.ndarray, d: int
) -> tuple[np.ndarray, np.ndarray]:
    """The evaluator's points in place of the rule's (``pts`` rounded, ``raw`` unrounded),
    never above what the indicator is worth to the unit."""
    assert ind.points_set is not None
    chosen = ~np.isnan(ind.points_set)
    most = floor_to(eff, d)
    wanted = half_up(np.nan_to_num(ind.points_set), d)
    i = np.flatnonzero(chosen & (wanted > most + 1e-9))
    ind.notes.add(i, lambda w, m: f"the evaluator's {_pts(w, d)} points are above this unit's "
                  f"maximum: {_pts(m, d)} awarded", wanted[i], most[i])
    given = np.minimum(wanted, most)
    return np.where(chosen, given, pts), np.where(chosen, given, raw)


def _reweight_notes(fw: Framework, n: Node, e: np.ndarray, applicable: np.ndarray, notes: Notes) -> None:
    """Why a node's maximum differs from its file's points: points it receives from not-assessed
    siblings (the framework's declaration), or points of items not applicable to the unit."""
    if not abs(n.max_points) > 0:
        return
    gifts = [(m.id, m.not_assessed.redistribute[n.id]) for m in fw.not_assessed()
             if m.not_assessed is not None and n.id in m.not_assessed.redistribute]
    base = n.max_points + sum(p for _, p in gifts)
    if gifts:
        given = ", ".join(f"+{p:g} from {src}" for src, p in gifts)
        notes.add(np.flatnonzero(applicable), f"max {n.max_points:g} {given} (not assessed) = {base:g}")
    moved = np.flatnonzero(applicable & ~np.isclose(e, base))
    why = "points of not-applicable items re-distributed"
    notes.add(moved, lambda x: f"max {base:g} re-weighted to {x:.6g} ({why})", e[moved])


def _agg_rule(how: str) -> str:
    return {"sum": "sum of points", "arithmetic": "weighted arithmetic mean",
            "geometric": "weighted geometric mean", "harmonic": "weighted harmonic mean"}[how]


def _explain_indicator(fw: Framework, n: Node, ind: _Indicator, pts: np.ndarray, eff: np.ndarray) -> None:
    """Add 'what it would take' to each agency's note: the next threshold and its points."""
    assert n.rule is not None  # the loader gives every indicator a rule
    rule = get_rule(n.rule)
    d = fw.decimals
    higher = n.direction != "lower"
    xs = ind.value[ind.evaluated] if ind.xs is None else ind.xs
    full = floor_to(eff, d)
    at_full = pts >= full - 1e-9
    app, evaluated = ind.applicable, ind.evaluated
    ind.notes.add(np.flatnonzero(app & at_full & evaluated), "full points")
    unreported = np.flatnonzero(app & ~at_full & ~evaluated & np.isnan(ind.value) & (ind.share == 0))
    ind.notes.add(unreported, lambda g: f"reporting it could earn up to +{_pts(g, d)} points",
                  (full - pts)[unreported])
    idx = np.flatnonzero(app & ~at_full & evaluated)
    targets, target_shares, found = next_steps(rule, ind.value[idx], xs, n.params, higher, n.max_points)
    idx, targets, target_shares = idx[found], targets[found], target_shares[found]
    if not len(idx):
        return
    gains = np.minimum(half_up(target_shares * eff[idx], d), full[idx]) - pts[idx]
    gain = gains > 0
    code = n.input_code  # a plain text in the closure: the note is remembered across chunks
    ind.notes.add(idx[gain], lambda t, g: f"reaching {fmt_value(code, t)} would add "
                  f"+{_pts(g, d)} points", targets[gain], gains[gain])
