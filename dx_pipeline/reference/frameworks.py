"""The framework model: what a loaded, validated index framework file is.

Frozen dataclasses, built only by :mod:`dx_pipeline.index.loader` after the file passed its JSON
Schema and semantic checks, so the engine can trust every field (parameters present, points add
up, ids unique). The tree is pillars (chỉ số chính) holding indicators (chỉ số thành phần);
pillars may nest.

Every framework states where it comes from (:class:`Provenance`): the documents it draws on
(a decision's number, date and issuer) and, per node, whether its name, points and rule are
taken from one of them or are this project's illustration (:class:`Origin`). An indicator
that nothing can fill may be declared not assessed, with where its points go
(:class:`NotAssessed`). Reading files and checking them belongs to ``dx_pipeline.index``, not
here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dx_pipeline.reference.frozen import FrozenDict
from dx_pipeline.reference.quarters import Quarter

TOTAL_ID = "total"
AGGREGATIONS = ("sum", "arithmetic", "geometric", "harmonic")
ZERO_DENOMINATOR_POLICIES = ("full", "zero", "not_applicable")
MISSING_POLICIES = ("zero", "carry_forward", "group_mean", "exclude")
ILLUSTRATION = "illustration"
"""An origin that is this project's illustration, not the text of any document."""
DOCUMENT_KINDS = ("decision", "guidance", "publication")
PROPORTIONAL = "proportional"
"""Not-assessed points shared among the assessed siblings in proportion to their points."""
TIE_RULES = ("shared", "consecutive")
ROUNDING_COMBINE = ("rounded", "unrounded")


@dataclass(frozen=True)
class Name:
    """A name in Vietnamese with its English equivalent."""

    vi: str
    en: str

    def __str__(self) -> str:
        return f"{self.vi} ({self.en})" if self.en and self.en != self.vi else self.vi


@dataclass(frozen=True)
class Document:
    """A document a framework is taken from: a decision (number, date, issuer), a guidance
    text or a publication. ``consulted`` says what of it was read: its full ``text`` or only a
    published ``summary`` (then anything finer than the summary is an illustration)."""

    id: str
    kind: str
    issuer: Name
    title: Name
    number: str | None = None
    date: dt.date | None = None
    consulted: str = "text"

    def citation(self) -> str:
        """``Decision 3473/QĐ-UBND of 29/12/2023 (People's Committee of Đồng Nai province)``."""
        kind = {"decision": "Decision", "guidance": "Guidance", "publication": "Publication"}[self.kind]
        head = f"{kind} {self.number}" if self.number else f"{kind} “{self.title.en}”"
        when = f" of {self.date:%d/%m/%Y}" if self.date else ""
        return f"{head}{when} ({self.issuer.en})"

    def citation_vi(self) -> str:
        """``Quyết định 3473/QĐ-UBND ngày 29/12/2023 (Ủy ban nhân dân tỉnh Đồng Nai)``."""
        kind = {"decision": "Quyết định", "guidance": "Hướng dẫn", "publication": "Ấn phẩm"}[self.kind]
        head = f"{kind} {self.number}" if self.number else f"{kind} “{self.title.vi}”"
        when = f" ngày {self.date:%d/%m/%Y}" if self.date else ""
        return f"{head}{when} ({self.issuer.vi})"


@dataclass(frozen=True)
class Origin:
    """Where a node's name, points and (indicators) rule come from: a document id of the
    framework's provenance, or :data:`ILLUSTRATION`."""

    name: str = ILLUSTRATION
    points: str = ILLUSTRATION
    rule: str | None = ILLUSTRATION

    def illustrated(self) -> tuple[str, ...]:
        """The fields that are this project's illustration (``name``, ``points``, ``rule``)."""
        fields = (("name", self.name), ("points", self.points), ("rule", self.rule))
        return tuple(f for f, v in fields if v == ILLUSTRATION)


@dataclass(frozen=True)
class NotAssessed:
    """An indicator the framework does not assess, why, and where its points go: the
    assessed siblings in proportion to their points (``redistribute`` empty), or the named
    siblings with the stated points."""

    reason: Name
    redistribute: Mapping[str, float] = field(default_factory=dict)

    @property
    def proportional(self) -> bool:
        return not self.redistribute


