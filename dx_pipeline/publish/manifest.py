"""The manifest of a published revision: what went in, what came out, and fingerprints of both.

A manifest lets anyone re-check a revision byte for byte (``verify``) and tells whether a new
run produced anything new: its ``content`` part fingerprints every input and result but not
the time or the trigger, so an identical rerun is recognised and publishes nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from dx_pipeline import __version__
from dx_pipeline.index.explain import IndicatorSpec
from dx_pipeline.reference import schemas
from dx_pipeline.reference.catalogue import packaged_catalogue
from dx_pipeline.reference.frameworks import Framework, Node
from dx_pipeline.storage.checksums import sha256_file

MANIFEST_FILE = "manifest.json"
MANIFEST_SCHEMA = "dx_pipeline.publication/1"
APPRAISAL_KEYS = ("status", "approval", "appeal_window", "adjustments", "appeals", "audit")
"""The manifest keys the appraisal workflow writes (:mod:`dx_pipeline.publish.appraisal`)."""


@dataclass(frozen=True)
class Manifest:
    """A revision's ``manifest.json``: what was published, from which tables, frameworks and
    input files, by which code and trigger, and the SHA-256 of every file of the revision.

    ``content`` (and its hash ``content_sha256``) is the part that decides whether a rerun is
    new; ``to_dict`` gives the JSON object written to disk, ``from_dict`` reads one back.
    """

    kind: str  # quarter | half | year
    period: str
    quarters: tuple[str, ...]
    revision: int
    previous_revision: int | None
    published_at: str  # ISO 8601, UTC, ending in "Z"
    trigger: str
    reason: str
    content_sha256: str
    content: Mapping[str, Any]
    code_version: Mapping[str, Any]
    frameworks: tuple[Mapping[str, Any], ...]
    inputs: tuple[Mapping[str, Any], ...]
    row_counts: Mapping[str, int | None] = field(default_factory=dict)
    outputs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    schema: str = MANIFEST_SCHEMA
    reason_vi: str = ""
    """``reason`` in Vietnamese (the publisher's own words are kept in both)."""
    movement_against: Mapping[str, Any] = field(default_factory=dict)
    """The publication rank movement was measured against: ``{"period": "2025-Q1",
    "revision": 1}``; ``"revision": None`` when nothing of the previous period was published
    (no movement shown); empty in manifests written before this was recorded."""
    appraisal: Mapping[str, Any] = field(default_factory=dict)
    """What the appraisal workflow says of the result (:data:`APPRAISAL_KEYS`: ``status``,
    ``approval``, ``appeal_window``, ``adjustments``, ``appeals``, ``audit``); written at the
    top level of ``manifest.json``, where the site reads them, and only when there is one."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``manifest.json`` (lists for the tuples)."""
        out = asdict(self)
        for key in ("quarters", "frameworks", "inputs"):
            out[key] = list(out[key])
        extra = out.pop("appraisal") or {}
        out.update({k: extra[k] for k in APPRAISAL_KEYS if k in extra})
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str | Path = "manifest") -> Manifest:
        """A manifest read back; a clear error naming ``source`` and the missing fields."""
        required = ("kind", "period", "revision", "published_at", "content_sha256")
        missing = [k for k in required if k not in data]
        if missing:
            raise ValueError(f"{source}: manifest lacks {', '.join(missing)}")
        return cls(
            schema=str(data.get("schema", MANIFEST_SCHEMA)),
            kind=str(data["kind"]),
            period=str(data["period"]),
            quarters=tuple(data.get("quarters") or ()),
            revision=int(data["revision"]),
            previous_revision=data.get("previous_revision"),
            published_at=str(data["published_at"]),
            trigger=str(data.get("trigger", "")),
            reason=str(data.get("reason", "")),
            content_sha256=str(data["content_sha256"]),
            content=dict(data.get("content") or {}),
            code_version=dict(data.get("code_version") or {}),
            frameworks=tuple(data.get("frameworks") or ()),
            inputs=tuple(data.get("inputs") or ()),
            row_counts=dict(data.get("row_counts") or {}),
            outputs=dict(data.get("outputs") or {}),
            reason_vi=str(data.get("reason_vi", "")),
            movement_against=dict(data.get("movement_against") or {}),
            appraisal={k: data[k] for k in APPRAISAL_KEYS if k in data},
        )


def sha256_bytes(data: bytes) -> str:
    """The hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def canonical_json(obj: Any) -> str:
    """Sorted keys, fixed separators: the same object always gives the same text."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def arrow_for(table: str | None, df: pd.DataFrame | pa.Table) -> pa.Table:
    """A DataFrame as Arrow, cast to its contract (if any), without pandas metadata."""
    data: pa.Table = df if isinstance(df, pa.Table) else pa.Table.from_pandas(df, preserve_index=False)
    if "quarter" in data.column_names:
        data = data.drop_columns(["quarter"])
    if table in schemas.CONTRACTS:
        data = schemas.conform(table, data)
    # large_string and string are the same data; pandas 3 may give either.
    fields = [
        pa.field(f.name, pa.string() if pa.types.is_large_string(f.type) else f.type, True)
        for f in data.schema
    ]
    return data.cast(pa.schema(fields)).replace_schema_metadata(None)


