"""A published revision as the website reads it, and the revisions before it (the trend).

Everything the site shows comes from one revision folder (``published/ranking/<period>/rev=N/``):
its tables (ranking, index_scores, agency_kpis, agencies, rank_uncertainty, plan_scorecard) and
its manifest (frameworks with every indicator's
:class:`~dx_pipeline.index.explain.IndicatorSpec`, when and why it was published, and the state
of the result). The manifest keys the appraisal workflow
writes are read here and nowhere else:

- ``status``: ``"provisional"`` (visible to agencies, open to appeal) or ``"final"``
  (approved) get a site; so does a revision without one (published before results had
  states), shown as not approved; any other state (computed, under appraisal) is not public;
- ``approval``: ``{"decision_number", "decision_date" (ISO), "approved_by"}`` of a final result;
- ``appeal_window``: ``{"opens", "closes"}`` (ISO dates) of a provisional result;
- ``adjustments`` and ``appeals``: lists of records naming ``agency_code``, ``framework_id``
  and ``node_id`` (see :mod:`dx_pipeline.publish.site.pages` for the fields shown).

Rendering belongs to the other modules of this package; writing revisions to
:mod:`dx_pipeline.publish.snapshot`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from dx_pipeline.index.explain import IndicatorSpec
from dx_pipeline.publish import manifest as mf
from dx_pipeline.publish.layout import revisions, to_frame
from dx_pipeline.reference.frameworks import Name
from dx_pipeline.reference.quarters import Period

VIETNAM = dt.timezone(dt.timedelta(hours=7), "UTC+7")
"""Vietnam's time zone (no daylight saving): every time on the site is shown in it."""
PUBLIC_STATES = (None, "provisional", "final", "published")
"""Manifest ``status`` values of a result agencies may see (None: published before states)."""
TABLE_FILES = {
    "ranking": "ranking.parquet",
    "scores": "index_scores.parquet",
    "kpis": "agency_kpis.parquet",
    "agencies": "agencies.parquet",
    "uncertainty": "rank_uncertainty.parquet",
    "plans": "plan_scorecard.parquet",
}
"""Revision attribute -> the file it is read from (the last four are optional)."""


@dataclass(frozen=True)
class Approval:
    """The decision that approved a final result."""

    number: str
    date: dt.date | None = None
    by: str | None = None


