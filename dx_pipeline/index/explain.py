"""Explanations: "why does this agency have the points it has?" as plain text.

Reads only the published tables (index_scores and ranking rows), so the answer is the same
one the warehouse holds; node names, the framework's provenance (taken from which decision, or
illustrative) and its indicators not assessed come from the framework file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from dx_pipeline.index.appraised import VERDICT_NAMES
from dx_pipeline.index.builtins import load_builtin
from dx_pipeline.reference.catalogue import KPI
from dx_pipeline.reference.frameworks import Framework, Name, Node, not_assessed_text


def _framework(framework_id: str, framework: Framework | None) -> Framework:
    return framework if framework is not None and framework.id == framework_id else load_builtin(framework_id)


def provenance_lines(fw: Framework, scored_version: str) -> list[str]:
    """Where the framework comes from, and the indicators it does not assess (with where
    their points went), as ``explain`` prints them under the total."""
    if str(scored_version) != fw.version:
        return [f"  source: the scores were made with version {scored_version}; the framework file is "
                f"version {fw.version}, so its provenance is not shown"]
    statement = fw.provenance_statement()
    lines = [f"  source: {statement.en}", f"          {statement.vi}"]
    for n in fw.not_assessed():
        lines.append(f"  not assessed: {not_assessed_text(n)}")
    return lines


def _num(x) -> str:
    return "–" if x is None or pd.isna(x) else f"{float(x):.2f}"


def _value(x) -> str:
    return "no value" if x is None or pd.isna(x) else f"{float(x):g}"


def explain(
    scores_df: pd.DataFrame,
    ranking_df: pd.DataFrame | None,
    agency_code: str,
    framework: Framework | None = None,
) -> str:
    """A readable account of one agency's points under each framework in ``scores_df``."""
    mine = scores_df[scores_df["agency_code"] == agency_code]
    if framework is not None:
        mine = mine[mine["framework_id"] == framework.id]
    if mine.empty:
        known = ", ".join(sorted(map(str, scores_df["agency_code"].dropna().unique()))[:10])
        raise ValueError(f"no scores for agency {agency_code!r} (agencies scored: {known}…)")
    parts = []
    for fw_id, rows in mine.groupby("framework_id", sort=True):
        parts.append(_explain_one(str(fw_id), rows, ranking_df, agency_code, framework))
    return "\n\n".join(parts)


def _explain_one(fw_id, rows, ranking_df, agency_code, framework) -> str:
    fw = _framework(fw_id, framework)
    names = {n.id: str(n.name) for n in fw.nodes()}
    total = rows[rows["level"] == "total"].iloc[0]
    quarter = f", {rows['quarter'].iloc[0]}" if "quarter" in rows.columns else ""
    head = f"{agency_code} — {fw_id} v{total['framework_version']}{quarter}"
    rank_line = ""
    if ranking_df is not None and not ranking_df.empty:
        r = ranking_df[(ranking_df["agency_code"] == agency_code) & (ranking_df["framework_id"] == fw_id)]
        if not r.empty:
            r = r.iloc[0]
            head = f"{r['agency_name']} ({agency_code}) — {fw_id} v{total['framework_version']}{quarter}"
            if pd.isna(r["rank"]):
                rank_line = f"not ranked (assessed only) in group '{r['peer_group']}'"
            else:
                rank_line = f"rank {int(r['rank'])} in group '{r['peer_group']}'"
                if not pd.isna(r.get("previous_rank")):
                    change = int(r["rank_change"])
                    rank_line += f" (previous {int(r['previous_rank'])}, {change:+d})"
            if isinstance(r.get("band"), str):
                rank_line += f" · band {r['band']}"
    lines = [head, f"Total {_num(total['points'])} / {_num(total['max_points'])} points"
             + (f" · {rank_line}" if rank_line else "")]
    if isinstance(total.get("note"), str):
        lines.append(f"  note: {total['note']}")
    lines += provenance_lines(fw, total["framework_version"])

    ind = rows[rows["level"] == "indicator"].copy()
    ind["lost"] = ind["max_points"].astype(float) - ind["points"].astype(float)
    losing = ind[ind["lost"] > 1e-9].sort_values(["lost", "node_id"], ascending=[False, True], kind="stable")
    if len(losing):
        lines.append("")
        lines.append("Where points were lost (largest first):")
        for _, x in losing.iterrows():
            lines.append(
                f"  {x['node_id']:<10} −{x['lost']:.2f}  {names.get(x['node_id'], '')}".rstrip())
            lines.append(
                f"             {x['kpi_code']} = {_value(x['input_value'])}; {x['rule']} → "
                f"{_num(x['points'])} / {_num(x['max_points'])}")
            if isinstance(x.get("note"), str):
                lines.append(f"             why: {x['note']}")
    else:
        lines.append("Full points on every indicator.")

    lines.append("")
    lines.append("By pillar:")
    for _, p in rows[rows["level"] == "pillar"].iterrows():
        name = names.get(p["node_id"], "")
        lines.append(
            f"  {p['node_id']:<10} {_num(p['points']):>8} / {_num(p['max_points']):<8} {name}".rstrip()
        )
    return "\n".join(lines)


