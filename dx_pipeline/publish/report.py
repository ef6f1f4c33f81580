"""The published report: one self-contained HTML page per revision, Vietnamese first.

It is read by the People's Committee and by the agencies, so it answers their questions in
order: where do we stand, did we move, where are the points we lost, do we meet the plan,
can the data be trusted, and how sure is the rank. All text that comes from agencies is
escaped (Jinja autoescape; the SVG builders escape their labels). No scripts, no external
URLs: it opens offline and prints.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from dx_pipeline.publish import charts
from dx_pipeline.reference.catalogue import load_catalogue
from dx_pipeline.reference.quarters import Period

TEMPLATES = Path(__file__).resolve().parent / "templates"

SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("ranking", "Bảng xếp hạng theo nhóm", "Ranking by peer group"),
    ("movement", "Thay đổi thứ hạng so với kỳ trước", "Movement against the previous period"),
    ("scores", "Biểu đồ tổng điểm", "Scores chart"),
    ("pillars", "Phân bố điểm theo chỉ số chính", "Distribution of each pillar"),
    ("kpis", "Chỉ số KPI so với chỉ tiêu kế hoạch", "KPIs against the plan targets"),
    ("quality", "Chất lượng dữ liệu", "Data quality"),
    ("uncertainty", "Khoảng bất định của thứ hạng", "Rank uncertainty"),
    ("agencies", "Chi tiết từng đơn vị", "Agency details"),
    ("provenance", "Nguồn gốc số liệu và phiên bản", "Provenance and versions"),
)
"""(anchor, Vietnamese heading, English heading) of every section, in order."""

BANDS_EN = {"tốt": "Good", "khá": "Fair", "trung bình": "Average", "yếu": "Weak"}


def band_key(band: Any) -> str:
    """``Trung bình`` -> ``trung-binh``: a CSS-safe key for a band's colour."""
    if band is None or (isinstance(band, float) and math.isnan(band)) or band is pd.NA:
        return "none"
    text = unicodedata.normalize("NFD", str(band).strip().lower()).replace("đ", "d")
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    key = "-".join(text.replace("_", " ").split())
    return key if key in charts.BAND_COLOURS else "none"


def band_en(band: Any) -> str:
    """The English name of a band (the report shows both languages)."""
    if _missing(band):
        return ""
    return BANDS_EN.get(str(band).strip().lower(), "")


def _missing(x: Any) -> bool:
    if x is None or x is pd.NA or x is pd.NaT:
        return True
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def fmt_num(x: Any, digits: int = 1) -> str:
    """Vietnamese number style: ``1.234,5``."""
    if _missing(x):
        return "–"
    text = f"{float(x):,.{digits}f}"
    return text.replace(",", "\u2009").replace(".", ",").replace("\u2009", ".")


def fmt_pct(x: Any, digits: int = 1) -> str:
    """A fraction as a percentage with ``digits`` decimals; a dash when missing."""
    if _missing(x):
        return "–"
    return fmt_num(float(x) * 100, digits) + " %"


def movement(change: Any, previous: Any) -> dict:
    """▲ gained places, ▼ lost places, = unchanged, ★ new this period."""
    if _missing(previous):
        return {"symbol": "★", "text": "mới / new", "cls": "new"}
    if _missing(change) or int(change) == 0:
        return {"symbol": "=", "text": "0", "cls": "same"}
    c = int(change)
    return {"symbol": "▲" if c > 0 else "▼", "text": str(abs(c)), "cls": "up" if c > 0 else "down"}


def _field(entry: Any, *names: str) -> Any:
    for name in names:
        if isinstance(entry, Mapping) and entry.get(name) not in (None, ""):
            return entry[name]
        value = getattr(entry, name, None)
        if value not in (None, ""):
            return value
    return None


