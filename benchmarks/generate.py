"""N dossiers of one quarter in the portal's export format, generated in chunks and cached.

Reuses the sample province (registry, profiles, procedure catalogue, the numpy dossier model,
the planted defects and the CSV writer) rather than a third generator. The dossier model builds
a whole quarter in memory, so a 10-million-row export (about 2 GB of CSV) is written as a
sequence of independent chunks of ``CHUNK_ROWS`` appended to one file: memory stays that of
one chunk. Each chunk draws from its own seed; the dossier numbers (MaHoSo) of chunk ``c``
have ``c * 100000`` added to their daily sequence so they stay unique across chunks.

The finished folder is a DX_HOME (registry, portal_exports, inbox, reporting DB) named after
(rows, seed, quarter); a marker file written last makes a rerun skip generation.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sample.defects import plant_dossier_defects
from dx_pipeline.sample.dossiers import generate_dossiers, quarter_counts
from dx_pipeline.sample.generate import Output
from dx_pipeline.sample.portal_export import BOM, dossiers_csv, procedures_csv
from dx_pipeline.sample.procedures import build_catalogue
from dx_pipeline.sample.profiles import build_profiles
from dx_pipeline.sample.province import rng_for
from dx_pipeline.sample.registry import build_registry, registry_csv
from dx_pipeline.sample.submissions import write_submissions
from dx_pipeline.storage.home import DxHome

CHUNK_ROWS = 1_000_000
SEQ_OFFSET = 100_000
MARKER = "bench_dataset.json"
DEFAULT_QUARTER = Quarter.parse("2025-Q2")
DEFAULT_SEED = 20250701


@dataclass(frozen=True)
class BenchDataset:
    """A generated quarter: the DX_HOME holding it and what it contains."""

    home: Path
    quarter: Quarter
    rows: int
    seed: int
    csv_bytes: int
    generated_seconds: float
    cached: bool


def dataset_dir(out_dir: Path, rows: int, seed: int, quarter: Quarter) -> Path:
    return Path(out_dir) / "data" / f"rows={rows}-seed={seed}-{quarter.label}"


def _renumber(ids: np.ndarray, chunk: int) -> np.ndarray:
    """``G22.001-250401-0007`` -> ``G22.001-250401-100007`` for chunk 1 (unique across chunks)."""
    if chunk == 0:
        return ids
    arr = pa.array(ids, pa.string())
    # split_pattern, list_element, add and binary_join_element_wise are generated at import time
    parts = pc.split_pattern(arr, "-", max_splits=1, reverse=True)  # pyright: ignore[reportAttributeAccessIssue]
    head = pc.list_element(parts, 0)  # pyright: ignore[reportAttributeAccessIssue]
    seq = pc.add(pc.cast(pc.list_element(parts, 1), pa.int64()), chunk * SEQ_OFFSET)  # pyright: ignore[reportAttributeAccessIssue]
    joined = pc.binary_join_element_wise(head, pc.cast(seq, pa.string()), "-")  # pyright: ignore[reportAttributeAccessIssue]
    return joined.to_numpy(zero_copy_only=False)


def ensure_dataset(out_dir: str | Path, rows: int, seed: int = DEFAULT_SEED,
                   quarter: Quarter = DEFAULT_QUARTER, log=print) -> BenchDataset:
    """The cached dataset for (rows, seed, quarter), generating it first if absent."""
    if rows < 1:
        raise ValueError(f"rows must be positive, got {rows}")
    folder = dataset_dir(Path(out_dir), rows, seed, quarter)
    marker = folder / MARKER
    if marker.exists():
        meta = json.loads(marker.read_text(encoding="utf-8"))
        return BenchDataset(
            folder, quarter, meta["rows"], seed, meta["csv_bytes"], meta["generated_seconds"], True
        )
    if folder.exists():
        shutil.rmtree(folder)  # a generation that did not finish
    t0 = time.perf_counter()
    written, csv_bytes = _generate(DxHome.local(folder), rows, seed, quarter, log)
    seconds = time.perf_counter() - t0
    meta = dict(rows=written, seed=seed, quarter=quarter.label, csv_bytes=csv_bytes,
                generated_seconds=round(seconds, 1), chunk_rows=CHUNK_ROWS)
    marker.write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return BenchDataset(folder, quarter, written, seed, csv_bytes, round(seconds, 1), False)


def _generate(home: DxHome, rows: int, seed: int, q: Quarter, log) -> tuple[int, int]:
    registry = build_registry(seed)
    profiles = build_profiles(registry, seed)
    catalogue = build_catalogue(registry, profiles, seed)
    out = Output(home)
    out.write("registry/agencies.csv", registry_csv(registry), len(registry), "registry")
    out.write("portal_exports/procedures.csv", procedures_csv(catalogue), len(catalogue), "procedures")
    write_submissions(out, registry, profiles, [q], seed)

    per_unit_scale = int(quarter_counts(registry, q, 1.0, seed).sum())
    target = home.portal_exports / f"quarter={q.label}" / "dossiers.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".csv.partial")
    written, chunk = 0, 0
    with open(partial, "wb") as fh:
        while written < rows:
            want = min(CHUNK_ROWS, rows - written)
            # Ask for a little more than wanted (the multinomial draw varies), then cut.
            scale = want * 1.02 / per_unit_scale
            df = generate_dossiers(registry, profiles, catalogue, q, scale, seed + 7919 * chunk)
            if len(df) > want:
                keep = np.sort(rng_for(seed + chunk, "bench_cut").choice(len(df), want, replace=False))
                df = df.iloc[keep].reset_index(drop=True)
            df, _ = plant_dossier_defects(df, q, registry, rng_for(seed + chunk, "dossier_defects", q.label),
                                          str(target.relative_to(home.root)))
            df["dossier_id"] = _renumber(df["dossier_id"].to_numpy(), chunk)
            data = dossiers_csv(df)
            if chunk:  # one header, one BOM: drop this chunk's
                data = data[len(BOM):]
                data = data[data.index(b"\n") + 1:]
            fh.write(data)
            written += len(df)
            chunk += 1
            log(f"  generated {written:,} / {rows:,} dossiers")
            del df, data
    partial.replace(target)
    return written, target.stat().st_size


def main(argv: list[str]) -> int:
    """``python -m benchmarks.generate OUT ROWS SEED QUARTER``: the dataset, in a process of its own."""
    out, rows, seed, quarter = argv
    ds = ensure_dataset(out, int(rows), int(seed), Quarter.parse(quarter))
    print(f"{ds.rows:,} dossiers at {ds.home} ({'cached' if ds.cached else f'{ds.generated_seconds:.0f} s'})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
