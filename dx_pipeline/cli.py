"""The ``dx-pipeline`` command line.

Each room contributes its own subcommands through a ``register(subparsers)`` function in its
``cli`` module, so commands live next to the code they drive and this file stays a table of
contents.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = (
    "dx_pipeline.sample.cli",  # sample, serve-portal
    "dx_pipeline.defs.cli",  # run, backfill, ui helpers
    "dx_pipeline.index.cli",  # score, explain, frameworks
    "dx_pipeline.sources.cli",  # template, ingest, pull
    "dx_pipeline.quality.cli",  # dq
    "dx_pipeline.publish.cli",  # publish, verify, export
    "dx_pipeline.bench.cli",  # bench
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dx-pipeline",
        description="Digital-transformation KPIs, index scores and rankings (chuyển đổi số).",
    )
    parser.add_argument("--home", help="DX_HOME folder (default: $DX_HOME or ./.dx_home)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue  # that room has no commands (yet)
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
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
    except (ValueError, FileNotFoundError) as exc:
        print(f"dx-pipeline {args.command}: error: {exc}", file=sys.stderr)
        return 1


def _quiet_library_warnings() -> None:
    """Dagster's preview/beta notices (partitioned checks, partition mappings) are for
    library authors, not for someone running a quarter."""
    import warnings

    warnings.filterwarnings("ignore", message=r".*(is currently in (preview|beta)).*")
    warnings.filterwarnings("ignore", category=DeprecationWarning)


if __name__ == "__main__":
    sys.exit(main())