@dataclass(frozen=True)
class Provenance:
    """What a framework is taken from, and whether its bands are."""

    documents: tuple[Document, ...]
    bands: str = ILLUSTRATION  # a document id or ILLUSTRATION
    note: Name | None = None

    def document(self, doc_id: str) -> Document:
        for d in self.documents:
            if d.id == doc_id:
                return d
        raise KeyError(f"no document {doc_id!r} in the provenance")

    @property
    def primary(self) -> Document:
        """The framework's main source: its first decision, else its first document."""
        decisions = [d for d in self.documents if d.kind == "decision"]
        return (decisions or list(self.documents))[0]


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
    params: Mapping[str, Any] = field(default_factory=FrozenDict)
    direction: str = "higher"
    zero_denominator: str | None = None  # overrides the framework policy
    missing: str | None = None
    evidence: str | None = None  # what the agency must attach for a self-reported item
    unit: str | None = None  # an item's unit (a catalogue KPI's unit is the catalogue's)
    origin: Origin = field(default_factory=Origin)
    not_assessed: NotAssessed | None = None

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
    """Who is ranked against whom, and how tied totals are ranked.

    ``ties``: ``shared`` gives tied totals the best rank (1, 2, 2, 4: competition ranks, as the
    UN EGDI and QĐ 766 across provinces publish them); ``consecutive`` gives them consecutive
    ranks in agency-code order (1, 2, 3, 4: the national portal's list of one province's units).
    """

    groups: str = "peer_group"  # peer_group | all | explicit
    explicit: Mapping[str, tuple[str, ...]] = field(default_factory=FrozenDict)
    unranked: Mapping[str, Any] = field(default_factory=FrozenDict)  # registry column -> value
    ties: str = "shared"  # one of TIE_RULES


@dataclass(frozen=True)
class FrameworkVersion:
    """One effective-dated version of a framework: its label and how it rounds (a survey
    edition of the UN EGDI, say: 5 decimals up to 2016, 4 from 2018)."""

    version: str
    effective_from: dt.date
    effective_to: dt.date | None
    decimals: int
    note: str = ""

    def covers(self, day: dt.date) -> bool:
        """True if the version is in force on ``day``."""
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)


