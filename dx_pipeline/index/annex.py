"""A framework as the annex workbook of a decision: ``framework export`` and ``framework import``.

The workbook (layout in :mod:`dx_pipeline.index.annex_format`, documented in
docs/frameworks.md) has a summary for readers (TomTat, ignored on import), the framework's
facts (ThongTin: key, value), the documents it is taken from (VanBan), the indicator table
(ChiSo: code, parent, name vi/en, max points, scoring method, data source, evidence, origin,
not assessed) and the bands (XepLoai). Exporting a framework and importing the workbook gives
the same framework back.

Import reads every cell, reports every problem at once with its sheet, row and column, and
only then validates the framework exactly as a framework file is validated (schema, points
adding up, rules, KPIs of the catalogue); nothing is written from a workbook with problems.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
import xlsxwriter
import yaml
from openpyxl.utils import get_column_letter

from dx_pipeline.index import annex_format as af
from dx_pipeline.index.framework_document import framework_document
from dx_pipeline.index.loader import FrameworkError, build_framework, load_framework
from dx_pipeline.index.rules import get_rule
from dx_pipeline.reference.catalogue import Catalogue, load_catalogue
from dx_pipeline.reference.frameworks import Framework, Node, not_assessed_text
from dx_pipeline.sources.file_safety import check_workbook
from dx_pipeline.sources.submission_numbers import parse_date, parse_number
from dx_pipeline.storage import atomic_write_bytes, atomic_write_text

YAML_HEADER = (
    "# Written by `dx-pipeline framework import` from {name}.\n"
    "# Edit here, or edit the workbook and import it again.\n"
)


class AnnexError(ValueError):
    """An annex workbook cannot be imported; ``problems`` names sheet, row and column of each."""

    def __init__(self, file: str, problems: list[str]):
        self.file = file
        self.problems = problems
        super().__init__("\n".join(f"{file}: {p}" for p in problems))


# ============================================================================ export
def write_annex(fw: Framework, output: str | Path, catalogue: Catalogue | None = None) -> Path:
    """Write the review workbook of ``fw`` to ``output`` (.xlsx)."""
    doc = framework_document(fw)
    catalogue = catalogue if catalogue is not None else load_catalogue()
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    wb.set_properties({"title": fw.title.vi, "created": dt.datetime(2000, 1, 1)})
    styles = _styles(wb)
    _summary_sheet(wb, styles, fw)
    info = {
        k: v
        for k, v in af.flatten({k: v for k, v in doc.items() if k not in ("pillars", "bands")}).items()
        if not k.startswith("provenance.documents")
    }
    _table_sheet(
        wb,
        styles,
        af.INFO_SHEET,
        af.INFO_COLUMNS,
        [
            {"key": k, "value": af.info_text(k, v), "meaning": af.INFO_MEANINGS.get(k, "")}
            for k, v in info.items()
        ],
        widths=(32, 60, 50),
    )
    _table_sheet(
        wb,
        styles,
        af.DOCUMENTS_SHEET,
        af.DOCUMENT_COLUMNS,
        [_document_row(d) for d in doc["provenance"]["documents"]],
    )
    _table_sheet(
        wb,
        styles,
        af.INDICATORS_SHEET,
        af.INDICATOR_COLUMNS,
        _indicator_rows(fw, doc, catalogue),
        shade_origin=True,
    )
    _table_sheet(wb, styles, af.BANDS_SHEET, af.BAND_COLUMNS, doc["bands"])
    wb.close()
    return atomic_write_bytes(Path(output), buf.getvalue())


def _styles(wb) -> dict[str, Any]:
    return {
        "title": wb.add_format({"bold": True, "font_size": 14}),
        "bold": wb.add_format({"bold": True}),
        "head": wb.add_format(
            {"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "top"}
        ),
        "cell": wb.add_format({"border": 1, "text_wrap": True, "valign": "top"}),
        "illustration": wb.add_format(
            {"border": 1, "text_wrap": True, "valign": "top", "bg_color": "#FCE4D6"}
        ),
        "banner": wb.add_format({"bold": True, "text_wrap": True, "bg_color": "#FFF2CC", "border": 1}),
        "wrap": wb.add_format({"text_wrap": True, "valign": "top"}),
    }


def _summary_sheet(wb, styles, fw: Framework) -> None:
    ws = wb.add_worksheet(af.SUMMARY_SHEET)
    ws.set_column(0, 0, 28)
    ws.set_column(1, 1, 100)
    ws.write(0, 0, f"{fw.title.vi} / {fw.title.en}", styles["title"])
    statement = fw.provenance_statement()
    lines = [
        ("Mã, phiên bản / Id, version", f"{fw.id} v{fw.version}"),
        ("Hiệu lực / In force", f"{fw.effective_from} – {fw.effective_to or '…'}"),
        ("Áp dụng / Applies to", ", ".join(fw.applies_to.levels)),
        (
            "Điểm / Points",
            f"{fw.total_points:g}: {len(fw.pillars)} chỉ số chính / main indicators, "
            f"{len(fw.indicators())} chỉ số thành phần / components",
        ),
        ("Nguồn gốc / Provenance", f"{statement.vi}\n{statement.en}"),
    ]
    if fw.provenance.note is not None:
        lines.append(("Ghi chú / Note", f"{fw.provenance.note.vi}\n{fw.provenance.note.en}"))
    for d in fw.provenance.documents:
        lines.append(("Văn bản / Document", f"{d.citation_vi()}: {d.title.vi}"))
    for n in fw.not_assessed():
        assert n.not_assessed is not None
        lines.append(("Không đánh giá / Not assessed", f"{n.not_assessed.reason.vi}\n{not_assessed_text(n)}"))
    lines.append(
        (
            "Đọc thêm / Read on",
            "ThongTin: thông tin bộ chỉ số · VanBan: văn bản · ChiSo: chỉ số · "
            "XepLoai: xếp loại (ô tô màu: minh họa của dự án / shaded: illustration)",
        )
    )
    for r, (label, text) in enumerate(lines, start=2):
        ws.write(r, 0, label, styles["bold"])
        ws.write(
            r,
            1,
            text,
            styles["banner"] if label.startswith("Nguồn gốc") and fw.illustrative else styles["wrap"],
        )


def _document_row(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": d["id"],
        "kind": d["kind"],
        "number": d.get("number"),
        "date": d.get("date"),
        "issuer_vi": d["issuer"]["vi"],
        "issuer_en": d["issuer"]["en"],
        "title_vi": d["title"]["vi"],
        "title_en": d["title"]["en"],
        "consulted": d.get("consulted"),
    }


def _indicator_rows(fw: Framework, doc: dict, catalogue: Catalogue) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def walk(nodes: list[dict], parent: str | None) -> None:
        for raw in nodes:
            kids = raw.get("indicators") or raw.get("pillars")
            rows.append(
                _indicator_row(raw, parent, pillar=bool(kids), node=fw.node(raw["id"]), catalogue=catalogue)
            )
            if kids:
                walk(kids, raw["id"])

    walk(doc["pillars"], None)
    return rows


def _indicator_row(raw: dict, parent: str | None, pillar: bool, node: Node, catalogue: Catalogue) -> dict:
    row = {
        "code": raw["id"],
        "parent": parent,
        "name_vi": raw["name"]["vi"],
        "name_en": raw["name"]["en"],
        "max_points": raw["max_points"],
        "scoring_method": af.method_text(raw, pillar),
        "origin": af.pairs_text(raw.get("origin", {})),
        "_illustrated": bool(node.origin.illustrated()),
    }
    if not pillar:
        row["data_source"] = raw["kpi"] if "kpi" in raw else f"item:{raw['item']}"
        row["evidence"] = raw.get("evidence")
        row["explained"] = _explained(node, catalogue)
    if "not_assessed" in raw:
        na = raw["not_assessed"]
        row.update(
            not_assessed_vi=na["reason"]["vi"],
            not_assessed_en=na["reason"]["en"],
            redistribute=af.redistribute_text(na["redistribute"]),
        )
    return row


SOURCE_WORDS = {
    "portal": "tính từ hồ sơ trên Cổng DVC / computed from the portal's dossiers",
    "procedure": "tính từ danh mục TTHC / computed from the procedure catalogue",
    "submission": "đơn vị tự báo cáo / reported by the agency",
}


def _explained(node: Node, catalogue: Catalogue) -> str:
    rule = get_rule(str(node.rule))
    how = f"{rule.describe(node.params, node.direction)}: {rule.doc}"
    kpi = catalogue.kpis.get(node.kpi) if node.kpi else None
    where = (
        f"{kpi.name_vi} ({SOURCE_WORDS.get(kpi.source, kpi.source)})"
        if kpi is not None
        else "đầu vào riêng của bộ chỉ số / an input the framework defines"
    )
    return f"{how}\n{where}"


def _table_sheet(
    wb,
    styles,
    name: str,
    columns: tuple[af.Column, ...],
    rows: list[dict],
    widths: Iterable[int] | None = None,
    shade_origin: bool = False,
) -> None:
    ws = wb.add_worksheet(name)
    for c, col in enumerate(columns):
        ws.write_string(0, c, col.header, styles["head"])
        if col.note:
            ws.write_comment(0, c, col.note)
    for r, row in enumerate(rows, start=1):
        for c, col in enumerate(columns):
            value = row.get(col.key)
            style = styles["cell"]
            if shade_origin and col.key == "origin" and row.get("_illustrated"):
                style = styles["illustration"]
            if value is None or value == "":
                ws.write_blank(r, c, None, style)
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                ws.write_number(r, c, value, style)
            else:
                ws.write_string(r, c, str(value), style)
    for c, width in enumerate(widths or [max(12, min(48, len(col.header) + 4)) for col in columns]):
        ws.set_column(c, c, width)
    ws.freeze_panes(1, 0)


# ============================================================================ import
@dataclass
class _Reader:
    """Collects the problems of one workbook, each with its place."""

    file: str
    problems: list[str] = field(default_factory=list)

    def at(
        self, sheet: str, row: int | None = None, column: af.Column | None = None, letter: str | None = None
    ) -> str:
        place = f"sheet {sheet}"
        if row is not None:
            place += f", row {row}"
        if column is not None:
            place += f", column {letter} ({column.header})"
        return place

    def problem(self, where: str, text: str) -> None:
        self.problems.append(f"{where}: {text}")


@dataclass
class _Row:
    number: int
    values: dict[str, Any]
    letters: dict[str, str]


def read_annex(path: str | Path) -> dict[str, Any]:
    """The framework document an annex workbook holds; :class:`AnnexError` lists every problem."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"annex workbook not found: {path}")
    check_workbook(path, path.name)
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise AnnexError(path.name, [f"cannot be opened as an Excel workbook: {exc}"]) from None
    reader = _Reader(path.name)
    try:
        sheets = {name: wb[name] for name in wb.sheetnames}
        tables = {
            name: _table(reader, sheets, name, cols)
            for name, cols in (
                (af.INFO_SHEET, af.INFO_COLUMNS),
                (af.DOCUMENTS_SHEET, af.DOCUMENT_COLUMNS),
                (af.INDICATORS_SHEET, af.INDICATOR_COLUMNS),
                (af.BANDS_SHEET, af.BAND_COLUMNS),
            )
        }
    finally:
        wb.close()
    doc = _info(reader, tables[af.INFO_SHEET])
    provenance: dict = doc["provenance"] if isinstance(doc.get("provenance"), dict) else {}
    doc["provenance"] = {"documents": _documents(reader, tables[af.DOCUMENTS_SHEET]), **provenance}
    doc["bands"] = _bands(reader, tables[af.BANDS_SHEET])
    doc["pillars"] = _tree(reader, tables[af.INDICATORS_SHEET])
    if reader.problems:
        raise AnnexError(path.name, reader.problems)
    order = list(af.DOCUMENT_ORDER)
    return {k: doc[k] for k in sorted(doc, key=lambda k: order.index(k) if k in order else len(order))}


