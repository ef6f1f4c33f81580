"""Read one submission file from the inbox (.xlsx or .csv) into raw rows, then accepted/rejects.

The layout is data (``config/submission_format.yaml``). Files are read as people really send
them: the header block may have moved a row, headers may be Vietnamese with diacritics
("Mã chỉ số") or the short names ("MaChiSo"), CSVs come in UTF-8 with or without BOM or in a
Windows code page, with "," or ";" between fields. A file that cannot be opened at all becomes
one reject naming the file; inside a readable file every bad row is its own reject.

Encoding detection tries UTF-8 (with or without BOM) first, because it is strict: non-UTF-8
bytes almost never decode by accident. Windows-1258 (the Vietnamese code page) comes next,
because a Vietnamese office that does not save UTF-8 saves 1258. But 1258 decodes nearly any
byte string, so it is only taken when the text it yields is plausible Vietnamese: every tone
mark it produced (1258 writes tones as separate combining marks) sits on a vowel. Otherwise
(e.g. a Western-locale export with "ò" or "ì", which 1258 would read as a tone mark after a
consonant) the file is read as Windows-1252.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from dx_pipeline.sources.submission_numbers import fold, is_blank
from dx_pipeline.sources.submission_rows import (
    RawRow,
    RowRules,
    make_reject,
    normalise_row,
    reject_duplicates,
)

SUPPORTED_SUFFIXES = (".xlsx", ".xlsm", ".csv")
_TONE_MARKS = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
_META_LABELS = {
    "agency_code": ("madonvi", "agencycode"),
    "quarter": ("kybaocao", "reportingperiod", "period"),
    "report_date": ("ngaybaocao", "reportdate"),
}
HEADER_SEARCH_ROWS = 30


@dataclass(frozen=True)
class SubmissionLayout:
    """The workbook/CSV layout from ``submission_format.yaml``."""

    sheet: str
    header_row: int
    meta_cells: dict[str, str]
    csv_meta_columns: dict[str, str]
    table_columns: dict[str, str]

    @property
    def column_for(self) -> dict[str, str]:
        """Logical field -> the short column name clerks see."""
        out = {v: k for k, v in self.csv_meta_columns.items()}
        out.update({v: k for k, v in self.table_columns.items()})
        return out

    def header_lookup(self) -> dict[str, str]:
        """Normalised header text -> logical field (short names, logical names)."""
        out = {}
        for mapping in (self.table_columns, self.csv_meta_columns):
            for name, logical in mapping.items():
                out[header_key(name)] = logical
                out[header_key(logical)] = logical
        return out


@lru_cache(maxsize=4)
def load_layout(path: str | None = None) -> SubmissionLayout:
    """The packaged submission layout (or the one at ``path``)."""
    packaged = resources.files("dx_pipeline") / "config" / "submission_format.yaml"
    p = Path(path) if path else Path(str(packaged))
    doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    return SubmissionLayout(
        sheet=str(doc["sheet"]),
        header_row=int(doc["header_row"]),
        meta_cells=dict(doc["meta_cells"]),
        csv_meta_columns=dict(doc["csv_meta_columns"]),
        table_columns=dict(doc["table_columns"]),
    )


def header_key(text: Any) -> str:
    """Compare headers loosely: the part before " / ", no diacritics, case or punctuation."""
    if text is None:
        return ""
    first = str(text).split(" / ")[0].split("\n")[0]
    return re.sub(r"[^a-z0-9]", "", fold(first))


@dataclass
class FileRead:
    """What one file gave: accepted rows (not yet versioned) and rejects."""

    path: Path
    relpath: str
    sha256: str
    rows: int = 0
    encoding: str | None = None
    accepted: list[dict] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def decode_text(data: bytes) -> tuple[str, str]:
    """``(text, encoding)`` of CSV bytes; see the module docstring for the order and why."""
    try:
        return unicodedata.normalize("NFC", data.decode("utf-8-sig")), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1258")
        if _plausible_vietnamese(text):
            return unicodedata.normalize("NFC", text), "cp1258"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        raise ValueError(
            "the file is not text in UTF-8, Windows-1258 or Windows-1252 (save it as CSV UTF-8)"
        ) from None


def _plausible_vietnamese(text: str) -> bool:
    prev = ""
    for ch in text:
        if ch in _TONE_MARKS and fold(prev) not in set("aeiouy"):
            return False
        prev = ch
    return True


def _is_skippable(path: Path) -> bool:
    """Office lock files (``~$Book.xlsx``) and hidden files are not submissions."""
    return path.name.startswith("~$") or path.name.startswith(".")


def _file_reject(raw: RawRow, reason: str) -> dict:
    return make_reject(raw, field="file", reason=reason, value=None)


def _meta_from_labels(rows: list[list[Any]]) -> dict[str, Any]:
    """Find "Mã đơn vị / Agency code:" style labels and take the next non-empty cell."""
    found: dict[str, Any] = {}
    for cells in rows:
        for i, cell in enumerate(cells):
            key = header_key(cell)
            for logical, labels in _META_LABELS.items():
                if logical not in found and key in labels:
                    rest = [c for c in cells[i + 1:] if not is_blank(c)]
                    if rest:
                        found[logical] = rest[0]
    return found


def _find_header(rows: list[list[Any]], lookup: dict[str, str]) -> tuple[int, dict[int, str]] | None:
    for idx, cells in enumerate(rows):
        columns = {i: lookup[header_key(c)] for i, c in enumerate(cells) if header_key(c) in lookup}
        if "indicator_code" in columns.values() and len(columns) >= 2:
            return idx, columns
    return None


def read_submission_file(
    path: str | Path,
    rules: RowRules,
    *,
    relpath: str | None = None,
    layout: SubmissionLayout | None = None,
) -> FileRead:
    """Read one inbox file; never raises for bad content (it becomes rejects)."""
    path = Path(path)
    layout = layout or load_layout()
    rel = relpath or path.name
    stat = path.stat()
    arrived = dt.datetime.fromtimestamp(stat.st_mtime).replace(microsecond=0)
    result = FileRead(path=path, relpath=rel, sha256=sha256_of(path))
    base = RawRow(source="inbox", source_ref=rel, file=rel, arrived_at=arrived)
    suffix = path.suffix.lower()
    if stat.st_size == 0:
        result.rejects.append(_file_reject(base, "the file is empty"))
        return result
    if suffix not in SUPPORTED_SUFFIXES:
        hint = " (old Excel 97-2003 format: save it as .xlsx)" if suffix == ".xls" else ""
        result.rejects.append(
            _file_reject(base, f"not an Excel (.xlsx) or CSV file{hint}")
        )
        return result
    try:
        if suffix == ".csv":
            sheet, grid, encoding = _csv_grid(path)
            result.encoding = encoding
        else:
            sheet, grid = _xlsx_grid(path, layout)
    except _Unreadable as exc:
        result.rejects.append(_file_reject(base, str(exc)))
        return result
    raws = _raw_rows(grid, sheet, layout, base, suffix == ".csv", arrived)
    if isinstance(raws, str):
        result.rejects.append(_file_reject(base, raws))
        return result
    names = dict(layout.column_for)
    rules_here = RowRules(
        catalogue=rules.catalogue,
        registry=rules.registry,
        quarter=rules.quarter,
        bare_is_percent=rules.bare_is_percent,
        field_names=names,
        where_quarter_from=rules.where_quarter_from,
        validity=rules.validity,
    )
    accepted = []
    for raw in raws:
        if isinstance(raw, dict):  # a row rejected while splitting fields
            result.rejects.append(raw)
            result.rows += 1
            continue
        if raw.is_empty():
            continue
        result.rows += 1
        ok, bad = normalise_row(raw, rules_here)
        if ok:
            accepted.append(ok)
        else:
            result.rejects.append(bad)
    if not result.rows:
        result.rejects.append(_file_reject(base, "the file has no indicator rows"))
    keep, dups = reject_duplicates(accepted)
    result.accepted = keep
    result.rejects.extend(dups)
    result.rejects.sort(key=lambda r: (r["row"] if r["row"] is not None else -1))
    return result


class _Unreadable(Exception):
    """The file cannot be opened at all; the message is the reason for the clerk."""


# A grid row: (row number in the file, [cell values], {column index: number_format})
Grid = list[tuple[int, list[Any], dict[int, str]]]


def _xlsx_grid(path: Path, layout: SubmissionLayout) -> tuple[str, Grid]:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, EOFError) as exc:
        raise _Unreadable(
            f"cannot open the workbook: it is damaged or not a real .xlsx file ({type(exc).__name__})"
        ) from None
    try:
        names = wb.sheetnames
        if layout.sheet in names:
            ws = wb[layout.sheet]
        elif len(names) == 1:
            ws = wb[names[0]]
        else:
            lowered = {fold(n): n for n in names}
            if fold(layout.sheet) in lowered:
                ws = wb[lowered[fold(layout.sheet)]]
            else:
                raise _Unreadable(
                    f"the workbook has no sheet {layout.sheet!r} (sheets: {', '.join(names)})"
                )
        grid: Grid = []
        try:
            for r_idx, row in enumerate(ws.iter_rows(), start=1):
                values, formats = [], {}
                for c_idx, cell in enumerate(row):
                    values.append(cell.value)
                    fmt = getattr(cell, "number_format", None)
                    if fmt and "%" in fmt:
                        formats[c_idx] = fmt
                row_no = getattr(row[0], "row", None) if row else None
                grid.append((row_no or r_idx, values, formats))
        except (zipfile.BadZipFile, KeyError, OSError, ValueError, EOFError) as exc:
            raise _Unreadable(
                f"cannot read sheet {ws.title!r}: the workbook is damaged ({type(exc).__name__})"
            ) from None
        return ws.title, grid
    finally:
        wb.close()


def _csv_grid(path: Path) -> tuple[None, Grid, str]:
    data = path.read_bytes()
    if not data.strip(b" \r\n\t\xef\xbb\xbf"):
        raise _Unreadable("the file is empty")
    if b"\x00" in data[:4096]:
        raise _Unreadable("not a text CSV file (binary content; was an .xlsx renamed to .csv?)")
    try:
        text, encoding = decode_text(data)
    except ValueError as exc:
        raise _Unreadable(str(exc)) from None
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    counts = {d: first.count(d) for d in (";", ",", "\t")}
    delimiter = max(counts, key=lambda d: counts[d])
    if counts[delimiter] == 0:
        delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    grid: Grid = []
    try:
        for cells in reader:
            grid.append((reader.line_num, cells, {}))
    except csv.Error as exc:
        raise _Unreadable(f"the CSV is malformed near line {reader.line_num}: {exc}") from None
    return None, grid, encoding


def _raw_rows(grid: Grid, sheet: str | None, layout: SubmissionLayout, base: RawRow,
              is_csv: bool, arrived: dt.datetime) -> list | str:
    """RawRows (or reject dicts) from a grid, or a string reason when no table is found."""
    lookup = layout.header_lookup()
    head = [cells for _, cells, _ in grid[:HEADER_SEARCH_ROWS]]
    found = _find_header(head, lookup)
    if found is None:
        return (
            "no header row with the column MaChiSo (Mã chỉ số) was found; "
            "use the template from `dx-pipeline template`"
        )
    header_idx, columns = found
    # Labels ("Mã đơn vị / Agency code:") are trusted first, because people insert rows above
    # the table; the layout's fixed cells are the fallback for a header block without labels.
    meta: dict[str, Any] = _meta_from_labels(head[:header_idx])
    if not is_csv:
        for logical, ref in layout.meta_cells.items():
            if is_blank(meta.get(logical)):
                meta[logical] = _cell_at(grid, ref)
    width = len(grid[header_idx][1])
    where = f" [{sheet}]" if sheet else ""
    out: list = []
    for row_no, cells, formats in grid[header_idx + 1:]:
        if all(is_blank(c) for c in cells):
            continue
        ref = f"{base.file}{where} row {row_no}"
        raw = RawRow(source="inbox", source_ref=ref, file=base.file, sheet=sheet, row=row_no,
                     arrived_at=arrived, **{k: v for k, v in meta.items() if k in
                                             ("agency_code", "quarter", "report_date")})
        # A row longer than its header has shifted values (an unquoted "85,5" in a
        # comma-separated file): reading it by position would silently misplace them.
        if is_csv and len(cells) > width:
            code_idx = next((i for i, name in columns.items() if name == "indicator_code"), None)
            if code_idx is not None and code_idx < len(cells):
                raw.indicator_code = cells[code_idx]
            out.append(make_reject(
                raw, field="row",
                reason=f"row has {len(cells)} fields but the header has {width}: a value "
                "contains the field separator? (put quotes around values like \"85,5\")",
                value=" | ".join(cells),
            ))
            continue
        pf = set()
        for idx, logical in columns.items():
            value = cells[idx] if idx < len(cells) else None
            if isinstance(value, str) and not value.strip():
                value = None
            if logical in ("row_no", "indicator_name", "unit"):
                continue
            if logical in ("agency_code", "quarter", "report_date") and is_blank(value):
                continue  # keep the header-block value
            setattr(raw, logical, value)
            if idx in formats:
                pf.add(logical)
        raw.percent_formatted = frozenset(pf)
        raw.order = (arrived, base.file or "", row_no)
        out.append(raw)
    return out


def _cell_at(grid: Grid, ref: str) -> Any:
    m = re.match(r"^([A-Z]+)(\d+)$", ref.strip().upper())
    if not m:
        return None
    col = 0
    for ch in m.group(1):
        col = col * 26 + (ord(ch) - 64)
    row = int(m.group(2))
    for row_no, cells, _ in grid:
        if row_no == row:
            return cells[col - 1] if col - 1 < len(cells) else None
        if row_no > row:
            break
    return None


def list_inbox_files(folder: str | Path) -> list[Path]:
    """Every file under ``folder`` (recursively), in a stable order, lock files skipped."""
    folder = Path(folder)
    if not folder.exists():
        return []
    return sorted(
        (p for p in folder.rglob("*") if p.is_file() and not _is_skippable(p)),
        key=lambda p: p.relative_to(folder).as_posix(),
    )


__all__ = [
    "FileRead",
    "SubmissionLayout",
    "decode_text",
    "header_key",
    "list_inbox_files",
    "load_layout",
    "read_submission_file",
    "sha256_of",
]
