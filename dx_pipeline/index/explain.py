"""Explanations: "why does this agency have the points it has?" as plain text.

Reads only the published tables (index_scores and ranking rows), so the answer is the same
one the warehouse holds; node names, the framework's provenance (taken from which decision, or
illustrative) and its indicators not assessed come from the framework file.
"""

from __future__ import annotations

import pandas as pd

from dx_pipeline.index.builtins import load_builtin
from dx_pipeline.reference.frameworks import Framework, not_assessed_text


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
