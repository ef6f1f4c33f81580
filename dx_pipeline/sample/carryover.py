"""The dossiers a quarter's export carries over from the quarter before, as the portal exports them.

A portal's export of a quarter holds, besides the dossiers received in it, those received
earlier and still open when it began, with their state at this export (the judged KPIs of
Decision 766 count them: :mod:`dx_pipeline.kpis.dossier_kpis`). The sample shows the dossiers of
the previous quarter that were open at its export moment (the first second of this quarter) as
they stand at this quarter's export: what the model drew for them after that moment (the
:data:`~dx_pipeline.sample.dossiers.TIMELINE` columns) decides whether they have ended since,
and a merged agency's open dossiers pass to its successor (those of an agency dissolved with no
successor, the districts on 2025-07-01, are left out: no unit of the next quarter holds them).
Only one quarter back: a dossier still open at the end of the quarter after its receipt's is
not exported a third time (at full scale 39 of 2024-Q4's 234,232 dossiers, 15 of 2025-Q2's).
Draws come from a stream of their own, so the quarter's own receipts are exactly those of
:func:`~dx_pipeline.sample.dossiers.generate_dossiers`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sample.dossiers import HOUR, SECOND, TIMELINE, holders, ratings
from dx_pipeline.sample.profiles import level_at
from dx_pipeline.sample.province import rng_for
from dx_pipeline.sample.registry import valid_on

OPEN_STATUSES = (1, 2, 3)
"""received, processing, supplement: the portal's codes of a dossier still being processed."""


def carried_over(previous: pd.DataFrame, q: Quarter, registry: pd.DataFrame, profiles: pd.DataFrame,
                 seed: int) -> pd.DataFrame:
    """The dossiers of ``previous`` (the quarter before ``q``, generated with ``timeline=True``)
    still open at its export, as ``q``'s export shows them; contract columns, in receipt order."""
    rng = rng_for(seed, "carried_over", q.label)
    d = previous[previous["status"].isin(OPEN_STATUSES)].reset_index(drop=True)
    export = np.datetime64(q.end, "s")
    codes = registry["agency_code"].to_numpy()
    idx = pd.Index(codes).get_indexer(pd.Index(d["agency_code"]))

    def chance(name: str) -> np.ndarray:
        return level_at(profiles, name, codes, q.previous())[idx]

    out = d.drop(columns=list(TIMELINE)).copy()
    status = _status_at(rng, d, export)
    out["status"] = status
    out = out.assign(**_dates_at(rng, d, status, export))
    done = np.isin(status, (4, 5))
    finished = d["_finish"].to_numpy("datetime64[s]")
    out["result_digitized"] = done & (rng.random(len(d)) < chance("result_digit"))
    out["personal_store_result"] = (d["vneid_authenticated"].to_numpy() & out["result_digitized"].to_numpy()
                                    & (rng.random(len(d)) < chance("personal_store") * 2.0))
    on_time = finished <= d["due_at"].to_numpy("datetime64[s]")
    out["rating"] = ratings(rng, status, chance("satisfaction"), on_time)
    out = out.assign(**_petitions_at(rng, d, export))
    start = np.full(len(d), np.datetime64(q.start, "D"))
    holder = holders(registry, idx, start)
    out["agency_code"] = codes[holder]
    # an agency dissolved with no successor (the districts on 2025-07-01): nobody holds its dossiers
    return out[valid_on(registry, q.start).to_numpy()[holder]].reset_index(drop=True)


def _status_at(rng: np.random.Generator, d: pd.DataFrame, export: np.datetime64) -> np.ndarray:
    """The portal's status code of each dossier at ``export``: ended as the model drew it, or
    still open (processing, or waiting for a supplement more often when one was asked for)."""
    kind = d["_stop_kind"].to_numpy()
    stop = kind > 0
    ends = np.where(stop, d["_stop"].to_numpy("datetime64[s]"), d["_finish"].to_numpy("datetime64[s]"))
    still_open = ends >= export
    status = np.full(len(d), 5, dtype=np.int8)
    status[stop] = kind[stop]
    status[~stop & ~still_open & (d["_return"].to_numpy("datetime64[s]") >= export)] = 4
    asked = d["supplement_requests"].to_numpy()[still_open] > 0
    status[still_open] = np.where(asked & (rng.random(int(still_open.sum())) < 0.6), 3, 2)
    return status


def _dates_at(rng: np.random.Generator, d: pd.DataFrame, status: np.ndarray,
              export: np.datetime64) -> dict[str, np.ndarray]:
    """End dates the status shows, and the last update: after the end, or some time since the
    previous export for a dossier still open (never before the update that export showed)."""
    nat = np.datetime64("NaT", "s")
    finished = np.where(np.isin(status, (4, 5)), d["_finish"].to_numpy("datetime64[s]"), nat)
    returned = np.where(status == 5, d["_return"].to_numpy("datetime64[s]"), nat)
    stopped = np.where(status >= 6, d["_stop"].to_numpy("datetime64[s]"), nat)
    last = np.fmax(np.fmax(d["updated_at"].to_numpy("datetime64[s]"), finished), np.fmax(returned, stopped))
    n = len(d)
    ended = last + rng.integers(0, 3 * HOUR, n) * SECOND
    before = d["updated_at"].to_numpy("datetime64[s]")
    since = before + ((export - before).astype(np.int64) * rng.random(n)).astype(np.int64) * SECOND
    updated = np.minimum(np.where(status <= 3, since, ended), export - SECOND)
    return {"finished_at": finished, "returned_at": returned, "stopped_at": stopped,
            "updated_at": np.maximum(updated, last)}


def _petitions_at(rng: np.random.Generator, d: pd.DataFrame, export: np.datetime64) -> dict[str, np.ndarray]:
    """Petitions filed by the previous export, answered by this one as the model drew it; an answer
    given since is rated about half the time, "not satisfied" more often when it came late."""
    answer = d["_answer"].to_numpy("datetime64[s]")
    answered = np.where(answer < export, answer, np.datetime64("NaT", "s"))
    new = ~np.isnat(answered) & np.isnat(d["petition_answered_at"].to_numpy("datetime64[s]"))
    n = len(d)
    late = answer > d["petition_due_at"].to_numpy("datetime64[s]")
    unhappy = rng.random(n) < np.where(late, 0.55, 0.12)
    rating = np.where(unhappy, 1.0, np.where(rng.random(n) < 0.6, 2.0, 3.0))
    rated = new & (rng.random(n) < 0.5)
    return {"petition_answered_at": answered,
            "petition_rating": np.where(rated, rating, d["petition_rating"].to_numpy())}
