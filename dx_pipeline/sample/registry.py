"""The sample province's agency registry: effective-dated units and their successors.

Models the 2025 restructuring as it really happened: department mergers on 2025-03-01, and on
2025-07-01 both the two-tier local government reform (districts abolished, communes merged)
and the merger of a neighbouring province into this one (its departments' work passes to this
province's departments, its communes are merged into new communes of the merged province).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from dx_pipeline.reference import schemas
from dx_pipeline.sample.province import load_province, parse_date, rng_for
from dx_pipeline.sample.vietnamese import strip_diacritics

DAY = dt.timedelta(days=1)


def build_registry(seed: int) -> pd.DataFrame:
    """Every unit with the contract columns of ``agencies`` plus generator-only columns.

    Extra columns (dropped from the registry file): ``sector``, ``kind``, ``volume``,
    ``number`` (the agency's number in MaHoSo), ``district`` (of a commune, for old communes),
    ``province`` (the province the unit belonged to when created).
    """
    cfg = load_province()
    rng = rng_for(seed, "registry")
    rows: list[dict] = []
    own = _own_province(cfg)
    _add_province(rows, cfg, own, rng, taken_names=set())
    if cfg.get("merger"):
        taken = {r["name_vi"].split(" ", 1)[1] for r in rows if r["level"] == "commune"}
        _add_province(rows, cfg, _merged_province(cfg), rng, taken_names=taken)
    df = pd.DataFrame(rows)
    df["number"] = [f"{i + 1:03d}" for i in range(len(df))]
    if df["agency_code"].duplicated().any():
        raise ValueError(
            f"duplicate agency codes: {df.loc[df.agency_code.duplicated(), 'agency_code'].tolist()}"
        )
    return df


def _own_province(cfg) -> dict:
    """The sample province itself: its units, the reform of its communes, its codes."""
    return dict(code=cfg["province"]["code"], name_vi=cfg["province"]["name_vi"],
                name_en=cfg["province"]["name_en"], departments=cfg["departments"],
                districts=cfg["districts"], reform=cfg["reform"], suffix="", ends=None,
                successor=None, default_merge=None, old_code_base=26000, new_code_base=30000)


def _merged_province(cfg) -> dict:
    """The neighbour merged into the sample province on ``merger.date``."""
    m = cfg["merger"]
    day = parse_date(m["date"])
    return dict(code=m["province"]["code"], name_vi=m["province"]["name_vi"],
                name_en=m["province"]["name_en"], departments=m["departments"],
                districts=m["districts"], reform=m["reform"], suffix=m["province"]["group_suffix"],
                ends=day - DAY, successor=cfg["province"]["code"], default_merge=day,
                old_code_base=25000, new_code_base=None)


def _add_province(rows: list[dict], cfg, prov: dict, rng, taken_names: set[str]) -> None:
    """The province's own row, its departments, districts, old communes and new communes."""
    start = parse_date(cfg["province"]["registry_start"])
    reform = parse_date(cfg["reform"]["date"])
    group = (lambda level: f"{level}-{prov['suffix']}") if prov["suffix"] else (lambda level: level)

    def add(**kw):
        base = dict(parent_code=None, valid_from=start, valid_to=None, successor_code=None,
                    provides_public_services=True, sector=None, kind=None, volume=0.0, district=None,
                    province=prov["code"])
        base.update(kw)
        rows.append(base)

    add(agency_code=prov["code"], name_vi=prov["name_vi"], name_en=prov["name_en"], level="province",
        peer_group="province", provides_public_services=False, kind="province", valid_to=prov["ends"],
        successor_code=prov["successor"])
    absorbers = {d["merged_into"] for d in prov["departments"] if d.get("merged_into")}
    for d in prov["departments"]:
        merged_on = parse_date(d["merged_on"]) if d.get("merged_on") else prov["default_merge"]
        add(agency_code=d["code"], name_vi=d["vi"], name_en=d["en"], level="department",
            peer_group=group("department"), parent_code=prov["code"],
            provides_public_services=bool(d["volume"]) or d["code"] in absorbers,
            valid_from=parse_date(d.get("valid_from", start)),
            valid_to=merged_on - DAY if merged_on else None,
            successor_code=d.get("merged_into"), sector=d["sector"], kind="department",
            volume=float(d["volume"]))
    for d in prov["districts"]:
        add(agency_code=d["code"], name_vi=d["vi"], name_en=d["en"], level="district",
            peer_group=group("district"), parent_code=prov["code"], valid_to=reform - DAY, kind=d["kind"],
            volume=float(rng.lognormal(0.0, 0.35) * (1.6 if d["kind"] == "city" else 1.0)))

    old = _old_communes(prov["districts"], cfg["name_syllables"], rng, prov["old_code_base"], taken_names)
    first_new = prov["new_code_base"] or _last_new_code(rows) + 3
    new = _new_communes(prov["reform"], rng, old, first_new)
    for c in old:
        add(level="commune", peer_group=group("commune"), valid_to=reform - DAY, **c)
    merged_into = prov["successor"] or prov["code"]
    for c in new:  # the new communes belong to the (merged) province from the reform on
        add(level="commune", peer_group="commune", parent_code=merged_into, valid_from=reform,
            **dict(c, province=merged_into))


def _last_new_code(rows: list[dict]) -> int:
    return max(int(r["agency_code"][2:]) for r in rows
               if r["level"] == "commune" and r["agency_code"].startswith("X-3"))


def _unique_names(rng, syllables, count, taken=()) -> list[str]:
    seen, names = set(taken), []
    while len(names) < count:
        a, b = rng.choice(len(syllables), 2, replace=False)
        name = f"{syllables[a]} {syllables[b]}"
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def _old_communes(districts, syllables, rng, code_base: int, taken: set[str]) -> list[dict]:
    total = sum(d["communes"] for d in districts)
    names = _unique_names(rng, syllables, total, taken)
    codes = code_base + np.cumsum(rng.integers(2, 9, size=total))
    out, k = [], 0
    for d in districts:
        district_short = d["vi"].split(" ", 2)[-1] if d["kind"] == "rural" else None
        for j in range(d["communes"]):
            if d["kind"] == "city":
                vi_kind, en_kind = ("Phường", "Ward") if j < d["communes"] - 2 else ("Xã", "Commune")
            elif j == 0:
                vi_kind, en_kind = "Thị trấn", "Town"
            else:
                vi_kind, en_kind = "Xã", "Commune"
            name = district_short if (j == 0 and district_short) else names[k]
            vi = f"{vi_kind} {name}"
            out.append(dict(agency_code=f"X-{codes[k]}", name_vi=vi,
                            name_en=f"{strip_diacritics(name)} {en_kind}, {d['en']}",
                            parent_code=d["code"], kind=en_kind.lower(), district=d["code"],
                            volume=float(rng.lognormal(0.0, 0.45) * (1.5 if en_kind == "Ward" else 1.0))))
            k += 1
    return out


def _new_communes(reform, rng, old: list[dict], code_base: int) -> list[dict]:
    """Merge neighbouring old communes (in registry order) into the reform's new communes."""
    sizes = []
    for size, n in sorted(reform["merge_group_sizes"].items()):
        sizes += [int(size)] * int(n)
    sizes = list(rng.permutation(sizes))
    codes = code_base + np.cumsum(rng.integers(3, 12, size=len(sizes)))
    out, pos = [], 0
    for i, size in enumerate(sizes):
        members = old[pos : pos + size]
        pos += size
        code = f"X-{codes[i]}"
        first = members[0]
        name = (
            first["name_vi"].split(" ", 1)[1]
            if not first["name_vi"].startswith("Thị trấn")
            else first["name_vi"].split(" ", 2)[2]
        )
        ward = any(m["kind"] == "ward" for m in members)
        vi_kind, en_kind = ("Phường", "Ward") if ward else ("Xã", "Commune")
        for m in members:
            m["successor_code"] = code
        out.append(dict(agency_code=code, name_vi=f"{vi_kind} {name}",
                        name_en=f"{strip_diacritics(name)} {en_kind}", kind=en_kind.lower(),
                        volume=0.0, district=None))
    return out


def registry_frame(full: pd.DataFrame) -> pd.DataFrame:
    """Only the contract columns of ``agencies``, in contract order."""
    return full[schemas.AGENCIES.names].copy()


def registry_csv(full: pd.DataFrame) -> bytes:
    """The registry file: ISO dates, ``true``/``false``, empty for null."""
    df = registry_frame(full)
    out = df.copy()
    for col in ("valid_from", "valid_to"):
        out[col] = [d.isoformat() if isinstance(d, dt.date) else "" for d in df[col]]
    out["provides_public_services"] = np.where(df["provides_public_services"], "true", "false")
    out = out.fillna("")
    return out.to_csv(index=False, lineterminator="\n").encode("utf-8")


def valid_on(full: pd.DataFrame, day: dt.date) -> pd.Series:
    """Mask of agencies that exist on ``day``."""
    vt = full["valid_to"].map(lambda d: d if isinstance(d, dt.date) else dt.date.max)
    return (full["valid_from"] <= day) & (vt >= day)
