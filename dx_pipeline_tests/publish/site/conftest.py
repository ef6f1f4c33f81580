"""A small province scored and published by the real pipeline stages, for the site's tests.

Two provinces' departments (before a merger: two peer groups of one level), communes (scored
under two frameworks, so a unit count that doubles shows), KPI values of every unit the
catalogue has (yes/no, levels, ratios with zero denominators, missing values), published for
two quarters so agency pages have a trend, then the site of the second quarter built.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from dx_pipeline.app.quarter import publish_quarter, score_quarter_kpis
from dx_pipeline.app.settings import Settings
from dx_pipeline.index.builtins import frameworks_for
from dx_pipeline.publish.site.build import build_site
from dx_pipeline.reference.catalogue import load_catalogue
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.storage import DxHome, write_partition

QUARTERS = ("2025-Q3", "2025-Q4")
HOSTILE = "<script>alert('pwn')</script>Sở Tài chính"


def province(departments: int = 8, departments_ps: int = 4, communes: int = 20) -> pd.DataFrame:
    """The registry: two provinces, their departments (two peer groups) and communes."""
    rows = [
        ("UBND-TINH", "Ủy ban nhân dân Tỉnh Mẫu", "People's Committee of Sample Province", "province",
         "province", None, False),
        ("UBND-PS", "Ủy ban nhân dân Tỉnh Phước Sơn", "People's Committee of Phuoc Son Province",
         "province", "province", None, False),
        ("SO-TC", HOSTILE, "Department of Finance", "department", "department", "UBND-TINH", True),
    ]
    rows += [(f"SO-{i:02d}", f"Sở số {i}", f"Department {i}", "department", "department", "UBND-TINH", True)
             for i in range(1, departments)]
    rows += [(f"SO-PS-{i:02d}", f"Sở số {i} tỉnh Phước Sơn", f"Department {i}, Phuoc Son", "department",
              "department-ps", "UBND-PS", True) for i in range(1, departments_ps + 1)]
    rows += [(f"X-{i:03d}", f"Xã Đông Hòa {i}", f"Dong Hoa {i} Commune", "commune", "commune", "UBND-TINH",
              True) for i in range(1, communes + 1)]
    reg = pd.DataFrame(rows, columns=["agency_code", "name_vi", "name_en", "level", "peer_group",
                                      "parent_code", "provides_public_services"])
    ends = [dt.date(2025, 12, 31) if g == "department-ps" else None for g in reg["peer_group"]]
    return reg.assign(valid_from=dt.date(2020, 1, 1), valid_to=ends, successor_code=None)


def _value(unit: str, levels: dict, rng: np.random.Generator) -> dict:
    """One KPI value of ``unit``: ratios with their parts (a zero denominator now and then)."""
    if unit in ("ratio", "days") and rng.random() < 0.05:
        return {"numerator": 0.0, "denominator": 0.0, "value": None}
    if unit == "ratio":
        den = float(rng.integers(20, 300))
        num = float(np.floor(den * rng.uniform(0.3, 1.0)))
        return {"numerator": num, "denominator": den, "value": num / den}
    if unit in ("bool", "evidence"):
        return {"value": float(rng.random() < 0.75)}
    if unit == "level":
        return {"value": float(rng.choice(sorted(levels.values())))}
    return {"value": float(rng.integers(0, 100) if unit == "count" else rng.uniform(1, 500))}


def kpis(registry: pd.DataFrame, quarter: str, seed: int) -> pd.DataFrame:
    """agency_kpis of every input the quarter's frameworks read; about 4% left unreported."""
    rng = np.random.default_rng(seed)
    catalogue = load_catalogue()
    rows = []
    inputs = {level: sorted({n.input_code for fw in frameworks_for(quarter, level) for n in fw.indicators()
                             if n.input_code}) for level in ("department", "commune")}
    for r in registry[registry["level"] != "province"].itertuples():
        for code in inputs[str(r.level)]:
            if rng.random() < 0.04:
                continue
            kpi = catalogue.get(code)
            unit = kpi.unit if kpi else "ratio"
            row = {"agency_code": r.agency_code, "kpi_code": code, "numerator": None, "denominator": None,
                   "target": 0.8 if unit == "ratio" else None, "source": "submission", "flags": None,
                   **_value(unit, dict(kpi.levels) if kpi else {}, rng)}
            row["target_met"] = None if row["target"] is None or row["value"] is None else row["value"] >= 0.8
            rows.append(row)
    return pd.DataFrame(rows)


def publish_province(home: DxHome, registry: pd.DataFrame, quarters=QUARTERS, published=None):
    """Score and publish each quarter through the pipeline's stages; the publications."""
    settings = Settings(home=home)
    out = []
    for i, label in enumerate(quarters):
        q = Quarter.parse(label)
        write_partition(home, "agencies", q, registry)
        write_partition(home, "agency_kpis", q, kpis(registry, label, seed=20 + i))
        score_quarter_kpis(settings, q)
        out.append(publish_quarter(settings, q, {"by": "test"}).publication)
    return out


@pytest.fixture(scope="package")
def province_home(tmp_path_factory):
    """A DX_HOME with two published quarters of the small province."""
    home = DxHome(tmp_path_factory.mktemp("province") / "home")
    publications = publish_province(home, province())
    return home, publications


@pytest.fixture(scope="package")
def site(province_home):
    """The site of the second quarter's revision."""
    _, publications = province_home
    return build_site(publications[-1].path)