# ------------------------------------------------------------------ in plain words, for agencies
# The published site explains every indicator to the agency it scores, in Vietnamese with
# English: what was measured, the value, the points, why, and what it would take to gain more,
# without rule codes. The rule's parameters come from the framework (IndicatorSpec, recorded in
# each revision's manifest); the policy events and the next threshold come from the engine's
# note, read back by NOTE_PATTERNS so that the numbers are exactly the ones the engine computed.

YES_NO = (Name("Có", "Yes"), Name("Không", "No"))
LEVEL_WORDS = {
    "head": Name("Người đứng đầu", "Head of the agency"),
    "deputy": Name("Cấp phó", "Deputy"),
    "none": Name("Không", "None"),
    "Đầy đủ": Name("Đầy đủ", "Full"),
    "Một phần": Name("Một phần", "Partial"),
    "Không": Name("Không", "None"),
}
"""Level codes of the catalogue in both languages (a code not listed is shown as it is)."""
SOURCE_WORDS = {
    "portal": Name("số liệu hồ sơ trên Cổng dịch vụ công của tỉnh",
                   "dossier records of the province's public-service portal"),
    "procedure": Name("danh mục thủ tục hành chính trên Cổng dịch vụ công",
                      "the portal's catalogue of administrative procedures"),
    "submission": Name("số liệu đơn vị tự báo cáo", "figures the agency reported"),
    "item": Name("số liệu do đơn vị hoặc hội đồng thẩm định cung cấp",
                 "a figure the agency or the appraisal board provided"),
}
UNIT_WORDS = {
    "ratio": Name("tỷ lệ phần trăm", "a percentage"),
    "count": Name("số lượng", "a count"),
    "days": Name("số ngày", "days"),
    "bool": Name("có hoặc không", "yes or no"),
    "level": Name("mức độ thực hiện", "a level of achievement"),
    "evidence": Name("có văn bản, minh chứng hay không", "whether the document or evidence exists"),
    "amount": Name("số tiền (triệu đồng)", "an amount (million VND)"),
}


def number_vi(x: float, digits: int = 2) -> str:
    """``1234.5`` -> ``1.234,5``: Vietnamese separators, at most ``digits`` decimals, no
    trailing zeros."""
    text = f"{float(x):,.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(",", "\u2009").replace(".", ",").replace("\u2009", ".")


def number_en(x: float, digits: int = 2) -> str:
    """``1234.5`` -> ``1,234.5``: at most ``digits`` decimals, no trailing zeros."""
    text = f"{float(x):,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def points_words(x: float) -> Name:
    """``12.5`` -> ``12,5 điểm`` / ``12.5 points``."""
    return Name(f"{number_vi(x)} điểm", f"{number_en(x)} points")


def value_words(value: float | None, unit: str | None, levels: Mapping[str, float] | None = None) -> Name:
    """A measured value as a reader says it: ``72,5%``, ``Có``, ``Một phần``, ``3,5 ngày``."""
    if value is None or pd.isna(value):
        return Name("không có số liệu", "no value")
    v = float(value)
    if unit == "ratio":
        return Name(f"{number_vi(v * 100, 1)}%", f"{number_en(v * 100, 1)}%")
    if unit in ("bool", "evidence") and v in (0.0, 1.0):
        return YES_NO[0] if v == 1.0 else YES_NO[1]
    if unit in ("bool", "evidence") and 0.0 < v < 1.0:  # a share of yes (a plan target, a mean)
        return Name(f"{number_vi(v * 100, 1)}%", f"{number_en(v * 100, 1)}%")
    if unit == "level" and levels:
        for code, credit in levels.items():
            if abs(float(credit) - v) < 1e-9:
                return LEVEL_WORDS.get(str(code), Name(str(code), str(code)))
    if unit == "days":
        return Name(f"{number_vi(v, 1)} ngày", f"{number_en(v, 1)} days")
    if unit == "amount":
        return Name(f"{number_vi(v, 1)} triệu đồng", f"{number_en(v, 1)} million VND")
    return Name(number_vi(v), number_en(v))


