"""The quarter's data-quality report: one self-contained HTML page (no scripts, no network).

Built from the latest run of each dataset kept by :func:`dx_pipeline.quality.results.write_dq_results`
(``dq_reports/quarter=YYYY-Qn/<dataset>.json``): per check its severity, verdict, observed
value, expectation and tolerance, failing rows against the rows checked, a sample of failing
rows and the Great Expectations result. A failed check within its tolerance shows as a warning.
Above the engineers' detail, a summary in plain Vietnamese (with English) for the officials who
decide whether the quarter can be ranked: the verdict, and per dataset what passed, what is a
warning and what blocks, without check codes. Earlier runs stay in ``runs/`` as JSON.
Written to ``dq_reports/quarter=YYYY-Qn/index.html``.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.storage import DxHome, atomic_write_text

DATASET_ORDER = ("agencies", "portal_dossiers", "agency_submissions", "agency_kpis", "index_scores")
DATASET_NAMES = {
    "agencies": ("Danh mục cơ quan, đơn vị", "agency registry"),
    "portal_dossiers": ("Hồ sơ trên Cổng dịch vụ công", "public-service portal dossiers"),
    "agency_submissions": ("Số liệu cơ quan tự báo cáo", "agencies' self-reported figures"),
    "agency_kpis": ("Chỉ tiêu (KPI) của cơ quan", "agency KPIs"),
    "index_scores": ("Điểm chỉ số chuyển đổi số", "index scores"),
}
"""(Vietnamese, English) names of the checked datasets, for the officials' summary."""

