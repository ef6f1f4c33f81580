"""The framework model: what a loaded, validated index framework file is.

Frozen dataclasses, built only by :mod:`dx_pipeline.index.loader` after the file passed its JSON
Schema and semantic checks, so the engine can trust every field (parameters present, points add
up, ids unique). The tree is pillars (chỉ số chính) holding indicators (chỉ số thành phần);
pillars may nest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dx_pipeline.reference.quarters import Quarter

TOTAL_ID = "total"
AGGREGATIONS = ("sum", "arithmetic", "geometric", "harmonic")
ZERO_DENOMINATOR_POLICIES = ("full", "zero", "not_applicable")
MISSING_POLICIES = ("zero", "carry_forward", "group_mean", "exclude")


@dataclass(frozen=True)
class Name:
    """A name in Vietnamese with its English equivalent."""

    vi: str
    en: str

    def __str__(self) -> str:
        return f"{self.vi} ({self.en})" if self.en and self.en != self.vi else self.vi


@dataclass(frozen=True)
class Node:
    """A pillar (has children) or an indicator (has a rule and an input code)."""

    id: str
    level: str  # "pillar" or "indicator"
    name: Name
    parent_id: str
    max_points: float
    weight: float | None = None
    children: tuple["Node", ...] = ()
    aggregation: str | None = None  # pillars: how their children combine
    kpi: str | None = None  # a catalogue KPI ...
    item: str | None = None  # ... or a framework-local input (evidence item, external index)
    rule: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    direction: str = "higher"
    zero_denominator: str | None = None  # overrides the framework policy
    missing: str | None = None
    evidence: str | None = None  # what the agency must attach for a self-reported item

    @property
    def is_indicator(self) -> bool:
        return self.level == "indicator"

    @property
    def input_code(self) -> str | None:
        return self.kpi or self.item

    @property
    def effective_weight(self) -> float:
        """Weight in a mean aggregation: the explicit weight, else the node's max points."""
        return float(self.weight) if self.weight is not None else float(self.max_points)

    def walk(self) -> Iterator["Node"]:
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True)
class AppliesTo:
    """Which agencies a framework or node is scored for: levels, peer groups, public services."""

    levels: tuple[str, ...]
    peer_groups: tuple[str, ...] | None = None
    requires_public_services: bool = False


@dataclass(frozen=True)
class Band:
    """A rating band: its code, names and the lowest share of the total points that reaches it."""

    code: str
    name_vi: str
    name_en: str
    min_share: float


@dataclass(frozen=True)
class RankingSpec:
    """How a framework ranks: the groups ranked apart and which units stay unranked."""

    groups: str = "peer_group"  # peer_group | all | explicit
    explicit: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    unranked: Mapping[str, Any] = field(default_factory=dict)  # registry column -> value


@dataclass(frozen=True)
class Framework:
    """A scoring framework (bộ chỉ số): its pillars and indicators, points, bands, policies."""

    id: str
    version: str
    title: Name
    effective_from: dt.date
    effective_to: dt.date | None
    applies_to: AppliesTo
    total_points: float
    decimals: int
    rounding_mode: str
    zero_denominator: str
    missing: str
    ranking: RankingSpec
    bands: tuple[Band, ...]
    aggregation: str  # how pillars combine into the total
    pillars: tuple[Node, ...]
    description: str = ""
    source: Path | None = None

    def nodes(self) -> Iterator[Node]:
        """Every pillar and indicator, depth first, in file order."""
        for pillar in self.pillars:
            yield from pillar.walk()

    def indicators(self) -> list[Node]:
        return [n for n in self.nodes() if n.is_indicator]

    def node(self, node_id: str) -> Node:
        for n in self.nodes():
            if n.id == node_id:
                return n
        raise KeyError(f"{self.id}: no node {node_id!r}")

    def is_effective(self, when: dt.date | Quarter | str) -> bool:
        """True if the framework is in force on a day, or at any time in a quarter."""
        if isinstance(when, str):
            when = Quarter.parse(when)
        if isinstance(when, Quarter):
            start, last = when.start, when.last_day
        else:
            start = last = when
        return self.effective_from <= last and (self.effective_to is None or self.effective_to >= start)

    def band_for(self, share: float | None) -> Band | None:
        if share is None or share != share:
            return None
        for band in sorted(self.bands, key=lambda b: -b.min_share):
            if share >= band.min_share - 1e-12:
                return band
        return None

    @property
    def label(self) -> str:
        return f"{self.id} v{self.version}"