def _table(reader: _Reader, sheets: dict, name: str, columns: tuple[af.Column, ...]) -> list[_Row]:
    if name not in sheets:
        optional = name == af.BANDS_SHEET
        if not optional:
            reader.problem(reader.at(name), f"the workbook has no sheet {name} (sheets: {', '.join(sheets)})")
        return []
    rows = sheets[name].iter_rows(values_only=True)
    header = next(rows, None) or ()
    keys = af.header_keys(columns)
    by_index: dict[int, str] = {}
    for i, text in enumerate(header):
        if text is None or not str(text).strip():
            continue
        key = keys.get(af.normalise_header(text))
        if key is None:
            reader.problem(
                reader.at(name, 1) + f", column {get_column_letter(i + 1)}",
                f"{str(text).strip()!r} is not a column of this sheet "
                f"(columns: {'; '.join(c.header for c in columns)})",
            )
        else:
            by_index[i] = key
    for col in columns:
        if col.required and col.key not in by_index.values():
            reader.problem(reader.at(name, 1), f"no column {col.header!r}")
    letters = {key: get_column_letter(i + 1) for i, key in by_index.items()}
    out = []
    for number, values in enumerate(rows, start=2):
        cells = {key: _clean(values[i]) for i, key in by_index.items() if i < len(values)}
        if any(v is not None for v in cells.values()):
            out.append(_Row(number, cells, letters))
    return out


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, dt.datetime):
        return value.date()
    return value