@dataclass(frozen=True)
class IndicatorSpec:
    """What a published revision records of one indicator, so that its points can be told in
    plain words without the framework file: the rule and its parameters, the unit and levels of
    what it measures and where that comes from, the evidence asked for, and why it is not
    assessed (if it is not)."""

    id: str
    name: Name
    measured: Name
    source: str  # portal | procedure | submission | item
    unit: str | None
    rule: str
    max_points: float
    direction: str = "higher"
    params: Mapping[str, Any] = field(default_factory=dict)
    levels: Mapping[str, float] = field(default_factory=dict)
    evidence: str | None = None
    not_assessed: Name | None = None

    @classmethod
    def of(cls, node: Node, catalogue: Mapping[str, KPI]) -> IndicatorSpec:
        """The spec of a framework's indicator, its KPI looked up in the catalogue."""
        kpi = catalogue.get(node.kpi) if node.kpi else None
        na = node.not_assessed
        return cls(
            id=node.id, name=node.name,
            measured=Name(kpi.name_vi, kpi.name_en) if kpi else node.name,
            source=kpi.source if kpi else "item", unit=_unit(node, kpi),
            rule=str(node.rule), max_points=float(node.max_points), direction=node.direction,
            params=dict(node.params), levels=dict(kpi.levels) if kpi else {},
            evidence=node.evidence, not_assessed=na.reason if na else None,
        )

    def record(self) -> dict[str, Any]:
        """Plain data for a manifest (JSON: level keys become text, read back by from_record)."""
        return {
            "id": self.id, "name_vi": self.name.vi, "name_en": self.name.en,
            "measured_vi": self.measured.vi, "measured_en": self.measured.en,
            "source": self.source, "unit": self.unit, "rule": self.rule,
            "max_points": self.max_points, "direction": self.direction,
            "params": {k: (_plain_levels(v) if k == "levels" else v) for k, v in self.params.items()},
            "levels": dict(self.levels), "evidence": self.evidence,
            "not_assessed_vi": self.not_assessed.vi if self.not_assessed else None,
            "not_assessed_en": self.not_assessed.en if self.not_assessed else None,
        }

    @classmethod
    def from_record(cls, rec: Mapping[str, Any]) -> IndicatorSpec:
        """The spec a manifest recorded (see :meth:`record`)."""
        params = dict(rec.get("params") or {})
        if "levels" in params:
            params["levels"] = {float(k): float(v) for k, v in params["levels"].items()}
        na = None
        if rec.get("not_assessed_vi"):
            na = Name(str(rec["not_assessed_vi"]), str(rec.get("not_assessed_en") or ""))
        return cls(
            id=str(rec["id"]), name=Name(str(rec["name_vi"]), str(rec.get("name_en") or "")),
            measured=Name(str(rec.get("measured_vi") or rec["name_vi"]), str(rec.get("measured_en") or "")),
            source=str(rec.get("source") or "item"), unit=rec.get("unit"), rule=str(rec.get("rule")),
            max_points=float(rec.get("max_points") or 0.0), direction=str(rec.get("direction") or "higher"),
            params=params, levels={str(k): float(v) for k, v in (rec.get("levels") or {}).items()},
            evidence=rec.get("evidence"), not_assessed=na,
        )


def _unit(node: Node, kpi: KPI | None) -> str | None:
    """The unit of what an indicator measures: the framework's, its KPI's, or for an item a
    yes/no rule implies, yes or no."""
    if node.unit or kpi:
        return node.unit or (kpi.unit if kpi else None)
    return "bool" if node.rule == "boolean" else None


def _plain_levels(levels: Mapping[Any, Any]) -> dict[str, float]:
    return {f"{float(k):g}": float(v) for k, v in levels.items()}


def _at_least(spec: IndicatorSpec, x: float) -> Name:
    """``từ 80% trở lên`` for a measured amount, just ``Đầy đủ`` for a level or a yes/no."""
    v = value_words(x, spec.unit, spec.levels)
    if spec.unit in ("level", "bool", "evidence"):
        return Name(f"“{v.vi}”", f"“{v.en}”")
    if spec.direction == "lower":
        return Name(f"từ {v.vi} trở xuống", f"{v.en} or less")
    return Name(f"từ {v.vi} trở lên", f"{v.en} or more")


