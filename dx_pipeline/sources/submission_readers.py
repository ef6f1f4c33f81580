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
consonant) the file is read as Windows-1252. A file that is UTF-8 except for a few damaged
bytes is read as UTF-8, and only the rows holding the damaged bytes are rejected.

Files are checked by ``file_safety`` before they are opened (size, zip bombs, macros, external
links); symbolic links and anything not a regular file are refused unread, and files are opened
without following links (``storage.inputs``). A ``.zip`` bundle of workbooks is read member by
member in memory, each member named ``bundle.zip::member.xlsx`` in rejects and references.
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

from dx_pipeline.reference.config_files import need, read_mapping
from dx_pipeline.sources import grid_cache
from dx_pipeline.sources.duplicate_rows import reject_duplicates
from dx_pipeline.sources.file_safety import (
    BUNDLE_SUFFIXES,
    DEFAULT_LIMITS,
    LINK_REASON,
    SPECIAL_REASON,
    FileLimits,
    UnsafeFileError,
    bad_bytes_reason,
    bundle_members,
    check_size,
    check_workbook,
    long_cell_reason,
    printable,
    too_large_reason,
)
from dx_pipeline.sources.submission_numbers import fold, is_blank
from dx_pipeline.sources.submission_rows import (
    RawRow,
    RowRules,
    make_reject,
    normalise_row,
)
from dx_pipeline.storage.checksums import sha256_file
from dx_pipeline.storage.inputs import FILE, Entry, FileTooLarge, NotARegularFile, read_beneath, walk

SUPPORTED_SUFFIXES = (".xlsx", ".xlsm", ".csv", *BUNDLE_SUFFIXES)
csv.field_size_limit(DEFAULT_LIMITS.max_file_bytes)  # long cells become row rejects, not file errors
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


def layout_path() -> Path:
    """The packaged submission layout (``dx_pipeline/config/submission_format.yaml``)."""
    return Path(str(resources.files("dx_pipeline") / "config" / "submission_format.yaml"))


@lru_cache(maxsize=4)
def load_layout(path: str | None = None) -> SubmissionLayout:
    """The packaged submission layout (or the one at ``path``)."""
    p = Path(path) if path else layout_path()
    doc = read_mapping(p)
    layout = SubmissionLayout(
        sheet=need(doc, "sheet", str, p),
        header_row=need(doc, "header_row", int, p),
        meta_cells=dict(need(doc, "meta_cells", dict, p)),
        csv_meta_columns=dict(need(doc, "csv_meta_columns", dict, p)),
        table_columns=dict(need(doc, "table_columns", dict, p)),
    )
    if "indicator_code" not in layout.table_columns.values():
        raise ValueError(f"{p}: table_columns must name the column of 'indicator_code'")
    return layout


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
    filled: int = 0
    """Filled rows read, header blocks included (what ``FileLimits.max_rows`` counts; all the
    members of a zip bundle together)."""
    accepted: list[dict] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)


sha256_of = sha256_file  # the name the inbox scan and tests import


def decode_text(data: bytes) -> tuple[str, str]:
    """``(text, encoding)`` of CSV bytes; see the module docstring for the order and why."""
    try:
        return unicodedata.normalize("NFC", data.decode("utf-8-sig")), "utf-8"
    except UnicodeDecodeError:
        pass
    damaged = _mostly_utf8(data)
    if damaged is not None:
        return damaged, "utf-8 (with invalid bytes)"
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


def _mostly_utf8(data: bytes) -> str | None:
    """UTF-8 text with a few damaged bytes, kept as ``surrogateescape`` characters so the rows
    holding them can be rejected; None when the bytes are not UTF-8 at all."""
    text = data.decode("utf-8", errors="surrogateescape")
    if text.startswith("\ufeff"):
        text = text[1:]
    invalid = sum(1 for ch in text if "\udc80" <= ch <= "\udcff")
    valid = sum(1 for ch in text if ord(ch) > 0x7F) - invalid
    if valid > invalid:
        return unicodedata.normalize("NFC", text)
    return None


def _plausible_vietnamese(text: str) -> bool:
    prev = ""
    for ch in text:
        if ch in _TONE_MARKS and fold(prev) not in set("aeiouy"):
            return False
        prev = ch
    return True


_JUNK_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}


