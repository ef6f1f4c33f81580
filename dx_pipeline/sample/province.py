"""The sample province's description (config/sample_province.yaml) and seeded random streams.

Every generator draws from its own stream, keyed by the seed and a name (and the quarter), so
one quarter's files do not depend on which other quarters were generated in the same run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import yaml

CONFIG_NAME = "sample_province.yaml"


@lru_cache(maxsize=1)
def load_province() -> dict[str, Any]:
    """The packaged province description, checked for the invariants the generators rely on."""
    text = resources.files("dx_pipeline.config").joinpath(CONFIG_NAME).read_text(encoding="utf-8")
    cfg = yaml.safe_load(text)
    _check_reform("reform", cfg["reform"], cfg["districts"])
    codes = [d["code"] for d in cfg["departments"]]
    merger = cfg.get("merger")
    if merger:
        _check_reform("merger.reform", merger["reform"], merger["districts"])
        codes += [d["code"] for d in merger["departments"]]
        own_pools = {d["code"] for d in cfg["departments"] if d["volume"]}
        for d in merger["departments"]:
            if d["volume"] and d.get("like") not in own_pools:
                raise ValueError(
                    f"{CONFIG_NAME}: merger department {d['code']} handles the procedures of "
                    f"{d.get('like')!r}, which is not a department of the province with public services"
                )
    for d in cfg["departments"] + (merger["departments"] if merger else []):
        if d.get("merged_into") and d["merged_into"] not in codes:
            raise ValueError(f"{CONFIG_NAME}: department {d['code']} merged into unknown {d['merged_into']}")
    return cfg


def _check_reform(where: str, reform: dict, districts: list[dict]) -> None:
    sizes = {int(k): int(v) for k, v in reform["merge_group_sizes"].items()}
    old = sum(d["communes"] for d in districts)
    if sum(sizes.values()) != reform["new_communes"] or sum(k * v for k, v in sizes.items()) != old:
        raise ValueError(
            f"{CONFIG_NAME}: {where}.merge_group_sizes {sizes} must form "
            f"{reform['new_communes']} new communes from the {old} old communes"
        )


def rng_for(seed: int, *names: object) -> np.random.Generator:
    """An independent random stream for ``(seed, *names)``; stable across runs and platforms."""
    digest = hashlib.sha256("/".join(str(n) for n in names).encode()).digest()
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int.from_bytes(digest[:8], "little")])


def parse_date(text: str | dt.date) -> dt.date:
    """A date from an ISO text (a date stays as it is)."""
    return text if isinstance(text, dt.date) else dt.date.fromisoformat(str(text))


def holidays() -> np.ndarray:
    """The sample province's public holidays, as numpy days."""
    return np.array(load_province()["holidays"], dtype="datetime64[D]")