def _rule_linear(s: IndicatorSpec, mx: float) -> Name:
    scale, full = value_words(float(s.params.get("scale", 1.0)), s.unit, s.levels), points_words(mx)
    if s.direction == "lower":
        return Name(f"Giá trị càng thấp càng nhiều điểm: bằng 0 được đủ {full.vi}, "
                    f"từ {scale.vi} trở lên không có điểm, ở giữa tính theo tỷ lệ.",
                    f"The lower the better: 0 earns the full {full.en}, {scale.en} or more earns "
                    "none, in proportion in between.")
    return Name(f"Điểm tính theo tỷ lệ với giá trị: đạt {scale.vi} được đủ {full.vi}.",
                f"Points in proportion to the value: {scale.en} earns the full {full.en}.")


def _rule_goalpost(s: IndicatorSpec, mx: float) -> Name:
    thr, full = _at_least(s, float(s.params["threshold"])), points_words(mx)
    if s.direction == "lower":
        zero = value_words(float(s.params["upper"]), s.unit, s.levels)
        return Name(f"Đạt {thr.vi} được đủ {full.vi}; từ {zero.vi} trở lên không có điểm; ở giữa "
                    "điểm tính theo tỷ lệ.",
                    f"{thr.en} earns the full {full.en}; {zero.en} or more earns none; in "
                    "proportion in between.")
    lower = float(s.params.get("lower", 0.0))
    tail = Name("", "")
    if lower > 0:
        lo = value_words(lower, s.unit, s.levels)
        tail = Name(f", không có điểm khi chỉ đạt {lo.vi}", f", none at {lo.en}")
    return Name(f"Đạt {thr.vi} được đủ {full.vi}; thấp hơn thì điểm giảm theo tỷ lệ{tail.vi}.",
                f"{thr.en[0].upper() + thr.en[1:]} earns the full {full.en}; below that, points "
                f"fall in proportion{tail.en}.")


def _rule_distance(s: IndicatorSpec, mx: float) -> Name:
    target = float(s.params["target"])
    tol = value_words(float(s.params.get("tolerance", abs(target) or 1.0)), s.unit, s.levels)
    t, full = value_words(target, s.unit, s.levels), points_words(mx)
    if s.params.get("two_sided"):
        return Name(f"Càng gần mức {t.vi} càng nhiều điểm: đúng mức được đủ {full.vi}, lệch từ "
                    f"{tol.vi} trở lên không có điểm.",
                    f"The closer to {t.en} the more points: exactly {t.en} earns the full {full.en}, "
                    f"{tol.en} away or more earns none.")
    return Name(f"Đạt chỉ tiêu {t.vi} được đủ {full.vi}; chưa đạt thì bị trừ điểm theo phần còn "
                f"thiếu, thiếu từ {tol.vi} trở lên thì không có điểm.",
                f"Reaching the target of {t.en} earns the full {full.en}; short of it, points fall "
                f"with the shortfall, to none at {tol.en} short.")


def _rule_categorical(s: IndicatorSpec, mx: float) -> Name:
    levels = sorted(((float(k), float(v)) for k, v in s.params["levels"].items()), key=lambda kv: -kv[1])
    parts = [(value_words(k, s.unit, s.levels), points_words(share * mx)) for k, share in levels]
    return Name("Điểm theo mức đạt được: " + "; ".join(f"{v.vi}: {p.vi}" for v, p in parts) + ".",
                "Points by level: " + "; ".join(f"{v.en}: {p.en}" for v, p in parts) + ".")


def _rule_boolean(s: IndicatorSpec, mx: float) -> Name:
    full = points_words(mx)
    if s.unit in (None, "bool", "evidence") or "threshold" not in s.params:
        return Name(f"Có: {full.vi}; không: 0 điểm.", f"Yes: {full.en}; no: 0 points.")
    thr = _at_least(s, float(s.params["threshold"]))
    return Name(f"Đạt {thr.vi}: {full.vi}; thấp hơn: 0 điểm.", f"{thr.en}: {full.en}; below: 0 points.")


def _rule_half_credit(s: IndicatorSpec, mx: float) -> Name:
    full = _at_least(s, float(s.params.get("full", 1.0)))
    half = _at_least(s, float(s.params.get("half", 0.5)))
    whole, part = points_words(mx), points_words(mx / 2)
    return Name(f"Đạt {full.vi}: {whole.vi}; đạt {half.vi}: {part.vi}; thấp hơn: 0 điểm.",
                f"{full.en}: {whole.en}; {half.en}: {part.en}; below: 0 points.")


