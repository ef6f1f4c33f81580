"""What changed between two versions of a framework, in words: ``framework diff A B``.

Nodes are matched by id. The answer lists, under a heading each: the framework's own facts
(dates, levels, policies, ranking), its provenance (documents, what is illustrative), pillars and
indicators added or dropped, points moved (with the change in each pillar), nodes moved to
another pillar or renamed, scoring changes (rule, parameters, input, policies), indicators that
became or stopped being assessed, and the bands. It compares loaded frameworks, so two files
that differ only in layout or comments have no differences.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dx_pipeline.index.annex_format import flatten, flow
from dx_pipeline.index.framework_document import framework_document
from dx_pipeline.reference.frameworks import Framework, Node, not_assessed_text

Section = tuple[str, list[str]]


def framework_diff(a: Framework, b: Framework) -> list[str]:
    """The differences from ``a`` to ``b`` as lines: a heading, then one line per change."""
    sections: list[Section] = [
        ("Framework", _facts(a, b)),
        ("Provenance", _provenance(a, b)),
        ("Added", _added(a, b)),
        ("Dropped", _dropped(a, b)),
        ("Points moved", _points(a, b)),
        ("Moved or renamed", _moved(a, b)),
        ("Scoring changed", _scoring(a, b)),
        ("Not assessed", _assessed(a, b)),
        ("Bands", _bands(a, b)),
    ]
    head = f"{a.label} → {b.label}"
    changed = [(title, lines) for title, lines in sections if lines]
    if not changed:
        return [f"{head}: no differences"]
    out = [head]
    for title, lines in changed:
        out += ["", f"{title}:"] + [f"  {line}" for line in lines]
    return out


def _label(n: Node) -> str:
    kind = "indicator" if n.is_indicator else "pillar"
    return f"{kind} {n.id} {n.name.vi}"


def _nodes(fw: Framework) -> dict[str, Node]:
    return {n.id: n for n in fw.nodes()}


def _header(fw: Framework) -> dict[str, Any]:
    doc = framework_document(fw)
    keep = {k: v for k, v in doc.items() if k not in ("pillars", "bands", "provenance")}
    return flatten(keep)


def _changes(old: dict[str, Any], new: dict[str, Any], show: Callable[[Any], str] = flow) -> list[str]:
    lines = []
    for key in sorted(set(old) | set(new), key=lambda k: (k not in old, k)):
        before, after = old.get(key), new.get(key)
        if before != after:
            lines.append(
                f"{key}: {show(before) if key in old else '(none)'} → "
                f"{show(after) if key in new else '(none)'}"
            )
    return lines


def _facts(a: Framework, b: Framework) -> list[str]:
    return _changes(_header(a), _header(b))


def _provenance(a: Framework, b: Framework) -> list[str]:
    docs_a = {d.id: d.citation() for d in a.provenance.documents}
    docs_b = {d.id: d.citation() for d in b.provenance.documents}
    lines = [f"document {line}" for line in _changes(docs_a, docs_b, show=str)]
    if a.provenance.bands != b.provenance.bands:
        lines.append(f"bands taken from: {a.provenance.bands} → {b.provenance.bands}")
    if a.illustrative != b.illustrative:
        lines.append(
            f"illustrative: {'yes' if a.illustrative else 'no'} → {'yes' if b.illustrative else 'no'}"
        )
    old, new = _nodes(a), _nodes(b)
    for nid in (n for n in new if n in old):
        for part in ("name", "points", "rule"):
            before, after = getattr(old[nid].origin, part), getattr(new[nid].origin, part)
            if before != after:
                lines.append(f"{nid} {part} taken from: {before} → {after}")
    return lines


def _describe(n: Node) -> str:
    if not n.is_indicator:
        return f"{n.max_points:g} points, {len(n.children)} components"
    rule = (n.rule or "") + (f" {flow(dict(n.params))}" if n.params else "")
    return f"{n.max_points:g} points, {n.input_code}, {rule}"


def _added(a: Framework, b: Framework) -> list[str]:
    old = _nodes(a)
    return [f"+ {_label(n)} (under {n.parent_id}): {_describe(n)}" for n in b.nodes() if n.id not in old]


def _dropped(a: Framework, b: Framework) -> list[str]:
    new = _nodes(b)
    return [f"− {_label(n)} (under {n.parent_id}): {_describe(n)}" for n in a.nodes() if n.id not in new]


def _points(a: Framework, b: Framework) -> list[str]:
    old, new = _nodes(a), _nodes(b)
    lines = []
    for nid, n in new.items():
        if nid in old and abs(old[nid].max_points - n.max_points) > 1e-9:
            delta = n.max_points - old[nid].max_points
            lines.append(f"{_label(n)}: {old[nid].max_points:g} → {n.max_points:g} ({delta:+g})")
    if abs(a.total_points - b.total_points) > 1e-9:
        lines.append(f"total: {a.total_points:g} → {b.total_points:g}")
    return lines


def _moved(a: Framework, b: Framework) -> list[str]:
    old, new = _nodes(a), _nodes(b)
    lines = []
    for nid, n in new.items():
        if nid not in old:
            continue
        if old[nid].parent_id != n.parent_id:
            lines.append(f"{_label(n)}: moved from {old[nid].parent_id} to {n.parent_id}")
        if old[nid].name != n.name:
            lines.append(f"{nid}: renamed “{old[nid].name}” → “{n.name}”")
    return lines


SCORING_FIELDS = (
    "kpi",
    "item",
    "rule",
    "params",
    "direction",
    "zero_denominator",
    "missing",
    "weight",
    "aggregation",
    "evidence",
)


def _scoring(a: Framework, b: Framework) -> list[str]:
    old, new = _nodes(a), _nodes(b)
    lines = []
    for nid, n in new.items():
        if nid not in old:
            continue
        for name in SCORING_FIELDS:
            before, after = getattr(old[nid], name), getattr(n, name)
            if before != after:
                shown = [flow(dict(v)) if name == "params" else flow(v) for v in (before, after)]
                lines.append(f"{nid} {name}: {shown[0]} → {shown[1]}")
    return lines


def _assessed(a: Framework, b: Framework) -> list[str]:
    old, new = _nodes(a), _nodes(b)
    lines = []
    for nid, n in new.items():
        before = old[nid].not_assessed if nid in old else None
        if n.not_assessed != before and n.not_assessed is not None:
            lines.append(("now " if before is None else "changed: ") + not_assessed_text(n))
        elif before is not None and n.not_assessed is None:
            lines.append(f"{nid} is assessed again ({n.max_points:g} points)")
    return lines


def _bands(a: Framework, b: Framework) -> list[str]:
    old = {x.code: f"{x.name_vi} from {x.min_share:g}" for x in a.bands}
    new = {x.code: f"{x.name_vi} from {x.min_share:g}" for x in b.bands}
    return _changes(old, new, show=str)