def _column(columns: tuple[af.Column, ...], key: str) -> af.Column:
    return next(c for c in columns if c.key == key)


def _cell(reader: _Reader, sheet: str, columns: tuple[af.Column, ...], row: _Row, key: str) -> str:
    return reader.at(sheet, row.number, _column(columns, key), row.letters.get(key, "?"))


def _info(reader: _Reader, rows: list[_Row]) -> dict[str, Any]:
    items: dict[str, Any] = {}
    for row in rows:
        key = str(row.values.get("key") or "").strip()
        where = _cell(reader, af.INFO_SHEET, af.INFO_COLUMNS, row, "value")
        if not key:
            reader.problem(_cell(reader, af.INFO_SHEET, af.INFO_COLUMNS, row, "key"), "the key is empty")
            continue
        if key in items:
            reader.problem(where, f"{key!r} is given twice")
            continue
        value = row.values.get("value")
        if isinstance(value, dt.date):
            value = value.isoformat()
        try:
            items[key] = af.parse_info(key, value)
        except ValueError as exc:
            reader.problem(where, str(exc))
    try:
        doc = af.unflatten(items)
    except ValueError as exc:
        reader.problem(reader.at(af.INFO_SHEET), str(exc))
        return {}
    if "version" in doc and doc["version"] is not None:
        doc["version"] = str(doc["version"])
    return doc


