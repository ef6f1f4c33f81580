"""The raw input files behind a quarter, with their checksums, for publication manifests.

A published ranking names every file it was computed from, so anyone can later prove which
registry, portal exports and agency workbooks produced it.
"""

from __future__ import annotations

from pathlib import Path

from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.storage.checksums import sha256_file
from dx_pipeline.storage.home import DxHome


def quarter_input_files(home: DxHome, quarter: Quarter, registry_file: Path | None = None) -> list[dict]:
    """Registry, portal exports or landed pages, and inbox files of ``quarter``: path relative
    to DX_HOME (absolute if outside it), sha256 and size, in a stable order."""
    candidates: list[Path] = [registry_file or home.registry_file]
    for folder in (
        home.portal_exports / f"quarter={quarter.label}",
        home.landing / "portal" / f"quarter={quarter.label}",
        home.inbox_for(quarter),
    ):
        if folder.is_dir():
            candidates.extend(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    procedures = home.portal_exports / "procedures.csv"
    candidates.append(procedures)
    out = []
    for path in sorted({p.resolve() for p in candidates if p.exists()}):
        try:
            name = str(path.relative_to(home.root))
        except ValueError:
            name = str(path)
        out.append({"path": name, "sha256": sha256_file(path), "bytes": path.stat().st_size})
    return out
