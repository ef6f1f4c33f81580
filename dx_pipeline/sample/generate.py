"""Generate the sample province under DX_HOME: registry, portal exports, submissions, defects.

Each quarter's dossier export holds, as the portal's does, the dossiers received in it and
those of the quarter before still open when it began, with their state at this export
(:mod:`dx_pipeline.sample.carryover`); the quarter before is generated for that when it is not
one of the quarters asked for (its receipts alone, about a second at full scale).

Deterministic: the same seed, scale and quarters give byte-identical files (every random draw
comes from a stream keyed by seed and purpose; workbooks carry a fixed creation date). Each
file is written atomically; files a previous run generated and this one did not are removed.
Never touches ``warehouse/`` or ``published/``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from dx_pipeline.reference.quarters import SAMPLE_QUARTERS, Quarter
from dx_pipeline.sample.carryover import carried_over
from dx_pipeline.sample.defects import plant_dossier_defects
from dx_pipeline.sample.dossiers import TIMELINE, generate_dossiers, quarter_counts
from dx_pipeline.sample.portal_export import dossiers_csv, procedures_csv
from dx_pipeline.sample.procedures import build_catalogue
from dx_pipeline.sample.profiles import build_profiles
from dx_pipeline.sample.province import rng_for
from dx_pipeline.sample.registry import build_registry, registry_csv
from dx_pipeline.sample.submissions import write_submissions
from dx_pipeline.storage.atomic import atomic_write_bytes
from dx_pipeline.storage.home import DxHome

DEFAULT_SEED = 20250701
MANIFEST = "manifest.json"
DEFECTS = "defects.json"
VOLUME_DROP_FACTOR = 0.15


@dataclass
class Output:
    """Collects what a run writes, for the manifest and for removing stale files."""

    home: DxHome
    files: list[dict] = field(default_factory=list)

    def write(self, rel: str, data: bytes, rows: int | None, kind: str, mtime: float | None = None,
              **meta) -> Path:
        path = self.home.root / rel
        atomic_write_bytes(path, data, durable=False)  # generated again at will: no fsync per file
        if mtime is not None:
            os.utime(path, (mtime, mtime))
        self.record(rel, data, rows, kind, **meta)
        return path

    def record(self, rel: str, data: bytes, rows: int | None, kind: str, **meta) -> None:
        self.files.append(dict(path=rel, kind=kind, rows=rows, bytes=len(data),
                               sha256=hashlib.sha256(data).hexdigest(), **meta))

    @property
    def paths(self) -> set[str]:
        return {f["path"] for f in self.files}


def generate_sample(home: DxHome, seed: int = DEFAULT_SEED, scale: float = 1.0,
                    quarters: list[Quarter] | None = None) -> dict:
    """Generate the sample province and return its manifest (also written to sample/manifest.json)."""

    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    quarters = sorted(set(quarters or SAMPLE_QUARTERS))
    out = Output(home)
    previous = _previous_files(home)
    _clear_generated_folders(home, quarters)

    registry = build_registry(seed)
    profiles = build_profiles(registry, seed)
    catalogue = build_catalogue(registry, profiles, seed)
    out.write("registry/agencies.csv", registry_csv(registry), len(registry), "registry")
    out.write("portal_exports/procedures.csv", procedures_csv(catalogue), len(catalogue), "procedures")

    defects = _write_dossier_exports(out, registry, profiles, catalogue, quarters, scale, seed)
    defects += write_submissions(out, registry, profiles, quarters, seed)

    defects_bytes = json.dumps(defects, ensure_ascii=False, indent=1).encode("utf-8")
    out.write(f"sample/{DEFECTS}", defects_bytes, len(defects), "defects")
    manifest = dict(
        generator="dx_pipeline.sample", format_version=1, seed=int(seed), scale=float(scale),
        quarters=[q.label for q in quarters],
        province="Tỉnh Mẫu / Sample Province",
        total_dossiers=sum(f["rows"] for f in out.files if f["kind"] == "dossiers"),
        defects=len(defects),
        files=sorted(out.files, key=lambda f: f["path"]),
    )
    atomic_write_bytes(home.sample / MANIFEST,
                       json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8"))
    _remove_stale(home, previous - out.paths - {f"sample/{MANIFEST}"})
    return manifest


def _write_dossier_exports(out: Output, registry: pd.DataFrame, profiles: pd.DataFrame,
                           catalogue: pd.DataFrame, quarters: list[Quarter], scale: float,
                           seed: int) -> list[dict]:
    """Each quarter's dossier export, as the portal exports it: the dossiers carried over from
    the quarter before (still open when it began) and its own receipts, with the defects
    planted in them; returns the defects."""
    defects: list[dict] = []
    drop = _volume_drop(registry, quarters, scale, seed)

    def received_in(q: Quarter) -> pd.DataFrame:
        """The quarter's own receipts, with what happens to them after its export."""
        dropping = drop if drop and drop["quarter"] == q.label else None
        return generate_dossiers(
            registry, profiles, catalogue, q, scale, seed, timeline=True,
            volume_drop=(dropping["agency_code"], VOLUME_DROP_FACTOR) if dropping else None,
        )

    last: tuple[Quarter, pd.DataFrame] | None = None
    for q in quarters:
        rel = f"portal_exports/quarter={q.label}/dossiers.csv"
        # the quarter before: the one just generated, else generated for its open dossiers only
        before = last[1] if last and last[0] == q.previous() else received_in(q.previous())
        own = received_in(q)
        last = (q, own)
        df = pd.concat([carried_over(before, q, registry, profiles, seed), own.drop(columns=list(TIMELINE))],
                       ignore_index=True)
        df, found = plant_dossier_defects(df, q, registry, rng_for(seed, "dossier_defects", q.label), rel)
        defects += found
        if drop and drop["quarter"] == q.label:
            mine = (df["agency_code"] == drop["agency_code"]) & (df["received_at"] >= pd.Timestamp(q.start))
            defects.append(dict(drop, actual=int(mine.sum()), file=rel))
        out.write(rel, dossiers_csv(df), len(df), "dossiers", quarter=q.label,
                  carried_over=int((df["received_at"] < pd.Timestamp(q.start)).sum()))
    return defects

