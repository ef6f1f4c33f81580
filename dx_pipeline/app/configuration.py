"""Every configuration file checked before anything runs: a bad file costs seconds, not a quarter.

A typo in a framework used to surface only when ``index_scores`` started, after the quarter's
ingest and KPIs had run. :func:`check_configuration` loads every file a quarter will read, with
the same loaders the stages use, and collects every problem, each naming its file:

- the KPI catalogue and the plan targets (``reference``);
- every framework in ``config/frameworks``, validated and checked for coverage (each
  indicator filled by this installation's sources, or declared not assessed);
- the portal field mapping (dossiers and procedures), the reporting database mapping and the
  submission layout (``sources``);
- the agency registry (``Settings.registry``) when it exists; a missing registry is a problem
  only where one is required (``dx-pipeline check``), since a fresh installation loads its
  definitions before ``dx-pipeline sample`` writes one.

The Dagster definitions call :func:`require_valid_configuration` when they load, and the
``dx-pipeline check`` command prints the same report. Checking only: nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dx_pipeline.app.settings import Settings
from dx_pipeline.index import builtins
from dx_pipeline.index.coverage import build_sources, check_coverage
from dx_pipeline.index.loader import FrameworkError, load_framework
from dx_pipeline.reference import catalogue as kpi_catalogue
from dx_pipeline.reference import targets
from dx_pipeline.reference.listing import few
from dx_pipeline.reference.registry import RegistryError, load_registry
from dx_pipeline.sources import portal_mapping, reporting_db, submission_readers

SHOWN_PER_FILE = 20
"""At most this many problems of one file are printed; the rest are counted."""


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with one configuration file."""

    file: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}: {self.problem}"


@dataclass
class ConfigCheck:
    """What checking the configuration found: the files checked and every problem."""

    checked: list[str] = field(default_factory=list)
    problems: list[ConfigProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        """One line per problem (at most SHOWN_PER_FILE per file, then how many more)."""
        out: list[str] = []
        for file in dict.fromkeys(p.file for p in self.problems):
            mine = [p for p in self.problems if p.file == file]
            out += [str(p) for p in mine[:SHOWN_PER_FILE]]
            if len(mine) > SHOWN_PER_FILE:
                out.append(f"{file}: ... and {len(mine) - SHOWN_PER_FILE:,} more problems")
        return out


class ConfigurationError(ValueError):
    """The configuration has problems; the message names every file and what is wrong."""

    def __init__(self, check: ConfigCheck):
        self.check = check
        files = few(dict.fromkeys(p.file for p in check.problems), shown=5)
        super().__init__(
            f"the configuration has {len(check.problems)} problem(s) in {files}; nothing was run:\n  "
            + "\n  ".join(check.lines())
        )


def _problems_of(path: Path, exc: BaseException) -> list[ConfigProblem]:
    """The problems an exception of a loader reports, each with the file it names."""
    if isinstance(exc, FrameworkError):
        return [ConfigProblem(str(path), p) for p in exc.problems]
    if isinstance(exc, RegistryError):
        return [ConfigProblem(str(path), p) for p in exc.problems]
    text = str(exc)
    for prefix in (f"{path}: ", f"{path.name}: "):
        if text.startswith(prefix):
            text = text[len(prefix):]
    if not isinstance(exc, (ValueError, OSError)):
        text = f"cannot be read ({type(exc).__name__}: {text})"
    return [ConfigProblem(str(path), text)]


def _run(check: ConfigCheck, path: Path, load: Callable[[], Any]) -> Any:
    """``load()``'s result, or None with its problems recorded against ``path``."""
    check.checked.append(str(path))
    try:
        return load()
    except Exception as exc:  # noqa: BLE001 - a loader failing in any way is a problem of its file
        check.problems += _problems_of(path, exc)
        return None


def check_configuration(settings: Settings | None = None, *, registry_required: bool = False) -> ConfigCheck:
    """Load every configuration file the stages read, from where the stages read it; collect
    every problem (see the module docstring for the files)."""
    check = ConfigCheck()
    path = kpi_catalogue.default_catalogue_path()
    catalogue = _run(check, path, lambda: kpi_catalogue.load_catalogue(path))
    if catalogue is not None:
        plans = targets.default_targets_path()
        _run(check, plans, lambda: targets.load_plans(plans, catalogue=catalogue))
    fields = portal_mapping.default_fields_path()
    mappings = [_run(check, fields, lambda k=kind: portal_mapping.load_field_mapping(k, fields))
                for kind in ("dossiers", "procedures")]
    db, layout = reporting_db.mapping_path(), submission_readers.layout_path()
    _run(check, db, lambda: reporting_db.load_mapping.__wrapped__(str(db)))  # not the cached one
    _run(check, layout, lambda: submission_readers.load_layout.__wrapped__(str(layout)))
    sources = None
    if catalogue is not None and None not in mappings:
        sources = build_sources(catalogue, {"portal_dossiers": mappings[0].filled_columns(),
                                            "procedures": mappings[1].filled_columns()})
    for fw_path in builtins.builtin_paths().values():
        fw = _run(check, fw_path, lambda p=fw_path: load_framework(p, set(catalogue or ()) or None))
        if fw is not None and sources is not None:
            _run(check, fw_path, lambda f=fw, p=fw_path: check_coverage(f, sources, p.name))
    _check_registry(check, settings, registry_required)
    check.checked = list(dict.fromkeys(check.checked))
    return check


def _check_registry(check: ConfigCheck, settings: Settings | None, required: bool) -> None:
    if settings is None:
        return
    path = settings.registry
    if path.exists() or required:
        _run(check, path, lambda: load_registry(path))


def require_valid_configuration(settings: Settings | None = None) -> ConfigCheck:
    """:func:`check_configuration`, raising :class:`ConfigurationError` on any problem."""
    check = check_configuration(settings)
    if not check.ok:
        raise ConfigurationError(check)
    return check


__all__ = [
    "ConfigCheck",
    "ConfigProblem",
    "ConfigurationError",
    "check_configuration",
    "require_valid_configuration",
]
