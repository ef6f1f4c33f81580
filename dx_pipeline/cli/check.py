"""``dx-pipeline check``: every configuration file checked, each problem on its own line."""

from __future__ import annotations

import argparse

from dx_pipeline.app.configuration import check_configuration
from dx_pipeline.cli.environment import settings_from_environment


def _check(args: argparse.Namespace) -> int:
    settings = settings_from_environment(args.home, registry=args.registry)
    check = check_configuration(settings, registry_required=True)
    for line in check.lines():
        print(line)
    files = len(check.checked)
    if check.ok:
        print(f"{files} configuration file(s) checked: no problem")
        return 0
    print(f"{files} configuration file(s) checked: {len(check.problems)} problem(s)")
    return 1


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``check`` to the command line."""
    p = subparsers.add_parser(
        "check",
        help="check every configuration file (frameworks, catalogue, targets, registry, field maps)",
        description="Loads every file a quarter reads, as the pipeline does, and prints each problem "
        "with its file; exits 1 when there is one. The Dagster definitions run the same check "
        "when they load.",
    )
    p.add_argument("--registry", help="registry file (default: $DX_REGISTRY or <home>/registry/agencies.csv)")
    p.set_defaults(func=_check)