def _text(reader: _Reader, sheet: str, columns, row: _Row, key: str, required: bool) -> str | None:
    value = row.values.get(key)
    if value is None:
        if required:
            reader.problem(_cell(reader, sheet, columns, row, key), "empty; it is required")
        return None
    return str(value)


def _documents(reader: _Reader, rows: list[_Row]) -> list[dict[str, Any]]:
    out = []
    cols = af.DOCUMENT_COLUMNS
    for row in rows:
        t = {c.key: _text(reader, af.DOCUMENTS_SHEET, cols, row, c.key, c.required) for c in cols}
        doc: dict[str, Any] = {"id": t["id"], "kind": t["kind"]}
        if t["number"]:
            doc["number"] = t["number"]
        raw_date = row.values.get("date")
        if raw_date is not None:
            try:
                doc["date"] = (
                    raw_date if isinstance(raw_date, dt.date) else parse_date(raw_date)
                ).isoformat()
            except ValueError as exc:
                reader.problem(_cell(reader, af.DOCUMENTS_SHEET, cols, row, "date"), str(exc))
        doc["issuer"] = {"vi": t["issuer_vi"], "en": t["issuer_en"]}
        doc["title"] = {"vi": t["title_vi"], "en": t["title_en"]}
        if t["consulted"]:
            doc["consulted"] = t["consulted"]
        out.append(doc)
    return out


