"""The KPI catalogue: every measure, its names, source, unit, direction and aggregation.

The catalogue is data (``config/kpi_catalogue.yaml``) so a province can add or rename a KPI
without touching code. Loading validates every entry and fails with a message naming the file,
the KPI and the field that is wrong, because a silently misread direction or unit would turn a
good agency into a bad one.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType

import yaml

from dx_pipeline.reference import config_cache
from dx_pipeline.reference.frozen import FrozenDict, freeze

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

SOURCES = ("portal", "procedure", "submission")
UNITS = ("ratio", "count", "days", "bool", "level", "evidence", "amount")
DIRECTIONS = ("higher", "lower")
AGGREGATIONS = ("ratio", "sum", "latest")
AGENCY_LEVELS = ("province", "department", "district", "commune")
UNIT_LABELS = {
    "ratio": "%",
    "count": "số lượng",
    "days": "ngày",
    "bool": "có/không",
    "level": "mức",
    "evidence": "có/không + minh chứng",
    "amount": "triệu đồng",
}
"""Each unit as clerks and officials name it (the template's DonViTinh, the BI lookup)."""


@dataclass(frozen=True)
class KPI:
    """One measure of the catalogue."""

    code: str
    name_vi: str
    name_en: str
    source: str
    unit: str
    direction: str
    aggregation: str
    definition_en: str
    numerator: str = ""
    denominator: str = ""
    levels: Mapping[str, float] = field(default_factory=FrozenDict)
    applies_to: tuple[str, ...] = AGENCY_LEVELS
    sectors: tuple[str, ...] = ()
    frameworks: tuple[str, ...] = ()
    note: str = ""

    @property
    def is_ratio(self) -> bool:
        return self.aggregation == "ratio"

    @property
    def higher_is_better(self) -> bool:
        return self.direction == "higher"

    def meets(self, value: float | None, target: float | None) -> bool | None:
        """Whether ``value`` reaches ``target`` in this KPI's direction (None if either is missing)."""
        if value is None or target is None:
            return None
        return value >= target if self.higher_is_better else value <= target


@dataclass(frozen=True)
class Catalogue(Mapping[str, KPI]):
    """Read-only mapping ``code -> KPI`` with a few selectors."""

    kpis: Mapping[str, KPI]
    path: str = ""

    def __getitem__(self, code: str) -> KPI:
        try:
            return self.kpis[code]
        except KeyError:
            raise KeyError(f"KPI {code!r} is not in the catalogue {self.path}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.kpis)

    def __len__(self) -> int:
        return len(self.kpis)

    def by_source(self, source: str) -> list[KPI]:
        return [k for k in self.kpis.values() if k.source == source]


def default_catalogue_path() -> Path:
    """The packaged KPI catalogue (``dx_pipeline/config/kpi_catalogue.yaml``)."""
    return Path(str(resources.files("dx_pipeline") / "config" / "kpi_catalogue.yaml"))


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """Load and validate the KPI catalogue (the packaged one when ``path`` is None)."""
    path = Path(path) if path else default_catalogue_path()
    return config_cache.cached_parse("kpi_catalogue", path, None, lambda: _read_catalogue(path))


def _read_catalogue(path: Path) -> Catalogue:
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("kpis"), dict):
        raise ValueError(f"{path}: expected a mapping with a 'kpis' mapping at the top")
    kpis = {str(code): _parse_kpi(path, str(code), spec) for code, spec in doc["kpis"].items()}
    return Catalogue(MappingProxyType(kpis), str(path))


@functools.lru_cache(maxsize=1)
def packaged_catalogue() -> Catalogue:
    """The packaged catalogue, read once per process: it is package data, and parsing it costs
    more than what most callers do with it (publishing, rendering the site)."""
    return load_catalogue()


def _parse_kpi(path: Path, code: str, spec: object) -> KPI:
    where = f"{path}: KPI {code!r}"
    if not isinstance(spec, dict):
        raise ValueError(f"{where}: expected a mapping of fields")
    for required in ("name_vi", "name_en", "source", "unit", "direction", "aggregation", "definition_en"):
        if not str(spec.get(required) or "").strip():
            raise ValueError(f"{where}: field {required!r} is missing or empty")
    for name, allowed in (
        ("source", SOURCES),
        ("unit", UNITS),
        ("direction", DIRECTIONS),
        ("aggregation", AGGREGATIONS),
    ):
        if spec[name] not in allowed:
            raise ValueError(f"{where}: {name} {spec[name]!r} is not one of {', '.join(allowed)}")
    known = set(KPI.__dataclass_fields__) - {"code"}
    unknown = set(spec) - known
    if unknown:
        raise ValueError(f"{where}: unknown fields {sorted(unknown)}")
    levels = spec.get("levels") or {}
    if spec["unit"] == "level" and not levels:
        raise ValueError(f"{where}: a 'level' KPI needs 'levels' (code -> credit 0..1)")
    for lvl, credit in levels.items():
        if not isinstance(credit, (int, float)) or not 0 <= credit <= 1:
            raise ValueError(f"{where}: level {lvl!r} credit must be a number 0..1, got {credit!r}")
    applies_to = tuple(spec.get("applies_to") or AGENCY_LEVELS)
    bad = [lvl for lvl in applies_to if lvl not in AGENCY_LEVELS]
    if bad:
        raise ValueError(f"{where}: applies_to has unknown levels {bad} (use {', '.join(AGENCY_LEVELS)})")
    if spec["aggregation"] == "ratio" and spec["unit"] not in ("ratio", "days"):
        raise ValueError(f"{where}: aggregation 'ratio' needs unit ratio or days, got {spec['unit']!r}")
    return KPI(
        code=code,
        name_vi=str(spec["name_vi"]),
        name_en=str(spec["name_en"]),
        source=spec["source"],
        unit=spec["unit"],
        direction=spec["direction"],
        aggregation=spec["aggregation"],
        definition_en=" ".join(str(spec["definition_en"]).split()),
        numerator=str(spec.get("numerator") or ""),
        denominator=str(spec.get("denominator") or ""),
        levels=freeze({str(k): float(v) for k, v in levels.items()}),
        applies_to=applies_to,
        sectors=tuple(spec.get("sectors") or ()),
        frameworks=tuple(spec.get("frameworks") or ()),
        note=str(spec.get("note") or ""),
    )
