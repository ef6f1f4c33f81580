"""The cell values of one sheet of a workbook that openpyxl opened read-only, from one scan of
the sheet's XML: what openpyxl's ``iter_rows(values_only=True)`` gives, in under half the time.

Why: openpyxl's read-only parser makes a dict per cell and reads every inline string through its
descriptor classes: 0.9 CPU s for the evaluator's 11k-row workbook, most of the appraisal import
(1.3 CPU s); an ElementTree of the sheet instead still costs 0.5 s (12 bytes of tree a byte).

How: the sheet's XML is first checked well-formed by expat with defusedxml's refusals (no entity
declarations, no external entities: what openpyxl's parser refuses); then one regular expression
cuts the sheet data into rows and cells in C, and a loop turns each cell into openpyxl's value by
openpyxl's own rules: shared strings as openpyxl read them, numbers (int or float as openpyxl
casts them), booleans, dates by the cell's number format (openpyxl's date styles and epoch),
formulas' cached values (the workbook is opened ``data_only``), inline strings. A cell in any
other form than the plain ones writers use (attributes in another order or more of them, rich
text, phonetic runs, entities in a value, spaces between its elements) is parsed alone by
ElementTree and read by the same rules, runs through openpyxl's own text class. The rows and
columns asked for are filled as openpyxl fills them (missing cells and rows as None, the sheet's
dimension as bounds).

Anything the scan does not take as openpyxl would (another encoding, a namespace prefix, a
comment or CDATA in the sheet data, an element in a row that is not a cell, a row number
openpyxl reads as a float, a date out of range that openpyxl warns about, a value that cannot
be read, a sheet over :data:`MAX_SHEET_BYTES`, openpyxl's internals moved) makes
:func:`values_sheet` hand back openpyxl's own worksheet: the values are openpyxl's, only slower.
What this does not read are the sheet's other parts (column widths, protection, formats):
openpyxl parses those while iterating, nothing here uses them.
"""

from __future__ import annotations

import pyexpat
import re
from collections.abc import Iterator
from typing import Any

from openpyxl.cell.text import Text
from openpyxl.utils.cell import coordinate_to_tuple
from openpyxl.utils.datetime import from_excel, from_ISO8601
from openpyxl.xml.functions import fromstring

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
MAIN = "{" + MAIN_NS + "}"
CELL, VALUE, INLINE, TEXT = (MAIN + t for t in ("c", "v", "is", "t"))
MAX_SHEET_BYTES = 64 * 1024 * 1024
"""A sheet's XML above this (about 80,000 rows of the appraisal workbook) is left to openpyxl's
streaming parser: the scan holds the text and its tokens (about 5 bytes a byte of XML)."""
TOKENS = re.compile(
    # 1-6: a plain cell: column letters, row, style, type, then nothing, a value or an inline text
    r'<c\s+r="([A-Z]{1,3})(\d+)"(?:\s+s="(\d+)")?(?:\s+t="(\w+)")?\s*'
    r'(?:/>|>(?:<v>([^<&]*)</v>)?</c>|>(<is><t(?:\s+xml:space="preserve")?>[^<]*</t></is>)</c>)'
    r'|(<c\b[^<>]*?(?:/>|>.*?</c>))'  # 7: a cell in any other form, read alone
    r'|(<row\b[^<>]*>)|(</row>)'  # 8: a row's start tag (``/>``: an empty row); 9: its end
    r'|(\s+)|(.)',  # 10: spaces between; 11: anything else, which the scan does not take
    re.S,
)
ROW_NUMBER = re.compile(r'\s+r="(\d+)"')
ATTRIBUTE = re.compile(r'\s+([\w:.-]+)\s*=\s*(?:"([^"<&]*)"|\'([^\'<&]*)\')')
ENTITY = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);")
NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}

Cells = list[tuple[int, Any]]
"""(column, value) of a row's cells in the order of the file."""


class Unsupported(Exception):
    """The sheet has something this reader does not take as openpyxl would."""


def _inline(node: Any) -> str:
    """An inline string's text: one plain ``<t>`` directly, anything else by openpyxl's class."""
    if len(node) == 1 and not node.attrib and node[0].tag == TEXT:
        return node[0].text or ""
    return Text.from_tree(node).content  # type: ignore[union-attr]  # from_tree gives a Text


def _unescape(text: str) -> str:
    """XML character and predefined entity references resolved (the XML was checked before)."""
    def one(m: re.Match[str]) -> str:
        ref = m.group(1)
        if ref[0] != "#":
            return NAMED[ref]
        return chr(int(ref[2:], 16) if ref[1] == "x" else int(ref[1:]))
    return ENTITY.sub(one, text) if "&" in text else text


def _inline_text(inline: str) -> str:
    """The text of a plain ``<is><t ...>text</t></is>`` (:data:`TOKENS` group 6)."""
    return _unescape(inline[inline.index(">", 4) + 1:-9])


def _refuse(*_: Any) -> None:
    raise Unsupported("entity declarations or external entities (defusedxml refuses them)")


