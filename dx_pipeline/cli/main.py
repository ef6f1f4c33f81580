"""The ``dx-pipeline`` command line.

Each verb group has its module in this package with a ``register(subparsers)`` function;
this file is the table of contents.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from dx_pipeline.cli import check, framework, index, pipeline, portal, publish, quality, sample, site, sources

COMMAND_MODULES = (sample, pipeline, check, index, framework, sources, portal, quality, publish, site)
"""Each verb group's module; its ``register(subparsers)`` adds its commands."""


def build_parser() -> argparse.ArgumentParser:
    """The dx-pipeline argument parser with every verb of COMMAND_MODULES registered."""
    parser = argparse.ArgumentParser(
        prog="dx-pipeline",
        description="Digital-transformation KPIs, index scores and rankings (chuyển đổi số).",
    )
    parser.add_argument("--home", help="DX_HOME folder (default: $DX_HOME or ./.dx_home)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one dx-pipeline command; errors print as one line and give exit code 1."""
    _quiet_library_warnings()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (ValueError, OSError) as exc:
        print(f"dx-pipeline {args.command}: error: {exc}", file=sys.stderr)
        return 1


def _quiet_library_warnings() -> None:
    """Dagster's preview/beta notices (partitioned checks, partition mappings) are for
    library authors, not for someone running a quarter."""
    warnings.filterwarnings("ignore", message=r".*(is currently in (preview|beta)).*")
    warnings.filterwarnings("ignore", category=DeprecationWarning)


if __name__ == "__main__":
    sys.exit(main())
