"""How the site says things: Vietnamese first, English beside it.

Numbers in Vietnamese style (``1.234,5``), percentages, dates and times in Vietnam time with
the zone named, movement in the ranking, bands, agency levels and the names of peer groups
(``department-ps`` is "Sở, ban, ngành – Tỉnh Phước Sơn", never "nhóm department-ps"). Page
layout belongs to the templates and :mod:`dx_pipeline.publish.site.pages`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

import pandas as pd

from dx_pipeline.index.explain import number_en, number_vi
from dx_pipeline.reference.frameworks import Name
from dx_pipeline.reference.quarters import Period

LEVELS = {
    "province": Name("Ủy ban nhân dân tỉnh", "Provincial People's Committee"),
    "department": Name("Sở, ban, ngành", "Departments and agencies"),
    "district": Name("Ủy ban nhân dân cấp huyện", "District People's Committees"),
    "commune": Name("Ủy ban nhân dân cấp xã", "Commune People's Committees"),
}
"""An agency level as a group of agencies (a peer group named after its level)."""
LEVEL_ONE = {
    "province": Name("Cấp tỉnh", "Province"),
    "department": Name("Sở, ban, ngành", "Department or agency"),
    "district": Name("Cấp huyện", "District"),
    "commune": Name("Cấp xã", "Commune"),
}
"""The level of one agency."""
BAND_KEYS = ("tot", "kha", "trung-binh", "yeu")
_PREFIXES = (("Ủy ban nhân dân ", "People's Committee of "), ("UBND ", "People's Committee of "))


def missing(x: Any) -> bool:
    """None, NaN, pandas NA or NaT."""
    if x is None or x is pd.NA or x is pd.NaT:
        return True
    return isinstance(x, float) and math.isnan(x)


def num_vi(x: Any, digits: int = 2) -> str:
    """A number the Vietnamese way, a dash when missing."""
    return "–" if missing(x) else number_vi(float(x), digits)


def num_en(x: Any, digits: int = 2) -> str:
    """A number the English way, a dash when missing."""
    return "–" if missing(x) else number_en(float(x), digits)


def points_vi(x: Any, decimals: int = 2) -> str:
    """Points with a fixed number of decimals, so a column of them lines up: ``955,00``."""
    if missing(x):
        return "–"
    text = f"{float(x):,.{decimals}f}"
    return text.replace(",", "\u2009").replace(".", ",").replace("\u2009", ".")


def pct_vi(x: Any, digits: int = 1) -> str:
    """A share 0..1 as ``72,5%``."""
    return "–" if missing(x) else number_vi(float(x) * 100, digits) + "%"


def local_time(when: dt.datetime) -> Name:
    """``02/12/2026 14:55 (giờ Việt Nam, UTC+7)``: the zone is always said."""
    return Name(f"{when:%d/%m/%Y %H:%M} (giờ Việt Nam, UTC+7)",
                f"{when:%d %b %Y %H:%M} (Vietnam time, UTC+7)")


def date_words(day: dt.date) -> Name:
    """``ngày 15/01/2026`` / ``15 Jan 2026``."""
    return Name(f"ngày {day:%d/%m/%Y}", f"{day:%d %b %Y}")


def movement(change: Any, previous: Any, measured: bool = True) -> dict[str, str]:
    """▲ places gained, ▼ places lost, = unchanged, ★ not ranked last period; – not compared
    (``measured`` False: nothing of the previous period was published, so no agency is "new"
    and none "kept its rank")."""
    if not measured:
        return {"symbol": "–", "text": "không so sánh", "en": "not compared", "cls": "none"}
    if missing(previous):
        return {"symbol": "★", "text": "mới", "en": "new", "cls": "new"}
    if missing(change) or int(change) == 0:
        return {"symbol": "=", "text": "giữ hạng", "en": "same", "cls": "same"}
    c = int(change)
    if c > 0:
        return {"symbol": "▲", "text": f"tăng {c}", "en": f"up {c}", "cls": "up"}
    return {"symbol": "▼", "text": f"giảm {-c}", "en": f"down {-c}", "cls": "down"}


PERIOD_KIND = {"quarter": Name("quý", "quarter"), "half": Name("6 tháng", "half-year"),
               "year": Name("năm", "year")}


def no_previous_published(previous: Period) -> Name:
    """What a revision ranked before its previous period was published says instead of
    movement: "chưa công bố kỳ trước / no previous quarter published"."""
    kind = PERIOD_KIND.get(previous.kind, PERIOD_KIND["quarter"])
    return Name(
        f"Chưa công bố kỳ trước ({kind.vi} trước: {previous.title_vi}): không so sánh thứ hạng với kỳ "
        "trước; thứ hạng sẽ được so sánh khi kỳ trước được công bố.",
        f"No previous {kind.en} published ({previous.title_en}): rank movement is not shown; it "
        "will be once the previous period is published.",
    )


def band_key(band: Any) -> str:
    """``Trung bình`` -> ``trung-binh``: the CSS class of a band's colour (``none`` if unknown)."""
    if missing(band):
        return "none"
    text = unicodedata.normalize("NFD", str(band).strip().lower()).replace("đ", "d")
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    key = "-".join(text.replace("_", " ").split())
    return key if key in BAND_KEYS else "none"


