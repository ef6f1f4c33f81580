"""What the pipeline's blocking checks verify of a quarter's appraisal.

- Every verdict in force names an indicator that was scored: an agency the quarter's scores no
  longer include (a registry change, a new framework version) or an indicator no longer
  assessed would otherwise carry a verdict nobody sees.
- Every approval names the provisional revision agencies saw, and it is published as
  provisional; every revision published as final has an approval behind it.

Each function returns ``(passed, description, problems)`` for :mod:`dx_pipeline.defs.checks`.
"""

from __future__ import annotations

from dx_pipeline.app.appraisal import scored_result
from dx_pipeline.app.appraisal_db import appraisal_db
from dx_pipeline.app.settings import Settings
from dx_pipeline.appraisal.adjustments import rows_in_force
from dx_pipeline.appraisal.database import approvals, rows_of
from dx_pipeline.publish.layout import period_dir, revisions
from dx_pipeline.publish.manifest import read_manifest
from dx_pipeline.reference.quarters import Period, Quarter


def _label(quarter: Quarter | Period | str) -> str:
    """A quarter's label, or a half-year's or year's (each has an appraisal of its own)."""
    return Period.parse(quarter).label


def verdicts_on_scored_units(
    settings: Settings, quarter: Quarter | Period | str
) -> tuple[bool, str, list[str]]:
    """Whether every verdict in force is about an indicator the stored scores have."""
    label = _label(quarter)
    if not settings.has_appraisal_db():
        return True, f"{label}: no appraisal database, no verdicts", []
    with appraisal_db(settings) as db, db.read() as conn:
        in_force = rows_in_force(conn, label)
    if not in_force and Period.parse(label).kind != "quarter":  # a period is scored on demand: only if needed
        return True, "no verdicts in force", []
    scored = scored_result(settings, label)
    problems = [
        f"adjustment #{r['id']}: {p.message}"
        for r in in_force
        for p in scored.key_problems(r["framework_id"], r["agency_code"], r["node_id"], where="")
    ]
    text = (f"{len(in_force)} verdict(s) in force, {len(problems)} about an indicator not scored"
            if problems else f"{len(in_force)} verdict(s) in force, each on a scored indicator")
    return not problems, text, problems


def _statuses(settings: Settings, label: str) -> dict[int, str | None]:
    folder = period_dir(settings.home, label)
    return {rev: read_manifest(folder / f"rev={rev}").get("status") for rev in revisions(folder)}


def _published_as(statuses: dict[int, str | None], revision: int) -> str:
    if revision not in statuses:
        return "not published"
    return f"published as {statuses[revision] or 'a revision without a state'}"


def approvals_follow_provisional(
    settings: Settings, quarter: Quarter | Period | str
) -> tuple[bool, str, list[str]]:
    """Whether every approval names a published provisional revision, and every final revision
    has an approval."""
    label = _label(quarter)
    statuses = _statuses(settings, label)
    recorded = []
    if settings.has_appraisal_db():
        with appraisal_db(settings) as db, db.read() as conn:
            recorded = rows_of(conn, approvals, label)
    problems = [
        f"approval #{a['id']} ({a['decision_number']}) names provisional revision "
        f"{a['provisional_revision']}, which is {_published_as(statuses, a['provisional_revision'])}"
        for a in recorded if statuses.get(a["provisional_revision"]) != "provisional"
    ]
    finals = [rev for rev, status in statuses.items() if status == "final"]
    if finals and not recorded:
        problems.append(f"revision(s) {finals} are published as final but no approval is recorded")
    text = (f"{len(recorded)} approval(s), {len(finals)} final revision(s): {len(problems)} problem(s)"
            if problems else f"{len(recorded)} approval(s), each after a provisional revision; "
            f"{len(finals)} final revision(s)")
    return not problems, text, problems
