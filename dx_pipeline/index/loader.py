"""Load a framework YAML file: JSON Schema first, then the rules a schema cannot say.

Every problem is reported as ``<file>: node <id>: <problem>`` (or ``<file>: <problem>`` for
framework-wide fields) so an analyst editing the YAML knows where to look. All problems found
are reported at once, not only the first.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from dx_pipeline.index.rounding import half_up
from dx_pipeline.index.rules import RULES
from dx_pipeline.reference import config_cache
from dx_pipeline.reference.catalogue import load_catalogue
from dx_pipeline.reference.frameworks import (
    ILLUSTRATION,
    PROPORTIONAL,
    TOTAL_ID,
    AppliesTo,
    Band,
    Document,
    Framework,
    FrameworkVersion,
    Name,
    Node,
    NotAssessed,
    Origin,
    Provenance,
    RankingSpec,
)
from dx_pipeline.reference.frozen import freeze

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
SCHEMA_FILE = CONFIG_DIR / "framework.schema.json"
RELATIVE_TOLERANCE = 1e-6


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class FrameworkError(ValueError):
    """A framework file is invalid; ``problems`` holds every problem found."""

    def __init__(self, file: str, problems: list[str]):
        self.file = file
        self.problems = problems
        super().__init__("\n".join(f"{file}: {p}" for p in problems))


@lru_cache(maxsize=1)
def framework_schema() -> dict:
    """The framework files' JSON Schema (config/framework.schema.json)."""
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def _dates_to_text(obj: Any) -> Any:
    """YAML reads 2024-01-01 as a date; the schema (and JSON) speak ISO strings."""
    if isinstance(obj, dict):
        return {str(k) if isinstance(k, (dt.date,)) else k: _dates_to_text(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_dates_to_text(v) for v in obj]
    if isinstance(obj, (dt.date, dt.datetime)):
        return obj.isoformat()
    return obj


def _where(raw: dict, path: Iterable[Any]) -> str:
    """Name the innermost node (pillar/indicator id) on a schema error's path."""
    node_id, cur, trail = None, raw, []
    for step in path:
        try:
            cur = cur[step]
        except (KeyError, IndexError, TypeError):
            break
        trail.append(str(step))
        if isinstance(cur, dict) and "id" in cur and trail[-2:-1] and trail[-2] in ("pillars", "indicators"):
            node_id, trail = cur["id"], []
    rest = ".".join(t for t in trail if not t.isdigit()) or ""
    if node_id is not None:
        return f"node {node_id}: " + (f"{rest}: " if rest else "")
    return f"{rest}: " if rest else ""


def known_kpis_from_catalogue() -> set[str]:
    """The KPI codes of the packaged catalogue."""
    return set(_catalogue_codes())


@lru_cache(maxsize=1)
def _catalogue_codes() -> frozenset[str]:
    return frozenset(load_catalogue().keys())


def load_framework(path: str | Path, known_kpis: Iterable[str] | None = None) -> Framework:
    """Read, validate and build a framework.

    ``known_kpis``: the KPI codes an indicator's ``kpi`` may name; None means the packaged KPI
    catalogue when it is importable (otherwise KPI codes are not checked).
    """
    path = Path(path)
    known = None if known_kpis is None else frozenset(known_kpis)
    return config_cache.cached_parse("framework", path, known, lambda: _read_framework(path, known))


def _read_framework(path: Path, known_kpis: Iterable[str] | None) -> Framework:
    fname = path.name
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except FileNotFoundError:
        raise FileNotFoundError(f"framework file not found: {path}") from None
    except UnicodeDecodeError as exc:
        raise FrameworkError(fname, [f"not UTF-8 text (byte {exc.start}): save it as UTF-8"]) from None
    except yaml.constructor.ConstructorError as exc:
        if "tag" not in str(exc.problem or ""):  # e.g. a mapping used as a key: {{a: 1}}
            raise FrameworkError(fname, [f"not valid YAML: {exc}"]) from None
        raise FrameworkError(fname, [_unsafe_tag_message(exc)]) from None
    except yaml.YAMLError as exc:
        raise FrameworkError(fname, [f"not valid YAML: {exc}"]) from None
    except RecursionError:
        raise FrameworkError(fname, ["not valid YAML: nested too deeply"]) from None
    if not isinstance(raw, dict):
        raise FrameworkError(fname, ["must be a mapping of framework fields"])
    raw = _dates_to_text(raw)
    return build_framework(raw, fname, known_kpis, source=path)


def _unsafe_tag_message(exc: yaml.constructor.ConstructorError) -> str:
    """Framework files are data: a tag that would build a Python object (``!!python/object``,
    ``!!python/name``...) is refused by the safe loader, and the clerk is told why."""
    where = f" (line {exc.problem_mark.line + 1})" if exc.problem_mark is not None else ""
    tag = re.search(r"tag '([^']*)'", str(exc.problem or ""))
    shown = tag.group(1) if tag else "an unknown tag"
    return (
        f"refused the YAML tag {shown}{where}: framework files may hold only plain data "
        "(mappings, lists, text, numbers, dates); tags that build program objects are not allowed"
    )


def build_framework(
    raw: dict, fname: str = "<framework>", known_kpis: Iterable[str] | None = None, source: Path | None = None
) -> Framework:
    """Validate an already-parsed framework document (the YAML as dicts) and build it."""
    validator = jsonschema.Draft202012Validator(framework_schema())
    errors = sorted(validator.iter_errors(raw), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        problems = []
        for err in errors:
            problems.append(_where(raw, err.absolute_path) + _schema_message(err))
        raise FrameworkError(fname, problems)
    if known_kpis is None:
        known_kpis = known_kpis_from_catalogue()
    known = set(known_kpis) if known_kpis is not None else None
    return _Builder(raw, fname, known, source).build()


def _schema_message(err: jsonschema.ValidationError) -> str:
    if err.validator == "additionalProperties":
        return err.message.replace("Additional properties are not allowed", "unknown field(s)")
    if err.validator == "required":
        return err.message.replace("is a required property", "is required")
    return err.message


class _Builder:
    def __init__(self, raw: dict, fname: str, known: set[str] | None, source: Path | None):
        self.raw, self.fname, self.known, self.source = raw, fname, known, source
        self.problems: list[str] = []
        self.seen: set[str] = set()
        rounding = raw.get("rounding", {})
        self.decimals = int(rounding.get("decimals", 2))
        agg = raw.get("aggregation", {})
        self.pillar_agg = agg.get("pillar", "sum")
        self.total_agg = agg.get("total", "sum")
        self.provenance = self.read_provenance(raw["provenance"])
        self.default_origin = Origin(**raw["provenance"]["origin"])

    def problem(self, node: str | None, text: str) -> None:
        self.problems.append(f"node {node}: {text}" if node else text)

    def build(self) -> Framework:
        raw = self.raw
        eff = raw["effective"]
        start = dt.date.fromisoformat(eff["from"])
        end = dt.date.fromisoformat(eff["to"]) if eff.get("to") else None
        if end is not None and end < start:
            self.problem(None, f"effective.to {end} is before effective.from {start}")
        total = float(raw["total_points"])
        self.check_origin(None, self.default_origin)
        pillars = tuple(self.node(p, TOTAL_ID, "pillar") for p in raw["pillars"])
        self.check_sum(None, self.total_agg, total, pillars, what="total_points")
        self.check_not_assessed(pillars)
        policies = raw.get("policies", {})
        ranking_raw = raw.get("ranking", {})
        ranking = RankingSpec(
            groups=ranking_raw.get("groups", "peer_group"),
            explicit=freeze({k: tuple(v) for k, v in ranking_raw.get("explicit", {}).items()}),
            unranked=freeze(dict(ranking_raw.get("unranked", {}))),
            ties=ranking_raw.get("ties", "shared"),
        )
        if ranking.groups == "explicit" and not ranking.explicit:
            self.problem(None, "ranking.groups is 'explicit' but ranking.explicit lists no groups")
        bands = tuple(Band(**b) for b in raw.get("bands", []))
        codes = [b.code for b in bands]
        if len(set(codes)) != len(codes):
            self.problem(None, f"bands: duplicate band codes {codes}")
        if bands and min(b.min_share for b in bands) > 0:
            self.problem(None, "bands: the lowest band must start at min_share 0 so every unit gets a band")
        applies = raw["applies_to"]
        versions = self.read_versions(raw.get("versions") or [], start, end)
        if self.problems:
            raise FrameworkError(self.fname, self.problems)
        return Framework(
            id=raw["id"],
            version=str(raw["version"]),
            title=Name(**raw["title"]),
            description=raw.get("description", ""),
            effective_from=start,
            effective_to=end,
            applies_to=AppliesTo(
                levels=tuple(applies["levels"]),
                peer_groups=tuple(applies["peer_groups"]) if applies.get("peer_groups") else None,
                requires_public_services=bool(applies.get("requires_public_services", False)),
            ),
            total_points=total,
            decimals=self.decimals,
            rounding_mode=raw.get("rounding", {}).get("mode", "half_up"),
            zero_denominator=policies.get("zero_denominator", "full"),
            missing=policies.get("missing", "zero"),
            ranking=ranking,
            bands=bands,
            aggregation=self.total_agg,
            pillars=pillars,
            provenance=self.provenance,
            source=self.source,
            rounding_combine=raw.get("rounding", {}).get("combine", "rounded"),
            versions=versions,
            out_of_range=policies.get("out_of_range", "refuse"),
            input_codes=policies.get("input_codes", "exact"),
        )

    def read_versions(
        self, raw: list[dict], start: dt.date, end: dt.date | None
    ) -> tuple[FrameworkVersion, ...]:
        """Effective-dated versions, oldest first (see :meth:`check_versions`)."""
        versions = tuple(
            FrameworkVersion(
                version=str(v["version"]),
                effective_from=dt.date.fromisoformat(v["from"]),
                effective_to=dt.date.fromisoformat(v["to"]) if v.get("to") else None,
                decimals=int((v.get("rounding") or {}).get("decimals", self.decimals)),
                note=str(v.get("note") or ""),
            )
            for v in raw
        )
        self.check_versions(versions, start, end)
        return versions

    def check_versions(
        self, versions: tuple[FrameworkVersion, ...], start: dt.date, end: dt.date | None
    ) -> None:
        """Versions lie inside the framework's effective period and do not overlap; the last one
        is the current version: the top-level ``version`` and ``rounding.decimals``."""
        for prev, v in zip(versions, versions[1:], strict=False):
            if prev.effective_to is None or prev.effective_to >= v.effective_from:
                self.problem(None, f"versions: {prev.version} must end before {v.version} starts "
                                   f"({v.effective_from}); list them oldest first, not overlapping")
        for v in versions:
            if v.effective_to is not None and v.effective_to < v.effective_from:
                self.problem(None, f"versions: {v.version} ends ({v.effective_to}) before it starts")
            after_end = end is not None and (v.effective_to is None or v.effective_to > end)
            if v.effective_from < start or after_end:
                self.problem(None, f"versions: {v.version} is not inside the framework's effective period")
        if not versions:
            return
        current, version = versions[-1], str(self.raw["version"])
        if current.version != version:
            self.problem(None, f"versions: the last (current) version is {current.version} but the "
                               f"framework's version is {version}")
        if current.decimals != self.decimals:
            self.problem(None, f"versions: the current version {current.version} rounds to "
                               f"{current.decimals} decimals but rounding.decimals is {self.decimals}")

    def node(self, raw: dict, parent: str, level: str) -> Node:
        nid = str(raw["id"])
        if nid in self.seen or nid == TOTAL_ID:
            self.problem(nid, "id is used more than once" if nid != TOTAL_ID
                         else f"id '{TOTAL_ID}' is reserved")
        self.seen.add(nid)
        name = Name(**raw["name"])
        if "indicators" in raw or "pillars" in raw or level == "pillar":
            return self.pillar(raw, nid, name, parent)
        return self.indicator(raw, nid, name, parent)

    def pillar(self, raw: dict, nid: str, name: Name, parent: str) -> Node:
        if "indicators" in raw and "pillars" in raw:
            self.problem(nid, "a pillar holds either 'pillars' or 'indicators', not both")
        kids_raw = raw.get("indicators") or raw.get("pillars") or []
        if not kids_raw:
            self.problem(nid, "a pillar needs 'indicators' (or sub-'pillars')")
        level = "indicator" if "indicators" in raw else "pillar"
        origin = self.origin(nid, raw, pillar=True)
        children = tuple(self.node(k, nid, level) for k in kids_raw)
        agg = raw.get("aggregation", self.pillar_agg)
        if "max_points" in raw:
            mx = float(raw["max_points"])
        else:
            mx = sum(c.max_points for c in children)
            if agg != "sum":
                self.problem(nid, f"a pillar aggregated by '{agg}' needs its own max_points")
        self.check_sum(nid, agg, mx, children, what="max_points")
        return Node(id=nid, level="pillar", name=name, parent_id=parent, max_points=mx,
                    weight=raw.get("weight"), children=children, aggregation=agg, origin=origin)

    def check_sum(self, nid: str | None, agg: str, mx: float, children: tuple[Node, ...], what: str) -> None:
        """With sum aggregation the children's max points must add up to the parent's."""
        if agg != "sum" or not children:
            return
        total = sum(c.max_points for c in children)
        if abs(total - mx) > RELATIVE_TOLERANCE * max(1.0, mx):
            parts = " + ".join(f"{c.id} {c.max_points:g}" for c in children)
            self.problem(nid, f"points do not add up: {what} is {mx:g} but the children sum to "
                              f"{half_up(total, 6):g} ({parts})")

    def indicator(self, raw: dict, nid: str, name: Name, parent: str) -> Node:
        kpi, item = raw.get("kpi"), raw.get("item")
        if bool(kpi) == bool(item):
            self.problem(nid, "an indicator names exactly one input: 'kpi' (catalogue) or 'item' "
                              "(evidence/external)")
        if kpi and self.known is not None and kpi not in self.known:
            self.problem(nid, f"KPI '{kpi}' is not in the KPI catalogue")
        if "max_points" not in raw:
            self.problem(nid, "max_points is required for an indicator")
        rule_name = raw["rule"]
        params = dict(raw.get("params") or {})
        direction = raw.get("direction", "higher")
        for text in RULES[rule_name].check(params, direction):
            self.problem(nid, text)
        if kpi and raw.get("unit"):
            self.problem(nid, f"'unit' is for items; KPI '{kpi}' has its unit in the KPI catalogue")
        mx = float(raw.get("max_points", 0))
        if "cap" in params and not self.problems and params["cap"] > mx:
            self.problem(nid, f"cap {params['cap']} is above max_points {mx:g}")
        return Node(id=nid, level="indicator", name=name, parent_id=parent, max_points=mx,
                    weight=raw.get("weight"), kpi=kpi, item=item, rule=rule_name, params=freeze(params),
                    direction=direction, zero_denominator=raw.get("zero_denominator"),
                    missing=raw.get("missing"), evidence=raw.get("evidence"), unit=raw.get("unit"),
                    origin=self.origin(nid, raw, pillar=False), not_assessed=_not_assessed(raw))

    # ------------------------------------------------------------------ provenance
    def read_provenance(self, raw: dict) -> Provenance:
        docs = []
        for d in raw["documents"]:
            docs.append(Document(
                id=d["id"], kind=d["kind"], issuer=Name(**d["issuer"]), title=Name(**d["title"]),
                number=d.get("number"), date=dt.date.fromisoformat(d["date"]) if d.get("date") else None,
                consulted=d.get("consulted", "text"),
            ))
        ids = [d.id for d in docs]
        for dup in sorted({i for i in ids if ids.count(i) > 1}):
            self.problem(None, f"provenance: document id '{dup}' is used more than once")
        self.doc_ids = set(ids)
        note = Name(**raw["note"]) if raw.get("note") else None
        prov = Provenance(documents=tuple(docs), bands=raw["bands"], note=note)
        if prov.bands != ILLUSTRATION and prov.bands not in self.doc_ids:
            self.problem(None, f"provenance.bands names '{prov.bands}', which is not a provenance document "
                               f"({', '.join(sorted(self.doc_ids))}) nor '{ILLUSTRATION}'")
        return prov

    def origin(self, nid: str, raw: dict, pillar: bool) -> Origin:
        """The node's origin: its own fields over the framework's default."""
        own = raw.get("origin") or {}
        if pillar and "rule" in own:
            self.problem(nid, "origin.rule is for indicators (a pillar has no scoring rule)")
        base = self.default_origin
        origin = Origin(
            name=own.get("name", base.name),
            points=own.get("points", base.points),
            rule=None if pillar else own.get("rule", base.rule),
        )
        self.check_origin(nid, origin)
        return origin

    def check_origin(self, nid: str | None, origin: Origin) -> None:
        where = "origin" if nid else "provenance.origin"
        for field_name, value in (("name", origin.name), ("points", origin.points), ("rule", origin.rule)):
            if value is not None and value != ILLUSTRATION and value not in self.doc_ids:
                self.problem(nid, f"{where}.{field_name} names '{value}', which is not a provenance document "
                                  f"({', '.join(sorted(self.doc_ids))}) nor '{ILLUSTRATION}'")

    def check_not_assessed(self, pillars: tuple[Node, ...]) -> None:
        """Not-assessed points go to assessed sibling indicators and add up."""
        for parent in (n for p in pillars for n in p.walk() if n.children):
            assessed = [c for c in parent.children if c.not_assessed is None]
            for child in parent.children:
                if child.not_assessed is not None:
                    self.check_redistribution(parent, child, {c.id for c in assessed})

    def check_redistribution(self, parent: Node, node: Node, assessed: set[str]) -> None:
        na = node.not_assessed
        assert na is not None
        if not assessed:
            self.problem(node.id, f"not_assessed: every indicator of {parent.id} is not assessed; "
                                  "nothing is left to receive its points")
            return
        if na.proportional:
            return
        if (parent.aggregation or "sum") != "sum":
            self.problem(node.id, f"not_assessed: points can be given to named indicators only under a "
                                  f"'sum' pillar; {parent.id} is aggregated by '{parent.aggregation}' "
                                  f"(use redistribute: {PROPORTIONAL})")
        wrong = sorted(set(na.redistribute) - assessed)
        if wrong:
            self.problem(node.id, f"not_assessed: redistribute names {', '.join(wrong)}, which are not "
                                  f"assessed indicators of {parent.id} ({', '.join(sorted(assessed))})")
        given = sum(na.redistribute.values())
        if abs(given - node.max_points) > RELATIVE_TOLERANCE * max(1.0, node.max_points):
            self.problem(node.id, f"not_assessed: redistribute gives {half_up(given, 6):g} points but the "
                                  f"indicator has {node.max_points:g}")


def _not_assessed(raw: dict) -> NotAssessed | None:
    spec = raw.get("not_assessed")
    if not spec:
        return None
    target = spec["redistribute"]
    to = {} if target == PROPORTIONAL else {str(k): float(v) for k, v in target.items()}
    return NotAssessed(reason=Name(**spec["reason"]), redistribute=to)
