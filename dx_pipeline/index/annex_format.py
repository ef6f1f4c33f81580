"""The annex workbook's layout and the short texts its cells hold.

A province publishes its index as a table in a decision's annex; ``framework import`` reads
that table from a workbook and ``framework export`` writes the same workbook for a council to
review. This module says what the workbook holds (sheets, columns, their headers in
Vietnamese and English) and how one cell's text turns into a framework field and back:

- scoring method: ``RULE`` with its parameters as a YAML flow mapping, then ``; key=value``
  settings, e.g. ``goalpost {threshold: 0.8}; missing=exclude``; for a main indicator
  (pillar) its aggregation, e.g. ``sum`` or ``arithmetic; weight=2``;
- data source: a KPI code of the catalogue (``online_dossier_rate``), or ``item:CODE`` for an
  input the framework defines itself;
- origin: what differs from the framework's default origin, ``name=dn3473; points=illustration``;
- points go to (a not-assessed indicator): ``proportional`` or ``CQ.1=10; CQ.2=15``;
- framework facts (sheet ThongTin): dotted keys (``ranking.ties``) with YAML values.

Reading and writing the workbook file is :mod:`dx_pipeline.index.annex`; nothing here does I/O.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from dx_pipeline.index.rules import RULES
from dx_pipeline.reference.frameworks import AGGREGATIONS, PROPORTIONAL

INFO_SHEET = "ThongTin"
DOCUMENTS_SHEET = "VanBan"
INDICATORS_SHEET = "ChiSo"
BANDS_SHEET = "XepLoai"
SUMMARY_SHEET = "TomTat"
"""Sheet names; the summary is written for readers and ignored on import."""


@dataclass(frozen=True)
class Column:
    """One column of a sheet: its key, Vietnamese and English header, and what goes in it."""

    key: str
    vi: str
    en: str
    required: bool = False
    note: str = ""
    read_only: bool = False  # written by export for readers, ignored by import

    @property
    def header(self) -> str:
        return f"{self.vi} / {self.en}"


INDICATOR_COLUMNS: tuple[Column, ...] = (
    Column("code", "Mã", "Code", True, "the indicator's id, e.g. CQ.1; a main indicator's id, e.g. CQ"),
    Column(
        "parent", "Thuộc", "Parent", False, "the main indicator a component belongs to; empty for a main one"
    ),
    Column("name_vi", "Tên chỉ số", "Name (Vietnamese)", True),
    Column("name_en", "Tên tiếng Anh", "Name (English)", True),
    Column("max_points", "Điểm tối đa", "Max points", True),
    Column(
        "scoring_method",
        "Cách tính điểm",
        "Scoring method",
        True,
        "e.g. linear; goalpost {threshold: 0.8}; boolean; for a main indicator: sum",
    ),
    Column(
        "data_source",
        "Nguồn số liệu",
        "Data source",
        False,
        "a KPI code of the catalogue, or item:CODE; empty for a main indicator",
    ),
    Column("evidence", "Minh chứng", "Evidence required", False, "what the agency must attach"),
    Column(
        "origin",
        "Nguồn gốc",
        "Origin",
        False,
        "where it differs from the framework's default: name=…; points=…; rule=… "
        "(a document id of sheet VanBan, or illustration)",
    ),
    Column("not_assessed_vi", "Không đánh giá: lý do", "Not assessed: reason (Vietnamese)", False),
    Column("not_assessed_en", "Không đánh giá: lý do (tiếng Anh)", "Not assessed: reason (English)", False),
    Column("redistribute", "Điểm chuyển cho", "Points go to", False, "proportional, or CQ.1=10; CQ.2=15"),
    Column("explained", "Diễn giải", "Explained", False, "written for readers, ignored on import", True),
)
DOCUMENT_COLUMNS: tuple[Column, ...] = (
    Column("id", "Mã văn bản", "Document id", True, "referred to by origins, e.g. dn3473"),
    Column("kind", "Loại", "Kind", True, "decision, guidance or publication"),
    Column("number", "Số hiệu", "Number", False, "required for a decision, e.g. 3473/QĐ-UBND"),
    Column("date", "Ngày ban hành", "Date", False, "required for a decision"),
    Column("issuer_vi", "Cơ quan ban hành", "Issuer (Vietnamese)", True),
    Column("issuer_en", "Cơ quan ban hành (tiếng Anh)", "Issuer (English)", True),
    Column("title_vi", "Trích yếu", "Title (Vietnamese)", True),
    Column("title_en", "Trích yếu (tiếng Anh)", "Title (English)", True),
    Column("consulted", "Đã đọc", "Consulted", False, "text (the full text) or summary"),
)
BAND_COLUMNS: tuple[Column, ...] = (
    Column("code", "Mã", "Code", True),
    Column("name_vi", "Xếp loại", "Band (Vietnamese)", True),
    Column("name_en", "Xếp loại (tiếng Anh)", "Band (English)", True),
    Column("min_share", "Tỷ lệ điểm tối thiểu", "Minimum share of the points", True, "0..1"),
)
INFO_COLUMNS: tuple[Column, ...] = (
    Column("key", "Khóa", "Key", True),
    Column("value", "Giá trị", "Value", True),
    Column("meaning", "Ý nghĩa", "Meaning", False, read_only=True),
)
TEXT_KEYS = frozenset(
    {
        "id",
        "version",
        "title.vi",
        "title.en",
        "description",
        "effective.from",
        "effective.to",
        "provenance.note.vi",
        "provenance.note.en",
    }
)
"""Framework facts read as text, never as YAML (a version 2025.10 is not the number 2025.1)."""
INFO_MEANINGS = {
    "id": "framework id (lower case, digits, _)",
    "version": "version of the framework",
    "title.vi": "title in Vietnamese",
    "title.en": "title in English",
    "effective.from": "in force from (yyyy-mm-dd)",
    "effective.to": "in force until (empty: open)",
    "applies_to.levels": "agency levels scored: department, district, commune, province",
    "total_points": "points of the whole framework",
    "provenance.origin.name": "default origin of names: a document id or illustration",
    "provenance.origin.points": "default origin of points",
    "provenance.origin.rule": "default origin of rules",
    "provenance.bands": "origin of the bands: a document id or illustration",
    "ranking.ties": "shared (1, 2, 2, 4) or consecutive (1, 2, 3, 4)",
}
DOCUMENT_ORDER = (
    "id",
    "version",
    "title",
    "description",
    "provenance",
    "effective",
    "applies_to",
    "total_points",
    "rounding",
    "policies",
    "ranking",
    "bands",
    "aggregation",
    "pillars",
)
"""The order of a framework file's top-level keys (unknown keys go last, for the schema to name)."""
SETTINGS = ("direction", "zero_denominator", "missing", "weight", "unit")
"""Indicator settings a scoring method may carry after its rule (``; missing=exclude``)."""


