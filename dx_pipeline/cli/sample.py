"""``dx-pipeline sample``: generate the embedded sample province under DX_HOME."""

from __future__ import annotations

import argparse
import json
import time

from dx_pipeline.cli.environment import home_from_environment
from dx_pipeline.reference.quarters import SAMPLE_QUARTERS, Quarter, quarter_range
from dx_pipeline.sample.generate import DEFAULT_SEED, generate_sample


def parse_quarters(text: str | None) -> list[Quarter]:
    """``2024-Q1:2025-Q4`` (a range), ``2024-Q1,2025-Q3`` (a list) or one quarter."""
    if not text:
        return list(SAMPLE_QUARTERS)
    if ":" in text:
        first, last = text.split(":", 1)
        out = quarter_range(first, last)
        if not out:
            raise ValueError(f"--quarters {text}: the first quarter is after the last")
        return out
    return [Quarter.parse(part) for part in text.split(",") if part.strip()]


def _run(args: argparse.Namespace) -> int:
    home = home_from_environment(args.home)
    started = time.perf_counter()
    manifest = generate_sample(home, seed=args.seed, scale=args.scale, quarters=parse_quarters(args.quarters))
    took = time.perf_counter() - started
    rows = manifest["total_dossiers"]
    summary = dict(home=str(home.root), seed=manifest["seed"], scale=manifest["scale"],
                   quarters=manifest["quarters"], files=len(manifest["files"]), dossiers=rows,
                   defects=manifest["defects"], seconds=round(took, 1),
                   dossiers_per_second=int(rows / took) if took else None)
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    return 0


def register(subparsers) -> None:
    """Add the ``sample`` verb (generate the sample province) to the command line."""
    p = subparsers.add_parser(
        "sample",
        help="generate the sample province (Tỉnh Mẫu): registry, portal exports, submissions",
        description="Deterministically generate the embedded sample province's raw inputs under DX_HOME "
        "(registry/, portal_exports/, inbox/<quarter>/, sample/). Never touches warehouse/ or published/.",
    )
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    p.add_argument(
        "--scale", type=float, default=1.0, help="dossier volume multiplier (1.0 = ~200,000 per quarter)"
    )
    p.add_argument("--quarters", default=None, help="e.g. 2024-Q1:2026-Q3 (default), or 2025-Q1,2025-Q3")
    p.set_defaults(func=_run)
