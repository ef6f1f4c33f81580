"""Each agency's latent quality: the hidden parameters its dossiers and reports are drawn from.

Parameters are on the logit scale with a per-agency upward trend per quarter, so agencies differ
from each other and every one improves over time. New units created by a merger inherit the
mean of their predecessors, as a merged commune keeps its staff and habits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sample.province import rng_for

# name: (mean at 2024-Q1 by level {department, district, commune}, spread, mean trend/quarter)
LATENT = {
    "online": ({"department": 0.3, "district": -0.6, "commune": -0.9}, 0.6, 0.22),
    "ontime": ({"department": 3.0, "district": 2.3, "commune": 2.6}, 0.7, 0.12),
    "pay": ({"department": -0.4, "district": -0.9, "commune": -1.2}, 0.6, 0.20),
    "input_digit": ({"department": 0.4, "district": -0.2, "commune": -0.5}, 0.6, 0.22),
    "result_digit": ({"department": 0.8, "district": 0.2, "commune": 0.0}, 0.6, 0.20),
    "reuse": ({"department": -0.8, "district": -1.1, "commune": -1.3}, 0.5, 0.18),
    "population": ({"department": 0.0, "district": -0.3, "commune": 0.2}, 0.5, 0.20),
    "satisfaction": ({"department": 0.6, "district": 0.4, "commune": 0.7}, 0.5, 0.05),
    "maturity": ({"department": 0.9, "district": 0.5, "commune": -0.2}, 0.7, 0.15),
    # VNeID sign-in of the applicant (online) or chip-card check at the counter
    "vneid": ({"department": 0.2, "district": -0.3, "commune": -0.5}, 0.5, 0.30),
    # components taken from, and results sent to, the citizen's personal data store (rare)
    "personal_store": ({"department": -5.0, "district": -5.4, "commune": -5.6}, 0.6, 0.12),
    "e_copy": ({"department": -1.5, "district": -2.0, "commune": -2.2}, 0.6, 0.25),
    "petition_on_time": ({"department": 1.8, "district": 1.4, "commune": 1.2}, 0.6, 0.08),
    # inter-agency dossiers sent to the other agency through the network, not on paper
    "interagency": ({"department": 0.4, "district": 0.0, "commune": -0.3}, 0.6, 0.15),
}


def quarter_index(q: Quarter) -> int:
    """Quarters since 2024-Q1 (0 for 2024-Q1), the clock every trend runs on."""
    return (q.year - 2024) * 4 + q.q - 1


def build_profiles(registry: pd.DataFrame, seed: int) -> pd.DataFrame:
    """One row per agency (index agency_code): ``<name>_base`` and ``<name>_trend`` per latent."""
    rng = rng_for(seed, "profiles")
    n = len(registry)
    level = registry["level"].where(registry["level"] != "province", "department").to_numpy()
    out = {}
    for name, (means, spread, trend) in LATENT.items():
        mu = np.array([means[lv] for lv in level])
        out[f"{name}_base"] = mu + rng.normal(0.0, spread, n)
        out[f"{name}_trend"] = np.abs(rng.normal(trend, trend * 0.35, n))
    prof = pd.DataFrame(out, index=registry["agency_code"].to_numpy())
    # Merged units start where their predecessors were.
    succ = registry.dropna(subset=["successor_code"])
    for code, group in succ.groupby("successor_code"):
        if registry.loc[registry.agency_code == code, "volume"].iloc[0] == 0:
            cols = [c for c in prof.columns if c.endswith("_base")]
            prof.loc[code, cols] = prof.loc[group["agency_code"], cols].mean().to_numpy() + rng.normal(
                0, 0.15, len(cols)
            )
    return prof


def logistic(x):
    """The logistic function, mapping a latent score to a probability."""
    return 1.0 / (1.0 + np.exp(-x))


def level_at(prof: pd.DataFrame, name: str, codes, q: Quarter) -> np.ndarray:
    """Probability of the latent ``name`` for each agency code in quarter ``q``."""
    p = prof.loc[codes]
    return logistic(p[f"{name}_base"].to_numpy() + p[f"{name}_trend"].to_numpy() * quarter_index(q))