def _rule_manual(s: IndicatorSpec, mx: float) -> Name:
    full = points_words(mx)
    return Name(f"Hội đồng thẩm định chấm điểm theo minh chứng, tối đa {full.vi}.",
                f"The appraisal board awards points from the evidence, up to {full.en}.")


def _rule_relative(s: IndicatorSpec, mx: float) -> Name:
    full = points_words(mx)
    how = {
        "minmax": ("đơn vị có kết quả tốt nhất được đủ {f}, đơn vị thấp nhất 0 điểm, các đơn vị "
                   "khác theo tỷ lệ",
                   "the best unit earns the full {f}, the lowest none, the others in proportion"),
        "zscore": ("bằng mức trung bình được một nửa số điểm, càng tốt hơn mức trung bình càng "
                   "nhiều điểm, tối đa {f}",
                   "the average earns half the points, the further above it the more, up to {f}"),
        "rank": ("đơn vị xếp thứ nhất được đủ {f}, đơn vị xếp cuối 0 điểm",
                 "the first unit earns the full {f}, the last none"),
        "percentile_rank": ("điểm theo tỷ lệ đơn vị có kết quả kém hơn, tối đa {f}",
                            "points by the share of units doing worse, up to {f}"),
    }[s.rule]
    lower = Name(" (giá trị càng thấp càng tốt)", " (the lower the better)") if s.direction == "lower" \
        else Name("", "")
    return Name(f"So sánh giữa các đơn vị{lower.vi}: " + how[0].format(f=full.vi) + ".",
                f"Compared between units{lower.en}: " + how[1].format(f=full.en) + ".")


RULE_WORDS = {
    "linear": _rule_linear, "goalpost": _rule_goalpost, "distance_to_target": _rule_distance,
    "categorical": _rule_categorical, "boolean": _rule_boolean, "half_credit": _rule_half_credit,
    "manual": _rule_manual, "minmax": _rule_relative, "zscore": _rule_relative, "rank": _rule_relative,
    "percentile_rank": _rule_relative,
}
"""Rule name -> how its points are given, in a sentence per language (every rule of RULES)."""


def rule_words(spec: IndicatorSpec, max_points: float | None = None) -> Name:
    """How the indicator's points are given, for the points the agency could earn
    (``max_points``, which re-distribution may have moved from the file's)."""
    mx = spec.max_points if max_points is None else float(max_points)
    said = RULE_WORDS[spec.rule](spec, mx)
    if "cap" in spec.params:
        cap = points_words(float(spec.params["cap"]))
        said = Name(f"{said.vi} Không vượt quá {cap.vi}.", f"{said.en} At most {cap.en}.")
    return said


def measured_words(spec: IndicatorSpec) -> Name:
    """What the indicator measures, in what unit, from which source, with what evidence."""
    unit = UNIT_WORDS.get(spec.unit or "", Name("", ""))
    source = SOURCE_WORDS.get(spec.source, SOURCE_WORDS["item"])
    vi = f"{spec.measured.vi}" + (f" ({unit.vi})" if unit.vi else "") + f"; nguồn: {source.vi}"
    en = f"{spec.measured.en}" + (f" ({unit.en})" if unit.en else "") + f"; source: {source.en}"
    if spec.evidence:
        evidence = _evidence(spec.evidence)
        vi, en = vi + f"; minh chứng: {evidence.vi}", en + f"; evidence: {evidence.en}"
    return Name(vi + ".", en + ".")


def _evidence(text: str) -> Name:
    """A framework's evidence text, ``Số, ngày văn bản (document number and date)``, as its
    Vietnamese and its English (the text itself for both when it has no English in brackets)."""
    m = re.fullmatch(r"(?P<vi>.+?)\s*\((?P<en>[ -~]+)\)", text.strip())
    return Name(m["vi"], m["en"]) if m else Name(text, text)


_NUM = r"[-+0-9.e]+"
_SHOWN = rf"(?P<v>{_NUM})(?: \([^)]*\))?"  # engine.fmt_value: "0.8 (80 %)"
_NOTHING_TO_JUDGE = Name("Kỳ này không có trường hợp nào để đánh giá (mẫu số bằng 0)",
                         "Nothing to judge this period (zero denominator)")
_MISSING_WHY = {
    "no data": Name("Không có số liệu", "No data"),
    "no value reported": Name("Đơn vị không báo cáo giá trị", "No value was reported"),
}


