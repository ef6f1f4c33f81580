"""What each page of the site shows, as plain data for its template.

One home page (the period, the state of the result, every framework and peer group, the
directory of agencies, the data files), one ranking page per framework and peer group, one page
per agency (its points by pillar, every indicator told in plain words by
:func:`dx_pipeline.index.explain.account`, the adjustments and appeals that touched it, its
trend over the periods, its KPIs against the plan) and the printable summary. HTML belongs to
the templates; reading the revision to :mod:`dx_pipeline.publish.site.revision`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dx_pipeline.index.explain import IndicatorAccount, IndicatorSpec, account, value_words
from dx_pipeline.publish.site import words
from dx_pipeline.publish.site.revision import PastResult, Revision
from dx_pipeline.reference.catalogue import packaged_catalogue
from dx_pipeline.reference.frameworks import Name

AGENCY_DIR = "don-vi"
RANKING_DIR = "xep-hang"
DATA_DIR = "du-lieu"
SUMMARY = "tom-tat.html"


def agency_href(code: str) -> str:
    """An agency page's path from the site root."""
    return f"{AGENCY_DIR}/{words.slug(code)}.html"


def group_href(framework_id: str, group: str) -> str:
    """A ranking page's path from the site root."""
    return f"{RANKING_DIR}/{words.slug(framework_id)}/{words.slug(group)}.html"


def records(df: pd.DataFrame | None) -> list[dict]:
    """Rows as dicts with None for every missing value: ``df.to_dict("records")``'s values,
    column by column (a column without a missing value is not looked at value by value)."""
    if df is None or df.empty:
        return []
    names = df.columns.tolist()
    columns = [_values(df.iloc[:, j]) for j in range(len(names))]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def _values(col: pd.Series) -> list:
    """A column's values as ``to_dict("records")`` gives them, missing ones as None."""
    dtype = col.dtype
    if isinstance(dtype, pd.StringDtype):  # str, and None for any missing marker
        return col.array.to_numpy(dtype=object, na_value=None).tolist()
    if isinstance(dtype, np.dtype) and dtype.kind != "O":
        values = col.tolist()  # Python scalars (float, int, bool, Timestamp), as to_dict's
    else:  # objects and nullable numbers: to_dict boxes them as native Python values itself
        values = [r["v"] for r in col.to_frame(name="v").to_dict("records")]
    if not col.isna().any():
        return values
    return [None if words.missing(v) else v for v in values]


def sort_key(name: Any) -> tuple[str, str]:
    """Vietnamese alphabetical order, near enough: letters without marks first, then as written."""
    text = unicodedata.normalize("NFD", str(name)).replace("đ", "d~").replace("Đ", "D~")
    return "".join(ch for ch in text if not unicodedata.combining(ch)).lower(), str(name)


# ------------------------------------------------------------------ the ranking of a peer group
@dataclass
class RankRow:
    """One agency's line in a ranking table."""

    code: str
    name: str
    name_en: str
    rank: int | None
    points: float
    max_points: float
    band: str | None
    band_en: str
    band_key: str
    previous_rank: int | None
    move: dict[str, str]
    href: str

    @property
    def share(self) -> float | None:
        return self.points / self.max_points if self.max_points else None


@dataclass
class Group:
    """One framework's peer group: its ranking, in rank order."""

    framework: dict
    code: str
    name: Name
    rows: list[RankRow]
    href: str

    @property
    def ranked(self) -> int:
        return sum(1 for r in self.rows if r.rank is not None)

    def band_counts(self) -> list[tuple[dict, int]]:
        """(band, how many agencies) for each of the framework's bands, best first."""
        bands = sorted(self.framework.get("bands") or [], key=lambda b: -float(b.get("min_share", 0)))
        return [(b, sum(1 for r in self.rows if r.band == b.get("name_vi"))) for b in bands]