def table_fingerprint(table: str | None, df: pd.DataFrame | pa.Table | None) -> str | None:
    """sha256 of the table's Arrow IPC stream: equal data and types give equal fingerprints."""
    if df is None:
        return None
    data = arrow_for(table, df)
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, data.schema) as writer:
        writer.write_table(data.combine_chunks())
    return sha256_bytes(sink.getvalue())


def code_version() -> dict[str, str | None]:
    """The package version and, when the code runs from a git work tree, its commit."""
    commit = None
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
        if out.returncode == 0:
            commit = out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        pass
    return {"package": __version__, "git_commit": commit}


def framework_metadata(fw: Framework) -> dict:
    """What a manifest records of a loaded framework: id, version, sha256 of its YAML file,
    titles, decimals, its provenance (documents, whether it is illustrative, indicators not
    assessed) and every pillar's and indicator's names, points and origin, and of each
    indicator what the site needs to tell its points in plain words (its
    :class:`~dx_pipeline.index.explain.IndicatorSpec`: rule, parameters, unit, levels, source,
    evidence), so a revision can be read without the framework file."""
    catalogue = packaged_catalogue()

    def node(n: Node) -> dict:
        entry = {
            "id": n.id,
            "name_vi": n.name.vi,
            "name_en": n.name.en,
            "max_points": float(n.max_points),
            "origin": {"name": n.origin.name, "points": n.origin.points, "rule": n.origin.rule},
        }
        if n.is_indicator:
            entry = {**IndicatorSpec.of(n, catalogue).record(), **entry, "parent_id": n.parent_id}
        if n.not_assessed is not None:
            entry["not_assessed"] = True
        return entry

    nodes = list(fw.nodes())
    return {
        "id": fw.id,
        "version": str(fw.version),
        "sha256": sha256_file(Path(fw.source)) if fw.source else None,
        "title_vi": fw.title.vi,
        "title_en": fw.title.en,
        "decimals": fw.decimals,
        "provenance": fw.provenance_record(),
        "pillars": [node(n) for n in nodes if not n.is_indicator],
        "indicators": [node(n) for n in nodes if n.is_indicator],
        "bands": [
            {"code": b.code, "name_vi": b.name_vi, "name_en": b.name_en, "min_share": float(b.min_share)}
            for b in fw.bands
        ],
    }


def normalise_frameworks(frameworks: Sequence[Any]) -> list[dict]:
    """Framework metadata sorted by id, each with at least id, version and sha256.

    Accepts dicts (``{id, version, sha256, title_vi, title_en, pillars, indicators}``) or the
    index engine's ``Framework`` objects (converted with :func:`framework_metadata`).
    """
    out = []
    for fw in frameworks:
        fw = dict(fw) if isinstance(fw, Mapping) else framework_metadata(fw)
        missing = [k for k in ("id", "version") if not fw.get(k)]
        if missing:
            raise ValueError(f"framework metadata {fw!r} lacks {missing}")
        out.append(json.loads(canonical_json(fw)))
    return sorted(out, key=lambda f: (str(f["id"]), str(f["version"])))


def normalise_inputs(inputs: Sequence[Mapping[str, Any]]) -> list[dict]:
    """Input files sorted by path, each {path, sha256, rows}."""
    out = []
    for item in inputs:
        item = dict(item)
        if not item.get("path") or not item.get("sha256"):
            raise ValueError(f"input file entry {item!r} needs a path and a sha256")
        out.append(json.loads(canonical_json(item)))
    return sorted(out, key=lambda i: str(i["path"]))


def content_of(
    *,
    period: str,
    tables: Mapping[str, str | None],
    frameworks: list[dict],
    inputs: list[dict],
    package_version: str,
    appraisal: Mapping[str, Any] | None = None,
) -> dict:
    """The part of a manifest that decides whether a run is new.

    The git commit is left out on purpose: a commit that changes no result must not create a
    new revision of an official ranking (it is still recorded in ``code_version``).
    """
    content = {
        "period": period,
        "tables": dict(sorted(tables.items())),
        "frameworks": frameworks,
        "inputs": inputs,
        "package_version": package_version,
    }
    if appraisal:  # the state and the audit trail's digest: a provisional and a final result differ
        audit = appraisal.get("audit") or {}
        content["appraisal"] = {"status": appraisal.get("status"), "audit_sha256": audit.get("audit_sha256")}
    return content


def content_sha256(content: Mapping) -> str:
    """The fingerprint of a manifest's ``content`` part (canonical JSON, so order does not matter)."""
    return sha256_bytes(canonical_json(content).encode("utf-8"))


