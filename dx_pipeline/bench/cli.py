"""``dx-pipeline bench``: time a generated quarter stage by stage against two baselines."""

from __future__ import annotations

import argparse

from dx_pipeline.bench.generate import DEFAULT_QUARTER, DEFAULT_SEED


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "bench",
        help="benchmark a quarter of N generated dossiers (stages, DuckDB and pandas baselines)",
        description="Generate N dossiers of one quarter in the portal's export format (cached by N "
        "and seed), run each stage in its own process and print wall time, rows/s and peak memory, "
        "with a bare-DuckDB and a pandas baseline and the targets of issue 8.",
    )
    p.add_argument("--rows", type=int, default=10_000_000, help="dossiers to generate (default 10,000,000)")
    p.add_argument("--out", default="bench_out", help="output folder: data cache, logs, JSON (default bench_out/)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="generator seed")
    p.add_argument("--quarter", default=DEFAULT_QUARTER.label, help="quarter to generate (default %(default)s)")
    p.add_argument("--keep", action="store_true", help="keep the warehouse/published outputs after the run")
    p.add_argument("--scale-check", action="store_true", help="also run 3x the rows and compare time and peak")
    p.set_defaults(func=_bench)


def _bench(args: argparse.Namespace) -> int:
    from dx_pipeline.bench.runner import format_table, run_bench
    from dx_pipeline.quarters import Quarter

    report = run_bench(rows=args.rows, out_dir=args.out, seed=args.seed, keep=args.keep,
                       scale_check=args.scale_check, quarter=Quarter.parse(args.quarter))
    print()
    print(format_table(report))
    print(f"\nJSON: {args.out}/bench.json")
    return 0