def normalise_header(text: Any) -> str:
    """Header text as compared: NFC, case-folded, spaces collapsed."""
    return " ".join(unicodedata.normalize("NFC", str(text or "")).casefold().split())


def header_keys(columns: tuple[Column, ...]) -> dict[str, str]:
    """Every accepted spelling of a header -> its column key (full header, either half, key)."""
    out = {}
    for c in columns:
        for spelling in (c.header, c.vi, c.en, c.key):
            out[normalise_header(spelling)] = c.key
    return out


# ---------------------------------------------------------------- scoring method
def flow(value: Any) -> str:
    """A value as one line of YAML flow text (``{threshold: 0.8}``, ``[a, b]``, ``0.8``)."""
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, sort_keys=False, width=10**6)
    lines = [line for line in text.splitlines() if line.strip() != "..."]
    return " ".join(lines).strip()


def method_text(node_fields: Mapping[str, Any], pillar: bool) -> str:
    """The scoring-method cell of a framework document node."""
    if pillar:
        head = str(node_fields.get("aggregation", "sum"))
        extra = {"weight": node_fields["weight"]} if "weight" in node_fields else {}
    else:
        head = str(node_fields["rule"])
        if node_fields.get("params"):
            head += " " + flow(dict(node_fields["params"]))
        extra = {k: node_fields[k] for k in SETTINGS if k in node_fields}
    return "; ".join([head] + [f"{k}={flow(v)}" for k, v in extra.items()])


