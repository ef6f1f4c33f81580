"""A loaded framework written back as the document its YAML file holds: the loader's inverse.

``framework_document(fw)`` gives the plain dicts and lists that, validated by
:func:`dx_pipeline.index.loader.build_framework`, build a framework equal to ``fw``: every
default made explicit (points of pillars, aggregation of each pillar, ranking options), and the
nodes' origins written as one default plus per-node differences. The annex workbook and
``framework import`` go through it; reading and checking files stays in the loader.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from dx_pipeline.reference.frameworks import (
    ILLUSTRATION,
    PROPORTIONAL,
    Document,
    Framework,
    FrameworkVersion,
    Name,
    Node,
    Origin,
)


def framework_document(fw: Framework) -> dict[str, Any]:
    """The framework as a YAML-ready document (keys in the order framework files use)."""
    default = _default_origin(fw)
    doc: dict[str, Any] = {
        "id": fw.id,
        "version": fw.version,
        "title": _name(fw.title),
    }
    if fw.description:
        doc["description"] = fw.description
    doc["provenance"] = _provenance(fw, default)
    doc["effective"] = {
        "from": fw.effective_from.isoformat(),
        "to": fw.effective_to.isoformat() if fw.effective_to else None,
    }
    doc["applies_to"] = _applies_to(fw)
    doc["total_points"] = _number(fw.total_points)
    doc["rounding"] = {"decimals": fw.decimals, "mode": fw.rounding_mode, "combine": fw.rounding_combine}
    if fw.versions:
        doc["versions"] = [_version(v) for v in fw.versions]
    doc["policies"] = {"zero_denominator": fw.zero_denominator, "missing": fw.missing,
                       "out_of_range": fw.out_of_range, "input_codes": fw.input_codes}
    doc["ranking"] = _ranking(fw)
    doc["bands"] = [
        {"code": b.code, "name_vi": b.name_vi, "name_en": b.name_en, "min_share": b.min_share}
        for b in fw.bands
    ]
    doc["aggregation"] = {"total": fw.aggregation, "pillar": "sum"}
    doc["pillars"] = [_node(p, default) for p in fw.pillars]
    return doc


def _version(v: FrameworkVersion) -> dict[str, Any]:
    out: dict[str, Any] = {"version": v.version, "from": v.effective_from.isoformat()}
    if v.effective_to:
        out["to"] = v.effective_to.isoformat()
    out["rounding"] = {"decimals": v.decimals}
    if v.note:
        out["note"] = v.note
    return out


def _name(name: Name) -> dict[str, str]:
    return {"vi": name.vi, "en": name.en}


def _number(x: float) -> int | float:
    """3.0 -> 3 (files say 1000, not 1000.0); other values unchanged."""
    return int(x) if float(x).is_integer() else float(x)


def _default_origin(fw: Framework) -> Origin:
    """The commonest origin of the indicators: written once, the rest as differences."""
    counts = Counter(n.origin for n in fw.indicators())
    return counts.most_common(1)[0][0] if counts else Origin()


def _document(d: Document) -> dict[str, Any]:
    out: dict[str, Any] = {"id": d.id, "kind": d.kind}
    if d.number:
        out["number"] = d.number
    if d.date:
        out["date"] = d.date.isoformat()
    out["issuer"] = _name(d.issuer)
    out["title"] = _name(d.title)
    out["consulted"] = d.consulted
    return out


def _provenance(fw: Framework, default: Origin) -> dict[str, Any]:
    prov = fw.provenance
    out: dict[str, Any] = {
        "documents": [_document(d) for d in prov.documents],
        "origin": {"name": default.name, "points": default.points, "rule": default.rule or ILLUSTRATION},
        "bands": prov.bands,
    }
    if prov.note is not None:
        out["note"] = _name(prov.note)
    return out


def _applies_to(fw: Framework) -> dict[str, Any]:
    out: dict[str, Any] = {"levels": list(fw.applies_to.levels)}
    if fw.applies_to.peer_groups:
        out["peer_groups"] = list(fw.applies_to.peer_groups)
    if fw.applies_to.requires_public_services:
        out["requires_public_services"] = True
    return out


def _ranking(fw: Framework) -> dict[str, Any]:
    spec = fw.ranking
    out: dict[str, Any] = {"groups": spec.groups, "ties": spec.ties}
    if spec.explicit:
        out["explicit"] = {k: list(v) for k, v in spec.explicit.items()}
    if spec.unranked:
        out["unranked"] = dict(spec.unranked)
    return out


def _origin_difference(origin: Origin, default: Origin, pillar: bool) -> dict[str, str]:
    fields = ("name", "points") if pillar else ("name", "points", "rule")
    return {f: getattr(origin, f) for f in fields if getattr(origin, f) != getattr(default, f)}


def _node(n: Node, default: Origin) -> dict[str, Any]:
    out: dict[str, Any] = {"id": n.id, "name": _name(n.name), "max_points": _number(n.max_points)}
    if n.weight is not None:
        out["weight"] = _number(n.weight)
    origin = _origin_difference(n.origin, default, pillar=not n.is_indicator)
    if origin:
        out["origin"] = origin
    if not n.is_indicator:
        out["aggregation"] = n.aggregation or "sum"
        key = "indicators" if n.children and n.children[0].is_indicator else "pillars"
        out[key] = [_node(c, default) for c in n.children]
        return out
    out.update(_indicator_fields(n))
    return out


def _indicator_fields(n: Node) -> dict[str, Any]:
    out: dict[str, Any] = {"kpi": n.kpi} if n.kpi else {"item": n.item}
    out["rule"] = n.rule
    if n.params:
        out["params"] = dict(n.params)
    if n.direction != "higher":
        out["direction"] = n.direction
    for key in ("zero_denominator", "missing", "evidence", "unit"):
        if getattr(n, key) is not None:
            out[key] = getattr(n, key)
    if n.not_assessed is not None:
        na = n.not_assessed
        out["not_assessed"] = {
            "reason": _name(na.reason),
            "redistribute": PROPORTIONAL
            if na.proportional
            else {k: _number(v) for k, v in na.redistribute.items()},
        }
    return out
