"""Where publications live under ``published/`` and how their tables are read back.

``published/ranking/<quarter=2025-Q2 | period=2025-H1>/rev=N/`` holds each immutable revision
(written by :mod:`dx_pipeline.publish.snapshot`); ``published/site/<same folder>/rev=N/`` holds
the static website built from it (:mod:`dx_pipeline.publish.site`). Writing either belongs to
those modules, not here.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pandas as pd
import pyarrow as pa

from dx_pipeline.reference.quarters import Period, Quarter
from dx_pipeline.storage import DxHome

LATEST_FILE = "LATEST"
LATEST_LINK = "latest"

_NULLABLE_INTS = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
}


def to_frame(table: pa.Table) -> pd.DataFrame:
    """Arrow to pandas keeping integer columns integers (a null rank must not make 1 into 1.0)."""
    return table.to_pandas(types_mapper=_NULLABLE_INTS.get)


def ranking_root(home: DxHome) -> Path:
    """The folder holding every period's published revisions."""
    return home.published / "ranking"


def site_root(home: DxHome) -> Path:
    """The folder holding the website of every published revision."""
    return home.published / "site"


def period_dir(home: DxHome, period: str | Quarter | Period) -> Path:
    """The folder of one quarter's or period's revisions."""
    return ranking_root(home) / Period.parse(period).folder


def site_dir(home: DxHome, period: str | Quarter | Period, revision: int) -> Path:
    """The website of one revision."""
    return site_root(home) / Period.parse(period).folder / f"rev={int(revision)}"


def revisions(folder: Path) -> list[int]:
    """Complete revisions in a period folder (temporary folders start with a dot)."""
    out = []
    if folder.is_dir():
        for child in folder.iterdir():
            if child.is_dir() and not child.is_symlink() and child.name.startswith("rev="):
                with contextlib.suppress(ValueError):
                    out.append(int(child.name[4:]))
    return sorted(out)
