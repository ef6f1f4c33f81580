"""Agency submissions of the self-reported indicators: inbox files and the reporting database.

One file per agency and quarter in ``inbox/YYYY-Qn/`` (mostly .xlsx, some CSV in UTF-8,
Windows-1258 or cp1252, "," or ";" delimited), written the way clerks write (``85,5``,
``85,5 %``, a percent-formatted cell, ``Có``/``Không``), in the layout of
config/submission_format.yaml. Most arrive within ten days of the quarter's end, some late,
about 5 % never, a few twice (a corrected second version). The communes of a few districts
report through the provincial reporting database instead (``sample/reporting.db``).

File modification times and NgayBaoCao are the submission time in Vietnam time (UTC+7).
Rates follow the readers' rule: a bare number above 1 is a percentage, from 0 to 1 a fraction;
a percentage under 1 % always carries its ``%`` sign.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd
import yaml

from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sample.profiles import LATENT, logistic, quarter_index
from dx_pipeline.sample.province import load_province, rng_for
from dx_pipeline.sample.registry import valid_on
from dx_pipeline.sample.reporting_db import write_reporting_db
from dx_pipeline.sample.vietnamese import (
    encode_cp1252,
    encode_windows_1258,
    vi_number,
)

VN_TZ = dt.timezone(dt.timedelta(hours=7))
FIXED_CREATED = dt.datetime(2025, 1, 1)
UNITS = {
    "rate": "%",
    "budget": "%",
    "yes_no": "có/không",
    "level": "mức",
    "evidence": "có/không",
    "count": "số",
    "amount": "triệu đồng",
}
AMOUNT_SCALE = {"commune": 0.1, "district": 0.5}
"""Money a commune or a district spends, against a department's."""
LEVELS = ("Người đứng đầu", "Cấp phó", "Không")
LEVEL_CREDIT = {"Người đứng đầu": 1.0, "Cấp phó": 0.5, "Không": 0.0, "Đầy đủ": 1.0, "Một phần": 0.5}
HEADER_EN = {"STT": "No.", "MaChiSo": "Indicator code", "TenChiSo": "Indicator", "DonViTinh": "Unit",
             "TuSo": "Numerator", "MauSo": "Denominator", "GiaTri": "Value", "MinhChung": "Evidence"}
UNKNOWN_INDICATORS = ["ty_le_chu_ky_so", "digital_signature_rate", "egov_index"]
NOT_NUMBERS = ["N/A", "tám mươi", "đang cập nhật"]


@lru_cache(maxsize=1)
def submission_format() -> dict:
    """The packaged submission format (``submission_format.yaml``) as a dict."""
    text = (
        resources.files("dx_pipeline.config").joinpath("submission_format.yaml").read_text(encoding="utf-8")
    )
    return yaml.safe_load(text)


def _abbr(code: str) -> str:
    """Document-number suffix of an agency: SO-TTTT -> STTTT, H-XL -> UBND, X-.. -> UBND."""
    if code.startswith("SO-"):
        return "S" + code[3:]
    return "UBND" if code.startswith(("H-", "X-")) else code.replace("-", "")


def applies(ind: dict, agency: dict) -> bool:
    """Whether an indicator of the submission format is reported by ``agency``."""
    if "at" in ind and agency["level"] not in ind["at"]:
        return False
    if "only" in ind:
        return agency["agency_code"] in ind["only"]
    if "only_sectors" in ind:
        return agency["sector"] in ind["only_sectors"] or (
            bool(ind.get("districts")) and agency["level"] == "district"
        )
    return True


def reporting_db_agencies(registry: pd.DataFrame) -> set[str]:
    """Communes of the configured districts, and the new communes that succeed them."""
    districts = set(load_province()["submissions"]["reporting_db_districts"])
    old = registry[registry["district"].isin(districts)]
    return set(old["agency_code"]) | set(old["successor_code"].dropna())