_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;width:100%;margin-bottom:1.5rem;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f2f2}.fail-ERROR{background:#fde2e1}.fail-WARN{background:#fff4d6}
.summary{border:2px solid #888;padding:.5rem 1rem;margin-bottom:2rem}.en{color:#555}
.ok{color:#1a7f37}.bad{color:#b42318;font-weight:bold}.warn{color:#9a6700;font-weight:bold}
details{margin:.2rem 0}code{font-size:.8rem;white-space:pre-wrap}
"""


def _e(value) -> str:
    return html.escape("" if value is None else str(value))


def _sample_table(rows: list[dict]) -> str:
    if not rows:
        return ""
    cols = list(rows[0].keys())
    head = "".join(f"<th>{_e(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{_e(r.get(c))}</td>" for c in cols) + "</tr>" for r in rows)
    return (
        f"<details><summary>{len(rows)} failing rows (sample)</summary>"
        f"<table><tr>{head}</tr>{body}</table></details>"
    )


def _gx_block(gx: list[dict] | None) -> str:
    if not gx:
        return ""
    text = json.dumps(gx, ensure_ascii=False, indent=1)
    return f"<details><summary>Great Expectations result</summary><code>{_e(text)}</code></details>"


def _failing_cell(o: dict) -> str:
    """Failing rows against the rows checked and what the tolerance allows as a WARN."""
    if o.get("checked") is None:  # runs recorded before tolerances existed
        return _e(o["failing_rows"])
    return (
        f"{_e(o['failing_rows'])} of {_e(o['checked'])}<br><small>(WARN up to {_e(o.get('allowed'))})</small>"
    )


def _failed(outcomes: list[dict], severity: str) -> list[dict]:
    return [o for o in outcomes if not o["passed"] and o["severity"] == severity]


def _dataset_line(run: dict) -> str:
    """One dataset for officials: how many checks passed, warned and blocked, and what failed
    in words (the check's description and its failing rows), never a check code."""
    vi, en = DATASET_NAMES.get(run["dataset"], (run["dataset"], run["dataset"]))
    outcomes = run["outcomes"]
    errors, warns = _failed(outcomes, "ERROR"), _failed(outcomes, "WARN")
    passed = len(outcomes) - len(errors) - len(warns)
    counts = (f"{passed}/{len(outcomes)} đạt, {len(warns)} cảnh báo, {len(errors)} lỗi phải sửa "
              f"<span class='en' lang='en'>({passed} passed, {len(warns)} warnings, "
              f"{len(errors)} blocking)</span>")
    problems = "".join(
        f"<li class='{'bad' if o in errors else 'warn'}'>"
        f"{'Lỗi phải sửa' if o in errors else 'Cảnh báo'}: {_e(o.get('description') or o['check'])}"
        f" — {_e(o['failing_rows'])} dòng"
        + (f" / {_e(o['checked'])}" if o.get("checked") is not None else "")
        + "</li>"
        for o in errors + warns
    )
    return (f"<li><b>{_e(vi)}</b> <span class='en' lang='en'>({_e(en)})</span>: {counts}"
            + (f"<ul>{problems}</ul>" if problems else "") + "</li>")


def officials_summary(quarter: Quarter, runs: list[dict]) -> str:
    """The verdict and each dataset's state in plain Vietnamese, for the people who decide."""
    outcomes = [o for run in runs for o in run["outcomes"]]
    errors = _failed(outcomes, "ERROR")
    if not runs:
        verdict = (f"Chưa có kết quả kiểm tra nào cho quý {quarter.label}. "
                   "<span class='en' lang='en'>(No check has run for this quarter yet.)</span>")
    elif errors:
        verdict = (f"<span class='bad'>Chưa thể chấm điểm và xếp hạng quý {quarter.label}</span>: "
                   f"{len(errors)} kiểm tra bắt buộc không đạt; "
                   "đơn vị cung cấp số liệu cần sửa rồi chạy lại. "
                   f"<span class='en' lang='en'>(The quarter cannot be ranked: {len(errors)} blocking "
                   "checks failed; the data must be corrected and the quarter run again.)</span>")
    else:
        verdict = (f"<span class='ok'>Số liệu quý {quarter.label} đủ điều kiện chấm điểm và xếp hạng.</span> "
                   "Các cảnh báo (nếu có) nằm trong mức cho phép và được ghi lại. "
                   "<span class='en' lang='en'>(The data can be scored and ranked; warnings are within "
                   "their tolerance and recorded.)</span>")
    lines = "".join(_dataset_line(run) for run in runs)
    return (f"<section class='summary' lang='vi'><h2>Tóm tắt cho lãnh đạo "
            f"<small class='en' lang='en'>(summary for officials)</small></h2><p>{verdict}</p>"
            f"<ul>{lines}</ul></section>")


def render_report(quarter: Quarter, runs: list[dict]) -> str:
    """HTML for the quarter from the per-dataset run payloads."""
    outcomes = [o for run in runs for o in run["outcomes"]]
    errors = sum(1 for o in outcomes if not o["passed"] and o["severity"] == "ERROR")
    warns = sum(1 for o in outcomes if not o["passed"] and o["severity"] == "WARN")
    verdict = (
        f'<p class="bad">{errors} ERROR checks failed: '
        "the quarter must not be ranked until they are fixed.</p>"
        if errors
        else '<p class="ok">No ERROR check failed.</p>'
    )
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Data quality {quarter.label} — Kiểm tra chất lượng dữ liệu</title>"
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Data quality, {quarter.label} <small>(Kiểm tra chất lượng dữ liệu)</small></h1>",
        officials_summary(quarter, runs),
        "<h2>Detail for engineers <small>(chi tiết kỹ thuật)</small></h2>",
        verdict,
        f"<p>{len(outcomes)} checks, {errors} failed ERROR, {warns} failed WARN.</p>",
    ]
    for run in runs:
        parts.append(
            f"<h2>{_e(run['dataset'])}</h2><p>run {_e(run['run_id'])}, checked at {_e(run['checked_at'])}</p>"
        )
        parts.append(
            "<table><tr><th>check</th><th>severity</th><th>result</th><th>observed</th>"
            "<th>expected</th><th>failing rows</th><th>evaluated by</th></tr>"
        )
        for o in run["outcomes"]:
            cls = "" if o["passed"] else f"fail-{o['severity']}"
            res = (
                '<span class="ok">passed</span>'
                if o["passed"]
                else (
                    '<span class="bad">FAILED</span>'
                    if o["severity"] == "ERROR"
                    else '<span class="warn">warning</span>'
                )
            )
            parts.append(
                f"<tr class='{cls}'><td><b>{_e(o['check'])}</b><br>{_e(o.get('description'))}</td>"
                f"<td>{_e(o['severity'])}</td><td>{res}</td>"
                f"<td>{_e(o['observed'])}{_sample_table(o.get('sample') or [])}{_gx_block(o.get('gx'))}</td>"
                f"<td>{_e(o['expected'])}</td><td>{_failing_cell(o)}</td><td>{_e(o.get('engine'))}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(home: DxHome, quarter: Quarter | str) -> Path:
    """(Re)write ``dq_reports/quarter=YYYY-Qn/index.html`` from the latest run of each dataset."""

    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    folder = home.dq_reports_for(q)
    runs = []
    for path in sorted(folder.glob("*.json")):
        runs.append(json.loads(path.read_text(encoding="utf-8")))
    order = {d: i for i, d in enumerate(DATASET_ORDER)}
    runs.sort(key=lambda r: (order.get(r["dataset"], 99), r["dataset"]))
    target = folder / "index.html"
    atomic_write_text(target, render_report(q, runs))
    return target