def _shown(m: re.Match, spec: IndicatorSpec) -> Name:
    return value_words(float(m["v"]), spec.unit, spec.levels)


def _zero_den(outcome: Name) -> Callable[[re.Match, IndicatorSpec], Name]:
    said = Name(f"{_NOTHING_TO_JUDGE.vi}: {outcome.vi}.", f"{_NOTHING_TO_JUDGE.en}: {outcome.en}.")
    return lambda m, s: said


def _missing(m: re.Match, spec: IndicatorSpec) -> Name:
    why = _MISSING_WHY.get(m["why"]) or Name(f"Giá trị báo cáo {m['raw']} không phải là số",
                                             f"The reported value {m['raw']} is not a number")
    rest = m["rest"]
    if (r := re.fullmatch(rf"last quarter's value {_SHOWN} carried forward \(missing policy\)", rest)):
        v = _shown(r, spec)
        outcome = Name(f"dùng giá trị quý trước ({v.vi})", f"last quarter's value ({v.en}) is used")
    elif (r := re.fullmatch(rf"peer-group mean {_SHOWN} used \(missing policy\)", rest)):
        v = _shown(r, spec)
        outcome = Name(f"dùng giá trị trung bình của nhóm ({v.vi})",
                       f"the peer group's mean ({v.en}) is used")
    elif rest.startswith("excluded"):
        outcome = Name("chỉ số không được tính, điểm của nó được chia cho các chỉ số còn lại",
                       "the indicator is left out and its points go to the other indicators")
    else:
        outcome = Name("không có điểm", "no points")
    return Name(f"{why.vi}: {outcome.vi}.", f"{why.en}: {outcome.en}.")


def _gifts(m: re.Match, spec: IndicatorSpec) -> Name:
    given = re.findall(r"\+(\S+) from (\S+)", m["gifts"])
    vi = ", ".join(f"{number_vi(float(p))} điểm của {src}" for p, src in given)
    en = ", ".join(f"{number_en(float(p))} points of {src}" for p, src in given)
    total = points_words(float(m["b"]))
    return Name(f"Điểm tối đa là {total.vi}, gồm cả {vi} (chỉ số không đánh giá).",
                f"Up to {total.en}, including {en} (not assessed).")


def _reweighted(m: re.Match, spec: IndicatorSpec) -> Name:
    b, e = points_words(float(m["b"])), points_words(float(m["e"]))
    return Name(f"Điểm tối đa được điều chỉnh từ {b.vi} thành {e.vi} vì có chỉ số không áp dụng với đơn vị.",
                f"Its points were adjusted from {b.en} to {e.en} because some indicators do not "
                "apply to the unit.")


def _reaching(m: re.Match, spec: IndicatorSpec) -> Name:
    gain, v = points_words(float(m["p"])), _shown(m, spec)
    best = Name(" (kết quả tốt nhất hiện nay)", " (the best result now)") if spec.rule in (
        "minmax", "zscore", "rank", "percentile_rank") else Name("", "")
    if spec.unit in ("bool", "evidence"):
        return Name(f"Đáp ứng yêu cầu của chỉ số sẽ được thêm {gain.vi}.",
                    f"Meeting the requirement would add {gain.en}.")
    if spec.unit == "level":
        return Name(f"Đạt mức “{v.vi}” sẽ được thêm {gain.vi}.", f"Reaching “{v.en}” would add {gain.en}.")
    verb = Name("Giảm xuống", "Coming down to") if spec.direction == "lower" else Name("Đạt", "Reaching")
    return Name(f"{verb.vi} {v.vi}{best.vi} sẽ được thêm {gain.vi}.",
                f"{verb.en} {v.en}{best.en} would add {gain.en}.")