@lru_cache(maxsize=4)
def _agency_styles(seed: int, codes: tuple[str, ...]) -> dict[str, dict]:
    """How each agency's clerk writes (kept from quarter to quarter, as habits are)."""
    rng = rng_for(seed, "submission_styles")
    share = load_province()["submissions"]["csv_share"]
    out = {}
    for code in codes:
        fmt = "csv" if rng.random() < share else "xlsx"
        enc = str(rng.choice(["utf-8-sig", "utf-8", "windows-1258", "cp1252"], p=[0.5, 0.15, 0.2, 0.15]))
        delim = str(rng.choice([",", ";"]))
        styles = (
            ["comma", "comma_pct", "fraction", "number"]
            if fmt == "xlsx"
            else ["comma", "comma_pct", "fraction"]
        )
        out[code] = dict(
            format=fmt,
            encoding=enc if fmt == "csv" else "utf-8",
            delimiter=delim if fmt == "csv" else None,
            value_style=str(rng.choice(styles)),
            counts_only=bool(rng.random() < 0.12),
            english_headers=bool(rng.random() < 0.7),
            counts_scale=float(rng.lognormal(0, 0.3)),
            plan_no=int(rng.integers(5, 400)),
        )
    return out


def _indicator_values(agency: dict, profiles: pd.DataFrame, q: Quarter, seed: int,
                      style: dict) -> list[dict]:
    """The agency's true values this quarter: a latent level per indicator that rises over time."""
    cfg = load_province()
    code = agency["agency_code"]
    fixed = rng_for(seed, "indicator_latent", code)
    noise = rng_for(seed, "indicator_noise", code, q.label)
    level_mu = LATENT["maturity"][0]["department" if agency["level"] == "province" else agency["level"]]
    base, trend = profiles.at[code, "maturity_base"], profiles.at[code, "maturity_trend"]
    assert isinstance(base, float) and isinstance(trend, float)  # cells of float64 columns
    dev = base - level_mu
    t = quarter_index(q)
    rows = []
    for ind in cfg["indicators"]:
        u_fixed, u_choice, base_count = fixed.normal(0, 0.5), fixed.random(), fixed.random()
        if not applies(ind, agency):
            continue
        mean = ind.get(f"mean_{agency['level']}", ind["mean"])  # e.g. mean_commune: communes lag
        row = dict(code=ind["code"], name=ind["vi"], unit=UNITS[ind["kind"]], kind=ind["kind"],
                   numerator=None, denominator=None, value=None, evidence=None)
        if ind["kind"] == "budget":
            row["value"] = round(100 * mean * np.exp(0.5 * dev + u_fixed * 0.6) * (1 + 0.06 * t)
                                 * np.exp(noise.normal(0, 0.05)), 2)
        else:
            p = logistic(np.log(mean / (1 - mean)) + 0.8 * dev + u_fixed + trend * t + noise.normal(0, 0.08))
            if ind["kind"] == "rate":
                if "counts" in ind:
                    lo, hi = ind["counts"]
                    scale = {"commune": 0.15, "district": 0.5}.get(agency["level"], 1.0)
                    den = (
                        lo
                        if lo == hi
                        else int(
                            max(
                                1,
                                round(
                                    (lo + (hi - lo) * base_count * scale)
                                    * style["counts_scale"]
                                    * np.exp(noise.normal(0, 0.04))
                                ),
                            )
                        )
                    )
                    num = int(round(den * p))
                    row.update(numerator=num, denominator=den, value=round(100 * num / den, 1))
                else:
                    row["value"] = round(100 * p, 1)
            elif ind["kind"] in ("yes_no", "evidence"):
                row["value"] = "Có" if u_choice < p else "Không"
                if ind["kind"] == "evidence" and row["value"] == "Có":
                    row["evidence"] = _evidence_text(ind, code, q, style, u_choice)
            elif ind["kind"] == "level":
                names = ind.get("choices", LEVELS)
                row["value"] = (
                    names[0] if u_choice < p else names[1] if u_choice < p + (1 - p) * 0.7 else names[2]
                )
            elif ind["kind"] in ("count", "amount"):
                lo, hi = ind["counts"]
                good = p if ind.get("direction", "higher") == "higher" else 1 - p
                size = AMOUNT_SCALE.get(agency["level"], 1.0) if ind["kind"] == "amount" else 1.0
                row["value"] = int(round((lo + (hi - lo) * good * (0.5 + base_count)) * size))
        if row["evidence"] is None and ind["kind"] != "evidence" and noise.random() < 0.25:
            row["evidence"] = (
                f"Báo cáo số {int(noise.integers(10, 500))}/BC-{_abbr(code)} "
                f"ngày {q.last_day + dt.timedelta(days=3):%d/%m/%Y}"
            )
        rows.append(row)
    return rows


