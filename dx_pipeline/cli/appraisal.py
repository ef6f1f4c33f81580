"""``dx-pipeline appraisal ...``: the evaluator's workbook, single verdicts, the provisional
result, appeals, approval and the state of a quarter's result.

Each verb parses its options, resolves the codes typed (agency, indicator, framework) against
what the quarter scored, calls one function of :mod:`dx_pipeline.app.appraisal` and prints what
happened. A refused workbook prints every problem with its sheet, row and column and exits 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass

from dx_pipeline.app import appraisal as ap
from dx_pipeline.appraisal.adjustments import VerdictRequest
from dx_pipeline.appraisal.appeals import AppealRequest
from dx_pipeline.appraisal.approvals import ApprovalRequest
from dx_pipeline.appraisal.audit import vietnam_time
from dx_pipeline.appraisal.scored import ScoredResult
from dx_pipeline.appraisal.states import state_label
from dx_pipeline.cli.environment import settings_from_environment

APPROVED_BY = "Ủy ban nhân dân tỉnh"
"""The approving authority when ``--approved-by`` is not given."""


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "dx-pipeline"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``appraisal`` verb group to the command line."""
    p = subparsers.add_parser(
        "appraisal", help="appraise a quarter's result: workbook, verdicts, appeals, approval",
        description="Appraisal of a quarter's result (thẩm định): export the evaluator's workbook, "
        "import it, record single verdicts, publish the provisional result, file and decide appeals, "
        "approve and publish the final result, and show where the result stands.",
    )
    sub = p.add_subparsers(dest="appraisal_command", metavar="STEP", required=True)
    _register_workbook(sub)
    _register_adjust(sub)
    _register_window(sub)
    _register_approval(sub)
    for step in sub.choices.values():
        step.add_argument("--by", default=None, help="who does this (default: the system user name)")
    _register_appeal_workbook(subparsers)


def _register_appeal_workbook(subparsers: argparse._SubParsersAction) -> None:
    """``dx-pipeline appeal export|import``: an agency's appeal workbook."""
    p = subparsers.add_parser(
        "appeal", help="an agency's appeal workbook: export it with its provisional points, import it",
        description="Kiến nghị (appeals): write an agency's workbook with its provisional points per "
        "indicator and columns for its arguments, and import the filled workbook while the appeal "
        "window is open (checked whole: nothing is recorded from a file with a problem).",
    )
    sub = p.add_subparsers(dest="appeal_command", metavar="STEP", required=True)
    e = sub.add_parser("export", help="write an agency's appeal workbook (the appeal window must be open)")
    e.add_argument("--quarter", required=True, help="quarter, e.g. 2025-Q2")
    e.add_argument("--agency", required=True, help="agency code, e.g. SO-YT")
    e.add_argument("--output", help="the .xlsx to write (default "
                   "<home>/appraisal/<quarter>/kien-nghi-<quarter>-<agency>.xlsx)")
    e.set_defaults(func=_appeal_export)
    i = sub.add_parser("import", help="check a filled appeal workbook and record its appeals")
    i.add_argument("file", help="the filled .xlsx")
    i.add_argument("--quarter", help="refuse the workbook unless it is for this quarter")
    i.add_argument("--by", default=None, help="who files the appeals (default: the system user name)")
    i.set_defaults(func=_appeal_import)