def _number(reader: _Reader, where: str, value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        reader.problem(
            where, "empty; a number is required" if value is None else f"{value!r} is not a number"
        )
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        number, percent = parse_number(value)
    except ValueError as exc:
        reader.problem(where, str(exc))
        return None
    return number / 100.0 if percent else number


def _bands(reader: _Reader, rows: list[_Row]) -> list[dict[str, Any]]:
    out = []
    cols = af.BAND_COLUMNS
    for row in rows:
        band = {k: _text(reader, af.BANDS_SHEET, cols, row, k, True) for k in ("code", "name_vi", "name_en")}
        share = _number(
            reader, _cell(reader, af.BANDS_SHEET, cols, row, "min_share"), row.values.get("min_share")
        )
        out.append(dict(band, min_share=share))
    return out


def _tree(reader: _Reader, rows: list[_Row]) -> list[dict[str, Any]]:
    """The pillars and indicators of the ChiSo rows, in row order."""
    cols, sheet = af.INDICATOR_COLUMNS, af.INDICATORS_SHEET
    by_code: dict[str, _Row] = {}
    for row in rows:
        code = _text(reader, sheet, cols, row, "code", True)
        if code is None:
            continue
        if code in by_code:
            reader.problem(
                _cell(reader, sheet, cols, row, "code"),
                f"{code!r} is already the code of row {by_code[code].number}",
            )
            continue
        by_code[code] = row
    children: dict[str | None, list[str]] = {}
    for code, row in by_code.items():
        parent = row.values.get("parent")
        parent = None if parent is None else str(parent)
        if parent is not None and parent not in by_code:
            reader.problem(
                _cell(reader, sheet, cols, row, "parent"), f"{parent!r} is not the code of any row"
            )
            continue
        children.setdefault(parent, []).append(code)
    return [_node(reader, by_code, children, code) for code in children.get(None, [])]


def _node(reader: _Reader, by_code: dict[str, _Row], children: dict, code: str) -> dict[str, Any]:
    cols, sheet = af.INDICATOR_COLUMNS, af.INDICATORS_SHEET
    row = by_code[code]
    kids = children.get(code, [])
    node: dict[str, Any] = {
        "id": code,
        "name": {
            "vi": _text(reader, sheet, cols, row, "name_vi", True),
            "en": _text(reader, sheet, cols, row, "name_en", True),
        },
    }
    pillar = bool(kids)
    if not pillar and row.values.get("parent") is None:
        reader.problem(
            _cell(reader, sheet, cols, row, "code"),
            f"{code} has no parent and no components: a main indicator needs components, "
            "a component needs its main indicator in column Thuộc / Parent",
        )
        return node
    if row.values.get("max_points") is not None or not pillar:
        node["max_points"] = _number(
            reader, _cell(reader, sheet, cols, row, "max_points"), row.values.get("max_points")
        )
    method = row.values.get("scoring_method")
    if method is None and not pillar:
        reader.problem(_cell(reader, sheet, cols, row, "scoring_method"), "empty; a component needs its rule")
    elif method is not None:
        try:
            node.update(af.parse_method(str(method), pillar))
        except ValueError as exc:
            reader.problem(_cell(reader, sheet, cols, row, "scoring_method"), str(exc))
    _origin(reader, row, node)
    if pillar:
        _no_component_fields(reader, row)
        grand = [children.get(k) for k in kids]
        if any(grand) and not all(grand):
            reader.problem(
                _cell(reader, sheet, cols, row, "code"),
                f"{code} holds both main indicators and components; give it one kind",
            )
        node["pillars" if all(grand) else "indicators"] = [_node(reader, by_code, children, k) for k in kids]
    else:
        _component_fields(reader, row, node)
    return node


def _origin(reader: _Reader, row: _Row, node: dict[str, Any]) -> None:
    text = row.values.get("origin")
    if text is None:
        return
    try:
        node["origin"] = af.parse_pairs(str(text), ("name", "points", "rule"), number=False)
    except ValueError as exc:
        reader.problem(_cell(reader, af.INDICATORS_SHEET, af.INDICATOR_COLUMNS, row, "origin"), str(exc))


def _no_component_fields(reader: _Reader, row: _Row) -> None:
    for key in ("data_source", "evidence", "not_assessed_vi", "not_assessed_en", "redistribute"):
        if row.values.get(key) is not None:
            reader.problem(
                _cell(reader, af.INDICATORS_SHEET, af.INDICATOR_COLUMNS, row, key),
                "a main indicator (it has components) takes no value here",
            )


def _component_fields(reader: _Reader, row: _Row, node: dict[str, Any]) -> None:
    cols, sheet = af.INDICATOR_COLUMNS, af.INDICATORS_SHEET
    source = row.values.get("data_source")
    if source is None:
        reader.problem(
            _cell(reader, sheet, cols, row, "data_source"),
            "empty; give the KPI code it is scored on, or item:CODE",
        )
    else:
        kind, sep, code = str(source).partition(":")
        if sep and kind.strip() in ("kpi", "item") and code.strip():
            node[kind.strip()] = code.strip()
        else:
            node["kpi"] = str(source)
    if row.values.get("evidence") is not None:
        node["evidence"] = str(row.values["evidence"])
    reasons = (row.values.get("not_assessed_vi"), row.values.get("not_assessed_en"))
    target = row.values.get("redistribute")
    if not any(reasons) and target is None:
        return
    if not all(reasons) or target is None:
        missing = [
            k
            for k, v in zip(
                ("not_assessed_vi", "not_assessed_en", "redistribute"), (*reasons, target), strict=True
            )
            if v is None
        ]
        for key in missing:
            reader.problem(
                _cell(reader, sheet, cols, row, key),
                "empty; a component not assessed needs its reason in both languages and where its points go",
            )
        return
    try:
        node["not_assessed"] = {
            "reason": {"vi": str(reasons[0]), "en": str(reasons[1])},
            "redistribute": af.parse_redistribute(str(target)),
        }
    except ValueError as exc:
        reader.problem(_cell(reader, sheet, cols, row, "redistribute"), str(exc))


# ---------------------------------------------------------------- validation, the YAML file
FIELD_COLUMNS = (
    ("max_points", "max_points"),
    ("points do not add up", "max_points"),
    ("cap ", "scoring_method"),
    ("rule", "scoring_method"),
    ("params", "scoring_method"),
    ("aggregat", "scoring_method"),
    ("weight", "scoring_method"),
    ("direction", "scoring_method"),
    ("missing", "scoring_method"),
    ("zero_denominator", "scoring_method"),
    ("kpi", "data_source"),
    ("item", "data_source"),
    ("an indicator names exactly one input", "data_source"),
    ("origin", "origin"),
    ("not_assessed", "redistribute"),
    ("name", "name_vi"),
    ("id", "code"),
)
"""How the start of a validation message names the ChiSo column it is about."""


def _located(problem: str, rows: dict[str, tuple[int, dict[str, str]]]) -> str:
    """A framework validation message with the workbook place it comes from."""
    if problem.startswith("node "):
        node_id, _, text = problem[len("node ") :].partition(": ")
        if node_id in rows:
            number, letters = rows[node_id]
            for prefix, key in FIELD_COLUMNS:
                if text.startswith(prefix) or text.casefold().startswith(prefix.casefold()):
                    col = _column(af.INDICATOR_COLUMNS, key)
                    return (
                        f"sheet {af.INDICATORS_SHEET}, row {number}, column {letters.get(key, '?')} "
                        f"({col.header}) [{node_id}]: {text}"
                    )
            return f"sheet {af.INDICATORS_SHEET}, row {number} [{node_id}]: {text}"
    if problem.startswith("bands"):
        return f"sheet {af.BANDS_SHEET}: {problem}"
    if problem.startswith("provenance.documents"):
        return f"sheet {af.DOCUMENTS_SHEET}: {problem}"
    return f"sheet {af.INFO_SHEET}: {problem}"


def import_annex(path: str | Path, output: str | Path, known_kpis: Iterable[str] | None = None) -> Framework:
    """Read an annex workbook, validate it as a framework file, write the YAML file to
    ``output`` and return the framework loaded back from it."""
    path, output = Path(path), Path(output)
    doc = read_annex(path)
    try:
        build_framework(doc, path.name, known_kpis)
    except FrameworkError as exc:
        rows = _row_places(path)
        raise AnnexError(path.name, [_located(p, rows) for p in exc.problems]) from None
    text = YAML_HEADER.format(name=path.name) + yaml.safe_dump(
        doc, allow_unicode=True, sort_keys=False, width=110
    )
    atomic_write_text(output, text)
    return load_framework(output, known_kpis)


def _row_places(path: Path) -> dict[str, tuple[int, dict[str, str]]]:
    """Indicator code -> (row number, column letters) of the ChiSo sheet."""
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        reader = _Reader(path.name)
        rows = _table(reader, {n: wb[n] for n in wb.sheetnames}, af.INDICATORS_SHEET, af.INDICATOR_COLUMNS)
    finally:
        wb.close()
    return {str(r.values["code"]): (r.number, r.letters) for r in rows if r.values.get("code") is not None}