def _evidence_text(ind: dict, code: str, q: Quarter, style: dict, u: float) -> str:
    """The document an evidence item cites, e.g. "Quyết định số 45/QĐ-STP ngày 12/03/2025"."""
    doc, abbr = ind.get("doc", ["Kế hoạch", "KH"])
    number = (
        style["plan_no"] if abbr == "KH" else 1 + (style["plan_no"] * 31 + sum(map(ord, ind["code"]))) % 450
    )
    day = dt.date(q.year, 1, 1) + dt.timedelta(days=int(5 + u * 60))
    return f"{doc} số {number}/{abbr}-{_abbr(code)} ngày {day:%d/%m/%Y}"


def _correct(rows: list[dict], rng: np.random.Generator) -> list[dict]:
    """A resubmission: the clerk fixes one to three values."""
    rows = [dict(r) for r in rows]
    idx = rng.choice(len(rows), size=min(len(rows), int(rng.integers(1, 4))), replace=False)
    for i in idx:
        r = rows[i]
        if r["kind"] == "rate" and r["denominator"]:
            r["numerator"] = min(r["denominator"], r["numerator"] + max(1, int(r["denominator"] * 0.03)))
            r["value"] = round(100 * r["numerator"] / r["denominator"], 1)
        elif r["kind"] == "rate":
            r["value"] = min(100.0, round(r["value"] + 2.5, 1))
        elif r["kind"] in ("yes_no", "evidence"):
            r["value"] = "Có"
        elif r["kind"] == "budget":
            r["value"] = round(r["value"] * 1.1, 2)
    return rows


def _timing(q: Quarter, rng: np.random.Generator) -> list[dt.datetime]:
    """Submission times of this agency-quarter: [] missing, [t] once, [t1, t2] resubmitted."""
    cfg = load_province()["submissions"]
    u = rng.random()
    if u < cfg["missing_share"]:
        return []
    lo, hi = cfg["late_days"] if u < cfg["missing_share"] + cfg["late_share"] else cfg["on_time_days"]
    day = q.last_day + dt.timedelta(days=int(rng.integers(lo, hi + 1)))
    first = dt.datetime.combine(
        day, dt.time(int(rng.integers(7, 17)), int(rng.integers(0, 60)), int(rng.integers(0, 60)))
    )
    if rng.random() < cfg["resubmit_share"] / (1 - cfg["missing_share"]):
        return [first, first + dt.timedelta(days=int(rng.integers(2, 21)), hours=int(rng.integers(0, 5)))]
    return [first]


def _cell_text(row: dict, style: dict, decimal_comma: bool):
    """GiaTri as the clerk writes it (a str, or a float for numeric Excel cells)."""
    v = row["value"]
    if v is None or isinstance(v, str):
        return v
    if row["kind"] in ("count", "amount"):
        return v if style["format"] == "xlsx" else str(v)
    if style["counts_only"] and row["denominator"]:
        return None
    s = style["value_style"]
    sign = row["kind"] == "budget" or v <= 1  # a percentage under 1 carries its sign
    if s == "fraction":
        if row["kind"] == "budget":
            return (vi_number(v, 2) if decimal_comma else f"{v:g}") + " %"
        return (
            round(v / 100, 4)
            if style["format"] == "xlsx"
            else (vi_number(v / 100, 4) if decimal_comma else f"{v / 100:.4g}")
        )
    if s == "number" and style["format"] == "xlsx" and not sign:
        return float(v)
    text = vi_number(v, 2) if decimal_comma or s != "number" else f"{v:g}"
    return text + " %" if (s == "comma_pct" or sign) else text


def _count_text(n, decimal_comma: bool, as_number: bool = False):
    if n is None or as_number:
        return n
    return vi_number(n, 0) if decimal_comma and n >= 1000 else str(n)