NOTE_PATTERNS: tuple[tuple[re.Pattern, str, Callable[[re.Match, IndicatorSpec], Name]], ...] = (
    (re.compile(r"zero denominator \(.*\): nothing to judge, full points \(policy full\)"), "why",
     _zero_den(Name("được đủ điểm", "full points"))),
    (re.compile(r"zero denominator \(.*\): scored 0 \(policy zero\)"), "why",
     _zero_den(Name("không có điểm", "no points"))),
    (re.compile(r"zero denominator \(.*\): not applicable, its points re-distributed to the other "
                r"indicators"),
     "why", _zero_den(Name("chỉ số không áp dụng, điểm của nó được chia cho các chỉ số còn lại",
                           "not applicable, its points go to the other indicators"))),
    (re.compile(r"(?P<why>no data|no value reported|value (?P<raw>.+) is not a number): "
                r"(?P<rest>.+\(missing policy\))"),
     "why", _missing),
    (re.compile(rf"capped at (?P<p>{_NUM}) points"), "why",
     lambda m, s: Name(f"Điểm được giới hạn ở {points_words(float(m['p'])).vi}.",
                       f"Points are capped at {points_words(float(m['p'])).en}.")),
    (re.compile(rf"max (?P<m>{_NUM}) (?P<gifts>\+.+) \(not assessed\) = (?P<b>{_NUM})"), "why", _gifts),
    (re.compile(rf"max (?P<b>{_NUM}) re-weighted to (?P<e>{_NUM}) \(points of not-applicable items "
                r"re-distributed\)"), "why", _reweighted),
    (re.compile(r"full points"), "full", lambda m, s: Name("Đã đạt điểm tối đa.", "Full points.")),
    (re.compile(rf"reporting it could earn up to \+(?P<p>{_NUM}) points"), "gain",
     lambda m, s: Name("Báo cáo số liệu của chỉ số này có thể được thêm tối đa "
                       f"{points_words(float(m['p'])).vi}.",
                       f"Reporting it could add up to {points_words(float(m['p'])).en}.")),
    (re.compile(rf"reaching {_SHOWN} would add \+(?P<p>{_NUM}) points"), "gain", _reaching),
)
"""Every note the engine writes for an indicator (``dx_pipeline/index/engine.py``), read back:
(pattern of the whole fragment, what it says — why / gain / full —, its words)."""


@dataclass(frozen=True)
class NoteWords:
    """An engine note in plain words: why the points are what they are, what would gain more,
    whether they are full; ``unread`` keeps any fragment no pattern knows, as written."""

    why: tuple[Name, ...] = ()
    gain: Name | None = None
    full: bool = False
    unread: tuple[str, ...] = ()
    verdict_reason: str | None = None
    """The evaluator's reason, as written, when a verdict heads the note."""


_VERDICT = re.compile(
    r"appraisal(?: #(?P<id>\d+))? (?:set the value to (?P<value>\S+) \(reported: (?P<reported>[^)]*)\)"
    r"|(?P<reject>rejected the evidence: scored 0)|set the points to (?P<points>\S+)"
    r"|(?P<accept>accepted the reported value)) \((?P<reason>.*)\)", re.S)
"""The verdict the engine notes first (``dx_pipeline/index/appraised.py``); its reason is the
evaluator's own text and may hold anything, ``; `` included."""


def _verdict_words(m: re.Match, spec: IndicatorSpec) -> Name:
    ref = Name(f"Thẩm định (hồ sơ số {m['id']})", f"Appraisal (record {m['id']})") if m["id"] else Name(
        "Thẩm định", "Appraisal")
    if m["value"] is not None:
        v = value_words(float(m["value"]), spec.unit, spec.levels)
        r = value_words(None if m["reported"] == "no value" else float(m["reported"]), spec.unit, spec.levels)
        what = Name(f"điều chỉnh giá trị thành {v.vi} (đơn vị báo cáo: {r.vi})",
                    f"the value set to {v.en} (reported: {r.en})")
    elif m["reject"]:
        what = Name("không chấp nhận minh chứng, không có điểm", "evidence rejected, no points")
    elif m["points"] is not None:
        p = points_words(float(m["points"]))
        what = Name(f"điều chỉnh điểm thành {p.vi}", f"the points set to {p.en}")
    else:
        what = Name("chấp nhận giá trị đơn vị báo cáo", "the reported value accepted")
    return Name(f"{ref.vi}: {what.vi}. Lý do: {m['reason']}", f"{ref.en}: {what.en}. Reason: {m['reason']}")


def _split_verdict(note: str, spec: IndicatorSpec) -> tuple[re.Match | None, str]:
    """The verdict at the head of a note and the rest of the note: the shortest head after
    which every fragment left is one the engine writes."""
    if not note.startswith("appraisal"):
        return None, note
    ends = [m.start() for m in re.finditer(r"\); ", note)] + [len(note) - 1]
    for end in ends:
        head, rest = note[: end + 1], note[end + 3:]
        m = _VERDICT.fullmatch(head)
        if m and not _read_fragments(rest, spec)[3]:
            return m, rest
    m = _VERDICT.fullmatch(note)
    return (m, "") if m else (None, note)