def groups(rev: Revision) -> list[Group]:
    """Every framework's peer groups, frameworks in id order, groups by name."""
    names_en = {} if rev.agencies is None else dict(zip(rev.agencies["agency_code"].astype(str),
                                                        rev.agencies["name_en"].astype(str), strict=True))
    group_names = words.peer_group_names(rev.agencies, rev.ranking["peer_group"].astype(str).unique())
    measured = rev.previous_unpublished is None
    out = []
    for fw in rev.frameworks:
        bands_en = {str(b.get("name_vi")): str(b.get("name_en", "")) for b in fw.get("bands") or []}
        part = rev.ranking[rev.ranking["framework_id"].astype(str) == fw["id"]]
        codes = sorted(part["peer_group"].astype(str).unique(), key=lambda g: sort_key(group_names[g].vi))
        for code in codes:
            rows = [_rank_row(r, names_en, bands_en, measured)
                    for r in records(part[part["peer_group"] == code])]
            rows.sort(key=lambda r: (r.rank is None, r.rank or 0, sort_key(r.name)))
            out.append(Group(fw, code, group_names[code], rows, group_href(fw["id"], code)))
    return out


def _rank_row(r: dict, names_en: Mapping[str, str], bands_en: Mapping[str, str], measured: bool) -> RankRow:
    code = str(r["agency_code"])
    return RankRow(
        code=code, name=str(r["agency_name"]), name_en=names_en.get(code, ""),
        rank=None if r.get("rank") is None else int(r["rank"]),
        points=float(r["total_points"]), max_points=float(r["max_points"]), band=r.get("band"),
        band_en=bands_en.get(str(r.get("band")), ""), band_key=words.band_key(r.get("band")),
        previous_rank=None if r.get("previous_rank") is None else int(r["previous_rank"]),
        move=words.movement(r.get("rank_change"), r.get("previous_rank"), measured), href=agency_href(code),
    )


# ------------------------------------------------------------------ one agency
@dataclass
class PillarBlock:
    """A pillar's points and its indicators in plain words."""

    id: str
    name: Name
    points: float
    max_points: float
    indicators: list[IndicatorAccount] = field(default_factory=list)
    depth: int = 0
    """0 for a pillar of the total, 1 for a pillar inside a group of pillars, and so on."""


@dataclass
class Standing:
    """An agency under one framework: where it stands, why, and how it got there."""

    group: Group
    row: RankRow
    pillars: list[PillarBlock]
    gains: list[IndicatorAccount]
    adjustments: list[dict]
    appeals: list[dict]
    trend: list[dict]
    interval: dict | None

    @property
    def framework(self) -> dict:
        return self.group.framework


@dataclass
class AgencyPage:
    """Everything an agency's page shows."""

    code: str
    name: Name
    level: Name
    parent: str | None
    standings: list[Standing]
    kpis: list[dict]
    href: str


class _Sources:
    """What agency pages are made from, indexed once: scores per (framework, agency), specs,
    rank intervals, appraisal records and the trend."""

    def __init__(self, rev: Revision, past: list[PastResult]) -> None:
        self.scores: dict[tuple[str, str], list[dict]] = {}
        for r in records(rev.scores):
            self.scores.setdefault((str(r["framework_id"]), str(r["agency_code"])), []).append(r)
        self.specs = {fw["id"]: rev.specs(fw["id"]) for fw in rev.frameworks}
        self.intervals = {(str(u["framework_id"]), str(u["agency_code"])): u
                          for u in records(rev.uncertainty)}
        self.adjustment_records, self.appeal_records = rev.records("adjustments"), rev.records("appeals")
        self.trends = _Trends(past)

    def standing(self, group: Group, row: RankRow) -> Standing:
        """One agency under one framework."""
        fid = group.framework["id"]
        pillars = _pillars(group.framework, self.scores.get((fid, row.code)), self.specs[fid])
        return Standing(
            group=group, row=row, pillars=pillars, gains=_largest_gains(pillars),
            adjustments=_adjustments(pillars, _touching(self.adjustment_records, fid, row.code,
                                                        ADJUSTMENT_FIELDS)),
            appeals=_touching(self.appeal_records, fid, row.code, APPEAL_FIELDS),
            trend=self.trends.of(fid, row.code), interval=self.intervals.get((fid, row.code)),
        )