def slug(code: str) -> str:
    """A file name for an agency or group code: ASCII letters, digits, ``-`` and ``_``."""
    text = unicodedata.normalize("NFD", str(code)).replace("đ", "d").replace("Đ", "D")
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


def peer_group_names(agencies: pd.DataFrame | None, groups: Iterable[str]) -> dict[str, Name]:
    """Each peer group's name: the name of its members' level (``Sở, ban, ngành``); when
    several groups share a level (before a province merger, each province's departments), each
    also names the province its members belong to, or, failing that, its code."""
    groups = [str(g) for g in groups]
    by_code = {} if agencies is None else {str(r["agency_code"]): r for r in agencies.to_dict("records")}
    members = {g: [r for r in by_code.values() if str(r.get("peer_group")) == g] for g in groups}
    level_of = {}
    for g in groups:
        levels = {str(r["level"]) for r in members[g]}
        level_of[g] = levels.pop() if len(levels) == 1 else g
    out = {}
    for g in groups:
        base = LEVELS.get(level_of[g], Name(g, g))
        if sum(1 for other in groups if level_of[other] == level_of[g]) == 1:
            out[g] = base
            continue
        out[g] = _with_owner(base, g, members[g], by_code)
    return out


def _with_owner(base: Name, group: str, members: list[dict], by_code: dict[str, dict]) -> Name:
    """``Sở, ban, ngành – Tỉnh Phước Sơn``: the level's name and the province of every member."""
    owners = {str(o["agency_code"]) if o else None for o in (_province_of(r, by_code) for r in members)}
    owner = by_code.get(str(owners.pop())) if len(owners) == 1 else None
    if owner is None:
        return Name(f"{base.vi} (nhóm {group})", f"{base.en} (group {group})")
    return Name(f"{base.vi} – {_short(owner['name_vi'], 0)}", f"{base.en} – {_short(owner['name_en'], 1)}")


def _province_of(row: dict, by_code: dict[str, dict]) -> dict | None:
    """The province an agency belongs to, following parent codes."""
    seen = set()
    current: dict | None = row
    while current is not None and str(current.get("level")) != "province":
        code = current.get("parent_code")
        if missing(code) or code in seen:
            return None
        seen.add(code)
        current = by_code.get(str(code))
    return current


def _short(name: Any, lang: int) -> str:
    """``Ủy ban nhân dân Tỉnh Phước Sơn`` -> ``Tỉnh Phước Sơn``."""
    text = str(name or "")
    for pair in _PREFIXES:
        if text.startswith(pair[lang]):
            return text[len(pair[lang]):]
    return text
