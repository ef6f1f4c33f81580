"""The appraisal's steps, each one transaction that checks the period's state and records.

computed → under appraisal (:func:`open_appraisal`) → verdicts (:func:`appraise`) →
provisional (:func:`mark_provisional`, once the provisional revision is published) → appeal
window (:func:`open_appeals`) → appeals (:func:`file_appeals`) and decisions
(:func:`decide_appeal`) → final (:func:`approve`) → published (:func:`mark_published`, once the
final revision is written). A verdict after approval is a late change: recorded with
``late=True``, and the next final revision needs a new approval.

Every step takes the period's lock first, so the state it checks is the state it writes in.
Publishing revisions and re-scoring are the application's (:mod:`dx_pipeline.app.appraisal`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from dx_pipeline.appraisal import states as st
from dx_pipeline.appraisal.adjustments import (
    VerdictRequest,
    record_verdicts,
    rows_in_force,
    unchanged,
    verdict_problems,
)
from dx_pipeline.appraisal.appeals import (
    AppealRequest,
    appeal,
    appeal_problems,
    pending,
    record_appeals,
    record_decision,
)
from dx_pipeline.appraisal.approvals import ApprovalRequest, approval_in_force, record_approval
from dx_pipeline.appraisal.database import AppraisalDb, as_utc, imports, insert, said
from dx_pipeline.appraisal.scored import AppraisalRefused, Problem, ScoredResult

VERDICT_STATES = frozenset({st.UNDER_APPRAISAL, st.FINAL, st.PUBLISHED})
"""Where verdicts may be recorded directly (after approval: a late change)."""
DECISION_STATES = frozenset({st.APPEAL_WINDOW, st.UNDER_APPRAISAL})
"""Where appeals may be decided (the window may have closed, or the result gone back under
appraisal)."""
APPROVAL_STATES = frozenset({st.APPEAL_WINDOW, st.FINAL, st.PUBLISHED})
"""Where an approval may be recorded (from final or published: a late change)."""


@dataclass(frozen=True)
class SourceFile:
    """A workbook a batch of requests came from."""

    name: str
    sha256: str
    rows_read: int


@dataclass(frozen=True)
class Recorded:
    """What a batch of verdicts or appeals recorded."""

    ids: list[int]
    unchanged: int = 0
    late: bool = False
    import_id: int | None = None


def mark_computed(
    db: AppraisalDb, period: str, actor: str, details: dict, now: dt.datetime | None = None
) -> bool:
    """Record that the period's result was computed (once; later recomputations during the
    appraisal change no state). True when this call recorded it."""
    with db.begin(period) as conn:
        if st.current_state(conn, period) is not None:
            return False
        st.record_transition(conn, period, st.COMPUTED, actor, "kết quả đã tính điểm / result computed",
                             details, now)
        return True


def open_appraisal(
    db: AppraisalDb, period: str, actor: str, reason: str, now: dt.datetime | None = None
) -> bool:
    """Move a computed result under appraisal (nothing to do when it already is, or beyond).
    True when this call opened it."""
    with db.begin(period) as conn:
        state = st.current_state(conn, period)
        if state is None:
            raise st.StateError(f"{period}: nothing computed yet: score the period before opening "
                                "its appraisal")
        if state != st.COMPUTED:
            return False
        st.record_transition(conn, period, st.UNDER_APPRAISAL, actor, reason, {}, now)
        return True


def _import_row(
    conn, period: str, kind: str, source: SourceFile | None, applied: int, actor: str, when: dt.datetime
) -> int | None:
    if source is None:
        return None
    return insert(conn, imports, {
        "period": period, "kind": kind, "file_name": source.name, "file_sha256": source.sha256,
        "rows_read": source.rows_read, "rows_applied": applied, "actor": actor, "recorded_at": when,
    })


def appraise(
    db: AppraisalDb,
    period: str,
    requests: Sequence[VerdictRequest],
    scored: ScoredResult,
    evaluator: str,
    *,
    source: SourceFile | None = None,
    now: dt.datetime | None = None,
) -> Recorded:
    """Record evaluators' verdicts, all or none: every problem of every request is reported
    before anything is written. Requests identical to the verdict in force are skipped."""
    who = said(evaluator, "the evaluator's name")
    problems = [p for r in requests for p in verdict_problems(r, scored)]
    problems += _duplicates(requests)
    if problems:
        raise AppraisalRefused(source.name if source else "verdicts", problems)
    with db.begin(period) as conn:
        state = st.require_state(conn, period, VERDICT_STATES, "record a verdict")
        in_force = {(r["framework_id"], r["agency_code"], r["node_id"]): r
                    for r in rows_in_force(conn, period)}
        new = [r for r in requests if not unchanged(r, in_force)]
        when = as_utc(now)
        import_id = _import_row(conn, period, "appraisal", source, len(new), who, when)
        late = state != st.UNDER_APPRAISAL
        ids = record_verdicts(conn, period, new, scored, evaluator=who, late=late, now=when,
                              source=f"workbook {source.name}" if source else "command line",
                              import_id=import_id)
    return Recorded(ids, len(requests) - len(new), late, import_id)


def _duplicates(requests: Sequence[VerdictRequest | AppealRequest]) -> list[Problem]:
    seen: dict[tuple[str, str, str], str] = {}
    out = []
    for r in requests:
        if r.key in seen:
            out.append(Problem(r.where, "indicator", f"{'/'.join(r.key)} is already in {seen[r.key]}"))
        seen.setdefault(r.key, r.where)
    return out


def mark_provisional(
    db: AppraisalDb, period: str, actor: str, reason: str, revision: int, now: dt.datetime | None = None
) -> st.Transition:
    """Record that the provisional revision ``revision`` is published for the agencies."""
    with db.begin(period) as conn:
        return st.record_transition(conn, period, st.PROVISIONAL, actor, reason, {"revision": revision}, now)


def open_appeals(
    db: AppraisalDb, period: str, days: int, actor: str, reason: str, now: dt.datetime | None = None
) -> st.Transition:
    """Open the appeal window of a provisional result for ``days`` days from now."""
    if days < 1:
        raise ValueError(f"an appeal window lasts at least one day, not {days}")
    when = as_utc(now)
    closes = when + dt.timedelta(days=days)
    details = {"days": days, "opens_at": when.isoformat(), "closes_at": closes.isoformat()}
    with db.begin(period) as conn:
        return st.record_transition(conn, period, st.APPEAL_WINDOW, actor, reason, details, when)


def appeal_window(db: AppraisalDb, period: str) -> tuple[dt.datetime, dt.datetime] | None:
    """(opens_at, closes_at) of the period's open appeal window; None when none is open."""
    with db.read() as conn:
        return _window(st.last_transition(conn, period))


