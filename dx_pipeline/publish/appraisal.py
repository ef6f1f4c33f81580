"""The appraisal as a published revision's manifest tells it, in the fields the site reads.

The appraisal database's :func:`~dx_pipeline.appraisal.audit.publication_record` says what a
result went through (the verdicts that changed points, every appeal and its decision, the
approval, the audit trail's digest); :func:`manifest_record` turns it into the manifest keys
:data:`dx_pipeline.publish.manifest.APPRAISAL_KEYS` with the words an agency page shows
(``verdict_vi``, ``decision_vi``, the values before and after as text), keeping every field of
the database's record so a revision names each adjustment and appeal by its record number.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from dx_pipeline.index.appraised import VERDICT_NAMES
from dx_pipeline.publish.site.words import num_vi
from dx_pipeline.reference.frameworks import Name

STATUSES = ("provisional", "final")
"""The states a published revision of an appraised result can have."""
COMPUTED = "computed"
"""The state of a revision the pipeline publishes on its own: computed from the reported
figures, not yet appraised, not approved, not shown to agencies."""
DECISION_NAMES = {
    "accepted": Name("Chấp nhận kiến nghị", "Appeal accepted"),
    "rejected": Name("Không chấp nhận kiến nghị", "Appeal rejected"),
    None: Name("Đang xem xét", "Under review"),
}


def _adjustment(a: Mapping[str, Any]) -> dict[str, Any]:
    name = VERDICT_NAMES.get(str(a.get("verdict")), Name(str(a.get("verdict")), str(a.get("verdict"))))
    after = num_vi(a.get("value")) if a.get("verdict") == "adjust_value" else ""
    return {**a, "verdict_vi": name.vi, "verdict_en": name.en,
            "value_before_text": num_vi(a.get("reported_value")), "value_after_text": after,
            "points_before": a.get("reported_points"), "points_after": a.get("points")}


def _appeal(a: Mapping[str, Any]) -> dict[str, Any]:
    name = DECISION_NAMES.get(a.get("decision"), DECISION_NAMES[None])
    return {**a, "decision_vi": name.vi, "decision_en": name.en, "reason": a.get("decision_reason")}


def computed_record() -> dict[str, Any]:
    """The manifest keys of a revision the pipeline publishes without the appraisal: its state
    only (``computed``), so nothing published without an approval reads as a final ranking."""
    return {"status": COMPUTED}


def manifest_record(
    record: Mapping[str, Any], status: str, window: tuple[dt.datetime, dt.datetime] | None = None
) -> dict[str, Any]:
    """The manifest keys of a revision published as ``status`` (provisional or final) from the
    appraisal's ``record``; ``window`` is the appeal window a provisional result opens."""
    if status not in STATUSES:
        raise ValueError(f"a published result is {' or '.join(STATUSES)}, not {status!r}")
    approval = record.get("approval")
    if status == "final" and not approval:
        raise ValueError("a final revision needs the approval record: approve the result first")
    out: dict[str, Any] = {
        "status": status,
        "adjustments": [_adjustment(a) for a in record.get("adjustments") or []],
        "appeals": [_appeal(a) for a in record.get("appeals") or []],
        "audit": {k: record.get(k) for k in ("state", "audit_sha256", "audit_rows", "verdicts_in_force")},
    }
    if status == "final" and approval:
        out["approval"] = dict(approval)
    if status == "provisional" and window is not None:
        out["appeal_window"] = {"opens": window[0].isoformat(), "closes": window[1].isoformat()}
    return out