def is_skippable(path: Path) -> bool:
    """Office lock files (``~$Book.xlsx``, ``.~lock.Book.xlsx#``), macOS resource forks
    (``._Book.xlsx``) and other hidden files are not submissions. A dot-name that is a workbook
    or CSV (e.g. ``..\\..\\x.xlsx`` saved on Linux) is read, so it is never lost silently."""
    name = path.name
    if name.startswith(("~$", "._", ".~lock.")) or name.lower() in _JUNK_NAMES:
        return True
    return name.startswith(".") and path.suffix.lower() not in SUPPORTED_SUFFIXES


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
    root: str | Path | None = None,
    limits: FileLimits = DEFAULT_LIMITS,
) -> FileRead:
    """Read one inbox file; never raises for bad content (it becomes rejects).

    ``root``: the inbox folder ``path`` is in (default: its own folder). The file is opened
    beneath it without following any link (``storage.inputs.open_beneath``): a link, or
    anything that is not a regular file, is refused unread, and the bytes hashed are the bytes
    read.
    """
    path = Path(path)
    layout = layout or load_layout()
    rel = relpath or path.name
    read = _read_safely(path, Path(root) if root is not None else path.parent, limits)
    arrived = dt.datetime.fromtimestamp(read.mtime).replace(microsecond=0) if read.mtime else None
    base = RawRow(source="inbox", source_ref=rel, file=rel, arrived_at=arrived)
    if read.refused is not None:
        result = FileRead(path=path, relpath=rel, sha256=read.identity)
        result.rejects.append(_file_reject(base, read.refused))
        return result
    result = FileRead(path=path, relpath=rel, sha256=hashlib.sha256(read.data).hexdigest())
    suffix = path.suffix.lower()
    if not read.data:
        result.rejects.append(_file_reject(base, "the file is empty"))
    elif suffix not in SUPPORTED_SUFFIXES:
        hint = " (old Excel 97-2003 format: save it as .xlsx)" if suffix == ".xls" else ""
        result.rejects.append(_file_reject(base, f"not an Excel (.xlsx) or CSV file{hint}"))
    elif suffix in BUNDLE_SUFFIXES:
        _read_bundle(read.data, base, rules, layout, limits, result)
    else:
        _read_content(read.data, suffix, base, rules, layout, limits, result)
    return result


@dataclass(frozen=True)
class _Read:
    """A file's bytes and modification time, or why it was refused unread and what identifies
    it without reading it (its kind, size and times from ``lstat``)."""

    data: bytes = b""
    mtime: float | None = None
    refused: str | None = None
    identity: str = ""


def _read_safely(path: Path, root: Path, limits: FileLimits) -> _Read:
    """``path`` read beneath ``root`` without following links, within the size limit."""
    try:
        data, st = read_beneath(root, path.relative_to(root).as_posix(), limits.max_file_bytes)
    except FileTooLarge as exc:
        return _refused(path, too_large_reason(exc.size, limits))
    except NotARegularFile as exc:
        return _refused(path, LINK_REASON if exc.is_link else SPECIAL_REASON)
    except FileNotFoundError:
        return _refused(path, "the file was removed while the inbox was being read")
    return _Read(data=data, mtime=st.st_mtime)


