"""Planted defects: a small, realistic rate of the errors real inputs carry, each one recorded.

Every planted defect becomes one entry of ``sample/defects.json`` (kind, quarter, file,
row/dossier id, field, value) so the quality tests can assert that each is caught.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sample.registry import valid_on

DOSSIER_DEFECT_RATE = 1e-5  # per kind; at least one of each kind per quarter
UNKNOWN_AGENCY_CODES = ["X-99017", "SO-KTXH", "H-ZZ", "X-26O41"]


def _count(n: int) -> int:
    return max(1, int(round(n * DOSSIER_DEFECT_RATE)))


def plant_dossier_defects(df: pd.DataFrame, q: Quarter, registry: pd.DataFrame,
                          rng: np.random.Generator, file: str) -> tuple[pd.DataFrame, list[dict]]:
    """Return the dossiers with defects planted, and the list describing each one."""
    n = len(df)
    kinds = [
        "missing_received_at",
        "due_before_received",
        "unknown_agency",
        "agency_not_valid",
        "duplicate_dossier",
    ]
    k = _count(n)
    victims = rng.choice(n, size=min(n, k * len(kinds)), replace=False)
    groups = dict(zip(kinds, np.array_split(victims, len(kinds)), strict=True))
    df = df.copy()
    notes: dict[int | tuple[str, int], dict] = {}

    for i in groups["missing_received_at"]:
        df.loc[i, "received_at"] = pd.NaT
        notes[i] = dict(kind="missing_received_at", field="NgayTiepNhan", value="")
    for i in groups["due_before_received"]:
        received = df.at[i, "received_at"]
        assert isinstance(received, pd.Timestamp)  # a cell of a datetime column
        due = received - pd.Timedelta(days=int(rng.integers(1, 8)))
        df.loc[i, "due_at"] = due
        notes[i] = dict(
            kind="due_before_received", field="NgayHenTra", value=due.strftime("%d/%m/%Y %H:%M:%S")
        )
    for i in groups["unknown_agency"]:
        code = str(rng.choice(UNKNOWN_AGENCY_CODES))
        df.loc[i, "agency_code"] = code
        notes[i] = dict(kind="unknown_agency", field="MaCoQuan", value=code)
    invalid = _codes_not_valid_in(registry, q)
    for i in groups["agency_not_valid"]:
        code = str(rng.choice(invalid))
        df.loc[i, "agency_code"] = code
        notes[i] = dict(kind="agency_not_valid", field="MaCoQuan", value=code)

    # Duplicates: the same dossier exported twice, the copy right after the original.
    dup = np.sort(groups["duplicate_dossier"])
    order = np.sort(np.concatenate([np.arange(n), dup]), kind="stable")
    out = df.iloc[order].reset_index(drop=True)
    copy_pos = np.flatnonzero(np.r_[False, order[1:] == order[:-1]])
    for pos in copy_pos:
        notes_pos = dict(kind="duplicate_dossier", field="MaHoSo", value=out.at[pos, "dossier_id"])
        notes[("dup", int(pos))] = notes_pos
    records = []
    for key, note in notes.items():
        # ``order`` is sorted: an original row's first position is where it would be inserted
        pos = key[1] if isinstance(key, tuple) else int(np.searchsorted(order, int(key), side="left"))
        records.append(dict(kind=note["kind"], quarter=q.label, file=file, row=pos + 1, line=pos + 2,
                            dossier_id=out.at[pos, "dossier_id"], field=note["field"], value=note["value"]))
    records.sort(key=lambda r: (r["row"], r["kind"]))
    return out, records


def _codes_not_valid_in(registry: pd.DataFrame, q: Quarter) -> list[str]:
    """Real registry codes that do not exist at any time during ``q`` (abolished or not yet created)."""
    days = [q.start, q.last_day]
    alive = valid_on(registry, q.start) | valid_on(registry, q.last_day)
    vt = registry["valid_to"].map(lambda d: d if isinstance(d, dt.date) else dt.date.max)
    inside = (registry["valid_from"] > days[0]) & (registry["valid_from"] <= days[1]) | (vt >= days[0]) & (
        vt < days[1]
    )
    cand = registry[~alive & ~inside & registry["level"].isin(["district", "commune", "department"])]
    districts = cand[cand.level == "district"]
    return (districts if len(districts) else cand)["agency_code"].tolist()
