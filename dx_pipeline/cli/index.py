"""``dx-pipeline score | explain | frameworks``: the index engine from the command line.

``score`` works on any long table of (unit, indicator, value) with no Dagster and no DX_HOME;
``explain`` reads what the pipeline wrote to the warehouse for a quarter.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from dx_pipeline.index.builtins import (
    builtin_frameworks,
    frameworks_for,
    resolve_framework,
)
from dx_pipeline.index.engine import score
from dx_pipeline.index.explain import explain
from dx_pipeline.index.inputs import read_long_file
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.storage import DxHome, read_partition


def register(subparsers) -> None:
    """Add the index verbs (score, frameworks, validate-framework) to the command line."""
    p = subparsers.add_parser("score", help="score a long table (unit, indicator, value) under a framework")
    p.add_argument("--framework", required=True, help="built-in id (see 'frameworks') or a YAML file")
    p.add_argument("--input", required=True, help="long table: .csv or .parquet")
    p.add_argument("--output", required=True, help="folder for index_scores and ranking (.parquet and .csv)")
    p.add_argument("--registry", help="agencies CSV/Parquet (names, peer groups, levels)")
    p.add_argument("--previous", help="last quarter's long table (for the carry_forward policy)")
    p.add_argument("--quarter", help="quarter the data belongs to, e.g. 2025-Q2 (filters the registry)")
    p.set_defaults(func=_score)

    p = subparsers.add_parser("explain", help="why an agency has the points it has, for a quarter")
    p.add_argument("--agency", required=True, help="agency code")
    p.add_argument("--quarter", required=True, help="e.g. 2025-Q2")
    p.add_argument("--framework", help="framework id (default: every framework that scored the agency)")
    p.set_defaults(func=_explain)

    p = subparsers.add_parser("frameworks", help="list the built-in index frameworks")
    p.add_argument("--quarter", help="only those in force in this quarter")
    p.add_argument("--level", help="only those applying to this level (department, district, commune)")
    p.set_defaults(func=_frameworks)


def _read_table(path: str) -> pd.DataFrame:

    return read_long_file(path)


def _score(args: argparse.Namespace) -> int:

    fw = resolve_framework(args.framework)
    data = _read_table(args.input)
    registry = _read_registry(args.registry) if args.registry else None
    previous = _read_table(args.previous) if args.previous else None
    result = score(fw, data, registry, previous, quarter=args.quarter)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    for name, df in (("index_scores", result.scores), ("ranking", result.ranking)):
        df.to_parquet(out / f"{name}.parquet", index=False)
        df.to_csv(out / f"{name}.csv", index=False)
    print(f"{result.framework.label}: scored {len(result.ranking)} units, {len(result.scores)} rows → {out}")
    print(result.ranking.head(10).to_string(index=False))
    return 0


def _read_registry(path: str) -> pd.DataFrame:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"registry file not found: {p}")
    if p.suffix.lower() == ".parquet":
        return pd.read_parquet(p)
    reg = pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""])
    if "provides_public_services" in reg.columns:
        reg["provides_public_services"] = (
            reg["provides_public_services"].str.lower().isin(["true", "1", "yes"])
        )
    return reg


def _explain(args: argparse.Namespace) -> int:

    home = DxHome.from_env(getattr(args, "home", None))
    q = Quarter.parse(args.quarter)
    try:
        scores = read_partition(home, "index_scores", q)
    except FileNotFoundError:
        print(f"dx-pipeline explain: no index scores for {q.label} under {home.warehouse}; "
              f"materialize the quarter first (dx-pipeline run --quarter {q.label})", file=sys.stderr)
        return 1
    try:
        ranking = read_partition(home, "ranking_snapshot", q)
    except FileNotFoundError:
        ranking = None
    if args.framework:
        scores = scores[scores["framework_id"] == args.framework]
        if scores.empty:
            print(f"dx-pipeline explain: framework {args.framework!r} has no scores for {q.label}",
                  file=sys.stderr)
            return 1
    print(explain(scores, ranking, args.agency))
    return 0


def _frameworks(args: argparse.Namespace) -> int:

    fws = frameworks_for(args.quarter, args.level) if args.quarter else builtin_frameworks()
    if args.level and not args.quarter:
        fws = [f for f in fws if args.level in f.applies_to.levels]
    for fw in fws:
        until = fw.effective_to.isoformat() if fw.effective_to else "…"
        n_p, n_i = len(fw.pillars), len(fw.indicators())
        print(f"{fw.id:<18} v{fw.version:<8} {fw.effective_from}..{until:<10} "
              f"{','.join(fw.applies_to.levels):<28} {n_p:>2} pillars {n_i:>3} indicators "
              f"{fw.total_points:g} pts  {fw.title.vi}")
    return 0
