"""Lookup tables for BI tools: what the codes in the warehouse tables mean.

``agency_kpis`` names a KPI by ``kpi_code``, ``index_scores`` a framework node by ``node_id``,
``portal_dossiers`` a channel or a rating by an integer. A dashboard needs their names, units
and directions; these tables give them in Vietnamese and English, from the same sources the
pipeline scores with (the KPI catalogue, the packaged frameworks, ``reference.code_labels``).
They are written beside the BI database as Parquet (``<DX_HOME>/bi/lookups/<name>.parquet``)
and copied into it as tables: small, so a copy costs nothing and travels with the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from dx_pipeline.index.builtins import builtin_frameworks
from dx_pipeline.reference.catalogue import KPI, UNIT_LABELS, load_catalogue
from dx_pipeline.reference.code_labels import code_label_rows
from dx_pipeline.reference.frameworks import Framework
from dx_pipeline.storage import atomic_path

DIRECTION_LABELS = {"higher": ("Càng cao càng tốt", "Higher is better"),
                    "lower": ("Càng thấp càng tốt", "Lower is better")}
LOOKUP_DESCRIPTIONS = {
    "lookup_kpis": "Danh mục KPI / KPI catalogue: names, unit and direction of each kpi_code",
    "lookup_framework_nodes": "Tiêu chí của bộ chỉ số / Framework pillars and indicators by node_id",
    "lookup_codes": "Mã số của cổng DVC / What the portal's integer codes mean",
}
"""Lookup table name -> what it holds (its comment in the BI database)."""


def kpi_lookup(catalogue: Mapping[str, KPI] | None = None) -> pd.DataFrame:
    """One row per catalogue KPI: code, names, source, unit, direction and aggregation."""
    cat = catalogue if catalogue is not None else load_catalogue()
    rows = [
        {
            "kpi_code": k.code, "name_vi": k.name_vi, "name_en": k.name_en, "source": k.source,
            "unit": k.unit, "unit_vi": UNIT_LABELS.get(k.unit, k.unit), "direction": k.direction,
            "direction_vi": DIRECTION_LABELS[k.direction][0],
            "direction_en": DIRECTION_LABELS[k.direction][1],
            "aggregation": k.aggregation, "applies_to": ",".join(k.applies_to),
            "definition_en": k.definition_en,
        }
        for k in cat.values()
    ]
    return pd.DataFrame(rows).astype("string")


def framework_node_lookup(frameworks: Iterable[Framework] | None = None) -> pd.DataFrame:
    """One row per pillar and indicator of every framework version (a framework with several
    effective-dated versions, such as the EGDI, has its nodes under each version label, so
    ``index_scores`` joins on framework_id, framework_version and node_id)."""
    fws = list(frameworks) if frameworks is not None else builtin_frameworks()
    rows = [
        {
            "framework_id": fw.id, "framework_version": version, "node_id": n.id,
            "parent_id": n.parent_id or None, "level": n.level, "name_vi": n.name.vi,
            "name_en": n.name.en, "max_points": float(n.max_points), "kpi_code": n.kpi,
        }
        for fw in fws
        for version in ([v.version for v in fw.versions] or [fw.version])
        for n in fw.nodes()
    ]
    df = pd.DataFrame(rows)
    text = [c for c in df.columns if c != "max_points"]
    return df.astype({c: "string" for c in text}).astype({"max_points": "float64"})


def code_lookup() -> pd.DataFrame:
    """One row per integer code of ``portal_dossiers`` (channel, payment_channel, ratings)."""
    df = pd.DataFrame(code_label_rows(),
                      columns=["table_name", "column_name", "code", "label_vi", "label_en"])
    return df.astype({"table_name": "string", "column_name": "string", "code": "int16",
                      "label_vi": "string", "label_en": "string"})


def lookup_tables() -> dict[str, pd.DataFrame]:
    """Every lookup table by name."""
    return {"lookup_kpis": kpi_lookup(), "lookup_framework_nodes": framework_node_lookup(),
            "lookup_codes": code_lookup()}


def write_lookups(folder: Path, tables: Mapping[str, pd.DataFrame]) -> list[Path]:
    """Each table as ``<folder>/<name>.parquet`` (atomically); the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, df in tables.items():
        path = folder / f"{name}.parquet"
        with atomic_path(path, suffix=".parquet") as tmp:
            df.to_parquet(tmp, index=False)
        paths.append(path)
    return paths