def _refused(path: Path, reason: str) -> _Read:
    """A file refused unread, identified by its kind, size and times from ``lstat`` (a link is
    not resolved, so neither its target's name nor its content is looked at)."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return _Read(refused=reason, identity=hashlib.sha256(b"unread:missing").hexdigest())
    marker = f"unread:{st.st_mode:o}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"
    return _Read(mtime=st.st_mtime, refused=reason, identity=hashlib.sha256(marker.encode()).hexdigest())


def _read_bundle(data: bytes, base: RawRow, rules: RowRules, layout: SubmissionLayout,
                 limits: FileLimits, result: FileRead) -> None:
    """Every workbook/CSV in a zip bundle, read in memory; a bad member is one reject."""
    try:
        members = list(bundle_members(data, Path(base.file or "bundle.zip").name, limits))
    except UnsafeFileError as exc:
        result.rejects.append(_file_reject(base, exc.reason))
        return
    found = False
    for member in members:
        if isinstance(member, UnsafeFileError):
            inner = member.name.split("::", 1)[1] if "::" in member.name else None
            ref = f"{base.source_ref}::{inner}" if inner else base.source_ref
            bad = RawRow(source="inbox", source_ref=ref, file=ref, arrived_at=base.arrived_at)
            result.rejects.append(_file_reject(bad, member.reason))
            continue
        found = True
        name = f"{base.file}::{member.name}"
        sub = RawRow(source="inbox", source_ref=name, file=name, arrived_at=base.arrived_at)
        suffix = Path(member.name).suffix.lower()
        _read_content(member.data, suffix, sub, rules, layout, limits, result)
    if not found and not result.rejects:
        result.rejects.append(_file_reject(base, "the zip holds no Excel (.xlsx) or CSV file"))


def _read_content(data: bytes, suffix: str, base: RawRow, rules: RowRules,
                  layout: SubmissionLayout, limits: FileLimits, result: FileRead) -> None:
    """Read one file's bytes (a plain file or a bundle member) into ``result``."""
    arrived = base.arrived_at
    rejects: list[dict] = []
    try:
        if suffix == ".csv":
            sheet, grid, encoding = _csv_grid_bytes(data, limits, result.filled)
            result.encoding = result.encoding or encoding
        else:
            name, already = base.file or "workbook", result.filled
            sheet, grid = grid_cache.cached(
                data, (repr(layout), name, repr(limits), already),
                lambda: _xlsx_grid(data, layout, name=name, limits=limits, already=already), _Unreadable)
    except _Unreadable as exc:
        result.rejects.append(_file_reject(base, str(exc)))
        return
    result.filled += len(grid)
    raws = _raw_rows(grid, sheet, layout, base, suffix == ".csv", arrived, limits)
    if isinstance(raws, str):
        result.rejects.append(_file_reject(base, raws))
        return
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
    rows = 0
    for raw in raws:
        if isinstance(raw, dict):  # a row rejected while splitting fields
            rejects.append(raw)
            rows += 1
            continue
        if raw.is_empty():
            continue
        rows += 1
        ok, bad = normalise_row(raw, rules_here)
        if ok is not None:
            accepted.append(ok)
        elif bad is not None:
            rejects.append(bad)
    if not rows:
        rejects.append(_file_reject(base, "the file has no indicator rows"))
    keep, dups = reject_duplicates(accepted)
    rejects.extend(dups)
    rejects.sort(key=lambda r: (r["row"] if r["row"] is not None else -1))
    result.rows += rows
    result.accepted.extend(keep)
    result.rejects.extend(rejects)


class _Unreadable(Exception):
    """The file cannot be opened at all; the message is the reason for the clerk."""


# A grid row: (row number in the file, [cell values], {column index: number_format})
Grid = list[tuple[int, list[Any], dict[int, str]]]


def _xlsx_grid(source: bytes, layout: SubmissionLayout, name: str = "workbook",
               limits: FileLimits = DEFAULT_LIMITS, already: int = 0) -> tuple[str, Grid]:
    """The workbook's sheet as a grid; ``file_safety.check_workbook`` runs first, on the zip
    directory only, so a zip bomb, a sheet too long to be a report or a macro workbook is never
    inflated by openpyxl."""
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        check_size(name, len(source), limits)
        check_workbook(source, name, limits)
    except UnsafeFileError as exc:
        raise _Unreadable(exc.reason) from None
    try:
        wb = openpyxl.load_workbook(io.BytesIO(source), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, EOFError) as exc:
        raise _Unreadable(
            f"cannot open the workbook: it is damaged or not a real .xlsx file ({type(exc).__name__})"
        ) from None
    try:
        ws = _report_sheet(wb, layout)
        try:
            return ws.title, _sheet_grid(ws, limits, already)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError, EOFError) as exc:
            raise _Unreadable(
                f"cannot read sheet {ws.title!r}: the workbook is damaged ({type(exc).__name__})"
            ) from None
    finally:
        wb.close()


def _report_sheet(wb: Any, layout: SubmissionLayout) -> Any:
    """The layout's sheet (by name, loosely), or the only sheet of the workbook."""
    names = wb.sheetnames
    if layout.sheet in names:
        return wb[layout.sheet]
    if len(names) == 1:
        return wb[names[0]]
    lowered = {fold(n): n for n in names}
    if fold(layout.sheet) in lowered:
        return wb[lowered[fold(layout.sheet)]]
    raise _Unreadable(f"the workbook has no sheet {layout.sheet!r} (sheets: {', '.join(names)})")


