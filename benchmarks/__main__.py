"""``python -m benchmarks`` (``make bench``): time a generated quarter stage by stage against
baselines measured in the same run."""

from __future__ import annotations

import argparse
import sys

from benchmarks.case_runner import format_cases, run_cases
from benchmarks.generate import DEFAULT_QUARTER, DEFAULT_SEED
from benchmarks.runner import format_table, run_bench
from dx_pipeline.reference.quarters import Quarter


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Generate N dossiers of one quarter in the portal's export format (cached by N "
        "and seed), run each stage in its own process and print wall time, rows/s and peak memory, "
        "with a bare-DuckDB and a pandas baseline and each target MET or MISSED.",
    )
    p.add_argument("--rows", type=int, default=None,
                   help="dossiers to generate (default 10,000,000; 100,000 for --case incremental --small)")
    p.add_argument(
        "--out", default="bench_out", help="output folder: data cache, logs, JSON (default bench_out/)"
    )
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="generator seed")
    p.add_argument(
        "--quarter", default=DEFAULT_QUARTER.label, help="quarter to generate (default %(default)s)"
    )
    p.add_argument("--keep", action="store_true", help="keep the warehouse/published outputs after the run")
    p.add_argument(
        "--scale-check", action="store_true", help="also run 3x the rows and compare time and peak"
    )
    p.add_argument(
        "--case", action="append", choices=("quarter", "engine", "duplicates", "incremental"),
        help="what to run (repeatable; default the quarter): 'engine' times score() at 100k x 3 and "
        "score_to_parquet (Parquet in, Parquet out) at 100k x 3 and 1M x 40 against bare numpy, "
        "'duplicates' ingests 100k and 1M duplicate submission rows, "
        "'incremental' runs the quarter (--rows, default 10M) then republishes a late submission "
        "and an appraisal workbook on it",
    )
    p.add_argument("--small", action="store_true",
                   help="engine and duplicates cases at tiny sizes (a smoke run of seconds)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cases = args.case or ["quarter"]
    others = [c for c in cases if c != "quarter"]
    if others:
        print(format_cases(run_cases(others, small=args.small, out_dir=args.out, rows=args.rows)))
        print(f"\nJSON: {args.out}/bench_cases.json")
    if "quarter" not in cases:
        return 0
    report = run_bench(rows=args.rows or 10_000_000, out_dir=args.out, seed=args.seed, keep=args.keep,
                       scale_check=args.scale_check, quarter=Quarter.parse(args.quarter))
    print()
    print(format_table(report))
    print(f"\nJSON: {args.out}/bench.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