def _check_well_formed(data: bytes) -> None:
    """The XML parses (namespaces included), as defusedxml's parser would accept it."""
    parser = pyexpat.ParserCreate(namespace_separator=" ")
    for handler in ("EntityDeclHandler", "UnparsedEntityDeclHandler", "ExternalEntityRefHandler"):
        setattr(parser, handler, _refuse)
    parser.Parse(data, True)


class _Cells:
    """openpyxl's ``WorkSheetParser.parse_cell`` (read-only, ``data_only``) for one sheet, with
    the column letters and style ids looked up once."""

    def __init__(self, ws: Any) -> None:
        wb = ws.parent
        self.strings, self.epoch = ws._shared_strings, wb.epoch
        self.dates, self.deltas = wb._date_formats, wb._timedelta_formats
        self.columns: dict[str, int] = {}
        self.styles: dict[str | None, Any] = {None: 0}

    def column(self, ref: str) -> int:
        letters = ref.rstrip("0123456789")
        column = self.columns.get(letters, 0) if len(letters) < len(ref) else 0
        if not column:  # openpyxl's own reading decides (and raises for a reference it refuses)
            column = self.columns[letters] = coordinate_to_tuple(ref)[1]
        return column

    def style(self, s: str | None) -> Any:
        style = self.styles.get(s)
        if style is None:
            style = self.styles[s] = int(s) if s else s  # openpyxl: element.get('s', 0), int if truthy
        return style

    def convert(self, kind: str, style: Any, value: str) -> Any:
        """A ``<v>`` text (not empty) of a cell of this type and style as openpyxl reads it."""
        if kind == "n":
            number = float(value) if "." in value or "E" in value or "e" in value else int(value)
            if style in self.dates:
                try:
                    return from_excel(number, self.epoch, timedelta=style in self.deltas)
                except (OverflowError, ValueError) as exc:  # openpyxl warns and reads #VALUE!
                    raise Unsupported("date out of range") from exc
            return number
        if kind == "s":
            return self.strings[int(value)]
        if kind == "b":
            return bool(int(value))
        if kind == "d":
            return from_ISO8601(value)
        return value  # "str" (a formula's text), "e" (an error) and any other kind: the text

    def plain(self, kind: str, s: str, value: str, inline: str) -> Any:
        """The value of a cell in the plain form :data:`TOKENS` reads (groups 3-6): the inline
        text of an ``inlineStr``, else its ``<v>``'s."""
        if kind == "inlineStr":
            return _inline_text(inline) if inline else None
        if inline or not value:
            return None
        if kind == "s":
            return self.strings[int(value)]
        return self.convert(kind or "n", self.style(s or None), value)

    def element(self, token: str, column: int) -> tuple[int, Any]:
        """(column, value) of a cell written in a form the scan does not read itself: parsed alone
        (in the sheet's namespace) and read as openpyxl reads the element."""
        c = fromstring(f'<c xmlns="{MAIN_NS}"{token[2:]}')
        kind, style = c.get("t", "n"), self.style(c.get("s"))
        if kind == "inlineStr":
            node = c.find(INLINE)
            value = None if node is None else _inline(node)
        else:
            text = c.findtext(VALUE) or None
            value = None if text is None else self.convert(kind, style, text)
        ref = c.get("r")
        return (self.column(ref) if ref else column + 1), value


def _sheet_data(text: str) -> tuple[int, int]:
    """Where the rows are: the start and end of the one ``sheetData``, whose elements are in the
    main namespace without a prefix; :class:`Unsupported` for anything else."""
    if text.startswith("<?xml"):
        declared = re.match(r"<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']+)", text)
        if declared and declared.group(1).lower().replace("-", "") != "utf8":
            raise Unsupported("not UTF-8")
    root = re.search(r"<worksheet\b[^>]*>", text)
    if root is None or f'xmlns="{MAIN_NS}"' not in root.group(0).replace("'", '"'):
        raise Unsupported("the main namespace is not the default one")
    first = text.find("<sheetData")
    if first < 0:
        return 0, 0
    # the sheet data's own text is checked by the scan itself: a comment, CDATA, an instruction, a
    # second sheetData or an element that is not a row or a cell there is a token it refuses
    opened = re.compile(r"<sheetData\s*>").match(text, first)
    end = text.rfind("</sheetData>")
    if opened is None or end < 0 or text.find("<sheetData", end) >= 0:
        raise Unsupported("sheetData more than once, with attributes or empty")
    start = opened.end()
    if text.find("<row", 0, start) >= 0 or text.find("<row", end) >= 0:
        raise Unsupported("rows outside the sheet data")
    return start, end


def _row_number(attributes: str, number: int) -> int:
    """A row's number: its ``r`` attribute, else the one after the last (openpyxl's rule)."""
    if "xmlns" in attributes:
        raise Unsupported("a namespace declared on a row")
    plain = ROW_NUMBER.match(attributes)  # r first, as every writer puts it: the r attribute
    if plain:
        return int(plain.group(1))
    found = ATTRIBUTE.findall(attributes)
    if ATTRIBUTE.sub("", attributes).strip():
        raise Unsupported(f"row attributes {attributes!r}")
    r = [a[1] or a[2] for a in found if a[0] == "r"]
    return number + 1 if not r else int(r[0])  # "5.0": ValueError, openpyxl's reading decides