def _sheet_grid(ws: Any, limits: FileLimits, already: int = 0) -> Grid:
    """The sheet's non-blank rows with the cells formatted as percentages, at most
    ``limits.max_rows`` of them with the ``already`` read from the same zip bundle (more is not
    a report: reading stops and the file is refused)."""
    grid: Grid = []
    for r_idx, row in enumerate(ws.iter_rows(), start=1):
        values, formats = [], {}
        for c_idx, cell in enumerate(row):
            values.append(cell.value)
            fmt = getattr(cell, "number_format", None)
            if fmt and "%" in fmt:
                formats[c_idx] = fmt
        if all(is_blank(v) for v in values):
            continue
        row_no = getattr(row[0], "row", None) if row else None
        grid.append((row_no or r_idx, values, formats))
        _check_rows(len(grid), row_no or r_idx, limits, already)
    return grid


def _check_rows(rows: int, row_no: int, limits: FileLimits, already: int) -> None:
    """Refuse a sheet or CSV once it (with the ``already`` read from the same zip bundle) holds
    more rows than a report can."""
    if rows + already > limits.max_rows:
        what = (f"with the {already:,} filled rows of the files before it, the zip has" if already
                else "the file has")
        raise _Unreadable(
            f"refused: {what} more than {limits.max_rows:,} filled rows (reading stopped at row "
            f"{row_no:,}); a report has one row per indicator: send each agency's report, or use "
            "the reporting database for bulk data"
        )


def _csv_grid_bytes(data: bytes, limits: FileLimits = DEFAULT_LIMITS,
                    already: int = 0) -> tuple[None, Grid, str]:
    """The CSV's non-blank rows (at most ``limits.max_rows`` with the ``already`` read from the
    same zip bundle), in the encoding and with the delimiter its first line shows."""
    if not data.strip(b" \r\n\t\xef\xbb\xbf"):
        raise _Unreadable("the file is empty")
    if b"\x00" in data[:4096]:
        raise _Unreadable("not a text CSV file (binary content; was an .xlsx renamed to .csv?)")
    try:
        text, encoding = decode_text(data)
    except ValueError as exc:
        raise _Unreadable(str(exc)) from None
    first = next((ln for ln in io.StringIO(text) if ln.strip()), "")
    counts = {d: first.count(d) for d in (";", ",", "\t")}
    delimiter = max(counts, key=lambda d: counts[d])
    if counts[delimiter] == 0:
        delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    grid: Grid = []
    try:
        for cells in reader:
            if all(is_blank(c) for c in cells):
                continue
            grid.append((reader.line_num, cells, {}))
            _check_rows(len(grid), reader.line_num, limits, already)
    except csv.Error as exc:
        raise _Unreadable(f"the CSV is malformed near line {reader.line_num}: {exc}") from None
    return None, grid, encoding


def _raw_rows(grid: Grid, sheet: str | None, layout: SubmissionLayout, base: RawRow, is_csv: bool,
              arrived: dt.datetime | None, limits: FileLimits = DEFAULT_LIMITS) -> list | str:
    """RawRows (or reject dicts) from a grid, or a string reason when no table is found."""
    head = [cells for _, cells, _ in grid[:HEADER_SEARCH_ROWS]]
    found = _find_header(head, layout.header_lookup())
    if found is None:
        return (
            "no header row with the column MaChiSo (Mã chỉ số) was found; "
            "use the template from `dx-pipeline template`"
        )
    header_idx, columns = found
    meta = _header_meta(grid, head[:header_idx], layout, is_csv, limits)
    width = len(grid[header_idx][1])
    where = f" [{sheet}]" if sheet else ""
    out: list = []
    for row_no, cells, formats in grid[header_idx + 1:]:
        if all(is_blank(c) for c in cells):
            continue
        raw = RawRow(source="inbox", source_ref=f"{base.file}{where} row {row_no}", file=base.file,
                     sheet=sheet, row=row_no, arrived_at=arrived,
                     **{k: v for k, v in meta.items() if k in ("agency_code", "quarter", "report_date")})
        reject = _row_reject(raw, cells, columns, layout, limits, width if is_csv else None)
        if reject is not None:
            out.append(reject)
            continue
        _fill_row(raw, cells, formats, columns)
        raw.order = (arrived, base.file or "", row_no)
        out.append(raw)
    return out


