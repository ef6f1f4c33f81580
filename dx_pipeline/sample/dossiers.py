"""Portal dossiers received in one quarter, generated column-wise with numpy.

The model, per dossier: agency (volume by level, season and growth) -> procedure (popularity)
-> channel (online only where the procedure allows it) -> received time (counter hours on
working days, any time online) -> processing in working days against the statutory deadline
-> state at the export moment (quarter end): some still open. Dossiers received after an
agency's merger go to its successor. Returns plain numpy/pandas columns named as the contract.
The next quarter's export shows the dossiers still open at this one's again
(:mod:`dx_pipeline.sample.carryover`, from the :data:`TIMELINE` columns).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sample.profiles import level_at, logistic, quarter_index
from dx_pipeline.sample.province import holidays, load_province, rng_for
from dx_pipeline.sample.registry import valid_on

SECOND = np.timedelta64(1, "s")
HOUR = 3600
DAY = 86400


def quarter_counts(registry: pd.DataFrame, q: Quarter, scale: float, seed: int) -> pd.Series:
    """Dossiers per origin agency (agencies existing on the quarter's first day)."""
    cfg = load_province()["volume"]
    rng = rng_for(seed, "volume", q.label)
    reg = registry.set_index("agency_code")
    active = reg[valid_on(registry, q.start).to_numpy() & reg.provides_public_services.to_numpy()]
    weight = reg["volume"].copy()
    # Units that merged away before this quarter hand their volume to their successor.
    for code in reg.index[reg.valid_to.map(lambda d: isinstance(d, dt.date) and d < q.start)]:
        succ, w = reg.at[code, "successor_code"], weight[code]
        while isinstance(succ, str) and succ not in active.index:
            succ = reg.at[succ, "successor_code"]
        if isinstance(succ, str):
            weight[succ] += w
    w = weight[active.index]
    shares = dict(cfg["share"])
    present = set(active["level"])
    if "district" not in present:  # after the reform the communes took the districts' work
        shares["commune"] += shares.pop("district")
    probs = np.zeros(len(active))
    for level, share in shares.items():
        m = (active["level"] == level).to_numpy()
        if m.any():
            probs[m] = w[m] / w[m].sum() * share
    probs /= probs.sum()
    t = quarter_index(q)
    total = cfg["dossiers_per_quarter"] * scale * cfg["season"][q.q] * (1 + cfg["growth_per_quarter"]) ** t
    counts = rng.multinomial(int(round(total)), probs)
    return pd.Series(counts, index=active.index, name="dossiers")


TIMELINE = ("_finish", "_return", "_stop", "_stop_kind", "_answer")
"""What happens to a dossier after the export moment (the end of processing the model drew, the
return, the stop and its kind 6/7 or 0, the petition's answer): with them a later export shows
the dossiers still open at this one (:mod:`dx_pipeline.sample.carryover`)."""


def generate_dossiers(registry: pd.DataFrame, profiles: pd.DataFrame, catalogue: pd.DataFrame,
                      q: Quarter, scale: float, seed: int,
                      volume_drop: tuple[str, float] | None = None, timeline: bool = False) -> pd.DataFrame:
    """Dossiers received in ``q``, as of the export moment (the first second of the next quarter).

    ``volume_drop`` = (agency_code, factor) shrinks one agency's volume (a planted WARN);
    ``timeline`` keeps the :data:`TIMELINE` columns.
    """
    rng = rng_for(seed, "dossiers", q.label)
    counts = quarter_counts(registry, q, scale, seed)
    if volume_drop and volume_drop[0] in counts.index:
        counts[volume_drop[0]] = int(round(counts[volume_drop[0]] * volume_drop[1]))
    codes = registry["agency_code"].to_numpy()
    code_idx = {c: i for i, c in enumerate(codes)}
    origin = np.repeat(np.array([code_idx[c] for c in counts.index]), counts.to_numpy())
    n = len(origin)

    # Procedure: by popularity within the origin agency's catalogue.
    proc_row = np.empty(n, dtype=np.int64)
    cat_by_agency = catalogue.groupby("agency_code").indices
    pop = catalogue["popularity"].to_numpy()
    start = 0
    for code, k in counts.items():
        rows = cat_by_agency[code]
        p = pop[rows] / pop[rows].sum()
        proc_row[start : start + k] = rows[rng.choice(len(rows), k, p=p)]
        start += k
    level = catalogue["service_level"].to_numpy()[proc_row]

    # Channel: online only where the procedure is offered online; a little postal.
    p_online = level_at(profiles, "online", codes, q)[origin]
    p_online = np.where(level == "toan_trinh", np.minimum(1, p_online * 1.15), p_online * 0.7)
    u = rng.random(n)
    channel = np.where((level != "khac") & (u < p_online), 2, np.where(rng.random(n) < 0.03, 3, 1)).astype(
        np.int8
    )

    # Received: counter hours on working days, any hour (mostly daytime) online.
    hol = holidays()
    q_start = np.datetime64(q.start, "D")
    q_end = np.datetime64(q.end, "D")
    all_days = np.arange(q_start, q_end)
    work_days = all_days[np.is_busday(all_days, holidays=hol)]
    day = np.where(channel == 2, rng.choice(all_days, n), rng.choice(work_days, n))
    counter_tod = np.where(rng.random(n) < 0.55, rng.uniform(7.5, 11.5, n), rng.uniform(13.5, 17.0, n))
    online_tod = np.clip(rng.normal(14, 4.5, n), 0, 23.99)
    tod = (np.where(channel == 2, online_tod, counter_tod) * HOUR).astype(np.int64)
    received = day.astype("datetime64[s]") + tod * SECOND

    # Merged agencies: dossiers after the merger date go to the successor.
    agency = holders(registry, origin, day)
    acodes = codes[agency]

    def chance(name: str, who: np.ndarray = agency) -> np.ndarray:
        """The latent probability per dossier, computed once per agency then gathered."""
        return level_at(profiles, name, codes, q)[who]

    # Deadline: statutory working days after the next working day, promised at 17:00.
    days = catalogue["statutory_days"].to_numpy()[proc_row].astype(np.int64)
    recv_bus = np.busday_offset(day, 0, roll="forward", holidays=hol)
    sup_n = rng.choice([0, 1, 2], n, p=[0.86, 0.115, 0.025]).astype(np.int16)
    sup_days = (rng.integers(1, 11, n) * (sup_n > 0) + rng.integers(1, 8, n) * (sup_n > 1)).astype(np.int64)
    due = (np.busday_offset(recv_bus, days, holidays=hol).astype("datetime64[s]")
           + np.timedelta64(17, "h") + sup_days * DAY * SECOND)

    # Processing: on time with the agency's probability, else late by part of the deadline.
    on_time = rng.random(n) < chance("ontime")
    frac = rng.uniform(0.05, 1.0, n)
    work = np.where(on_time, np.floor(days * frac), days + 1 + np.floor(days * frac * 0.6)).astype(np.int64)
    finish_tod = (rng.uniform(8.0, 16.9, n) * HOUR).astype(np.int64)
    finished = np.busday_offset(recv_bus, work, holidays=hol).astype("datetime64[s]") + finish_tod * SECOND
    same_day = work == 0
    finished = np.where(
        same_day, received + (rng.uniform(0.5, 4, n) * HOUR).astype(np.int64) * SECOND, finished
    )
    finished = np.maximum(finished, received + 600 * SECOND) + sup_days * DAY * SECOND
    finished = np.where(on_time, np.minimum(finished, due), np.maximum(finished, due + HOUR * SECOND))

    export = np.datetime64(q.end, "s")
    outcome = rng.random(n)
    stopped_kind = np.where(outcome < 0.015, 6, np.where(outcome < 0.023, 7, 0))
    stopped_at = received + (rng.uniform(0.2, 1.0, n) * np.minimum(days, 10) * DAY).astype(np.int64) * SECOND
    returned = finished + np.where(channel == 2, rng.integers(0, 2 * HOUR, n),
                                   rng.integers(HOUR, 6 * DAY, n)) * SECOND

    status = np.full(n, 5, dtype=np.int8)
    is_stop = stopped_kind > 0
    status[is_stop] = stopped_kind[is_stop]
    open_ = np.where(is_stop, stopped_at >= export, finished >= export)
    status[~is_stop & ~open_ & (returned >= export)] = 4
    # np.less, not "<": numpy's stubs take this comparison of datetime arrays for a scalar
    recent = np.less(export - received, 2 * DAY * SECOND)
    status[open_] = np.where(recent[open_] & (rng.random(open_.sum()) < 0.6), 1,
                             np.where((sup_n[open_] > 0) & (rng.random(open_.sum()) < 0.6), 3, 2))

    nat = np.datetime64("NaT", "s")
    done = (status == 4) | (status == 5)
    finished_out = np.where(done, finished, nat)
    returned_out = np.where(status == 5, returned, nat)
    stopped_out = np.where((status == 6) | (status == 7), stopped_at, nat)
    last = np.fmax(np.fmax(received, finished_out), np.fmax(returned_out, stopped_out))
    updated = last + rng.integers(0, 3 * HOUR, n) * SECOND
    open_upd = received + ((export - received).astype(np.int64) * rng.random(n)).astype(np.int64) * SECOND
    updated = np.where(status <= 3, np.maximum(open_upd, received), updated)
    updated = np.minimum(updated, export - SECOND)
    updated = np.maximum(updated, last)

    # Money: a fee on some procedures, some dossiers exempt; paid online more when filed online.
    fee_required = catalogue["fee_required"].to_numpy()[proc_row]
    fee = np.where(fee_required & (rng.random(n) > 0.08), catalogue["fee_amount"].to_numpy()[proc_row], 0)
    t = quarter_index(q)
    pay_p = chance("pay")
    pay_p = logistic(np.log(pay_p / (1 - pay_p)) + np.where(channel == 2, 0.9, -1.2))
    paid = fee_required & (fee > 0) & (rng.random(n) < pay_p)
    national_share = 0.35 + 0.03 * t
    payment_channel = np.where(paid, np.where(rng.random(n) < national_share, 1, 2), 0).astype(np.int8)

    # Digitisation and data reuse.
    input_dig = rng.random(n) < chance("input_digit") * np.where(channel == 2, 1.15, 0.85)
    result_dig = done & (rng.random(n) < chance("result_digit"))
    reused = input_dig & (rng.random(n) < chance("reuse"))
    pop_used = rng.random(n) < chance("population") * np.where(channel == 2, 1.2, 0.8)
    synced = rng.random(n) < logistic(2.3 + 0.2 * t)

    # Ratings on about 40 %, fewer happy when late; complaints rare.
    rating = ratings(rng, status, chance("satisfaction"), on_time)
    complaint = rng.random(n) < np.where(on_time, 0.0012, 0.012)

    df = pd.DataFrame({
        "agency_idx": agency,
        "agency_code": acodes,
        "procedure_code": catalogue["procedure_code"].to_numpy()[proc_row],
        "service_level": level,
        "channel": channel,
        "received_at": received,
        "due_at": due,
        "finished_at": finished_out,
        "returned_at": returned_out,
        "stopped_at": stopped_out,
        "status": status,
        "supplement_requests": sup_n,
        "supplement_days": sup_days,
        "statutory_days": days,
        "fee_required": fee_required,
        "fee_amount": fee.astype(np.int64),
        "payment_channel": payment_channel,
        "result_digitized": result_dig,
        "input_digitized": input_dig,
        "reused_digitized_data": reused,
        "citizen_data_used": pop_used,
        "synced_national": synced,
        "rating": rating,
        "complaint": complaint,
        "updated_at": updated,
        **_national_index_fields(rng, chance, channel, input_dig, result_dig,
                                 catalogue["certified_copy"].to_numpy()[proc_row]),
        **_inter_agency(rng, chance, catalogue["inter_agency"].to_numpy()[proc_row]),
        **_petitions(rng, complaint, received, finished_out, export, chance("petition_on_time")),
        "_finish": finished, "_return": returned, "_stop": stopped_at, "_stop_kind": stopped_kind,
    })
    order = np.lexsort((df["agency_idx"].to_numpy(), received))
    df = df.iloc[order].reset_index(drop=True)
    df.insert(0, "dossier_id", _dossier_ids(df, registry))
    return df.drop(columns=["agency_idx", *([] if timeline else TIMELINE)])


def holders(registry: pd.DataFrame, agency: np.ndarray, day: np.ndarray) -> np.ndarray:
    """The registry index of the agency that holds each dossier on ``day``: its agency, or the
    successor of one that had ceased to exist by then (after a merger)."""
    code_idx = {c: i for i, c in enumerate(registry["agency_code"])}
    valid_to = np.array([np.datetime64(d, "D") if isinstance(d, dt.date) else np.datetime64("2100-01-01")
                         for d in registry["valid_to"]])
    successor = np.array(
        [code_idx.get(s, -1) if isinstance(s, str) else -1 for s in registry["successor_code"]]
    )
    agency = agency.copy()
    for _ in range(3):
        moved = (day > valid_to[agency]) & (successor[agency] >= 0)
        if not moved.any():
            break
        agency[moved] = successor[agency[moved]]
    return agency


def ratings(rng: np.random.Generator, status: np.ndarray, satisfaction: np.ndarray,
            on_time: np.ndarray) -> np.ndarray:
    """The citizen's rating (1-3, NaN when not rated) of finished and returned dossiers: about
    half the returned ones and a fifth of the finished are rated, fewer happy when late."""
    n = len(status)
    rated = (status == 5) & (rng.random(n) < 0.47) | (status == 4) & (rng.random(n) < 0.2)
    sat = satisfaction - np.where(on_time, 0, 0.35)
    u = rng.random(n)
    rating = np.where(u < 0.04 + (1 - sat) * 0.1, 1, np.where(u < 0.45 * (1.3 - sat), 2, 3)).astype(
        np.float64
    )
    rating[~rated] = np.nan
    return rating


def _national_index_fields(rng: np.random.Generator, chance, channel: np.ndarray, input_dig: np.ndarray,
                           result_dig: np.ndarray, certified_copy: np.ndarray) -> dict[str, np.ndarray]:
    """VNeID authentication, the personal data store and electronic certified copies.

    Online applicants sign in with VNeID far more often than counter applicants have their chip
    card checked; only an authenticated applicant can take a component from, or receive a
    result into, the personal data store, and both stay rare (as on the national portal).
    """
    n = len(channel)
    p = chance("vneid")
    vneid = rng.random(n) < logistic(np.log(p / (1 - p)) + np.where(channel == 2, 2.0, -1.0))
    store = chance("personal_store")
    from_store = vneid & input_dig & (rng.random(n) < store * np.where(channel == 2, 1.5, 0.3))
    to_store = vneid & result_dig & (rng.random(n) < store * 2.0)
    e_copy = certified_copy & (rng.random(n) < chance("e_copy"))
    return {"vneid_authenticated": vneid, "personal_store_component": from_store,
            "personal_store_result": to_store, "certified_copy": certified_copy.astype(bool),
            "certified_copy_electronic": e_copy}


def _inter_agency(rng: np.random.Generator, chance, inter: np.ndarray) -> dict[str, np.ndarray]:
    """Dossiers of inter-agency procedures, exchanged through the network with the agency's
    probability (the rest go on paper)."""
    online = inter & (rng.random(len(inter)) < chance("interagency"))
    return {"inter_agency": inter.astype(bool), "inter_agency_online": online}


def _petitions(rng: np.random.Generator, complaint: np.ndarray, received: np.ndarray,
               finished: np.ndarray, export: np.datetime64, p_on_time: np.ndarray) -> dict[str, np.ndarray]:
    """A petition (PAKN) for every dossier with a complaint, as the export shows it.

    Filed between receipt and a few days after the result (never after the export moment);
    due 15 working days later (17:00); answered on time with the agency's probability, else
    up to 15 working days late; still open when the answer falls after the export. About
    half of the answered petitions are rated, more often "not satisfied" when late.
    """
    n = len(complaint)
    hol = holidays()
    upto = np.where(np.isnat(finished), export, np.minimum(finished + 5 * DAY * SECOND, export))
    span = np.maximum((upto - received).astype(np.int64), HOUR)
    filed = np.minimum(received + (rng.random(n) * span).astype(np.int64) * SECOND, export - HOUR * SECOND)
    filed_day = np.busday_offset(filed.astype("datetime64[D]"), 0, roll="forward", holidays=hol)
    due = np.busday_offset(filed_day, 15, holidays=hol).astype("datetime64[s]") + np.timedelta64(17, "h")
    on_time = rng.random(n) < p_on_time
    days = np.where(on_time, rng.integers(1, 16, n), rng.integers(16, 31, n))
    answered = (np.busday_offset(filed_day, days, holidays=hol).astype("datetime64[s]")
                + (rng.uniform(8.0, 16.9, n) * HOUR).astype(np.int64) * SECOND)
    answered = np.maximum(answered, filed + HOUR * SECOND)
    nat = np.datetime64("NaT", "s")
    answered_out = np.where(complaint & (answered < export), answered, nat)
    rated = ~np.isnat(answered_out) & (rng.random(n) < 0.5)
    unhappy = rng.random(n) < np.where(on_time, 0.12, 0.55)
    rating = np.where(unhappy, 1.0, np.where(rng.random(n) < 0.6, 2.0, 3.0))
    return {"petition_received_at": np.where(complaint, filed, nat),
            "petition_due_at": np.where(complaint, due, nat),
            "petition_answered_at": answered_out,
            "petition_rating": np.where(rated, rating, np.nan),
            "_answer": np.where(complaint, answered, nat)}


def _dossier_ids(df: pd.DataFrame, registry: pd.DataFrame) -> np.ndarray:
    """``G22.<agency no>-<yymmdd>-<seq>``: seq counts the agency's dossiers of that day."""
    prefix = load_province()["province"]["dossier_prefix"]
    agency = df["agency_idx"].to_numpy()
    day = df["received_at"].to_numpy().astype("datetime64[D]")
    key = agency.astype(np.int64) * 100000 + (day - np.datetime64("2000-01-01")).astype(np.int64)
    order = np.lexsort((df["received_at"].to_numpy(), key))
    sk = key[order]
    run_start = np.r_[True, sk[1:] != sk[:-1]]
    first = np.maximum.accumulate(np.where(run_start, np.arange(len(sk)), 0))
    seq = np.empty(len(sk), dtype=np.int64)
    seq[order] = np.arange(len(sk)) - first + 1
    numbers = pa.array(registry["number"].to_numpy()[agency].astype(str))
    # strftime, utf8_lpad and binary_join_element_wise are generated at import time
    ymd = pc.strftime(pa.array(day.astype("datetime64[s]")), format="%y%m%d")  # pyright: ignore[reportAttributeAccessIssue]
    seq_text = pc.utf8_lpad(pc.cast(pa.array(seq), pa.string()), width=4, padding="0")  # pyright: ignore[reportAttributeAccessIssue]
    ids = pc.binary_join_element_wise(prefix + ".", numbers, "-", ymd, "-", seq_text, "")  # pyright: ignore[reportAttributeAccessIssue]
    return ids.to_numpy(zero_copy_only=False)