def _xlsx_bytes(code: str, q: Quarter, when: dt.datetime, rows: list[dict], style: dict) -> bytes:
    import xlsxwriter

    fmt = submission_format()
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    wb.set_properties({"title": "Báo cáo chuyển đổi số", "author": code, "created": FIXED_CREATED})
    ws = wb.add_worksheet(fmt["sheet"])
    bold = wb.add_format({"bold": True})
    pct = wb.add_format({"num_format": "0.0%"})
    ws.write("A1", "BÁO CÁO KẾT QUẢ CHUYỂN ĐỔI SỐ / Digital transformation report", bold)
    ws.write("A3", "Mã đơn vị / Agency code:")
    ws.write("A4", "Kỳ báo cáo / Reporting period:")
    ws.write("A5", "Ngày báo cáo / Report date:")
    ws.write(fmt["meta_cells"]["agency_code"], code)
    ws.write(fmt["meta_cells"]["quarter"], q.label)
    ws.write(fmt["meta_cells"]["report_date"], when.strftime("%d/%m/%Y"))
    header_row = fmt["header_row"] - 1
    for j, key in enumerate(fmt["table_columns"]):
        ws.write(header_row, j, f"{key} / {HEADER_EN[key]}" if style["english_headers"] else key, bold)
    for i, r in enumerate(rows):
        vals = [
            i + 1,
            r["code"],
            r["name"],
            r["unit"],
            r["numerator"],
            r["denominator"],
            r["cell"],
            r["evidence"],
        ]
        for j, v in enumerate(vals):
            if v is None:
                continue
            if j == 6 and isinstance(v, float) and style["value_style"] == "fraction":
                ws.write_number(header_row + 1 + i, j, v, pct)
            else:
                ws.write(header_row + 1 + i, j, v)
    ws.set_column(0, 0, 30)
    ws.set_column(2, 2, 50)
    wb.close()
    return buf.getvalue()


def _csv_bytes(code: str, q: Quarter, when: dt.datetime, rows: list[dict], style: dict) -> bytes:
    fmt = submission_format()
    text = io.StringIO()
    w = csv.writer(text, delimiter=style["delimiter"], lineterminator="\r\n")
    w.writerow(list(fmt["csv_meta_columns"]) + list(fmt["table_columns"]))
    for i, r in enumerate(rows):
        w.writerow([code, q.label, when.strftime("%d/%m/%Y"), i + 1, r["code"], r["name"], r["unit"],
                    "" if r["numerator"] is None else r["numerator"],
                    "" if r["denominator"] is None else r["denominator"],
                    "" if r["cell"] is None else r["cell"], r["evidence"] or ""])
    s = text.getvalue()
    enc = style["encoding"]
    if enc == "windows-1258":
        return encode_windows_1258(s)
    if enc == "cp1252":
        return encode_cp1252(s)
    return s.encode(enc)


def _render(rows: list[dict], style: dict) -> list[dict]:
    decimal_comma = style["format"] == "csv" and style["delimiter"] == ";" or style["value_style"] != "number"
    out = []
    for r in rows:
        r = dict(r)
        r["cell"] = _cell_text(r, style, decimal_comma)
        xlsx = style["format"] == "xlsx"
        r["numerator"] = _count_text(r["numerator"], decimal_comma, as_number=xlsx)
        r["denominator"] = _count_text(r["denominator"], decimal_comma, as_number=xlsx)
        out.append(r)
    return out


