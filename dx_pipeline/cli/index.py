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
from dx_pipeline.index.checked_file import STREAM_ROWS, check_file, row_count, stream_problem
from dx_pipeline.index.engine import score
from dx_pipeline.index.explain import explain
from dx_pipeline.index.input_checks import (
    InputRefused,
    check_table,
    read_registry_table,
    read_table,
    refuse_file,
)
from dx_pipeline.index.streaming import Grids, score_grid_to_parquet
from dx_pipeline.publish.exports import write_csv
from dx_pipeline.reference.catalogue import load_catalogue
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.reference.typed_codes import resolve_code
from dx_pipeline.storage import read_partition


def register(subparsers) -> None:
    """Add the index verbs (score, frameworks, validate-framework) to the command line."""
    p = subparsers.add_parser(
        "score", help="score a long table (unit, indicator, value) under a framework",
        description="Score a long table under a framework. A Parquet input of "
                    f"{STREAM_ROWS:,} rows or more (text codes, a numeric value column, no "
                    "numerator/denominator) is checked and scored streamed, a batch of rows at a "
                    "time, in about a gigabyte at any size: index_scores is then written as "
                    ".parquet only (a CSV of tens of millions of rows is no use; --in-memory writes "
                    "it). The checks and the results are the same either way; any other input, "
                    "and --previous, is checked and scored in memory.")
    p.add_argument("--framework", required=True, help="built-in id (see 'frameworks') or a YAML file")
    p.add_argument("--input", required=True, help="long table: .csv or .parquet")
    p.add_argument("--output", required=True, help="folder for index_scores and ranking (.parquet and .csv; "
                                                   "a streamed run writes no index_scores.csv)")
    p.add_argument("--registry", help="agencies CSV/Parquet (names, peer groups, levels)")
    p.add_argument("--previous", help="last quarter's long table (for the carry_forward policy)")
    p.add_argument("--quarter", help="quarter the data belongs to, e.g. 2025-Q2 (filters the registry, "
                                     "picks the framework version in force)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--strict", dest="lenient", action="store_false",
                      help="refuse the input if any row is bad, naming each (the default)")
    mode.add_argument("--lenient", dest="lenient", action="store_true",
                      help="score the good rows; write the refused ones to rejects.csv with a warning count")
    way = p.add_mutually_exclusive_group()
    way.add_argument("--stream", dest="engine", action="store_const", const="stream",
                     help="stream whatever the size (a Parquet input as above; otherwise says why not)")
    way.add_argument("--in-memory", dest="engine", action="store_const", const="memory",
                     help="check and score in memory whatever the size, and write index_scores.csv")
    p.set_defaults(func=_score, lenient=False, engine="auto")

    p = subparsers.add_parser("explain", help="why an agency has the points it has, for a quarter")
    p.add_argument("--agency", required=True, help="agency code")
    p.add_argument("--quarter", required=True, help="e.g. 2025-Q2")
    p.add_argument("--framework", help="framework id (default: every framework that scored the agency)")
    p.set_defaults(func=_explain)

    p = subparsers.add_parser("frameworks", help="list the built-in index frameworks")
    p.add_argument("--quarter", help="only those in force in this quarter")
    p.add_argument("--level", help="only those applying to this level (department, district, commune)")
    p.set_defaults(func=_frameworks)


NO_ROWS_LEFT = "no row is left to score"
"""Why an input none of whose rows survived its checks is refused (either way of scoring)."""
OUTPUT_NAMES = ("index_scores", "ranking", "rejects")
"""What ``score`` writes into its output folder (each as .parquet and .csv; streamed, no
index_scores.csv)."""


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
        if _streamed(args):
            return _score_streamed(args, fw, out, catalogue=catalogue, registry=registry, agencies=agencies)
        data = check_table(read_table(args.input), fw, Path(args.input).name, catalogue=catalogue,
                           agencies=agencies)
        prev = (check_table(read_table(args.previous, "previous"), fw, Path(args.previous).name,
                            catalogue=catalogue, agencies=agencies) if args.previous else None)
        rejects = pd.concat([data.rejects] + ([prev.rejects] if prev else []), ignore_index=True)
        if len(rejects) and not args.lenient:
            raise InputRefused(rejects)
        if data.data.empty:
            raise refuse_file(Path(args.input).name, NO_ROWS_LEFT)
    except InputRefused as exc:
        return _refused(exc, args)
    result = score(fw, data.data, registry, prev.data if prev else None, quarter=args.quarter)
    _write_outputs(out, [("index_scores", result.scores), ("ranking", result.ranking)],
                   rejects if args.lenient else None)
    _report(result.framework, result.ranking, len(result.scores), out, data.skipped, data.clipped,
            rejects, lenient=args.lenient)
    return 0