def agency_pages(rev: Revision, past: list[PastResult]) -> list[AgencyPage]:
    """One page per agency ranked or assessed under any framework of the revision."""
    sources = _Sources(rev, past)
    standings: dict[str, list[Standing]] = {}
    for group in groups(rev):
        for row in group.rows:
            standings.setdefault(row.code, []).append(sources.standing(group, row))
    registry = {r["agency_code"]: r for r in records(rev.agencies)}
    kpis = _kpis_by_agency(rev)
    pages = []
    for code, mine in standings.items():
        reg = registry.get(code, {})
        parent = registry.get(reg.get("parent_code"), {}).get("name_vi")
        level = words.LEVEL_ONE.get(str(reg.get("level")), Name("", ""))
        pages.append(AgencyPage(code, Name(mine[0].row.name, mine[0].row.name_en), level, parent,
                                mine, kpis.get(code, []), agency_href(code)))
    return sorted(pages, key=lambda p: sort_key(p.name.vi))


def _pillars(fw: dict, rows: list[dict] | None, specs: Mapping[str, IndicatorSpec]) -> list[PillarBlock]:
    """The agency's pillars in the framework's order, each with its indicators' accounts."""
    if not rows:
        return []
    order = {str(p["id"]): i for i, p in enumerate(fw.get("pillars") or [])}
    names = {str(p["id"]): Name(p.get("name_vi") or p["id"], p.get("name_en") or "")
             for p in fw.get("pillars") or []}
    blocks = {}
    for r in (r for r in rows if r["level"] == "pillar"):
        nid = str(r["node_id"])
        name = names.get(nid, Name(nid, ""))
        blocks[nid] = PillarBlock(nid, name, float(r["points"]), float(r["max_points"]))
    for r in (r for r in rows if r["level"] == "indicator"):
        spec = specs.get(str(r["node_id"])) or _bare_spec(r, fw)
        block = blocks.get(str(r.get("parent_id")))
        if block is not None:
            block.indicators.append(account(spec, r))
    file_order = {str(i["id"]): n for n, i in enumerate(fw.get("indicators") or [])}
    parents = {str(r["node_id"]): str(r.get("parent_id")) for r in rows if r["level"] == "pillar"}
    for block in blocks.values():
        block.indicators.sort(key=lambda a: (file_order.get(a.spec.id, 10**6), a.spec.id))
        parent = parents.get(block.id)
        while parent in parents and block.depth < len(parents):
            block.depth, parent = block.depth + 1, parents[parent]
    return sorted(blocks.values(), key=lambda b: (order.get(b.id, 10**6), b.id))


def _bare_spec(row: Mapping[str, Any], fw: dict) -> IndicatorSpec:
    """The spec of an indicator an older manifest does not describe: its name, nothing more."""
    meta = next((i for i in fw.get("indicators") or [] if str(i.get("id")) == str(row["node_id"])), {})
    name = Name(meta.get("name_vi") or str(row["node_id"]), meta.get("name_en") or "")
    return IndicatorSpec(id=str(row["node_id"]), name=name, measured=name, source="item", unit=None,
                         rule="", max_points=float(row["max_points"]))


def _largest_gains(pillars: list[PillarBlock], limit: int = 5) -> list[IndicatorAccount]:
    """The indicators where the agency left the most points, largest first."""
    every = [a for p in pillars for a in p.indicators if a.assessed and not a.full]
    every = [a for a in every if a.max_points - a.points > 1e-9]
    return sorted(every, key=lambda a: (-(a.max_points - a.points), a.spec.id))[:limit]


ADJUSTMENT_FIELDS = ("id", "node_id", "verdict_vi", "verdict_en", "value_before_text", "value_after_text",
                     "points_before", "points_after", "reason", "evaluator", "recorded_at")
APPEAL_FIELDS = ("node_id", "argument", "filed_by", "decision_vi", "decision_en", "reason")
"""The fields of the manifest's ``adjustments`` and ``appeals`` records an agency page shows
(:mod:`dx_pipeline.publish.appraisal` writes them); a field a record lacks is shown empty."""


