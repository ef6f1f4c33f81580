"""``dx-pipeline framework import | export | diff | check``: a framework and its decision's annex.

``import`` turns an annex workbook into a framework file (validated as every framework file
is), ``export`` writes the review workbook a council reads, ``diff`` says in words what changed
between two versions, ``check`` whether every indicator can be filled by this installation's
sources. The work is done in ``dx_pipeline.index`` (annex, framework_diff, coverage); this
module parses arguments and prints.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from dx_pipeline.index.annex import import_annex, write_annex
from dx_pipeline.index.builtins import builtin_paths, resolve_framework
from dx_pipeline.index.coverage import coverage_problems, coverage_rows, packaged_sources
from dx_pipeline.index.framework_diff import framework_diff
from dx_pipeline.index.loader import load_framework
from dx_pipeline.reference.frameworks import Framework


def register(subparsers) -> None:
    """Add ``framework`` and its verbs to the ``dx-pipeline`` parser."""
    p = subparsers.add_parser("framework", help="a framework and its decision's annex: import, export, diff")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)

    v = verbs.add_parser("import", help="annex workbook (.xlsx) -> framework file (.yaml), validated")
    v.add_argument("annex", help="the annex workbook (sheets ThongTin, VanBan, ChiSo, XepLoai)")
    v.add_argument("--output", required=True, help="framework file to write (.yaml)")
    v.set_defaults(func=_import)

    v = verbs.add_parser("export", help="framework -> review workbook (.xlsx) for a council")
    v.add_argument("framework", help="built-in id (see 'frameworks') or a framework file")
    v.add_argument("--output", required=True, help="workbook to write (.xlsx)")
    v.set_defaults(func=_export)

    v = verbs.add_parser("diff", help="what changed from framework A to framework B, in words")
    v.add_argument("a", help="built-in id or framework file (the older version)")
    v.add_argument("b", help="built-in id or framework file (the newer version)")
    v.set_defaults(func=_diff)

    v = verbs.add_parser("check", help="can every indicator be filled, at every level it scores?")
    v.add_argument("frameworks", nargs="*", help="built-in ids or framework files (default: every built-in)")
    v.add_argument("--detail", action="store_true", help="each indicator's source, per level")
    v.set_defaults(func=_check)


def _checked_output(path: str, suffix: str) -> Path:
    out = Path(path)
    if out.suffix.lower() != suffix:
        raise ValueError(f"--output {out}: the file must end in {suffix}")
    if out.is_dir():
        raise ValueError(f"--output {out} is a folder; give a file name ending in {suffix}")
    if not out.parent.is_dir():
        raise ValueError(f"--output {out}: the folder {out.parent} does not exist")
    return out


def _import(args: argparse.Namespace) -> int:
    out = _checked_output(args.output, ".yaml")
    fw = import_annex(args.annex, out)
    statement = fw.provenance_statement()
    print(
        f"{fw.label}: {len(fw.pillars)} pillars, {len(fw.indicators())} indicators, "
        f"{fw.total_points:g} points → {out}"
    )
    print(statement.en)
    gaps = coverage_problems(fw, packaged_sources())
    for gap in gaps:
        print(f"  warning: {gap}")
    if gaps:
        print("the pipeline cannot score with it until every indicator has a source: "
              f"dx-pipeline framework check {out} --detail")
    return 0


def _export(args: argparse.Namespace) -> int:
    out = _checked_output(args.output, ".xlsx")
    fw = resolve_framework(args.framework)
    write_annex(fw, out)
    print(f"{fw.label}: review workbook → {out}")
    return 0


def _diff(args: argparse.Namespace) -> int:
    print("\n".join(framework_diff(resolve_framework(args.a), resolve_framework(args.b))))
    return 0


KIND_WORDS = {"computed": "computed", "form": "on a form", "appraisal": "appraised",
              "not assessed": "not assessed", "none": "WITHOUT A SOURCE"}


def _unchecked(ref: str) -> Framework:
    """A framework loaded and validated, but not yet checked for coverage (check reports it)."""
    paths = builtin_paths()
    return load_framework(paths[ref]) if ref in paths else load_framework(ref)


def _check(args: argparse.Namespace) -> int:
    sources = packaged_sources()
    failed = 0
    for ref in args.frameworks or list(builtin_paths()):
        fw = _unchecked(ref)
        rows = coverage_rows(fw, sources)
        kinds = Counter(KIND_WORDS[kind] for _, _, kind, _ in rows)
        counted = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
        levels = len({level for _, level, _, _ in rows})
        print(f"{fw.label}: {len(fw.indicators())} indicators at {levels} level(s): "
              f"{counted or 'not scored at any level the pipeline has data for'}")
        if args.detail:
            for node_id, level, kind, detail in rows:
                print(f"  {node_id:<10} {level:<11} {kind:<13} {detail}")
        problems = coverage_problems(fw, sources)
        for problem in problems:
            print(f"  error: {problem}")
        failed += bool(problems)
    return 1 if failed else 0