def _register_workbook(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("export", help="write the evaluator's workbook of a quarter (opens its appraisal)")
    e.add_argument("--quarter", required=True, help="quarter, e.g. 2025-Q2")
    e.add_argument("--output",
                   help="the .xlsx to write (default <home>/appraisal/<quarter>/tham-dinh-<quarter>.xlsx)")
    e.set_defaults(func=_export)
    i = sub.add_parser("import", help="check a filled workbook, record its verdicts and re-score")
    i.add_argument("file", help="the filled .xlsx")
    i.add_argument("--evaluator", help="the evaluator's name (default: --by, else the system user)")
    i.add_argument("--quarter", help="refuse the workbook unless it is for this quarter")
    i.set_defaults(func=_import)


def _key_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quarter", required=True, help="quarter, e.g. 2025-Q2")
    p.add_argument("--agency", required=True, help="agency code, e.g. SO-YT")
    p.add_argument("--indicator", required=True, help="indicator code of the framework, e.g. CQ.2")
    p.add_argument("--framework", help="framework id, when the agency is scored under several")


def _register_adjust(sub: argparse._SubParsersAction) -> None:
    a = sub.add_parser("adjust", help="record one verdict on an agency's indicator and re-score")
    _key_options(a)
    verdict = a.add_mutually_exclusive_group(required=True)
    verdict.add_argument("--value", type=float, help="adjust the value (the rule scores this one)")
    verdict.add_argument("--points", type=float, help="adjust the points directly")
    verdict.add_argument("--accept", action="store_true", help="accept the reported value")
    verdict.add_argument("--reject", action="store_true", help="reject the evidence (scores 0)")
    a.add_argument("--reason", required=True, help="why (required)")
    a.add_argument("--evaluator", help="the evaluator's name (default: --by, else the system user)")
    a.set_defaults(func=_adjust)


def _register_window(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("provisional", help="publish the provisional result and its site, open appeals")
    p.add_argument("--quarter", required=True, help="quarter, e.g. 2025-Q2")
    p.add_argument("--appeal-days", type=int, default=ap.DEFAULT_APPEAL_DAYS,
                   help=f"days agencies may appeal (default {ap.DEFAULT_APPEAL_DAYS})")
    p.set_defaults(func=_provisional)
    a = sub.add_parser("appeal", help="file an agency's appeal against the provisional result")
    _key_options(a)
    a.add_argument("--argument", required=True, help="why the result is wrong (required)")
    a.add_argument("--value", type=float, help="the value the agency says is right")
    a.set_defaults(func=_appeal)
    d = sub.add_parser("decide-appeal", help="accept or reject an appeal, with a reason")
    d.add_argument("appeal_id", type=int, metavar="ID", help="the appeal's number")
    choice = d.add_mutually_exclusive_group(required=True)
    choice.add_argument("--accept", action="store_true", help="accept it (re-scores)")
    choice.add_argument("--reject", action="store_true", help="reject it")
    d.add_argument("--reason", required=True, help="why (required)")
    d.add_argument("--value", type=float, help="accepted: the value to score (default: the one asked for)")
    d.add_argument("--points", type=float, help="accepted: the points to give instead")
    d.set_defaults(func=_decide)


def _register_approval(sub: argparse._SubParsersAction) -> None:
    a = sub.add_parser("approve", help="record the approving decision, publish the final result and site")
    a.add_argument("--quarter", required=True, help="quarter, e.g. 2025-Q2")
    a.add_argument("--decision", required=True, help="the decision's number, e.g. 1234/QĐ-UBND")
    a.add_argument("--date", required=True, help="the decision's date, YYYY-MM-DD")
    a.add_argument("--approved-by", default=APPROVED_BY, help=f"the authority (default {APPROVED_BY})")
    a.add_argument("--note", help="a note kept with the approval")
    a.set_defaults(func=_approve)
    s = sub.add_parser("status", help="the state of a quarter's result and its history (who, when, why)")
    s.add_argument("--quarter", required=True, help="quarter, e.g. 2025-Q2")
    s.set_defaults(func=_status)


def _settings(args):
    return settings_from_environment(args.home)


def _key(settings, args) -> tuple[ScoredResult, str, str, str]:
    scored = ap.scored_result(settings, args.quarter)
    fid, agency, node = ap.resolve_indicator(scored, args.agency, args.indicator, args.framework)
    return scored, fid, agency, node


def _export(args) -> int:
    result = ap.export_workbook(_settings(args), args.quarter, args.output, args.by or _who())
    print(f"{result.path}: {result.rows} chỉ tiêu / indicator rows, {result.appraised} already appraised; "
          f"{state_label(result.state)}")
    return 0


def _print_appraised(result: ap.Appraised) -> None:
    rec = result.recorded
    late = " (sau phê duyệt / late change: needs a new approval)" if rec.late else ""
    print(f"{result.period}: {len(rec.ids)} verdict(s) recorded, {rec.unchanged} unchanged{late}")
    if rec.ids:
        print(f"  records #{rec.ids[0]}..#{rec.ids[-1]}")
    if result.scores is not None:
        print(f"  re-scored: {result.scores.scores.rows} index_scores rows")


def _import(args) -> int:
    result = ap.import_workbook(_settings(args), args.file, args.evaluator or args.by or _who(), args.quarter)
    _print_appraised(result)
    return 0


def _adjust(args) -> int:
    settings = _settings(args)
    scored, fid, agency, node = _key(settings, args)
    verdict = ("adjust_value" if args.value is not None else "adjust_points" if args.points is not None
               else "accept" if args.accept else "reject")
    request = VerdictRequest(fid, agency, node, verdict, args.reason, args.value, args.points)
    _print_appraised(ap.adjust(settings, scored.period, request, args.evaluator or args.by or _who()))
    return 0


def _provisional(args) -> int:
    result = ap.publish_provisional(_settings(args), args.quarter, args.by or _who(), args.appeal_days)
    pub = result.publication
    print(f"{pub.period} rev={pub.revision}: kết quả tạm thời / provisional result published ({pub.path})")
    for built in result.sites.built:
        print(f"  site: {built.path}")
    print(f"  {state_label(result.state)}: {args.appeal_days} days")
    return 1 if result.sites.broken else 0


def _appeal(args) -> int:
    settings = _settings(args)
    scored, fid, agency, node = _key(settings, args)
    request = AppealRequest(fid, agency, node, args.argument, args.value)
    appeal_id = ap.file_appeal(settings, scored.period, request, args.by or _who())
    print(f"{scored.period}: kiến nghị / appeal #{appeal_id} filed on {agency} {fid} {node}")
    return 0


def _decide(args) -> int:
    if args.reject and (args.value is not None or args.points is not None):
        raise ValueError("a rejected appeal changes nothing: leave out --value and --points")
    result = ap.decide_appeal(_settings(args), args.appeal_id, bool(args.accept), args.reason,
                              args.by or _who(), value=args.value, points=args.points)
    word = "accepted" if args.accept else "rejected"
    print(f"{result.period}: appeal #{args.appeal_id} {word} (decision #{result.decision_id})")
    if result.adjustment_id is not None:
        print(f"  adjustment #{result.adjustment_id} recorded, re-scored")
    return 0


def _approve(args) -> int:
    try:
        day = dt.date.fromisoformat(args.date)
    except ValueError:
        raise ValueError(f"--date {args.date!r} is not a date: write YYYY-MM-DD") from None
    request = ApprovalRequest(args.decision, day, args.approved_by, args.note)
    approval_id, result = ap.approve(_settings(args), args.quarter, request, args.by or _who())
    pub = result.publication
    print(f"{pub.period}: approval #{approval_id} ({args.decision}, {day:%d/%m/%Y}); "
          f"final rev={pub.revision} published ({pub.path})")
    for built in result.sites.built:
        print(f"  site: {built.path}")
    return 1 if result.sites.broken else 0


def _status(args) -> int:
    s = ap.status(_settings(args), args.quarter)
    print(f"{s.period}: {state_label(s.state)}; {s.verdicts_in_force} verdict(s) in force, "
          f"{len(s.appeals)} appeal(s)")
    for t in s.transitions:
        print(f"  {vietnam_time(t.recorded_at)}  {state_label(t.from_state) if t.from_state else '-'} -> "
              f"{state_label(t.to_state)}  by {t.actor}: {t.reason}")
    for a in s.appeals:
        decided = (f"{a['decision']} by {a['decided_by']}: {a['decision_reason']}" if a["decision"]
                   else "not decided yet")
        print(f"  appeal #{a['id']} {a['agency_code']} {a['framework_id']} {a['node_id']} "
              f"by {a['filed_by']}: {decided}")
    return 0


def _appeal_export(args) -> int:
    result = ap.export_appeal_workbook(_settings(args), args.quarter, args.agency, args.output)
    print(f"{result.path}: {result.rows} chỉ tiêu / indicator rows of {result.agency}; appeals until "
          f"{vietnam_time(result.closes_at)}")
    return 0


def _appeal_import(args) -> int:
    result = ap.import_appeals(_settings(args), args.file, args.by or _who(), args.quarter)
    ids = result.recorded.ids
    print(f"{result.period}: {len(ids)} kiến nghị / appeal(s) of {result.agency} recorded "
          f"(#{ids[0]}..#{ids[-1]})")
    return 0