def _adjustments(pillars: list[PillarBlock], records: list[dict]) -> list[dict]:
    """Every verdict that changed one of the agency's indicators: from its ``index_scores`` rows
    (what was published), with the evaluator from the manifest's record of it, and any record
    of the manifest no row shows (nothing the revision lists is left out)."""
    by_id = {int(r["id"]): r for r in records if r.get("id") is not None}
    out = []
    for a in (a for p in pillars for a in p.indicators):
        v = a.verdict
        if v is not None and v.changed:
            rec = by_id.pop(v.record, {}) if v.record is not None else {}
            out.append({"node_id": a.spec.id, "name": a.spec.name, "verdict": v.name, "record": v.record,
                        "value_before": v.reported_value.vi,
                        "value_after": a.value.vi if v.kind == "adjust_value" else "",
                        "points_before": v.reported_points, "points_after": a.points,
                        "reason": v.reason or rec.get("reason") or "", "evaluator": rec.get("evaluator")})
    left = [r for r in records if r.get("id") is None or int(r["id"]) in by_id]
    return out + [_recorded_adjustment(r) for r in left]


def _recorded_adjustment(r: dict) -> dict:
    """An adjustment as the manifest records it (its fields in :data:`ADJUSTMENT_FIELDS`)."""
    verdict = Name(r["verdict_vi"] or "", r["verdict_en"] or "")
    return {"node_id": r["node_id"], "name": None, "verdict": verdict, "record": r.get("id"),
            "value_before": r["value_before_text"] or "",
            "value_after": r["value_after_text"] or "", "points_before": r["points_before"],
            "points_after": r["points_after"], "reason": r["reason"] or "", "evaluator": r["evaluator"]}


def _touching(
    items: Iterable[dict], framework_id: str, agency_code: str, fields: tuple[str, ...]
) -> list[dict]:
    """Appraisal records about one agency (under one framework, when they name one), each with
    every field of ``fields`` (None when the record lacks it)."""
    return [{f: i.get(f) for f in fields} for i in items if str(i.get("agency_code")) == agency_code
            and str(i.get("framework_id") or framework_id) == framework_id]


class _Trends:
    """Each agency's total, share, rank and band in every period of the trend, oldest first."""

    def __init__(self, past: list[PastResult]) -> None:
        self.periods = []
        for p in past:
            rows = {(str(r["framework_id"]), str(r["agency_code"])): r for r in records(p.ranking)}
            ranked: dict[tuple[str, str], int] = {}
            for r in rows.values():
                if r.get("rank") is not None:
                    key = (str(r["framework_id"]), str(r["peer_group"]))
                    ranked[key] = ranked.get(key, 0) + 1
            self.periods.append((p, rows, ranked))

    def of(self, framework_id: str, agency_code: str) -> list[dict]:
        """One agency's line per period it was scored in under the framework."""
        out = []
        for p, rows, ranked in self.periods:
            r = rows.get((framework_id, agency_code))
            if r is None:
                continue
            share = r["total_points"] / r["max_points"] if r["max_points"] else None
            out.append({"period": p.period, "revision": p.revision, "points": r["total_points"],
                        "max_points": r["max_points"], "share": share, "rank": r.get("rank"),
                        "of": ranked.get((framework_id, str(r["peer_group"])), 0), "band": r.get("band"),
                        "band_key": words.band_key(r.get("band"))})
        return out


def _kpis_by_agency(rev: Revision) -> dict[str, list[dict]]:
    """Each agency's KPIs that have a plan target, with the value said in plain words."""
    catalogue = packaged_catalogue()
    out: dict[str, list[dict]] = {}
    for k in records(rev.kpis):
        if k.get("target") is None:
            continue
        kpi = catalogue.get(str(k["kpi_code"]))
        unit, levels = (kpi.unit, kpi.levels) if kpi else (None, {})
        out.setdefault(str(k["agency_code"]), []).append({
            "name": Name(kpi.name_vi, kpi.name_en) if kpi else Name(str(k["kpi_code"]), ""),
            "value": value_words(k.get("value"), unit, levels),
            "target": value_words(k.get("target"), unit, levels),
            "met": k.get("target_met"),
        })
    for items in out.values():
        items.sort(key=lambda k: sort_key(k["name"].vi))
    return out