def _read_fragments(note: str, spec: IndicatorSpec) -> tuple[list[Name], Name | None, bool, list[str]]:
    """(why, gain, full, unread) of the engine's own fragments."""
    why: list[Name] = []
    gain, full, unread = None, False, []
    for fragment in (f.strip() for f in note.split("; ")):
        if not fragment:
            continue
        for pattern, kind, words in NOTE_PATTERNS:
            m = pattern.fullmatch(fragment)
            if m is None:
                continue
            if kind == "why":
                why.append(words(m, spec))
            elif kind == "gain":
                gain = words(m, spec)
            else:
                full = True
            break
        else:
            unread.append(fragment)
    return why, gain, full, unread


def note_words(note: str | None, spec: IndicatorSpec) -> NoteWords:
    """Read an indicator's engine note (fragments joined by ``; ``, an evaluator's verdict
    first) into plain words."""
    if spec.not_assessed is not None:
        return NoteWords(why=(spec.not_assessed,))
    verdict, rest = _split_verdict(note or "", spec)
    why, gain, full, unread = _read_fragments(rest, spec)
    head = [_verdict_words(verdict, spec)] if verdict else []
    return NoteWords(tuple(head + why), gain, full, tuple(unread), verdict["reason"] if verdict else None)


@dataclass(frozen=True)
class IndicatorAccount:
    """One agency's indicator told in plain words: what was measured, the value, the points,
    how they are given and why, and what it would take to gain more."""

    spec: IndicatorSpec
    measured: Name
    value: Name
    points: float
    max_points: float
    rule: Name | None
    why: tuple[Name, ...]
    to_gain: Name | None
    full: bool
    unread: tuple[str, ...] = ()
    verdict: Verdict | None = None
    """The evaluator's verdict behind the value and points shown, if any."""

    @property
    def assessed(self) -> bool:
        return self.spec.not_assessed is None

    @property
    def reported(self) -> Name | None:
        """What the agency reported and the points that alone would earn, beside a verdict."""
        if self.verdict is None:
            return None
        v, p = self.verdict.reported_value, points_words(self.verdict.reported_points)
        return Name(f"{v.vi} ({p.vi})", f"{v.en} ({p.en})")


@dataclass(frozen=True)
class Verdict:
    """An evaluator's verdict on one agency's indicator, as its ``index_scores`` row carries it:
    what was decided, the appraisal record, the reason, and what the agency's own figure earned."""

    kind: str  # accept | adjust_value | adjust_points | reject
    name: Name
    record: int | None
    reason: str
    reported_value: Name
    reported_points: float

    @property
    def changed(self) -> bool:
        """Whether it changed the value or the points (an accepted figure changes nothing)."""
        return self.kind != "accept"


def account(spec: IndicatorSpec, row: Mapping[str, Any]) -> IndicatorAccount:
    """The plain account of one ``index_scores`` indicator row scored under ``spec``."""
    points, max_points = float(row["points"]), float(row["max_points"])
    said = note_words(row.get("note"), spec)
    assessed = spec.not_assessed is None
    value = value_words(row.get("input_value"), spec.unit, spec.levels) if assessed else Name(
        "không đánh giá", "not assessed")
    full = assessed and (said.full or (max_points > 0 and points >= max_points - 1e-9))
    to_gain = said.gain
    if full:
        to_gain = Name("Đã đạt điểm tối đa.", "Full points already.")
    return IndicatorAccount(
        spec=spec, measured=measured_words(spec), value=value, points=points, max_points=max_points,
        rule=rule_words(spec, max_points) if assessed and spec.rule in RULE_WORDS else None,
        why=said.why, to_gain=to_gain, full=full, unread=said.unread,
        verdict=_verdict(spec, row, said.verdict_reason),
    )


def _verdict(spec: IndicatorSpec, row: Mapping[str, Any], reason: str | None) -> Verdict | None:
    """The verdict a row carries (``appraisal``, ``adjustment_id``, ``reported_*``), if any."""
    kind = row.get("appraisal")
    if kind is None or pd.isna(kind) or str(kind) not in VERDICT_NAMES:
        return None
    record = row.get("adjustment_id")
    reported = row.get("reported_points")
    return Verdict(
        kind=str(kind), name=VERDICT_NAMES[str(kind)],
        record=None if record is None or pd.isna(record) else int(record), reason=reason or "",
        reported_value=value_words(row.get("reported_value"), spec.unit, spec.levels),
        reported_points=float(row["points"] if reported is None or pd.isna(reported) else reported),
    )