def parse_rows(ws: Any) -> list[tuple[int, Cells]]:
    """(row number, cells) of every row of a read-only openpyxl worksheet, each value as openpyxl's
    read-only parser makes it; :class:`Unsupported` (or the error of the value) when not sure to."""
    if not ws.parent.data_only:
        raise Unsupported("formulas are read as text only by openpyxl")
    if ws.parent._archive.getinfo(ws._worksheet_path).file_size > MAX_SHEET_BYTES:
        raise Unsupported("sheet too large to read whole")
    with ws._get_source() as src:
        data = src.read()
    _check_well_formed(data)
    text = data.decode("utf-8").lstrip("\ufeff")
    start, end = _sheet_data(text)
    if "\r" in text[start:end]:  # XML reads every line break as \n
        text = text[start:end].replace("\r\n", "\n").replace("\r", "\n")
        start, end = 0, len(text)
    return _scan(text, start, end, _Cells(ws))


def _scan(text: str, start: int, end: int, cells_of: _Cells) -> list[tuple[int, Cells]]:
    """The rows between ``start`` and ``end`` of the sheet's text, token by token."""
    out: list[tuple[int, Cells]] = []
    number, column = 0, 0
    cells: Cells | None = None
    columns, plain = cells_of.columns, cells_of.plain
    for letters, digits, s, kind, value, inline, other, row, row_end, _, odd in TOKENS.findall(
            text, start, end):
        if letters or other:
            if cells is None:
                raise Unsupported("a cell outside a row")
            if other:
                column, got = cells_of.element(other, column)
            else:
                column = columns.get(letters) or cells_of.column(letters + digits)
                got = plain(kind, s, value, inline)
            cells.append((column, got))
        elif odd:
            raise Unsupported(f"{odd!r} in the sheet data")
        elif row_end:
            if cells is None:
                raise Unsupported("a row closed twice")
            cells = None
        elif row:
            if cells is not None:
                raise Unsupported("a row inside a row")
            empty = row.endswith("/>")
            number, column, cells = _row_number(row[4:-2] if empty else row[4:-1], number), 0, []
            out.append((number, cells))
            cells = None if empty else cells
    return out


class ValuesSheet:
    """A read-only worksheet's values parsed once; ``iter_rows(..., values_only=True)`` as openpyxl."""

    def __init__(self, ws: Any) -> None:
        self.title: str = ws.title
        self.max_row: int | None = ws.max_row
        self.max_column: int | None = ws.max_column
        self._rows = parse_rows(ws)

    def iter_rows(self, min_row: int | None = None, max_row: int | None = None, min_col: int | None = None,
                  max_col: int | None = None, values_only: bool = False) -> Iterator[Any]:
        """Rows of values between the bounds (the sheet's dimension when not given), as openpyxl's
        ``ReadOnlyWorksheet.iter_rows(values_only=True)``: missing rows and cells as None."""
        if not values_only:
            raise TypeError("ValuesSheet gives values only: iter_rows(..., values_only=True)")
        return self._cells_by_row(min_col or 1, min_row or 1, max_col or self.max_column,
                                  max_row or self.max_row)

    def _cells_by_row(self, min_col: int, min_row: int, max_col: int | None,
                      max_row: int | None) -> Iterator[Any]:
        # openpyxl.worksheet._read_only.ReadOnlyWorksheet._cells_by_row, step for step
        empty_row: Any = [] if max_col is None else (None,) * (max_col + 1 - min_col)
        counter, idx = min_row, 1
        for idx, cells in self._rows:
            if max_row is not None and idx > max_row:
                break
            for _ in range(counter, idx):
                counter += 1
                yield empty_row
            if counter <= idx:
                counter += 1
                yield self._row(cells, min_col, max_col)
        if max_row is not None and max_row < idx:
            for _ in range(counter, max_row + 1):
                yield empty_row

    @staticmethod
    def _row(cells: Cells, min_col: int, max_col: int | None) -> tuple[Any, ...]:
        # openpyxl.worksheet._read_only.ReadOnlyWorksheet._get_row with values_only
        if not cells and not max_col:
            return ()
        last = max_col or cells[-1][0]
        values: list[Any] = [None] * (last + 1 - min_col)
        for column, value in cells:
            if min_col <= column <= last:
                values[column - min_col] = value
        return tuple(values)


def values_sheet(ws: Any) -> Any:
    """``ws`` (a worksheet of a workbook openpyxl opened ``read_only``, ``data_only``) as a
    :class:`ValuesSheet`, or ``ws`` itself when the fast parse is not sure to give openpyxl's
    values (openpyxl then reads it, and raises or warns as it does)."""
    try:
        return ValuesSheet(ws)
    except Exception:  # noqa: BLE001 - whatever the surprise, openpyxl's own reading decides
        return ws
