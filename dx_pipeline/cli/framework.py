"""``dx-pipeline framework import | export | diff``: a framework and its decision's annex.

``import`` turns an annex workbook into a framework file (validated as every framework file
is), ``export`` writes the review workbook a council reads, ``diff`` says in words what changed
between two versions. The work is done in ``dx_pipeline.index`` (annex, framework_diff); this
module parses arguments and prints.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dx_pipeline.index.annex import import_annex, write_annex
from dx_pipeline.index.builtins import resolve_framework
from dx_pipeline.index.framework_diff import framework_diff


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
