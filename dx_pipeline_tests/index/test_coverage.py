"""Coverage: every indicator of every built-in framework can be filled by this installation's
sources (a computed KPI whose columns the portal mapping fills, an item of the level's
submission form, an appraisal step) or is declared not assessed, checked when the framework
loads; and on the sample province, run through the real readers, KPI computation and scoring,
no indicator is left without data for every unit."""

from __future__ import annotations

import argparse
import copy
import datetime as dt

import pandas as pd
import pytest
import yaml

from dx_pipeline.app.settings import Settings
from dx_pipeline.cli.framework import register
from dx_pipeline.index import FrameworkError, builtin_frameworks, frameworks_for
from dx_pipeline.index.coverage import (
    build_sources,
    check_coverage,
    checked_levels,
    coverage_problems,
    packaged_sources,
)
from dx_pipeline.index.loader import build_framework
from dx_pipeline.index.quarter_scoring import score_quarter
from dx_pipeline.kpis.compute import compute_agency_kpis
from dx_pipeline.reference.catalogue import load_catalogue
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.reference.registry import active_agencies, load_registry
from dx_pipeline.sample.generate import generate_sample
from dx_pipeline.sources.portal_files import ingest_portal_files
from dx_pipeline.sources.portal_mapping import load_field_mapping
from dx_pipeline.sources.submissions import ingest_submissions
from dx_pipeline.sources.templates import template_rows
from dx_pipeline.storage.home import DxHome

from .conftest import MINIMAL

REASON = {"vi": "Không có nguồn", "en": "nothing reports it"}


def _mini(levels=("department",), **indicator_over):
    """The test framework with P2.1 replaced by an indicator of the given input."""
    doc = copy.deepcopy(MINIMAL)
    doc["applies_to"] = {"levels": list(levels)}
    doc["pillars"][1]["indicators"][0] = {"id": "P2.1", "name": {"vi": "Thử", "en": "Test"}, "max_points": 10,
                                          "rule": "boolean", **indicator_over}
    return build_framework(doc, "mini.yaml")


@pytest.mark.parametrize("fw", builtin_frameworks(), ids=lambda f: f.id)
def test_every_builtin_indicator_has_a_source_or_is_declared_not_assessed(fw):
    assert coverage_problems(fw, packaged_sources()) == []