@dataclass(frozen=True)
class Framework:
    """A loaded, validated framework: header, policies, bands, provenance and the node tree.

    ``decimals`` and ``rounding_combine`` say how points are rounded: every node's points are
    published to ``decimals`` places (half up); a parent combines its children's rounded points
    (``rounded``, as QĐ 766 adds rounded indicator points) or their unrounded values
    (``unrounded``, as the UN averages unrounded EGDI components). ``versions`` are the
    framework's effective-dated versions, if it has several: :meth:`at` gives the one in force.
    """

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
    provenance: Provenance
    description: str = ""
    source: Path | None = None
    rounding_combine: str = "rounded"  # one of ROUNDING_COMBINE
    versions: tuple[FrameworkVersion, ...] = ()
    out_of_range: str = "refuse"  # refuse | clip: input values outside their unit's range
    input_codes: str = "exact"  # exact | ignore_case: how input tables' codes are matched

    def nodes(self) -> Iterator[Node]:
        """Every pillar and indicator, depth first, in file order."""
        for pillar in self.pillars:
            yield from pillar.walk()

    def indicators(self) -> list[Node]:
        return [n for n in self.nodes() if n.is_indicator]

    @property
    def carries_forward(self) -> bool:
        """Whether an indicator takes last quarter's value when this quarter's is missing (the
        ``carry_forward`` policy): the quarter's scores then depend on the previous quarter's
        KPIs, which must be computed first."""
        return any((n.missing or self.missing) == "carry_forward" for n in self.indicators())

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

    def at(self, when: dt.date | Quarter | str) -> Framework:
        """The framework as in force on a day (a quarter: on its last day): the version covering
        it, with that version's label and rounding; itself if it has no version there."""
        if isinstance(when, str):
            when = Quarter.parse(when)
        day = when.last_day if isinstance(when, Quarter) else when
        for v in self.versions:
            if v.covers(day):
                return replace(self, version=v.version, decimals=v.decimals)
        return self

    # ------------------------------------------------------------------ provenance
    def illustrated_nodes(self) -> list[Node]:
        """Pillars and indicators whose name, points or rule are this project's illustration."""
        return [n for n in self.nodes() if n.origin.illustrated()]

    @property
    def bands_illustrative(self) -> bool:
        return bool(self.bands) and self.provenance.bands == ILLUSTRATION

    @property
    def illustrative(self) -> bool:
        """True unless every node and the bands are taken from the framework's documents."""
        return bool(self.illustrated_nodes()) or self.bands_illustrative

    def not_assessed(self) -> list[Node]:
        """Indicators the framework declares not assessed, in file order."""
        return [n for n in self.indicators() if n.not_assessed is not None]

    @property
    def provenance_label(self) -> str:
        """``illustrative`` (every indicator), ``partly illustrative``, or ``from <decision>``."""
        if not self.illustrative:
            doc = self.provenance.primary
            return f"from {doc.number or doc.id}"
        wholly = len([n for n in self.illustrated_nodes() if n.is_indicator]) == len(self.indicators())
        return "illustrative" if wholly else "partly illustrative"

    def provenance_statement(self) -> Name:
        """What the framework is taken from, in one sentence per language (the report's
        banner, ``explain`` and the UI show it)."""
        doc = self.provenance.primary
        if not self.illustrative:
            return Name(vi=f"Theo {doc.citation_vi()}.", en=f"Taken from {doc.citation()}.")
        vi_parts, en_parts = [], []
        counts = self._illustrated_counts()
        if counts:
            vi_parts.append("tên, điểm hoặc cách tính của " + " và ".join(vi for vi, _ in counts)
                            + f" là minh họa của dự án, không lấy từ văn bản {doc.citation_vi()}")
            en_parts.append("the name, points or rule of " + " and ".join(en for _, en in counts)
                            + f" are this project's illustration, not the text of {doc.citation()}")
        if self.bands_illustrative:
            vi_parts.append("các mức xếp loại là minh họa của dự án")
            en_parts.append("the bands are this project's illustration")
        if self.provenance_label == "illustrative":
            vi_head, en_head = "Bộ chỉ số minh họa", "Illustrative framework"
        else:
            vi_head, en_head = "Bộ chỉ số minh họa một phần", "Partly illustrative framework"
        return Name(vi=f"{vi_head}: " + "; ".join(vi_parts) + ".",
                    en=f"{en_head}: " + "; ".join(en_parts) + ".")

    def _illustrated_counts(self) -> list[tuple[str, str]]:
        """("12/40 chỉ số thành phần", "12 of 40 indicators") and the same for pillars, if any."""
        out = []
        kinds = ((True, "chỉ số thành phần", "indicators"), (False, "chỉ số chính", "pillars"))
        for indicator, vi, en in kinds:
            total = sum(1 for n in self.nodes() if n.is_indicator == indicator)
            shown = sum(1 for n in self.illustrated_nodes() if n.is_indicator == indicator)
            if shown:
                out.append((f"{shown}/{total} {vi}", f"{shown} of {total} {en}"))
        return out

    def provenance_record(self) -> dict[str, Any]:
        """Plain data for a manifest or UI metadata: the statement, the documents, what is
        illustrative, and the indicators not assessed with where their points go."""
        statement = self.provenance_statement()
        note = self.provenance.note
        return {
            "illustrative": self.illustrative,
            "statement_vi": statement.vi,
            "statement_en": statement.en,
            "note_vi": note.vi if note else None,
            "note_en": note.en if note else None,
            "documents": [_document_record(d) for d in self.provenance.documents],
            "bands_origin": self.provenance.bands if self.bands else None,
            "illustrated_indicators": [n.id for n in self.illustrated_nodes() if n.is_indicator],
            "illustrated_pillars": [n.id for n in self.illustrated_nodes() if not n.is_indicator],
            "not_assessed": [not_assessed_record(n) for n in self.not_assessed()],
        }

    def received_points(self) -> dict[str, float]:
        """Node id -> points it receives from not-assessed siblings by explicit redistribution."""
        out: dict[str, float] = {}
        for n in self.not_assessed():
            assert n.not_assessed is not None
            for target, pts in n.not_assessed.redistribute.items():
                out[target] = out.get(target, 0.0) + float(pts)
        return out


def _document_record(d: Document) -> dict[str, Any]:
    return {
        "id": d.id, "kind": d.kind, "number": d.number, "date": d.date.isoformat() if d.date else None,
        "issuer_vi": d.issuer.vi, "issuer_en": d.issuer.en, "title_vi": d.title.vi, "title_en": d.title.en,
        "consulted": d.consulted, "citation_vi": d.citation_vi(), "citation_en": d.citation(),
    }


def not_assessed_record(n: Node) -> dict[str, Any]:
    """A not-assessed indicator as plain data: what, why, and where its points go."""
    na = n.not_assessed
    if na is None:
        raise ValueError(f"{n.id} is assessed")
    return {
        "id": n.id, "name_vi": n.name.vi, "name_en": n.name.en, "max_points": float(n.max_points),
        "reason_vi": na.reason.vi, "reason_en": na.reason.en,
        "redistribute": PROPORTIONAL if na.proportional else dict(na.redistribute),
        "text_en": not_assessed_text(n),
    }


def not_assessed_text(n: Node) -> str:
    """``CQ.4 (25 points) is not assessed: <reason>; its points go to CQ.1 +10, CQ.3 +15``."""
    na = n.not_assessed
    if na is None:
        raise ValueError(f"{n.id} is assessed")
    if na.proportional:
        where = f"the other indicators of {n.parent_id}, in proportion to their points"
    else:
        where = ", ".join(f"{k} +{v:g}" for k, v in na.redistribute.items())
    return f"{n.id} ({n.max_points:g} points) is not assessed: {na.reason.en}; its points go to {where}"
