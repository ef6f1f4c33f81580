"""Loading frameworks: valid files build; invalid ones name the file, the node and the problem."""

from __future__ import annotations

import datetime as dt

import pytest

from dx_pipeline.index import FrameworkError, load_framework
from dx_pipeline_tests.index.conftest import write_yaml


def test_minimal_framework_loads(tmp_path, mini_doc, known_kpis):
    fw = load_framework(write_yaml(tmp_path / "mini.yaml", mini_doc), known_kpis)
    assert fw.id == "mini" and fw.total_points == 100 and fw.decimals == 2
    assert [n.id for n in fw.nodes()] == ["P1", "P1.1", "P1.2", "P2", "P2.1", "P2.2"]
    assert fw.node("P1.2").params == {"threshold": 0.5}
    assert fw.effective_to == dt.date(2025, 6, 30)
    assert fw.is_effective("2025-Q2") and not fw.is_effective("2025-Q3")


def _error(tmp_path, doc, known, name="dti_department.yaml") -> str:
    with pytest.raises(FrameworkError) as info:
        load_framework(write_yaml(tmp_path / name, doc), known)
    return str(info.value)


def test_rule_missing_its_parameter_names_file_and_node(tmp_path, mini_doc, known_kpis):
    mini_doc["pillars"][0]["indicators"][1]["params"] = {}
    msg = _error(tmp_path, mini_doc, known_kpis)
    assert "dti_department.yaml: node P1.2: rule 'goalpost' needs 'threshold'" in msg


def test_points_that_do_not_add_up(tmp_path, mini_doc, known_kpis):
    mini_doc["pillars"][0]["indicators"][0]["max_points"] = 35
    msg = _error(tmp_path, mini_doc, known_kpis)
    assert "node P1: points do not add up: max_points is 60 but the children sum to 55" in msg


def test_total_points_must_match_pillars(tmp_path, mini_doc, known_kpis):
    mini_doc["total_points"] = 1000
    msg = _error(tmp_path, mini_doc, known_kpis)
    assert "dti_department.yaml: points do not add up: total_points is 1000" in msg


def test_duplicate_id_and_unknown_kpi_reported_together(tmp_path, mini_doc, known_kpis):
    mini_doc["pillars"][1]["indicators"][1]["id"] = "P1.1"
    mini_doc["pillars"][1]["indicators"][1]["kpi"] = "no_such_kpi"
    err = pytest.raises(FrameworkError, load_framework, write_yaml(tmp_path / "f.yaml", mini_doc), known_kpis)
    problems = err.value.problems
    assert "node P1.1: id is used more than once" in problems
    assert "node P1.1: KPI 'no_such_kpi' is not in the KPI catalogue" in problems


def test_schema_error_names_the_node(tmp_path, mini_doc, known_kpis):
    mini_doc["pillars"][1]["indicators"][0]["rule"] = "magic"
    msg = _error(tmp_path, mini_doc, known_kpis)
    assert "dti_department.yaml: node P2.1: rule: 'magic' is not one of" in msg


def test_unknown_field_and_bad_policy(tmp_path, mini_doc, known_kpis):
    mini_doc["pillars"][0]["indicators"][0]["maxpoints"] = 3
    mini_doc["policies"]["missing"] = "guess"
    msg = _error(tmp_path, mini_doc, known_kpis)
    assert "node P1.1: unknown field(s) ('maxpoints' was unexpected)" in msg
    assert "policies.missing: 'guess' is not one of" in msg


def test_indicator_needs_exactly_one_input(tmp_path, mini_doc, known_kpis):
    mini_doc["pillars"][1]["indicators"][0]["kpi"] = "on_time_rate"
    msg = _error(tmp_path, mini_doc, known_kpis)
    assert "node P2.1: an indicator names exactly one input" in msg


def test_rule_parameter_checks(tmp_path, mini_doc, known_kpis):
    ind = mini_doc["pillars"][0]["indicators"][1]
    ind["params"] = {"threshold": 0.5, "lower": 0.7, "speed": 1}
    msg = _error(tmp_path, mini_doc, known_kpis)
    assert "node P1.2: rule 'goalpost' has unknown parameter 'speed'" in msg
    ind["params"] = {"threshold": 0.5, "lower": 0.7}
    msg = _error(tmp_path, mini_doc, known_kpis)
    assert "node P1.2: rule 'goalpost': 'lower' must be below 'threshold'" in msg
    ind["params"] = {"threshold": 10}
    ind["direction"] = "lower"
    msg = _error(tmp_path, mini_doc, known_kpis)
    assert "node P1.2: rule 'goalpost' with direction 'lower' needs 'upper'" in msg


def test_categorical_levels_checked(tmp_path, mini_doc, known_kpis):
    ind = mini_doc["pillars"][1]["indicators"][0]
    ind.update(rule="categorical", params={"levels": {2: 1.0, 1: 1.5}})
    msg = _error(tmp_path, mini_doc, known_kpis)
    assert "node P2.1: rule 'categorical': level 1 share 1.5 is not within 0..1" in msg


def test_bands_and_dates(tmp_path, mini_doc, known_kpis):
    mini_doc["bands"] = mini_doc["bands"][:3]
    mini_doc["effective"] = {"from": "2025-01-01", "to": "2024-12-31"}
    msg = _error(tmp_path, mini_doc, known_kpis)
    assert "effective.to 2024-12-31 is before effective.from 2025-01-01" in msg
    assert "bands: the lowest band must start at min_share 0" in msg


def test_yaml_syntax_error_and_missing_file(tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("id: [unclosed\n", encoding="utf-8")
    with pytest.raises(FrameworkError, match="broken.yaml: not valid YAML"):
        load_framework(bad)
    with pytest.raises(FileNotFoundError, match="framework file not found"):
        load_framework(tmp_path / "nope.yaml")


def test_known_kpis_none_skips_check_without_catalogue(tmp_path, mini_doc, monkeypatch):
    from dx_pipeline.index import loader

    monkeypatch.setattr(loader, "known_kpis_from_catalogue", lambda: None)
    mini_doc["pillars"][0]["indicators"][0]["kpi"] = "anything_goes"
    assert load_framework(write_yaml(tmp_path / "f.yaml", mini_doc)).node("P1.1").kpi == "anything_goes"
    monkeypatch.setattr(loader, "known_kpis_from_catalogue", lambda: {"on_time_rate"})
    with pytest.raises(FrameworkError, match="KPI 'anything_goes' is not in the KPI catalogue"):
        load_framework(write_yaml(tmp_path / "f.yaml", mini_doc))


def test_schema_is_valid_and_lists_every_rule():
    import jsonschema

    from dx_pipeline.index.loader import framework_schema
    from dx_pipeline.index.rules import RULES

    schema = framework_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$defs"]["indicator"]["properties"]["rule"]["enum"] == list(RULES)


def test_direction_lower_rejected_where_meaningless(tmp_path, mini_doc, known_kpis):
    ind = mini_doc["pillars"][1]["indicators"][0]
    ind.update(rule="categorical", params={"levels": {1: 1.0, 0: 0.0}}, direction="lower")
    msg = _error(tmp_path, mini_doc, known_kpis)
    assert "node P2.1: rule 'categorical' takes its credit as given" in msg