@dataclass(frozen=True)
class Revision:
    """One published revision: its manifest and tables (frames follow the table contracts)."""

    period: Period
    number: int
    manifest: Mapping[str, Any]
    ranking: pd.DataFrame
    scores: pd.DataFrame
    kpis: pd.DataFrame | None = None
    agencies: pd.DataFrame | None = None
    uncertainty: pd.DataFrame | None = None
    plans: pd.DataFrame | None = None
    """The province against its plans (``plan_scorecard``), when the revision has it."""
    path: Path | None = None
    previous_manifest: Mapping[str, Any] | None = field(default=None, repr=False)

    @classmethod
    def read(cls, folder: str | Path) -> Revision:
        """The revision in ``folder``; a clear error when the folder is not one."""
        folder = Path(folder)
        manifest = mf.read_manifest(folder)
        tables: dict[str, pd.DataFrame] = {}
        for name, file in TABLE_FILES.items():
            path = folder / file
            if path.is_file():
                tables[name] = to_frame(pq.read_table(path))
            elif name in ("ranking", "scores"):
                raise FileNotFoundError(f"{folder} is not a published revision: {file} is missing")
        ranking, scores = tables.pop("ranking"), tables.pop("scores")
        previous = manifest.get("previous_revision")
        prev_manifest = None
        if previous is not None and (folder.parent / f"rev={previous}").is_dir():
            prev_manifest = mf.read_manifest(folder.parent / f"rev={previous}")
        return cls(period=Period.parse(manifest["period"]), number=int(manifest["revision"]),
                   manifest=manifest, ranking=ranking, scores=scores, path=folder,
                   previous_manifest=prev_manifest, **tables)

    # ------------------------------------------------------------------ when, why, what state
    @property
    def published_at(self) -> dt.datetime:
        """When it was published, in Vietnam time."""
        return _instant(self.manifest["published_at"]).astimezone(VIETNAM)

    @property
    def public(self) -> bool:
        """Whether agencies may see it: a provisional or final result, or one published before
        results had states (no ``status``); a computed result under appraisal is not."""
        return self.manifest.get("status") in PUBLIC_STATES

    @property
    def computed(self) -> bool:
        """True for a result the pipeline computed on its own: not appraised, not public."""
        return self.manifest.get("status") == "computed"

    @property
    def is_final(self) -> bool:
        """True once the result is approved (a final revision)."""
        return self.manifest.get("status") == "final"

    @property
    def approval(self) -> Approval | None:
        """The approving decision of a final result."""
        rec = self.manifest.get("approval")
        if not self.is_final or not isinstance(rec, Mapping) or not rec.get("decision_number"):
            return None
        day = rec.get("decision_date")
        return Approval(str(rec["decision_number"]), dt.date.fromisoformat(str(day)) if day else None,
                        rec.get("approved_by"))

    @property
    def appeal_closes(self) -> dt.date | None:
        """The last day agencies can appeal a provisional result, if a window is open."""
        window = self.manifest.get("appeal_window")
        if self.is_final or not isinstance(window, Mapping) or not window.get("closes"):
            return None
        return dt.date.fromisoformat(str(window["closes"])[:10])

    @property
    def reason(self) -> Name:
        """Why this revision was published, in Vietnamese and English.

        A reason the publisher wrote is shown as written; a reason the pipeline derived from
        what changed is told again in both languages from the manifests."""
        written = str(self.manifest.get("reason") or "")
        if self.manifest.get("reason_vi"):
            return Name(str(self.manifest["reason_vi"]), written)
        previous = self.previous_manifest.get("content") if self.previous_manifest else None
        derived = mf.describe_changes(previous, self.manifest.get("content") or {})
        if written == derived:
            return Name(mf.describe_changes_vi(previous, self.manifest.get("content") or {}), written)
        return Name(written, written)

    @property
    def previous_unpublished(self) -> Period | None:
        """The previous period, when nothing of it was published as this revision was ranked
        (its movement was not measured); None when it was, or the manifest predates the record."""
        against = self.manifest.get("movement_against")
        if not isinstance(against, Mapping) or not against.get("period"):
            return None
        if against.get("revision") is not None:
            return None
        return Period.parse(str(against["period"]))

    # ------------------------------------------------------------------ frameworks
    @property
    def frameworks(self) -> list[dict]:
        """Framework metadata of the manifest, in the order the ranking lists them."""
        present = list(dict.fromkeys(self.ranking["framework_id"].astype(str)))
        by_id = {str(f["id"]): dict(f) for f in self.manifest.get("frameworks") or []}
        return [by_id.get(fid, {"id": fid, "title_vi": fid, "title_en": fid}) for fid in sorted(present)]

    def specs(self, framework_id: str) -> dict[str, IndicatorSpec]:
        """Node id -> the indicator's spec, for a manifest that records them (older ones do not)."""
        fw = next((f for f in self.frameworks if f["id"] == framework_id), {})
        items = fw.get("indicators") or []
        return {str(i["id"]): IndicatorSpec.from_record(i) for i in items if i.get("rule")}

    def records(self, key: str) -> list[dict]:
        """Appraisal records the manifest lists under ``key`` (adjustments, appeals)."""
        items = self.manifest.get(key) or []
        return [dict(i) for i in items if isinstance(i, Mapping)]

    @property
    def outputs(self) -> list[str]:
        """The files of the revision, as its manifest lists them."""
        return sorted(self.manifest.get("outputs") or {})


@dataclass(frozen=True)
class PastResult:
    """An earlier period's ranking as published when this revision was: for the trend."""

    period: Period
    revision: int
    ranking: pd.DataFrame


def history(revision: Revision, depth: int = 8) -> list[PastResult]:
    """The ``depth`` periods of the same kind before ``revision``'s, oldest first, each at its
    newest revision published no later than ``revision``; this revision's own ranking last."""
    out = [PastResult(revision.period, revision.number, revision.ranking)]
    if revision.path is None:
        return out
    root = revision.path.parent.parent
    prefix = revision.period.folder.split("=", 1)[0] + "="
    earlier = sorted(
        (Period.parse(f.name.split("=", 1)[1]) for f in root.glob(prefix + "*") if f.is_dir()),
        key=lambda p: p.label,
    )
    earlier = [p for p in earlier if p.kind == revision.period.kind and p.label < revision.period.label]
    past = []
    for period in earlier[-depth:]:
        chosen = _published_by(root / period.folder, revision.published_at)
        if chosen is not None:
            past.append(PastResult(period, chosen, to_frame(pq.read_table(
                root / period.folder / f"rev={chosen}" / TABLE_FILES["ranking"]))))
    return past + out


def _published_by(folder: Path, when: dt.datetime) -> int | None:
    """The newest revision in ``folder`` published no later than ``when``."""
    for rev in reversed(revisions(folder)):
        if _instant(mf.read_manifest(folder / f"rev={rev}")["published_at"]) <= when:
            return rev
    return None


def _instant(text: Any) -> dt.datetime:
    """A manifest's ``published_at`` (ISO, UTC, ``Z``) as an aware datetime."""
    when = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)
