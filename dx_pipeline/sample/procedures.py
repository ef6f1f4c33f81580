"""The portal's procedure catalogue (DanhMucTTHC): which procedures each agency handles.

Commune and district procedures are national (the same code at every commune, among them the
certification of copies from originals); each department has its own, and a department of the
province merged in on 2025-07-01 handles the same procedures as its counterpart here. A
department that absorbed another in 2025 also lists the absorbed procedures, and the reform's
new communes take over part of the abolished districts' procedures.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sample.profiles import level_at
from dx_pipeline.sample.province import load_province, rng_for

SERVICE_LEVELS = np.array(["toan_trinh", "mot_phan", "khac"])
DISTRICT_SHARE_TO_NEW_COMMUNES = 0.4


INTER_AGENCY_SHARE = 0.12
CERTIFIED_COPY_CODE = "1.000815"
CERTIFIED_COPY_NAME = "Chứng thực bản sao từ bản chính giấy tờ, văn bản"


def _certified_copy_procedure(used: set[int]) -> pd.DataFrame:
    """The commune procedure most often asked for: copies certified from originals."""
    used.add(int(CERTIFIED_COPY_CODE.split(".")[1]))
    return pd.DataFrame({
        "procedure_code": [CERTIFIED_COPY_CODE], "procedure_name": [CERTIFIED_COPY_NAME],
        "statutory_days": [1.0], "fee_required": [True], "fee_amount": np.array([10000], dtype=np.int64),
        "service_level": ["mot_phan"], "popularity": [250.0],
    })


def _department_pools(registry: pd.DataFrame, rng, cfg, used: set[int]) -> dict[str, pd.DataFrame]:
    """Each department's procedures: its own pool, or (a merged-in province's department) the
    pool of the department it is like, plus every pool of the departments merged into it."""
    pc = cfg["procedures"]
    dep = pc["department"]
    own: dict[str, pd.DataFrame] = {}
    for _, a in registry[(registry.level == "department") & (registry.volume > 0)].iterrows():
        if a["province"] == cfg["province"]["code"]:
            own[a["agency_code"]] = _pool(
                rng, cfg, int(rng.integers(dep["min"], dep["max"] + 1)), pc["objects"][a["sector"]],
                dep["days"], dep["fee_share"], 3, used)
    like = {d["code"]: d["like"] for d in (cfg.get("merger") or {}).get("departments", []) if d.get("like")}
    for code, twin in like.items():
        own[code] = own[twin]
    absorbed: dict[str, list[str]] = {}
    for _, a in registry[(registry.level == "department") & registry.successor_code.notna()].iterrows():
        absorbed.setdefault(a["successor_code"], []).append(a["agency_code"])

    def pool_of(code):
        parts = [own[code]] if code in own else []
        parts += [p for p in (pool_of(pred) for pred in absorbed.get(code, [])) if p is not None]
        if not parts:
            return None
        return pd.concat(parts).drop_duplicates("procedure_code").sort_values("procedure_code", kind="stable")

    return {code: pool for code in registry.agency_code[registry.level == "department"]
            if (pool := pool_of(code)) is not None}


def _pool(rng, cfg, count, objects, days, fee_share, prefix, used) -> pd.DataFrame:
    actions = cfg["procedures"]["actions"]
    combos = [f"{a} {o}" for o in objects for a in actions]
    count = min(count, len(combos))
    names = [combos[i] for i in rng.choice(len(combos), count, replace=False)]
    numbers = []
    while len(numbers) < count:
        n = int(rng.integers(1000, 13000))
        if n not in used:
            used.add(n)
            numbers.append(n)
    fee = rng.random(count) < fee_share
    amounts = np.array(cfg["procedures"]["fee_amounts"])
    return pd.DataFrame({
        "procedure_code": [f"{prefix}.{n:06d}" for n in numbers],
        "procedure_name": [n[0].upper() + n[1:] for n in names],
        "statutory_days": rng.choice(days, count).astype(float),
        "fee_required": fee,
        "fee_amount": np.where(fee, rng.choice(amounts, count), 0).astype(np.int64),
        "service_level": rng.choice(SERVICE_LEVELS, count, p=[0.45, 0.35, 0.20]),
        "popularity": rng.zipf(1.6, count).astype(float).clip(max=400),
    })


def build_catalogue(registry: pd.DataFrame, profiles: pd.DataFrame, seed: int) -> pd.DataFrame:
    """One row per (procedure, agency) with the catalogue flags and generator-only columns."""
    cfg = load_province()
    pc = cfg["procedures"]
    rng = rng_for(seed, "procedures")
    used: set[int] = set()
    commune_pool = _pool(rng, cfg, pc["commune"]["count"], pc["objects"]["commune"],
                         pc["commune"]["days"], pc["commune"]["fee_share"], 1, used)
    commune_pool = pd.concat([commune_pool, _certified_copy_procedure(used)], ignore_index=True)
    district_pool = _pool(rng, cfg, pc["district"]["count"], pc["objects"]["district"],
                          pc["district"]["days"], pc["district"]["fee_share"], 2, used)
    moved = district_pool.sample(
        frac=DISTRICT_SHARE_TO_NEW_COMMUNES, random_state=int(rng.integers(1 << 31))
    ).sort_index()
    dept_pools = _department_pools(registry, rng, cfg, used)
    reform = pd.Timestamp(cfg["reform"]["date"]).date()
    frames = []
    for _, a in registry[registry.provides_public_services].iterrows():
        code, level = a["agency_code"], a["level"]
        if level == "department":
            pool = dept_pools.get(code)
        elif level == "district":
            pool = district_pool
        elif a["valid_from"] >= reform:
            pool = pd.concat([commune_pool, moved])
        else:
            pool = commune_pool
        if pool is None or pool.empty:
            continue
        frames.append(pool.assign(agency_code=code))
    cat = pd.concat(frames, ignore_index=True)
    cat["certified_copy"] = cat["procedure_code"] == CERTIFIED_COPY_CODE
    # procedures whose dossiers need another agency's part (liên thông): the same for every agency
    codes = np.array(sorted(cat["procedure_code"].unique()))
    inter = set(codes[rng_for(seed, "inter_agency_procedures").random(len(codes)) < INTER_AGENCY_SHARE])
    cat["inter_agency"] = cat["procedure_code"].isin(inter)

    # Agency-specific flags: better agencies integrate more (as of the latest quarter).
    q = Quarter(2025, 4)
    quality = level_at(profiles, "maturity", cat["agency_code"].to_numpy(), q)
    n = len(cat)
    online = cat["service_level"] != "khac"
    full = cat["service_level"] == "toan_trinh"
    cat["full_online_eligible"] = full | (online & (rng.random(n) < 0.35))
    cat["payment_integrated"] = cat["fee_required"] & (rng.random(n) < 0.4 + 0.55 * quality)
    cat["portal_integrated"] = online & (rng.random(n) < 0.6 + 0.38 * quality)
    cat["mobile_ready"] = full & (rng.random(n) < 0.5 + 0.45 * quality)
    cat["population_db_connected"] = online & (rng.random(n) < 0.3 + 0.6 * quality)
    cat["published_on_time"] = rng.random(n) < 0.85 + 0.14 * quality
    cat["updated_on_time"] = rng.random(n) < 0.8 + 0.18 * quality
    cat["full_content"] = rng.random(n) < 0.9 + 0.09 * quality
    return cat.sort_values(["agency_code", "procedure_code"], kind="stable").reset_index(drop=True)