def node_names(frameworks: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], tuple[str, str]]:
    """(framework id, node id) -> (Vietnamese name, English name) from the framework metadata."""
    out: dict[tuple[str, str], tuple[str, str]] = {}
    for fw in frameworks:
        fid = str(fw.get("id"))
        for key in ("pillars", "indicators", "nodes"):
            items = fw.get(key) or []
            if isinstance(items, Mapping):
                items = [
                    dict(v, id=k) if isinstance(v, Mapping) else {"id": k, "name_vi": v}
                    for k, v in items.items()
                ]
            for item in items:
                nid = _field(item, "id", "node_id")
                if nid is None:
                    continue
                vi = _field(item, "name_vi", "title_vi", "vi", "name") or str(nid)
                en = _field(item, "name_en", "title_en", "en") or ""
                out[(fid, str(nid))] = (str(vi), str(en))
    return out


@functools.lru_cache(maxsize=1)
def load_kpi_info() -> dict[str, dict[str, str]]:
    """KPI code -> {vi, en, unit} from the KPI catalogue, when that module is available.

    Read once per process: the catalogue is packaged data and parsing it costs more than
    rendering the report.
    """
    catalogue = load_catalogue()
    items = getattr(catalogue, "kpis", catalogue)
    entries = items.values() if isinstance(items, Mapping) else items
    out = {}
    for entry in entries:
        code = _field(entry, "code", "kpi_code")
        if code:
            out[str(code)] = {
                "vi": str(_field(entry, "name_vi", "vi", "title_vi") or code),
                "en": str(_field(entry, "name_en", "en", "title_en") or ""),
                "unit": str(_field(entry, "unit") or ""),
            }
    return out


def _is_ratio(code: str, row: Mapping, info: Mapping[str, str] | None) -> bool:
    """Show as a percentage? The catalogue's unit decides; without it, guess from the data."""
    if info and info.get("unit"):
        return info["unit"] == "ratio"
    return not _missing(row.get("denominator")) or str(code).endswith(("_rate", "_share"))


@dataclass
class ReportInput:
    """Everything the report shows. Frames follow the table contracts (see schemas.py)."""

    period: Period
    ranking: pd.DataFrame
    index_scores: pd.DataFrame
    frameworks: list[dict]
    revision: int
    published_at: dt.datetime
    reason: str
    trigger: str
    code_version: dict
    inputs: list[dict]
    kpis: pd.DataFrame | None = None
    dq: pd.DataFrame | None = None
    uncertainty: pd.DataFrame | None = None
    registry: pd.DataFrame | None = None
    kpi_info: dict[str, dict[str, str]] = field(default_factory=dict)
    """KPI code -> {vi, en, unit}; see :func:`load_kpi_info`."""


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html", "j2", "xml"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = fmt_num
    env.filters["pct"] = fmt_pct
    return env


def render_report(data: ReportInput) -> str:
    """The report's HTML text; the same input always gives the same text."""
    context = build_context(data)
    return _environment().get_template("report.html.j2").render(**context)


def _records(df: pd.DataFrame | None) -> list[dict]:
    if df is None or df.empty:
        return []
    return [
        {k: (None if _missing(v) else v) for k, v in row.items()}
        for row in df.to_dict(orient="records")
    ]


def framework_notices(frameworks: Sequence[Mapping[str, Any]]) -> list[dict]:
    """One notice per framework that is not wholly taken from its documents: its provenance
    statement (the report's banner) and the indicators it does not assess. A framework whose
    metadata states no provenance is flagged as such, never presented as official."""
    out = []
    for fw in frameworks:
        prov = fw.get("provenance")
        title_vi, title_en = fw.get("title_vi") or fw.get("id"), fw.get("title_en") or ""
        if not isinstance(prov, Mapping):
            out.append({"id": fw.get("id"), "title_vi": title_vi, "title_en": title_en,
                        "statement_vi": "Không nêu nguồn gốc của bộ chỉ số.",
                        "statement_en": "The framework states no provenance.",
                        "note_vi": None, "note_en": None, "not_assessed": []})
            continue
        if prov.get("illustrative") or prov.get("not_assessed"):
            out.append({"id": fw.get("id"), "title_vi": title_vi, "title_en": title_en,
                        "illustrative": bool(prov.get("illustrative")),
                        "statement_vi": prov.get("statement_vi"), "statement_en": prov.get("statement_en"),
                        "note_vi": prov.get("note_vi"), "note_en": prov.get("note_en"),
                        "not_assessed": list(prov.get("not_assessed") or [])})
    return out