def _window(last: st.Transition | None) -> tuple[dt.datetime, dt.datetime] | None:
    if last is None or last.to_state != st.APPEAL_WINDOW:
        return None
    return (dt.datetime.fromisoformat(last.details["opens_at"]),
            dt.datetime.fromisoformat(last.details["closes_at"]))


def file_appeals(
    db: AppraisalDb,
    period: str,
    requests: Sequence[AppealRequest],
    scored: ScoredResult,
    filed_by: str,
    *,
    source: SourceFile | None = None,
    now: dt.datetime | None = None,
) -> Recorded:
    """Record agencies' appeals, all or none, while the appeal window is open."""
    who = said(filed_by, "the name of who files the appeal")
    problems = [p for r in requests for p in appeal_problems(r, scored)] + _duplicates(requests)
    if problems:
        raise AppraisalRefused(source.name if source else "appeals", problems)
    when = as_utc(now)
    with db.begin(period) as conn:
        st.require_state(conn, period, {st.APPEAL_WINDOW}, "file an appeal")
        opens, closes = _window(st.last_transition(conn, period)) or (when, when)
        if not opens <= when <= closes:
            raise st.StateError(f"{period}: the appeal window closed at {closes:%Y-%m-%d %H:%M} UTC")
        import_id = _import_row(conn, period, "appeals", source, len(requests), who, when)
        ids = record_appeals(conn, period, requests, filed_by=who, now=when, import_id=import_id,
                             source=f"workbook {source.name}" if source else "command line")
    return Recorded(ids, 0, False, import_id)


def decide_appeal(
    db: AppraisalDb,
    appeal_id: int,
    accepted: bool,
    reason: str,
    decided_by: str,
    scored: ScoredResult,
    change: VerdictRequest | None = None,
    now: dt.datetime | None = None,
) -> tuple[int, int | None]:
    """Accept (with the verdict it leads to) or reject an appeal, with a reason. Returns the
    decision's id and the adjustment's (None when rejected)."""
    who = said(decided_by, "the name of who decides")
    said(reason, "a reason")
    with db.read() as conn:
        period = appeal(conn, appeal_id)["period"]
    with db.begin(period) as conn:
        filed = appeal(conn, appeal_id)
        st.require_state(conn, period, DECISION_STATES, "decide an appeal")
        if filed["decision"] is not None:
            raise st.StateError(f"appeal #{appeal_id} was already {filed['decision']} on "
                                f"{filed['decided_at']:%Y-%m-%d} by {filed['decided_by']}")
        adjustment_id = None
        if accepted:
            adjustment_id = _accepted_change(conn, filed, change, scored, who, now)
        elif change is not None:
            raise ValueError(f"appeal #{appeal_id}: a rejected appeal changes nothing "
                             "(leave the verdict out)")
        decision_id = record_decision(conn, appeal_id, "accepted" if accepted else "rejected", reason=reason,
                                      decided_by=who, adjustment_id=adjustment_id, now=now)
    return decision_id, adjustment_id