# ------------------------------------------------------------------ the province against its plans
PLANS = "ke-hoach.html"
PLAN_STATUS = {
    "met": (Name("Đạt", "met"), "up"),
    "not_met": (Name("Chưa đạt", "not met"), "down"),
    "no_data": (Name("Không có số liệu", "no data"), "same"),
    "no_agencies": (Name("Không còn đơn vị cấp này", "no units of this tier"), "same"),
    "year_figure": (Name("Đánh giá theo năm", "judged on the year"), "same"),
}
"""A scorecard status in words, and the CSS class of its colour."""
PLAN_TIERS = {
    "province": Name("Cấp tỉnh", "province"),
    "district": Name("Cấp huyện", "district"),
    "commune": Name("Cấp xã", "commune"),
    "all": Name("Các cấp", "all tiers"),
}
TREND = {"improving": "▲", "worsening": "▼", "unchanged": "=", "no_previous": ""}


@dataclass(frozen=True)
class PlanTarget:
    """One target of a plan as the plans page shows it."""

    kpi: Name
    code: str
    tier: Name
    year: int
    in_force: bool
    target: str
    value: str
    status: Name
    status_cls: str
    previous: str
    trend: str
    note: str
    predecessors: str


@dataclass(frozen=True)
class PlanBlock:
    """One plan against one province: its title, whether it is a draft, its targets in order."""

    title: str
    draft: bool
    province: str
    targets: list[PlanTarget]


def plan_value(x: Any, measure: str, unit: str) -> str:
    """A scorecard figure as its target is worded: a rate or a share in %, a total as a number,
    whether the province has it as Có / Không."""
    if words.missing(x):
        return "–"
    if measure == "province_has":
        return "Có" if float(x) >= 1 else "Không"
    if measure == "province_total" or unit not in ("ratio", "bool", "evidence", "level"):
        return words.num_vi(x, 0)
    return words.pct_vi(x)


def plan_blocks(rev: Revision) -> list[PlanBlock]:
    """The revision's scorecard, one block per plan and province, targets in the plan's order."""
    catalogue = packaged_catalogue()
    blocks: list[PlanBlock] = []
    for r in records(rev.plans):
        if not blocks or (blocks[-1].title, blocks[-1].province) != (r["plan_title"], r["province_name"]):
            blocks.append(PlanBlock(r["plan_title"], r["plan_status"] == "draft", r["province_name"], []))
        kpi = catalogue.get(str(r["kpi_code"]))
        unit = kpi.unit if kpi is not None else ""
        status, cls = PLAN_STATUS.get(str(r["status"]), (Name(str(r["status"]), str(r["status"])), "same"))
        measure = r["measure"]
        blocks[-1].targets.append(PlanTarget(
            kpi=Name(kpi.name_vi, kpi.name_en) if kpi is not None else Name(r["kpi_name"], r["kpi_name"]),
            code=str(r["kpi_code"]), tier=PLAN_TIERS.get(str(r["level"]), Name(r["level"], r["level"])),
            year=int(r["target_year"]), in_force=bool(r["in_force"]),
            target=plan_value(r["target"], measure, unit), value=plan_value(r["value"], measure, unit),
            status=status, status_cls=cls, previous=plan_value(r["previous_value"], measure, unit),
            trend=TREND.get(str(r["trend"]), ""), note=r["note"] or "", predecessors=r["predecessors"] or "",
        ))
    return blocks


# ------------------------------------------------------------------ the home page and what all share
DATA_WORDS = {
    "ranking.csv": Name("Bảng xếp hạng (CSV, mở bằng Excel)", "Ranking (CSV, opens in Excel)"),
    "ranking.xlsx": Name("Bảng xếp hạng và điểm chi tiết (Excel)", "Ranking and detailed scores (Excel)"),
    "ranking.parquet": Name("Bảng xếp hạng (Parquet)", "Ranking (Parquet)"),
    "index_scores.csv": Name("Điểm từng chỉ số của từng đơn vị (CSV)", "Every indicator's points (CSV)"),
    "index_scores.parquet": Name("Điểm từng chỉ số của từng đơn vị (Parquet)",
                                 "Every indicator's points (Parquet)"),
    "agency_kpis.csv": Name("Số liệu KPI của từng đơn vị (CSV)", "Every agency's KPIs (CSV)"),
    "agency_kpis.parquet": Name("Số liệu KPI của từng đơn vị (Parquet)", "Every agency's KPIs (Parquet)"),
    "agencies.parquet": Name("Danh mục đơn vị (Parquet)", "Agency registry (Parquet)"),
    "rank_uncertainty.parquet": Name("Khoảng bất định của thứ hạng (Parquet)", "Rank uncertainty (Parquet)"),
    "plan_scorecard.csv": Name("Tỉnh so với các chỉ tiêu kế hoạch (CSV)",
                               "The province against its plans (CSV)"),
    "plan_scorecard.parquet": Name("Tỉnh so với các chỉ tiêu kế hoạch (Parquet)",
                                   "The province against its plans (Parquet)"),
    "manifest.json": Name("Thông tin lần công bố, mã kiểm tra các tệp (JSON)",
                          "Publication record with checksums (JSON)"),
}
"""What each downloadable file is, for the home page's list."""