def _volume_drop(registry, quarters, scale, seed) -> dict | None:
    """One agency's volume collapses in one quarter (a portal outage): a WARN to catch."""

    if len(quarters) < 2:
        return None
    q = Quarter(2024, 4) if Quarter(2024, 4) in quarters[1:] else quarters[-1]
    counts = quarter_counts(registry, q, scale, seed)
    level = registry.set_index("agency_code")["level"].reindex(counts.index)
    pool = counts[(level == "district").to_numpy()]
    if pool.empty:
        pool = counts[(level == "commune").to_numpy()]
    pool = pool[pool >= pool.median()]
    code = str(rng_for(seed, "volume_drop").choice(pool.index.to_numpy()))
    return dict(kind="volume_drop", quarter=q.label, agency_code=code, field="MaCoQuan", value=code,
                expected_about=int(counts[code]))


def _previous_files(home: DxHome) -> set[str]:
    path = home.sample / MANIFEST
    if not path.exists():
        return set()
    try:
        return {f["path"] for f in json.loads(path.read_text(encoding="utf-8"))["files"]}
    except (ValueError, KeyError, TypeError):
        return set()


def _clear_generated_folders(home: DxHome, quarters: list[Quarter]) -> None:
    """Empty the inbox folders of the generated quarters, so no stale submission survives."""
    for q in quarters:
        folder = home.inbox_for(q)
        if folder.is_dir():
            for f in folder.iterdir():
                if f.is_file():
                    f.unlink()


def _remove_stale(home: DxHome, rels: set[str]) -> None:
    for rel in sorted(rels):
        path = (home.root / rel).resolve()
        if home.root in path.parents and not str(rel).startswith(("warehouse/", "published/")):
            path.unlink(missing_ok=True)
            try:
                path.parent.rmdir()
            except OSError:
                pass