def build_context(data: ReportInput) -> dict:
    """Everything the report template shows, from the scored tables of one period."""
    period = data.period
    names = node_names(data.frameworks)
    kpi_info = data.kpi_info
    registry = {}
    for r in _records(data.registry):
        registry[str(r["agency_code"])] = r

    ranking = data.ranking.copy()
    ranking["_rank_sort"] = pd.to_numeric(ranking["rank"], errors="coerce").fillna(10**9)
    ranking = ranking.sort_values(
        ["framework_id", "peer_group", "_rank_sort", "agency_code"], kind="stable"
    )
    rows = _records(ranking)
    bands = {
        (str(f["id"]), str(b.get("name_vi"))): b for f in data.frameworks for b in (f.get("bands") or [])
    }
    for r in rows:
        reg = registry.get(str(r["agency_code"]), {})
        r["name_en"] = reg.get("name_en") or ""
        band = bands.get((str(r["framework_id"]), str(r.get("band"))), {})
        r["band_key"] = band_key(band.get("code") or r.get("band"))
        if r["band_key"] == "none":
            r["band_key"] = band_key(r.get("band"))
        r["band_en"] = band.get("name_en") or band_en(r.get("band"))
        r["move"] = movement(r.get("rank_change"), r.get("previous_rank"))
        r["share"] = (
            r["total_points"] / r["max_points"] if r.get("max_points") else None
        )
        r["anchor"] = "agency-" + "".join(ch if ch.isalnum() else "-" for ch in str(r["agency_code"]))

    fw_titles = {
        str(f["id"]): (f.get("title_vi") or f["id"], f.get("title_en") or "") for f in data.frameworks
    }
    groups = []
    for (fid, pg), part in _group(rows, ("framework_id", "peer_group")):
        groups.append(
            {
                "framework_id": fid,
                "framework_vi": fw_titles.get(fid, (fid, ""))[0],
                "framework_en": fw_titles.get(fid, (fid, ""))[1],
                "peer_group": pg,
                "rows": part,
                "chart": charts.bar_chart(
                    [
                        charts.Bar(
                            label=str(r["agency_name"]),
                            value=float(r["total_points"]),
                            max_value=float(r["max_points"]),
                            band=r["band_key"],
                            note=f"{fmt_num(r['total_points'])} / {fmt_num(r['max_points'], 0)}",
                        )
                        for r in part
                    ],
                    label=f"Tổng điểm – {pg} / Scores – {pg}",
                ),
            }
        )

    moves = [r for r in rows if r["move"]["cls"] in ("up", "down")]
    moves.sort(key=lambda r: (-int(r["rank_change"]), str(r["agency_code"])))
    new_rows = [r for r in rows if r["move"]["cls"] == "new"]

    scores = data.index_scores.copy()
    score_rows = _records(scores.sort_values(["framework_id", "agency_code", "node_id"], kind="stable"))
    for s in score_rows:
        s["gap"] = float(s["max_points"]) - float(s["points"])
        info = kpi_info.get(str(s.get("kpi_code")), {}) if s.get("kpi_code") else {}
        # A node's own name; else the KPI it scores; else its id.
        vi, en = names.get(
            (str(s["framework_id"]), str(s["node_id"])),
            (info.get("vi", str(s["node_id"])), info.get("en", "")),
        )
        s["name_vi"], s["name_en"] = vi, en

    pillar_order_of = {
        str(f["id"]): {
            str(_field(p, "id", "node_id")): i
            for i, p in enumerate(f.get("pillars") or [])
            if isinstance(p, Mapping)
        }
        for f in data.frameworks
    }
    pillar_plots = []
    pillars = [s for s in score_rows if s["level"] == "pillar"]
    for fid, part in _group(pillars, ("framework_id",)):
        dists = []
        order = pillar_order_of.get(fid[0], {})
        part = sorted(part, key=lambda s: (order.get(str(s["node_id"]), 10**6), str(s["node_id"])))
        for _, nodes in _group(part, ("node_id",)):
            first = nodes[0]
            label = first["name_vi"] + (f" / {first['name_en']}" if first["name_en"] else "")
            dists.append(
                charts.Distribution(
                    label=label,
                    values=tuple(float(n["points"]) for n in nodes),
                    max_value=max(float(n["max_points"]) for n in nodes),
                )
            )
        stats = []
        for d in dists:
            vals = sorted(d.values)
            stats.append(
                {
                    "label": d.label,
                    "max": d.max_value,
                    "min": vals[0],
                    "median": charts._quantile(vals, 0.5),
                    "top": vals[-1],
                    "n": len(vals),
                }
            )
        pillar_plots.append(
            {
                "framework_id": fid[0],
                "framework_vi": fw_titles.get(fid[0], (fid[0], ""))[0],
                "chart": charts.distribution_plot(
                    dists, label=f"Phân bố điểm / Pillar distribution {fid[0]}"
                ),
                "stats": stats,
            }
        )

    # KPIs against plan targets
    kpi_rows = _records(data.kpis)
    by_agency_kpis: dict[str, list[dict]] = {}
    for k in kpi_rows:
        info = kpi_info.get(str(k["kpi_code"]))
        k["ratio"] = _is_ratio(k["kpi_code"], k, info)
        k["vi"] = (info or {}).get("vi", str(k["kpi_code"]))
        k["en"] = (info or {}).get("en", "")
        by_agency_kpis.setdefault(str(k["agency_code"]), []).append(k)
    kpi_summary = []
    for code, part in _group(sorted(kpi_rows, key=lambda k: str(k["kpi_code"])), ("kpi_code",)):
        values = sorted(float(k["value"]) for k in part if k.get("value") is not None)
        targets = sorted({float(k["target"]) for k in part if k.get("target") is not None})
        with_target = [k for k in part if k.get("target_met") is not None]
        kpi_summary.append(
            {
                "code": code[0],
                "vi": part[0]["vi"],
                "en": part[0]["en"],
                "ratio": part[0]["ratio"],
                "n": len(values),
                "median": charts._quantile(values, 0.5) if values else None,
                "min": values[0] if values else None,
                "max": values[-1] if values else None,
                "target_low": targets[0] if targets else None,
                "target_high": targets[-1] if targets else None,
                "met": sum(1 for k in with_target if k["target_met"]),
                "with_target": len(with_target),
            }
        )

    # data quality
    dq_rows = _records(data.dq)
    dq_summary = []
    for ds, part in _group(sorted(dq_rows, key=lambda d: (str(d["dataset"]), str(d["check"]))), ("dataset",)):
        dq_summary.append(
            {
                "dataset": ds[0],
                "checks": len(part),
                "passed": sum(1 for d in part if d["passed"]),
                "errors": sum(1 for d in part if not d["passed"] and str(d["severity"]).upper() == "ERROR"),
                "warnings": sum(1 for d in part if not d["passed"] and str(d["severity"]).upper() != "ERROR"),
            }
        )
    dq_failures = [
        d
        for d in sorted(dq_rows, key=lambda d: (str(d["severity"]), str(d["dataset"]), str(d["check"])))
        if not d["passed"]
    ]

    # rank uncertainty, per peer group, in rank order
    unc = {(str(u["framework_id"]), str(u["agency_code"])): u for u in _records(data.uncertainty)}
    unc_groups = []
    for (fid, pg), part in _group(rows, ("framework_id", "peer_group")):
        items = [(r, unc.get((str(fid), str(r["agency_code"])))) for r in part]
        items = [(r, u) for r, u in items if u is not None]
        if not items:
            continue
        unc_groups.append(
            {
                "framework_id": fid,
                "peer_group": pg,
                "rows": [dict(r, unc=u) for r, u in items],
                "chart": charts.interval_plot(
                    [
                        charts.Interval(
                            label=str(r["agency_name"]),
                            low=float(u["rank_p05"]),
                            median=float(u["rank_median"]),
                            high=float(u["rank_p95"]),
                            rank=None if r.get("rank") is None else float(r["rank"]),
                        )
                        for r, u in items
                    ],
                    label=f"Khoảng thứ hạng / Rank intervals – {pg}",
                ),
            }
        )

    # per-agency detail
    scores_by_agency: dict[tuple[str, str], list[dict]] = {}
    for s in score_rows:
        scores_by_agency.setdefault((str(s["framework_id"]), str(s["agency_code"])), []).append(s)
    agencies = []
    for r in rows:
        nodes = scores_by_agency.get((str(r["framework_id"]), str(r["agency_code"])), [])
        order = pillar_order_of.get(str(r["framework_id"]), {})
        pillar_nodes = sorted(
            (n for n in nodes if n["level"] == "pillar"),
            key=lambda n: (order.get(str(n["node_id"]), 10**6), str(n["node_id"])),
        )
        indicators = [n for n in nodes if n["level"] == "indicator"]
        pillar_order = {p["node_id"]: i for i, p in enumerate(pillar_nodes)}
        indicators.sort(key=lambda n: (pillar_order.get(n.get("parent_id"), 10**6), str(n["node_id"])))
        gaps = sorted(
            (n for n in indicators if n["gap"] > 1e-9), key=lambda n: (-n["gap"], str(n["node_id"]))
        )[:5]
        pillar_names = {p["node_id"]: p["name_vi"] for p in pillar_nodes}
        for n in indicators:
            n["pillar_vi"] = pillar_names.get(n.get("parent_id"), n.get("parent_id") or "")
        agencies.append(
            {
                "row": r,
                "pillars": pillar_nodes,
                "indicators": indicators,
                "gaps": gaps,
                "kpis": sorted(
                    by_agency_kpis.get(str(r["agency_code"]), []), key=lambda k: str(k["kpi_code"])
                ),
            }
        )

    previous = period.previous
    return {
        "sections": SECTIONS,
        "period": period,
        "previous_vi": previous.title_vi,
        "previous_en": previous.title_en,
        "revision": data.revision,
        "published_at": data.published_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "reason": data.reason,
        "trigger": data.trigger,
        "code_version": data.code_version,
        "frameworks": data.frameworks,
        "notices": framework_notices(data.frameworks),
        "inputs": data.inputs,
        "groups": groups,
        "moves": moves,
        "new_rows": new_rows,
        "n_agencies": len(rows),
        "n_ranked": sum(1 for r in rows if r.get("rank") is not None),
        "pillar_plots": pillar_plots,
        "kpi_summary": kpi_summary,
        "has_kpis": bool(kpi_rows),
        "dq_summary": dq_summary,
        "dq_failures": dq_failures,
        "has_dq": bool(dq_rows),
        "unc_groups": unc_groups,
        "agencies": agencies,
        "css": (TEMPLATES / "report.css").read_text(encoding="utf-8"),
    }


def _group(rows: list[dict], keys: tuple[str, ...]):
    """Consecutive groups of already-sorted rows (like itertools.groupby, keys as a tuple)."""
    out: list[tuple[tuple, list[dict]]] = []
    for r in rows:
        key = tuple(r.get(k) for k in keys)
        if out and out[-1][0] == key:
            out[-1][1].append(r)
        else:
            out.append((key, [r]))
    return out
