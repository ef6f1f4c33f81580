"""The built-in frameworks shipped in ``dx_pipeline/config/frameworks`` and how to pick one.

A framework is chosen by id (``qd766``), by path (an analyst's edited copy), or by date: the
reform of 1 July 2025 replaced districts and the old communes, so which index applies depends
on the quarter and the agency's level. The pipeline scores with these, so loading one also
checks that every indicator can be filled by this installation's sources (or is declared not
assessed): see :mod:`dx_pipeline.index.coverage`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from dx_pipeline.index.coverage import check_coverage, packaged_sources
from dx_pipeline.index.loader import CONFIG_DIR, load_framework
from dx_pipeline.reference.frameworks import Framework
from dx_pipeline.reference.quarters import Quarter

FRAMEWORKS_DIR = CONFIG_DIR / "frameworks"


def builtin_paths() -> dict[str, Path]:
    """Framework id (the file's stem) -> packaged YAML file."""
    return {p.stem: p for p in sorted(FRAMEWORKS_DIR.glob("*.yaml"))}


def load_builtin(framework_id: str, known_kpis: Iterable[str] | None = None) -> Framework:
    """Load the packaged framework ``framework_id``; a clear error lists the built-in ids."""
    paths = builtin_paths()
    if framework_id not in paths:
        raise ValueError(
            f"no built-in framework {framework_id!r} (built-in: {', '.join(paths) or 'none'})"
        )
    return _load_covered(paths[framework_id], known_kpis)


def builtin_frameworks(known_kpis: Iterable[str] | None = None) -> list[Framework]:
    """Every packaged framework, loaded, validated and checked for coverage."""
    return [_load_covered(p, known_kpis) for p in builtin_paths().values()]


def _load_covered(path: Path, known_kpis: Iterable[str] | None) -> Framework:
    return check_coverage(load_framework(path, known_kpis), packaged_sources())


def resolve_framework(
    framework: "Framework | str | Path", known_kpis: Iterable[str] | None = None
) -> Framework:
    """A Framework as is; an existing path loaded; otherwise a built-in id."""
    if isinstance(framework, Framework):
        return framework
    path = Path(framework)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return load_framework(path, known_kpis)
    return load_builtin(str(framework), known_kpis)


def frameworks_for(
    quarter: Quarter | str, level: str | None = None, known_kpis: Iterable[str] | None = None
) -> list[Framework]:
    """Built-in frameworks in force during ``quarter`` (and applying to ``level``), by id."""
    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    chosen = []
    for fw in builtin_frameworks(known_kpis):
        if not fw.is_effective(q):
            continue
        if level is not None and level not in fw.applies_to.levels and "any" not in fw.applies_to.levels:
            continue
        chosen.append(fw)
    return sorted(chosen, key=lambda f: f.id)