def parse_method(text: str, pillar: bool) -> dict[str, Any]:
    """The node fields a scoring-method cell gives; ``ValueError`` says what is wrong."""
    parts = [p.strip() for p in str(text).split(";")]
    head, settings = parts[0], parts[1:]
    name, _, rest = head.partition(" ")
    name = name.strip()
    out: dict[str, Any] = {}
    if pillar:
        if name not in AGGREGATIONS:
            raise ValueError(f"{name!r} is not an aggregation (use {', '.join(AGGREGATIONS)})")
        if rest.strip():
            raise ValueError("a main indicator's method is its aggregation alone (e.g. sum)")
        out["aggregation"] = name
    else:
        if name not in RULES:
            raise ValueError(f"{name!r} is not a scoring rule (use {', '.join(RULES)})")
        out["rule"] = name
        if rest.strip():
            out["params"] = _params(rest.strip())
    allowed = ("weight",) if pillar else SETTINGS
    for setting in filter(None, settings):
        key, sep, value = setting.partition("=")
        key = key.strip()
        if not sep or key not in allowed:
            raise ValueError(f"setting {setting!r} is not key=value with key one of {', '.join(allowed)}")
        out[key] = _yaml_value(value.strip(), setting)
    return out


def _params(text: str) -> dict[str, Any]:
    value = _yaml_value(text, text)
    if not isinstance(value, dict):
        raise ValueError(f"parameters {text!r} must be written as {{name: value, ...}}")
    return value


def _yaml_value(text: str, where: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        raise ValueError(f"{where!r} cannot be read (write values as 0.8, [a, b] or {{k: v}})") from None


# ---------------------------------------------------------------- origin, points go to
def pairs_text(pairs: Mapping[str, Any]) -> str:
    """``name=dn3473; points=illustration``."""
    return "; ".join(f"{k}={flow(v) if not isinstance(v, str) else v}" for k, v in pairs.items())


def parse_pairs(text: str, keys: tuple[str, ...] | None, number: bool) -> dict[str, Any]:
    """``k=v; k=v`` -> dict; ``keys`` limits the keys (None: any), ``number`` the values."""
    out: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in str(text).split(";"))):
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise ValueError(f"{part!r} is not key=value")
        if keys is not None and key not in keys:
            raise ValueError(f"{key!r} is not one of {', '.join(keys)}")
        if key in out:
            raise ValueError(f"{key!r} is given twice")
        out[key] = _points(value, part) if number else value
    return out


def _points(value: str, where: str) -> float:
    try:
        return float(value.replace(",", "."))
    except ValueError:
        raise ValueError(f"{where!r}: {value!r} is not a number of points") from None


def redistribute_text(value: Any) -> str:
    """Where a not-assessed indicator's points go, as its cell: ``proportional`` or ``CQ.1=10; CQ.2=15``."""
    return PROPORTIONAL if value == PROPORTIONAL else pairs_text(value)


def parse_redistribute(text: str) -> str | dict[str, float]:
    """The cell's ``proportional`` or ``CQ.1=10; CQ.2=15`` as the framework file's redistribute."""
    if str(text).strip().casefold() == PROPORTIONAL:
        return PROPORTIONAL
    return parse_pairs(text, None, number=True)


# ---------------------------------------------------------------- framework facts
def flatten(doc: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings -> dotted keys (``ranking.ties``); lists and scalars are leaves."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, dotted + "."))
        elif not (isinstance(value, Mapping) and not value):
            out[dotted] = value
    return out


def unflatten(items: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted keys -> nested mappings; ``ValueError`` when a key is both a value and a group."""
    out: dict[str, Any] = {}
    for dotted, value in items.items():
        *groups, leaf = dotted.split(".")
        cur = out
        for g in groups:
            cur = cur.setdefault(g, {})
            if not isinstance(cur, dict):
                raise ValueError(f"{dotted!r}: {g!r} is given a value of its own")
        if isinstance(cur.get(leaf), dict):
            raise ValueError(f"{dotted!r} holds other keys")
        cur[leaf] = value
    return out


def info_text(key: str, value: Any) -> str:
    """A framework fact as its ThongTin cell: text keys as written, others as YAML flow."""
    if value is None:
        return ""
    return str(value) if key in TEXT_KEYS else flow(value)


def parse_info(key: str, text: Any) -> Any:
    """A ThongTin cell as the framework fact it holds."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    if key in TEXT_KEYS or not isinstance(text, str):
        return text if not isinstance(text, str) else text.strip()
    return _yaml_value(text, f"{key} = {text}")
