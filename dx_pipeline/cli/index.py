"""``dx-pipeline score | explain | frameworks``: the index engine from the command line.

``score`` works on any long table of (unit, indicator, value) with no Dagster and no DX_HOME;
it checks its inputs strictly (:mod:`dx_pipeline.index.input_checks`) and its output folder
before any work. ``explain`` reads what the pipeline wrote to the warehouse for a quarter.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pandas as pd

from dx_pipeline.cli.environment import home_from_environment
from dx_pipeline.defs.partitions import require_partition
from dx_pipeline.index.builtins import (
    builtin_frameworks,
    frameworks_for,
    resolve_framework,
)
from dx_pipeline.index.engine import score
from dx_pipeline.index.explain import explain
from dx_pipeline.index.input_checks import InputRefused, check_table, read_registry_table, read_table
from dx_pipeline.publish.exports import write_csv
from dx_pipeline.reference.catalogue import load_catalogue
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.reference.typed_codes import resolve_code
from dx_pipeline.storage import read_partition


def register(subparsers) -> None:
    """Add the index verbs (score, frameworks, validate-framework) to the command line."""
    p = subparsers.add_parser("score", help="score a long table (unit, indicator, value) under a framework")
    p.add_argument("--framework", required=True, help="built-in id (see 'frameworks') or a YAML file")
    p.add_argument("--input", required=True, help="long table: .csv or .parquet")
    p.add_argument("--output", required=True, help="folder for index_scores and ranking (.parquet and .csv)")
    p.add_argument("--registry", help="agencies CSV/Parquet (names, peer groups, levels)")
    p.add_argument("--previous", help="last quarter's long table (for the carry_forward policy)")
    p.add_argument("--quarter", help="quarter the data belongs to, e.g. 2025-Q2 (filters the registry, "
                                     "picks the framework version in force)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--strict", dest="lenient", action="store_false",
                      help="refuse the input if any row is bad, naming each (the default)")
    mode.add_argument("--lenient", dest="lenient", action="store_true",
                      help="score the good rows; write the refused ones to rejects.csv with a warning count")
    p.set_defaults(func=_score, lenient=False)

    p = subparsers.add_parser("explain", help="why an agency has the points it has, for a quarter")
    p.add_argument("--agency", required=True, help="agency code")
    p.add_argument("--quarter", required=True, help="e.g. 2025-Q2")
    p.add_argument("--framework", help="framework id (default: every framework that scored the agency)")
    p.set_defaults(func=_explain)

    p = subparsers.add_parser("frameworks", help="list the built-in index frameworks")
    p.add_argument("--quarter", help="only those in force in this quarter")
    p.add_argument("--level", help="only those applying to this level (department, district, commune)")
    p.set_defaults(func=_frameworks)


OUTPUT_NAMES = ("index_scores", "ranking", "rejects")
"""What ``score`` writes into its output folder (each as .parquet and .csv)."""


def _score(args: argparse.Namespace) -> int:
    """Check everything before any work; score; write. Refusals are one line each, exit 1."""
    out = Path(args.output)
    problem = _output_problem(out)
    if problem:
        print(f"dx-pipeline score: error: --output {out}: {problem}", file=sys.stderr)
        return 1
    try:
        fw = resolve_framework(args.framework)
        catalogue = load_catalogue()
        registry = read_registry_table(args.registry) if args.registry else None
        agencies = set(registry["agency_code"].dropna()) if registry is not None else None
        data = check_table(read_table(args.input), fw, Path(args.input).name, catalogue=catalogue,
                           agencies=agencies)
        prev = (check_table(read_table(args.previous, "previous"), fw, Path(args.previous).name,
                            catalogue=catalogue, agencies=agencies) if args.previous else None)
        rejects = pd.concat([data.rejects] + ([prev.rejects] if prev else []), ignore_index=True)
        if len(rejects) and not args.lenient:
            raise InputRefused(rejects)
        if data.data.empty:
            raise InputRefused(pd.DataFrame([{"file": Path(args.input).name, "row": None, "field": None,
                                              "value": None, "reason": "no row is left to score"}]))
    except InputRefused as exc:
        for line in exc.lines():
            print(f"dx-pipeline score: error: {line}", file=sys.stderr)
        if not args.lenient and len(exc.rejects) > 1:
            print("dx-pipeline score: nothing was scored; --lenient scores the good rows and writes "
                  "the refused ones to rejects.csv", file=sys.stderr)
        return 1
    result = score(fw, data.data, registry, prev.data if prev else None, quarter=args.quarter)
    _write_outputs(out, result, rejects if args.lenient else None)
    _report(result, out, data, rejects, lenient=args.lenient)
    return 0


def _output_problem(out: Path) -> str | None:
    """Why ``score`` could not write into ``out``, checked before any work; None if it can."""
    if out.exists() and not out.is_dir():
        return "is a file, not a folder"
    for name in OUTPUT_NAMES:
        for suffix in (".parquet", ".csv"):
            if (out / f"{name}{suffix}").is_dir():
                return f"{name}{suffix} in it is a folder"
    existing = out
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"cannot write into {existing}"
    return None


def _write_outputs(out: Path, result, rejects: pd.DataFrame | None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tables = [("index_scores", result.scores), ("ranking", result.ranking)]
    if rejects is not None:
        tables.append(("rejects", rejects.astype({"row": "Int64"})))
    for name, df in tables:
        df.to_parquet(out / f"{name}.parquet", index=False)
        write_csv(df, out / f"{name}.csv")  # the one CSV dialect of every export


def _report(result, out: Path, data, rejects: pd.DataFrame, *, lenient: bool) -> None:
    print(f"{result.framework.label}: scored {len(result.ranking)} units, {len(result.scores)} rows → {out}")
    print(result.ranking.head(10).to_string(index=False))
    if data.skipped:
        codes = ", ".join(f"{c} ({n})" for c, n in sorted(data.skipped.items()))
        print(f"skipped rows of catalogue KPIs that {result.framework.id} does not use: {codes}")
    if data.clipped:
        print(f"dx-pipeline score: warning: {data.clipped} values outside their unit's range were clipped "
              f"(the framework's policies.out_of_range is clip)", file=sys.stderr)
    if lenient:
        print(f"dx-pipeline score: warning: {len(rejects)} rows refused, written to {out / 'rejects.csv'}",
              file=sys.stderr)


def _explain(args: argparse.Namespace) -> int:
    home = home_from_environment(getattr(args, "home", None))
    q = Quarter.parse(args.quarter)
    try:
        scores = read_partition(home, "index_scores", q)
    except FileNotFoundError:
        require_partition(q)  # a quarter that cannot run says which can
        raise FileNotFoundError(f"no index scores for {q.label} under {home.warehouse}; run the "
                                f"quarter first: dx-pipeline run --quarter {q.label}") from None
    try:
        ranking = read_partition(home, "ranking_snapshot", q)
    except FileNotFoundError:
        ranking = None
    where = f"in the scores of {q.label}"
    if args.framework:
        framework = resolve_code(args.framework, scores["framework_id"], what="framework", where=where)
        scores = scores[scores["framework_id"] == framework]
        where += f" under {framework}"
    agency = resolve_code(args.agency, scores["agency_code"], where=where)
    print(explain(scores, ranking, agency))
    return 0


def _frameworks(args: argparse.Namespace) -> int:
    fws = frameworks_for(args.quarter, args.level) if args.quarter else builtin_frameworks()
    if args.level and not args.quarter:
        fws = [f for f in fws if args.level in f.applies_to.levels]
    for fw in fws:
        until = fw.effective_to.isoformat() if fw.effective_to else "…"
        n_p, n_i = len(fw.pillars), len(fw.indicators())
        print(f"{fw.id:<20} v{fw.version:<8} {fw.effective_from}..{until:<10} "
              f"{','.join(fw.applies_to.levels):<28} {n_p:>2} pillars {n_i:>3} indicators "
              f"{fw.total_points:g} pts  {fw.provenance_label:<19} {fw.title.vi}")
    return 0