def _accepted_change(
    conn, filed: dict, change: VerdictRequest | None, scored: ScoredResult, who: str, now: dt.datetime | None
) -> int:
    """The verdict an accepted appeal leads to, recorded against the appeal."""
    key = (filed["framework_id"], filed["agency_code"], filed["node_id"])
    if change is None:
        raise ValueError(f"appeal #{filed['id']}: an accepted appeal needs the verdict it leads to "
                         "(a value, points, or accept the reported value)")
    if change.key != key:
        raise ValueError(f"appeal #{filed['id']} is about {'/'.join(key)}, not {'/'.join(change.key)}")
    problems = verdict_problems(change, scored)
    if problems:
        raise AppraisalRefused(f"appeal #{filed['id']}", problems)
    return record_verdicts(conn, filed["period"], [change], scored, evaluator=who, now=now,
                           source=f"appeal #{filed['id']}", appeal_id=int(filed["id"]))[0]


def approve(
    db: AppraisalDb,
    period: str,
    request: ApprovalRequest,
    recorded_by: str,
    *,
    provisional_revision: int | None,
    scores_sha256: str,
    now: dt.datetime | None = None,
) -> int:
    """Record the approving decision and make the result final. From the appeal window: once
    it has closed and every appeal is decided. From final or published: only when the scores
    changed since the last approval (a late change). Returns the approval's id."""
    if provisional_revision is None:
        raise st.StateError(f"{period}: there is no provisional revision to approve: publish the "
                            "provisional result and hear appeals first")
    when = as_utc(now)
    with db.begin(period) as conn:
        state = st.require_state(conn, period, APPROVAL_STATES, "approve the result")
        if state == st.APPEAL_WINDOW:
            _check_appeals_closed(conn, period, when)
        else:
            last = approval_in_force(conn, period)
            if last is not None and last["scores_sha256"] == scores_sha256:
                raise st.StateError(f"{period}: nothing changed since approval #{last['id']} "
                                    f"({last['decision_number']}): there is nothing new to approve")
        approval_id = record_approval(conn, period, request, recorded_by=recorded_by, now=when,
                                      provisional_revision=provisional_revision, scores_sha256=scores_sha256)
        details = {"approval_id": approval_id, "decision_number": request.decision_number.strip(),
                   "decision_date": request.decision_date.isoformat(),
                   "approved_by": request.approved_by.strip()}
        number = request.decision_number.strip()
        reason = f"phê duyệt theo {number} / approved by {number}"
        st.record_transition(conn, period, st.FINAL, recorded_by, reason, details, when)
    return approval_id


def _check_appeals_closed(conn, period: str, when: dt.datetime) -> None:
    window = _window(st.last_transition(conn, period))
    if window is not None and when < window[1]:
        raise st.StateError(f"{period}: the appeal window is open until {window[1]:%Y-%m-%d %H:%M} UTC")
    undecided = pending(conn, period)
    if undecided:
        ids = ", ".join(f"#{a['id']}" for a in undecided)
        raise st.StateError(f"{period}: appeals {ids} are not decided yet")


def mark_published(
    db: AppraisalDb, period: str, actor: str, revision: int, scores_sha256: str,
    now: dt.datetime | None = None,
) -> st.Transition:
    """Record that the final revision ``revision`` is published; refused unless the approval in
    force approved exactly these scores."""
    with db.begin(period) as conn:
        st.require_state(conn, period, {st.FINAL}, "publish the final result")
        check_approved(conn, period, scores_sha256)
        approval = approval_in_force(conn, period)
        assert approval is not None
        reason = f"công bố kết quả chính thức / final result published (rev={revision})"
        details = {"revision": revision, "approval_id": approval["id"]}
        return st.record_transition(conn, period, st.PUBLISHED, actor, reason, details, now)


def check_approved(conn, period: str, scores_sha256: str) -> dict:
    """The approval in force if it approved scores with this fingerprint; a StateError if not."""
    approval = approval_in_force(conn, period)
    if approval is None:
        raise st.StateError(f"{period}: no approval is recorded: a final revision needs the approving "
                            "decision")
    if approval["scores_sha256"] != scores_sha256:
        raise st.StateError(
            f"{period}: the scores changed since approval #{approval['id']} ({approval['decision_number']}): "
            "a late change needs a new approving decision before a final revision"
        )
    return approval
