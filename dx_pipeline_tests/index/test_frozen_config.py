"""Cached configuration is shared between callers, so nothing in it can be changed in place;
it still serialises, copies and compares as the plain dicts and lists it was parsed from."""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle

import pytest
import yaml

from dx_pipeline.index.builtins import builtin_frameworks
from dx_pipeline.index.loader import load_framework
from dx_pipeline.reference import config_cache
from dx_pipeline.reference.catalogue import load_catalogue
from dx_pipeline.reference.frozen import FrozenDict, FrozenList, freeze


@pytest.fixture(autouse=True)
def _fresh_cache():
    config_cache.clear()
    yield
    config_cache.clear()


def _nodes(fw):
    for pillar in fw.pillars:
        yield from pillar.walk()


def test_a_cached_framework_cannot_be_changed_by_one_caller():
    fw = next(f for f in builtin_frameworks() if any(n.params for n in _nodes(f)))
    node = next(n for n in _nodes(fw) if n.params)
    key = next(iter(node.params))
    before = dict(node.params)
    with pytest.raises(TypeError, match="read-only"):
        node.params[key] = 0  # type: ignore[index]
    with pytest.raises(TypeError):
        node.params.update({key: 0})  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        del node.params[key]  # type: ignore[attr-defined]
    assert fw.source is not None
    again = load_framework(fw.source)
    same = next(n for n in _nodes(again) if n.id == node.id)
    assert dict(same.params) == before
    for value in node.params.values():  # nested lists and dicts are read-only too
        if isinstance(value, list):
            with pytest.raises(TypeError):
                value.append(1)
        if isinstance(value, dict):
            with pytest.raises(TypeError):
                value.clear()
    for n in _nodes(fw):  # pillars' empty params too
        assert isinstance(n.params, FrozenDict)
    assert isinstance(fw.ranking.explicit, FrozenDict) and isinstance(fw.ranking.unranked, FrozenDict)


def test_catalogue_levels_cannot_be_changed():
    catalogue = load_catalogue()
    kpi = next(k for k in catalogue.kpis.values() if k.levels)
    level = next(iter(kpi.levels))
    with pytest.raises(TypeError, match="read-only"):
        kpi.levels[level] = 0.0  # type: ignore[index]
    assert load_catalogue().kpis[kpi.code].levels[level] == kpi.levels[level]


def test_frozen_values_serialise_copy_and_compare_as_plain_ones():
    plain = {"bands": [{"min": 0.5, "points": [1, 2]}], "cap": 3.0, "pair": (1, [2])}
    frozen = freeze(plain)
    assert frozen == plain and isinstance(frozen["bands"], FrozenList)
    assert isinstance(frozen["bands"][0], FrozenDict) and isinstance(frozen["pair"][1], FrozenList)
    assert json.dumps(frozen, sort_keys=True) == json.dumps(plain, sort_keys=True)
    as_lists = {"bands": [{"min": 0.5, "points": [1, 2]}], "cap": 3.0, "pair": [1, [2]]}
    assert yaml.safe_load(yaml.safe_dump(freeze(as_lists))) == as_lists
    assert pickle.loads(pickle.dumps(frozen)) == plain
    back = pickle.loads(pickle.dumps(frozen))
    assert isinstance(back, FrozenDict) and isinstance(back["bands"], FrozenList)
    with pytest.raises(TypeError):
        back["bands"].append(1)
    assert copy.deepcopy(frozen) is frozen and copy.copy(frozen) is frozen
    changed = dict(frozen)  # the way to change a copy
    changed["cap"] = 4.0
    assert frozen["cap"] == 3.0

    @dataclasses.dataclass(frozen=True)
    class Holder:
        params: dict

    assert dataclasses.asdict(Holder(frozen)) == {"params": plain | {"pair": (1, [2])}}
    assert freeze(frozen) is frozen


def test_every_built_in_framework_dumps_to_json_and_yaml():
    for fw in builtin_frameworks():
        for node in _nodes(fw):
            json.dumps(node.params)
            yaml.safe_dump(node.params)