def _refused(exc: InputRefused, args: argparse.Namespace) -> int:
    for line in exc.lines():
        print(f"dx-pipeline score: error: {line}", file=sys.stderr)
    if not args.lenient and len(exc.rejects) > 1:
        print("dx-pipeline score: nothing was scored; --lenient scores the good rows and writes "
              "the refused ones to rejects.csv", file=sys.stderr)
    return 1


def _streamed(args: argparse.Namespace) -> bool:
    """Whether to check and score streamed: a large Parquet input it can check as the in-memory
    way does, or ``--stream``; a large input it cannot is scored in memory, saying why."""
    if args.engine == "memory":
        return False
    path = Path(args.input)
    if args.engine == "auto" and (row_count(path) or 0) < STREAM_ROWS:
        return False
    why = "--previous (carry_forward) is checked in memory only" if args.previous else stream_problem(path)
    if why is None:
        return True
    print(f"dx-pipeline score: note: checking and scoring {path.name} in memory: {why}", file=sys.stderr)
    return False


def _score_streamed(args: argparse.Namespace, fw, out: Path, *, catalogue, registry: pd.DataFrame | None,
                    agencies: set[str] | None) -> int:
    """The checks of ``check_table`` batch by batch into the grid the streamed engine scores;
    index_scores straight to its Parquet file, chunk of units after chunk."""
    path = Path(args.input)
    scored = fw.at(args.quarter) if args.quarter is not None else fw
    try:
        checked = check_file(path, fw, scored, catalogue=catalogue, agencies=agencies, registry=registry,
                             quarter=args.quarter)
        if len(checked.rejects) and not args.lenient:
            raise InputRefused(checked.rejects)
        if checked.grid is None:
            raise refuse_file(path.name, NO_ROWS_LEFT)
    except InputRefused as exc:
        return _refused(exc, args)
    out.mkdir(parents=True, exist_ok=True)
    grids = Grids(checked.grid)
    checked.grid = None  # held by ``grids`` alone: the scoring frees it before the ranking
    result = score_grid_to_parquet(scored, checked.units, grids, out / "index_scores.parquet")
    stale = out / "index_scores.csv"
    stale.unlink(missing_ok=True)  # an earlier run's rows, not these
    _write_outputs(out, [("ranking", result.ranking)], checked.rejects if args.lenient else None)
    _report(result.framework, result.ranking, result.rows, out, checked.skipped, checked.clipped,
            checked.rejects, lenient=args.lenient)
    print(f"streamed: {path.name} checked and scored a batch at a time; index_scores.csv not written "
          f"({result.rows:,} rows: read index_scores.parquet, or score --in-memory for the CSV)")
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


def _write_outputs(out: Path, tables: list[tuple[str, pd.DataFrame]], rejects: pd.DataFrame | None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    if rejects is not None:
        tables.append(("rejects", rejects.astype({"row": "Int64"})))
    for name, df in tables:
        df.to_parquet(out / f"{name}.parquet", index=False)
        write_csv(df, out / f"{name}.csv")  # the one CSV dialect of every export


def _report(fw, ranking: pd.DataFrame, rows: int, out: Path, skipped: dict[str, int], clipped: int,
            rejects: pd.DataFrame, *, lenient: bool) -> None:
    print(f"{fw.label}: scored {len(ranking)} units, {rows} rows → {out}")
    print(ranking.head(10).to_string(index=False))
    if skipped:
        codes = ", ".join(f"{c} ({n})" for c, n in sorted(skipped.items()))
        print(f"skipped rows of catalogue KPIs that {fw.id} does not use: {codes}")
    if clipped:
        print(f"dx-pipeline score: warning: {clipped} values outside their unit's range were clipped "
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
