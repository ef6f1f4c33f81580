"""The ``dx-pipeline`` command line.

Each verb group has its module in this package with a ``register(subparsers)`` function;
this file is the table of contents.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from dx_pipeline.cli import (
    appraisal,
    check,
    framework,
    index,
    pipeline,
    portal,
    publish,
    quality,
    sample,
    site,
    sources,
)

COMMAND_MODULES = (
    sample, pipeline, check, index, framework, sources, portal, quality, publish, site, appraisal,
)
"""Each verb group's module; its ``register(subparsers)`` adds its commands."""


def build_parser() -> argparse.ArgumentParser:
    """The dx-pipeline argument parser with every verb of COMMAND_MODULES registered."""
    parser = argparse.ArgumentParser(
        prog="dx-pipeline",
        description="Digital-transformation KPIs, index scores and rankings (chuyển đổi số).",
    )
    parser.add_argument("--home", help="DX_HOME folder (default: $DX_HOME or ./.dx_home)")
    parser.add_argument("--debug", action="store_true",
                        help="on an unexpected error, show the traceback instead of one line")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    describe_verbs(parser)
    return parser


def describe_verbs(parser: argparse.ArgumentParser) -> None:
    """A verb's ``--help`` opens with its one-line summary (the line ``dx-pipeline --help``
    lists) when the verb has no longer description; nested verbs too."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        summaries = {a.dest: a.help for a in action._choices_actions}
        for name, verb in action.choices.items():
            summary = summaries.get(name)
            if verb.description is None and summary:
                verb.description = summary[0].upper() + summary[1:] + "."
            describe_verbs(verb)


def main(argv: list[str] | None = None) -> int:
    """Run one dx-pipeline command; errors print as one line and give exit code 1 (``--debug``
    shows the traceback of an unexpected one)."""
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
    except (ValueError, OSError) as exc:  # a mistake in the input: the message says what to do
        print(f"dx-pipeline {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - anything else is one line too, unless --debug
        if args.debug:
            raise
        lines = str(exc).strip().splitlines()
        print(f"dx-pipeline {args.command}: error: {type(exc).__name__}: {lines[0] if lines else ''} "
              f"(dx-pipeline --debug {args.command} ... shows the traceback)", file=sys.stderr)
        return 1


def _quiet_library_warnings() -> None:
    """Dagster's preview/beta notices (partitioned checks, partition mappings) are for
    library authors, not for someone running a quarter."""
    warnings.filterwarnings("ignore", message=r".*(is currently in (preview|beta)).*")
    warnings.filterwarnings("ignore", category=DeprecationWarning)


if __name__ == "__main__":
    sys.exit(main())