def test_a_builtin_with_a_gap_does_not_load(tmp_path, monkeypatch):
    """The pipeline loads built-ins through the coverage check: a gap stops it before any work."""
    from dx_pipeline.index import builtins

    gap = tmp_path / "frameworks"
    gap.mkdir()
    doc = copy.deepcopy(MINIMAL)
    doc["pillars"][1]["indicators"][1]["kpi"] = "no_longer_reported"
    (gap / "mini.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    monkeypatch.setattr(builtins, "FRAMEWORKS_DIR", gap)
    known = {"on_time_rate", "online_dossier_rate", "no_longer_reported", "staff_digital_trained_rate"}
    with pytest.raises(FrameworkError, match="mini.yaml: node P2.2: nothing can fill it"):
        builtins.load_builtin("mini", known_kpis=known)
    with pytest.raises(FrameworkError, match="mini.yaml: node P2.2: nothing can fill it"):
        frameworks_for("2024-Q3", known_kpis=known)


@pytest.mark.parametrize("over,levels,expected", [
    ({"kpi": "ehealth_record_rate"}, ["commune"],
     "node P2.1: nothing can fill it for commune units: the KPI catalogue says ehealth_record_rate applies "
     "to department, not commune"),
    ({"item": "dx_plan_evidence"}, ["department"],
     "node P2.1: nothing can fill it for department units: 'dx_plan_evidence' is an input of the "
     "framework's own (item), which only a table given to `dx-pipeline score` provides"),
    ({"item": "council_points", "rule": "manual"}, ["department"],
     "node P2.1: nothing can fill it for department units: it is appraisal-only (rule manual) and the "
     "pipeline has no appraisal step that fills it"),
])
def test_an_indicator_nothing_fills_is_an_error_naming_why(over, levels, expected):
    fw = _mini(levels, **over)
    with pytest.raises(FrameworkError) as err:
        check_coverage(fw, packaged_sources())
    problems = [p for p in err.value.problems if p.startswith("node P2.1")]
    suggestion = "give it a source, or declare it not_assessed with where its 10 points go"
    assert problems == [f"{expected}; {suggestion}"]
    assert str(err.value).startswith("mini: node ")  # built in memory: named by its id


def test_an_appraisal_step_fills_appraisal_only_indicators():
    fw = _mini(item="council_points", rule="manual")
    assert [p for p in coverage_problems(fw, packaged_sources()) if p.startswith("node P2.1")]
    with_appraisal = build_sources(load_catalogue(), {}, appraisal=True)
    assert not [p for p in coverage_problems(fw, with_appraisal) if p.startswith("node P2.1")]


def test_a_computed_kpi_needs_the_portal_mapping_to_fill_its_columns():
    filled = {"portal_dossiers": load_field_mapping("dossiers").filled_columns() - {"channel"},
              "procedures": load_field_mapping("procedures").filled_columns()}
    fw = _mini(kpi="dx_plan_issued")  # P1.2 scores online_dossier_rate, computed from the channel
    assert coverage_problems(fw, build_sources(load_catalogue(), filled)) == [
        "node P1.2: nothing can fill it for department units: online_dossier_rate is computed from "
        "portal_dossiers columns channel, which the portal field mapping does not fill; give it a source, or "
        "declare it not_assessed with where its 20 points go"]
    assert coverage_problems(fw, packaged_sources()) == []


def test_a_not_assessed_declaration_that_became_untrue_is_an_error():
    fw = _mini(kpi="dx_plan_issued", not_assessed={"reason": REASON, "redistribute": {"P2.2": 10}})
    assert coverage_problems(fw, packaged_sources()) == [
        "node P2.1: declared not assessed, but it can be filled (item dx_plan_issued of the department "
        "submission form); remove not_assessed"]


def test_the_form_the_check_trusts_is_the_template_agencies_fill_in():
    reg = pd.DataFrame(
        [("D1", "Sở A", "Dept A", "department", "department", None, True, dt.date(2020, 1, 1), None, None),
         ("C1", "Xã B", "Commune B", "commune", "commune", None, True, dt.date(2020, 1, 1), None, None)],
        columns=["agency_code", "name_vi", "name_en", "level", "peer_group", "parent_code",
                 "provides_public_services", "valid_from", "valid_to", "successor_code"])
    for code, level in (("D1", "department"), ("C1", "commune")):
        _, rows = template_rows(reg, code, "2025-Q3")
        assert {r["MaChiSo"] for r in rows} == packaged_sources().forms[level]


def _cli(*argv):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return args.func(args)


def test_cli_check_lists_sources_and_fails_on_a_gap(tmp_path, capsys):
    assert _cli("framework", "check", "dti_district", "--detail") == 0
    out = capsys.readouterr().out
    assert "dti_district v" in out and "2 not assessed" in out
    assert "  HT.3       district    not assessed  the district submission form never asked for it" in out
    assert "  HT.1       district    form          item network_connected of the district submission form" \
        in out
    doc = copy.deepcopy(MINIMAL)
    doc["applies_to"] = {"levels": ["commune"]}
    doc["pillars"][1]["indicators"][1]["kpi"] = "ehealth_record_rate"
    (tmp_path / "gap.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    assert _cli("framework", "check", str(tmp_path / "gap.yaml")) == 1
    assert "  error: node P2.2: nothing can fill it for commune units" in capsys.readouterr().out


# ---------------------------------------------------------------- the sample province, end to end
SAMPLE_QUARTERS = [Quarter(2024, 4), Quarter(2025, 4), Quarter(2026, 1)]
"""One quarter in force for each provincial framework: before the 2025 reform (departments,
districts, old communes, the merged province's units), after it (departments, new communes)
and in 2026."""


@pytest.fixture(scope="module")
def sample_scores(tmp_path_factory):
    home = DxHome(tmp_path_factory.mktemp("coverage_home"))
    generate_sample(home, seed=7, scale=0.01, quarters=SAMPLE_QUARTERS)
    registry = load_registry(home.registry_file)
    out = {}
    for q in SAMPLE_QUARTERS:
        ingest_portal_files(home, q)
        subs = ingest_submissions(home, q, registry, reporting_db_url=Settings(home).reporting_db())
        kpis = compute_agency_kpis(home, q, registry, subs.accepted)
        out[q.label] = (score_quarter(q, kpis, registry), active_agencies(registry, q))
    return out


def test_every_framework_in_force_on_the_sample_is_scored(sample_scores):
    for label, (scored, active) in sample_scores.items():
        levels = set(active["level"])
        expected = {fw.id for fw in frameworks_for(label) if levels & set(fw.applies_to.levels)}
        assert {fw.id for fw in scored.frameworks} == expected, label


def test_the_sample_quarters_reach_every_framework_the_pipeline_scores(sample_scores):
    """A framework added later must be in force in one of SAMPLE_QUARTERS, or this says so."""
    scored = {fw.id for scored, _ in sample_scores.values() for fw in scored.frameworks}
    pipeline = {fw.id for fw in builtin_frameworks() if checked_levels(fw)}
    assert scored == pipeline


def test_no_indicator_is_left_without_data_for_every_unit(sample_scores):
    """Each assessed indicator has a value (or a 0 denominator: data, nothing to judge) for some
    unit; a not-assessed one is 0 of 0 for everyone with its declaration as the note."""
    empty = []
    for label, (scored, _) in sample_scores.items():
        for fw in scored.frameworks:
            rows = scored.scores[(scored.scores.framework_id == fw.id) & (scored.scores.level == "indicator")]
            for node in fw.indicators():
                mine = rows[rows.node_id == node.id]
                notes = mine["note"].fillna("")
                if node.not_assessed is not None:
                    assert (mine["max_points"] == 0).all() and notes.str.contains("is not assessed").all()
                    continue
                has_data = mine["input_value"].notna() | notes.str.contains("zero denominator")
                if not has_data.any():
                    empty.append(f"{label} {fw.id} {node.id} ({node.input_code})")
    assert empty == []


def test_the_typical_unit_has_data_on_nearly_all_of_its_framework(sample_scores):
    """Not a framework scraping by: the median unit has a value on at least 85 % of the assessed
    indicators (sector-only items, units that did not report and units without public services
    account for the rest)."""
    for label, (scored, _) in sample_scores.items():
        ind = scored.scores[scored.scores.level == "indicator"]
        assessed = ind[~ind["note"].fillna("").str.contains("is not assessed")]
        notes = assessed["note"].fillna("")
        has_data = assessed["input_value"].notna() | notes.str.contains("zero denominator")
        share = has_data.groupby([assessed["framework_id"], assessed["agency_code"]]).mean()
        typical = share.groupby(level=0).median()
        assert (typical >= 0.85).all(), (label, typical.round(3).to_dict())