def common(rev: Revision) -> dict[str, Any]:
    """What every page shows: the period, the revision, when and why, the state of the result."""
    approval = rev.approval
    return {
        "period": rev.period,
        "revision": rev.number,
        "published": words.local_time(rev.published_at),
        "reason": rev.reason,
        "final": rev.is_final,
        "computed": rev.computed,
        "approval": approval,
        "approval_date": words.date_words(approval.date) if approval and approval.date else None,
        "appeal_closes": words.date_words(rev.appeal_closes) if rev.appeal_closes else None,
        "has_plans": rev.plans is not None and len(rev.plans) > 0,
        "no_movement": (words.no_previous_published(rev.previous_unpublished)
                        if rev.previous_unpublished is not None else None),
    }


def notices(rev: Revision) -> list[dict]:
    """Each framework's provenance statement and the indicators it does not assess."""
    out = []
    for fw in rev.frameworks:
        given = fw.get("provenance")
        prov: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
        out.append({
            "framework": fw,
            "illustrative": bool(prov.get("illustrative")) or not prov,
            "statement": Name(prov.get("statement_vi") or "Không nêu nguồn gốc của bộ chỉ số.",
                              prov.get("statement_en") or "The framework states no provenance."),
            "note": Name(prov["note_vi"], prov.get("note_en") or "") if prov.get("note_vi") else None,
            "not_assessed": list(prov.get("not_assessed") or []),
        })
    return out


def directory(pages: list[AgencyPage]) -> list[tuple[Name, list[AgencyPage]]]:
    """Every agency page, by level (province, departments, districts, communes), A to Z."""
    order = list(words.LEVEL_ONE)
    by_level: dict[str, list[AgencyPage]] = {}
    for p in pages:
        key = next((k for k, v in words.LEVEL_ONE.items() if v == p.level), "")
        by_level.setdefault(key, []).append(p)
    out = []
    for key in sorted(by_level, key=lambda k: order.index(k) if k in order else len(order)):
        out.append((words.LEVELS.get(key, Name("Khác", "Other")), by_level[key]))
    return out


def summary_groups(all_groups: list[Group]) -> list[tuple[dict, list[Group]]]:
    """Groups by framework, for the home page and the printable summary."""
    out: list[tuple[dict, list[Group]]] = []
    for g in all_groups:
        if not out or out[-1][0]["id"] != g.framework["id"]:
            out.append((g.framework, []))
        out[-1][1].append(g)
    return out


SUMMARY_RECORDS = 25
"""At most this many adjustments (and as many appeals) are listed in the printable summary; the
rest are on the agency pages."""


def summary_appraisal(rev: Revision, limit: int = SUMMARY_RECORDS) -> dict[str, Any] | None:
    """The printable summary's section on the appraisal: the adjustments that changed points and
    the appeals the revision's manifest lists (agency names from its ranking), or None."""
    adjustments, appeals = rev.records("adjustments"), rev.records("appeals")
    if not adjustments and not appeals:
        return None
    names = {str(r["agency_code"]): str(r["agency_name"]) for r in records(rev.ranking)}

    def named(r: dict) -> dict:
        return {**r, "agency": names.get(str(r.get("agency_code")), str(r.get("agency_code")))}

    return {
        "adjustments": [named(r) for r in adjustments[:limit]],
        "more_adjustments": max(0, len(adjustments) - limit),
        "appeals": [named(r) for r in appeals[:limit]],
        "more_appeals": max(0, len(appeals) - limit),
    }