def _header_meta(grid: Grid, head: list, layout: SubmissionLayout, is_csv: bool,
                 limits: FileLimits) -> dict[str, Any]:
    """Agency, quarter and report date from the block above the table.

    Labels ("Mã đơn vị / Agency code:") are trusted first, because people insert rows above
    the table; the layout's fixed cells are the fallback for a header block without labels.
    Values with damaged bytes or absurd length are shown, not trusted: the rows then fail the
    registry/period checks with the value in the reject.
    """
    meta: dict[str, Any] = _meta_from_labels(head)
    if not is_csv:
        for logical, ref in layout.meta_cells.items():
            if is_blank(meta.get(logical)):
                meta[logical] = _cell_at(grid, ref)
    return {k: printable(v) if isinstance(v, str) and _cell_problem(v, limits) else v
            for k, v in meta.items()}


def _row_reject(raw: RawRow, cells: list, columns: dict[int, str], layout: SubmissionLayout,
                limits: FileLimits, csv_width: int | None) -> dict | None:
    """A reject for a row with an unreadable cell, or (in a CSV of ``csv_width`` header
    fields) a row longer than its header, whose values would be misplaced; None otherwise."""
    code_idx = next((i for i, name in columns.items() if name == "indicator_code"), None)
    problem = _row_problem(cells, columns, layout.column_for, limits)
    if problem is not None:
        idx, reason = problem
        if code_idx is not None and code_idx < len(cells) and code_idx != idx:
            raw.indicator_code = cells[code_idx]
        label = layout.column_for.get(columns.get(idx, ""), columns.get(idx)) or f"column {idx + 1}"
        return make_reject(raw, field=label, reason=reason, value=printable(str(cells[idx])))
    # A row longer than its header has shifted values (an unquoted "85,5" in a
    # comma-separated file): reading it by position would silently misplace them.
    if csv_width is not None and len(cells) > csv_width:
        if code_idx is not None and code_idx < len(cells):
            raw.indicator_code = cells[code_idx]
        return make_reject(
            raw, field="row",
            reason=f"row has {len(cells)} fields but the header has {csv_width}: a value "
            "contains the field separator? (put quotes around values like \"85,5\")",
            value=" | ".join(cells),
        )
    return None


def _fill_row(raw: RawRow, cells: list, formats: Any, columns: dict[int, str]) -> None:
    """The row's cells into ``raw`` by column (blank header-block fields keep the block's
    value), noting which cells were formatted as percentages."""
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


def _cell_problem(value: str, limits: FileLimits) -> str | None:
    return bad_bytes_reason(value) or long_cell_reason(value, limits)


def _row_problem(cells: list, columns: dict[int, str], short: dict[str, str],
                 limits: FileLimits) -> tuple[int, str] | None:
    """The first cell of a row that holds bytes that are not UTF-8 or is absurdly long."""
    for idx, cell in enumerate(cells):
        if isinstance(cell, str):
            reason = _cell_problem(cell, limits)
            if reason is not None:
                return idx, reason
    return None


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


def is_read(entry: Entry, limits: FileLimits = DEFAULT_LIMITS) -> bool:
    """Whether :func:`read_submission_file` reads a walked inbox entry's bytes: a regular file,
    not a lock file, within the size limit (links and the rest are refused unread)."""
    if entry.kind != FILE or is_skippable(entry.path):
        return False
    try:
        return entry.path.lstat().st_size <= limits.max_file_bytes
    except FileNotFoundError:
        return False


def list_inbox_files(folder: str | Path) -> list[Path]:
    """Every entry under ``folder`` (recursively, links and special files included, folder
    links not walked into: ``storage.inputs.walk``), in a stable order, lock files skipped. The
    readers refuse the links and special files, each with a reject."""
    return [e.path for e in walk(folder) if not is_skippable(e.path)]


__all__ = [
    "FileRead",
    "SubmissionLayout",
    "decode_text",
    "header_key",
    "is_read",
    "is_skippable",
    "list_inbox_files",
    "load_layout",
    "read_submission_file",
    "sha256_of",
]
