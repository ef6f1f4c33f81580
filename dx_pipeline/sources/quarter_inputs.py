"""The input files a quarter was read from, with their checksums, for publication manifests.

A published ranking names every file it was computed from, so anyone can later prove which
registry, portal exports and agency workbooks produced it. The list is exactly what the
readers read, chosen by the readers' own functions: the registry; the portal export files
:func:`~dx_pipeline.sources.portal_files.find_export_files` picks, or the landed pages
:func:`~dx_pipeline.sources.portal_client.landed_pages` names; the files of the quarter's inbox
folder whose bytes the submission readers read (``submission_readers.is_read``: odd names such
as ``..\\..\\x.csv`` included; office lock files and files over the size limit not). A symbolic
link is never named, resolved or hashed: the readers refuse it unread, and its reject row is
the only trace of it. Files are hashed through ``storage.inputs``, which never follows a link.
"""
from __future__ import annotations

from pathlib import Path

from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sources.portal_client import landed_pages
from dx_pipeline.sources.portal_files import find_export_files
from dx_pipeline.sources.submission_readers import is_read
from dx_pipeline.storage.checksums import sha256_file
from dx_pipeline.storage.home import DxHome
from dx_pipeline.storage.inputs import input_entry, walk


def quarter_input_files(home: DxHome, quarter: Quarter, registry_file: Path | None = None) -> list[dict]:
    """Registry, portal exports or landed pages, and inbox files of ``quarter``: path relative
    to DX_HOME (the registry's absolute when it is configured outside), sha256 and size,
    sorted by path."""
    out = [_registry_entry(home, registry_file or home.registry_file)]
    dossiers, procedures = find_export_files(home.portal_exports, quarter)
    portal = ((home.portal_exports, dossiers + procedures), (home.landing, landed_pages(home, quarter)))
    for root, paths in portal:
        out += [input_entry(home, root, p.relative_to(root).as_posix()) for p in paths]
    inbox = home.inbox_for(quarter)
    out += [input_entry(home, home.inbox, f"{quarter.label}/{e.relpath}")
            for e in walk(inbox) if is_read(e)]
    return sorted((e for e in out if e is not None), key=lambda e: e["path"])


def _registry_entry(home: DxHome, path: Path) -> dict | None:
    """The registry: configuration the operator names (DX_REGISTRY), so it is read as given."""
    if not path.is_file():
        return None
    try:
        name = path.relative_to(home.root).as_posix()
    except ValueError:
        name = str(path)
    return {"path": name, "sha256": sha256_file(path), "bytes": path.stat().st_size}


__all__ = ["quarter_input_files"]