TABLE_WORDS = {
    "ranking": ("bảng xếp hạng", "ranking"),
    "index_scores": ("điểm chỉ số", "index_scores"),
    "agency_kpis": ("số liệu KPI", "agency_kpis"),
    "dq_results": ("kết quả kiểm tra dữ liệu", "dq_results"),
    "rank_uncertainty": ("khoảng bất định của thứ hạng", "rank_uncertainty"),
    "agencies": ("danh mục đơn vị", "agencies"),
}
"""Table -> (Vietnamese, English) as a revision's reason names it."""
STATUS_WORDS = {
    "computed": ("kết quả tính toán, chưa thẩm định", "computed, not yet appraised"),
    "provisional": ("kết quả tạm thời", "provisional result"),
    "final": ("kết quả chính thức đã phê duyệt", "final result, approved"),
}
"""A revision's ``status`` as its reason names it."""


def status_words(status: str | None) -> tuple[str, str]:
    """(Vietnamese, English) of a revision's ``status`` wherever it is shown (CLI, Dagster);
    a revision without one was published before results had states, and is not approved."""
    if status is None:
        return ("chưa có trạng thái, chưa phê duyệt", "no state recorded, not approved")
    return STATUS_WORDS.get(status, (status, status))


def change_parts(old: Mapping | None, new: Mapping) -> list[tuple[str, str]]:
    """What differs between two ``content`` parts, as (Vietnamese, English) phrases."""
    if not old:
        return [("Công bố lần đầu", "first publication (công bố lần đầu)")]
    parts = _input_changes(old, new)
    old_fw = {f["id"]: (f.get("version"), f.get("sha256")) for f in old.get("frameworks", [])}
    new_fw = {f["id"]: (f.get("version"), f.get("sha256")) for f in new.get("frameworks", [])}
    for fid in sorted(set(old_fw) | set(new_fw)):
        if old_fw.get(fid) != new_fw.get(fid):
            before = old_fw.get(fid, ("-",))[0]
            after = new_fw.get(fid, ("-",))[0]
            parts.append((f"bộ chỉ số {fid} thay đổi (phiên bản {before} → {after})",
                          f"framework {fid} changed ({before} -> {after})"))
    if old.get("package_version") != new.get("package_version"):
        before, after = old.get("package_version"), new.get("package_version")
        parts.append((f"phiên bản phần mềm {before} → {after}", f"code {before} -> {after}"))
    tables = sorted(
        t
        for t in set(old.get("tables", {})) | set(new.get("tables", {}))
        if old.get("tables", {}).get(t) != new.get("tables", {}).get(t)
    )
    if old.get("appraisal") != new.get("appraisal"):
        status = str((new.get("appraisal") or {}).get("status"))
        vi, en = STATUS_WORDS.get(status, (status, status))
        parts.append((f"thẩm định: {vi}", f"appraisal: {en}"))
    if tables:
        words = [TABLE_WORDS.get(t, (t, t)) for t in tables]
        parts.append(("kết quả thay đổi: " + ", ".join(vi for vi, _ in words),
                      "results changed: " + ", ".join(en for _, en in words)))
    return parts or [("nội dung thay đổi", "content changed")]


def _input_changes(old: Mapping, new: Mapping) -> list[tuple[str, str]]:
    old_inputs = {i["path"]: i.get("sha256") for i in old.get("inputs", [])}
    new_inputs = {i["path"]: i.get("sha256") for i in new.get("inputs", [])}
    changed = sorted(p for p in new_inputs if p in old_inputs and old_inputs[p] != new_inputs[p])
    added = sorted(p for p in new_inputs if p not in old_inputs)
    removed = sorted(p for p in old_inputs if p not in new_inputs)
    parts = []
    for paths, vi, en in ((changed, "tệp đầu vào thay đổi", "inputs changed"),
                          (added, "thêm tệp đầu vào", "inputs added"),
                          (removed, "bớt tệp đầu vào", "inputs removed")):
        if paths:
            parts.append((f"{vi}: " + ", ".join(paths), f"{en}: " + ", ".join(paths)))
    return parts


def describe_changes(old: Mapping | None, new: Mapping) -> str:
    """A reason a person can read, derived from what differs between two ``content`` parts."""
    return "; ".join(en for _, en in change_parts(old, new))


def describe_changes_vi(old: Mapping | None, new: Mapping) -> str:
    """The same reason in Vietnamese (what the published site shows)."""
    text = "; ".join(vi for vi, _ in change_parts(old, new))
    return text[:1].upper() + text[1:]


def read_manifest(folder: Path) -> dict:
    """The manifest of a revision folder; a clear error when it is missing or not JSON."""
    path = folder / MANIFEST_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"no manifest in {folder}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from None


def manifest_text(manifest: Mapping) -> str:
    """A manifest as stable, readable JSON text (sorted keys, indented, newline at the end)."""
    return json.dumps(manifest, sort_keys=True, ensure_ascii=False, indent=2, default=str) + "\n"