def write_submissions(out, registry: pd.DataFrame, profiles: pd.DataFrame, quarters: list[Quarter],
                      seed: int) -> list[dict]:
    """Write every quarter's inbox files and the reporting database; return planted defects."""

    styles = _agency_styles(seed, tuple(registry["agency_code"]))
    via_db = reporting_db_agencies(registry)
    defects: list[dict] = []
    db_rows: list[dict] = []
    corrupt_q = quarters[len(quarters) // 2]
    empty_q = quarters[max(0, len(quarters) // 2 - 1)] if len(quarters) > 1 else quarters[0]
    for q in quarters:
        rng = rng_for(seed, "submissions", q.label)
        reporters = registry[
            valid_on(registry, q.last_day).to_numpy() & (registry["level"] != "province").to_numpy()
        ]
        files = []
        for agency in reporters.to_dict("records"):
            code = agency["agency_code"]
            times = _timing(q, rng_for(seed, "timing", code, q.label))
            if not times:
                continue
            rows = _indicator_values(agency, profiles, q, seed, styles[code])
            versions = [rows]
            if len(times) == 2:
                versions.append(_correct(rows, rng_for(seed, "correction", code, q.label)))
            for v, (when, vrows) in enumerate(zip(times, versions, strict=True), start=1):
                if code in via_db:
                    db_rows += [dict(r, agency_code=code, quarter=q.label, submitted_at=when) for r in vrows]
                else:
                    files.append((code, v, when, _render(vrows, styles[code])))
        defects += _plant_submission_defects(files, q, rng, styles)
        for code, v, when, rows in files:
            st = styles[code]
            ext = "xlsx" if st["format"] == "xlsx" else "csv"
            rel = f"inbox/{q.label}/BC-CDS_{code}_{q.label}{'' if v == 1 else f'_lan{v}'}.{ext}"
            data = (_xlsx_bytes if ext == "xlsx" else _csv_bytes)(code, q, when, rows, st)
            mtime = when.replace(tzinfo=VN_TZ).timestamp()
            meta = dict(
                quarter=q.label,
                agency_code=code,
                version=v,
                submitted_at=when.isoformat(),
                late=(when.date() - q.last_day).days > load_province()["submissions"]["deadline_days"],
                format=ext,
                encoding=st["encoding"],
                delimiter=st["delimiter"],
                value_style=st["value_style"],
            )
            if (
                q == corrupt_q
                and v == 1
                and ext == "xlsx"
                and not any(d["kind"] == "corrupt_file" for d in defects)
            ):
                data = data[: len(data) // 3]
                defects.append(dict(kind="corrupt_file", quarter=q.label, file=rel, agency_code=code,
                                    row=None, field=None, value=f"xlsx truncated to {len(data)} bytes"))
                meta["defect"] = "corrupt_file"
            out.write(rel, data, len(rows), "submission", mtime=mtime, **meta)
        if q == empty_q:
            rel = f"inbox/{q.label}/BC-CDS_khong-ten_{q.label}.csv"
            defects.append(dict(kind="empty_file", quarter=q.label, file=rel, agency_code=None,
                                row=None, field=None, value=""))
            when = dt.datetime.combine(q.last_day + dt.timedelta(days=5), dt.time(9, 0))
            out.write(rel, b"", 0, "submission", mtime=when.replace(tzinfo=VN_TZ).timestamp(),
                      quarter=q.label, defect="empty_file")
    write_reporting_db(out, db_rows)
    return defects


def _plant_submission_defects(files: list, q: Quarter, rng: np.random.Generator, styles: dict) -> list[dict]:
    """Over 100 %, a value that is not a number, an unknown indicator code: one of each per quarter."""
    if len(files) < 3:
        return []
    defects = []
    picks = rng.choice(len(files), size=3, replace=False)
    for kind, i in zip(["percent_over_100", "not_a_number", "unknown_indicator"], picks, strict=True):
        code, v, when, rows = files[i]
        st = styles[code]
        ext = st["format"]
        if kind == "unknown_indicator":
            bad = str(rng.choice(UNKNOWN_INDICATORS))
            rows.append(dict(code=bad, name="Tỷ lệ sử dụng chữ ký số", unit="%", kind="rate", numerator=None,
                             denominator=None, cell="75,0", evidence=None))
            j, field, value = len(rows) - 1, "MaChiSo", bad
        else:
            rates = [j for j, r in enumerate(rows) if r["kind"] == "rate" and r["cell"] is not None]
            if not rates:
                continue
            j = int(rng.choice(rates))
            if kind == "percent_over_100":
                value = vi_number(float(rng.uniform(101, 135)), 1) + " %"
            else:
                value = str(rng.choice(NOT_NUMBERS))
            rows[j]["cell"] = value
            rows[j]["numerator"] = rows[j]["denominator"] = None
            field = "GiaTri"
        row_no = (submission_format()["header_row"] + 1 + j) if ext == "xlsx" else (j + 2)
        suffix = "" if v == 1 else f"_lan{v}"
        rel = f"inbox/{q.label}/BC-CDS_{code}_{q.label}{suffix}.{'xlsx' if ext == 'xlsx' else 'csv'}"
        defects.append(dict(kind=kind, quarter=q.label, file=rel, agency_code=code, row=int(row_no),
                            indicator_code=rows[j]["code"], field=field, value=value))
    return defects
