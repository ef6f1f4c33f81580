"""Every input of the provincial frameworks has a source: the portal computes it, agencies report
it, or it is named below as having no source in the sample. An input nobody provides costs every
agency its points and `explain` says "no data", so a new framework indicator must come with
its catalogue entry and its sample generation."""

from __future__ import annotations

import pandas as pd
import pytest

from dx_pipeline.app.settings import Settings
from dx_pipeline.index import load_builtin
from dx_pipeline.kpis.dossier_kpis import DOSSIER_MEASURES, PROCEDURE_MEASURES, portal_kpis
from dx_pipeline.reference.catalogue import load_catalogue
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.reference.registry import active_agencies, load_registry
from dx_pipeline.sample.generate import generate_sample
from dx_pipeline.sample.province import load_province
from dx_pipeline.sources.portal_files import ingest_portal_files
from dx_pipeline.sources.submission_numbers import fold
from dx_pipeline.sources.submissions import ingest_submissions
from dx_pipeline.storage.home import DxHome

PROVINCIAL_FRAMEWORKS = ["dti_department", "dti_district", "dti_commune_2024", "dx_commune", "qd766"]

# Portal KPIs that no export the pipeline reads can carry. None since the online-services ratio the
# portal publishes is reported by the units: a KPI a framework scores comes with its field or form item.
NO_SOURCE_IN_SAMPLE: dict[str, str] = {}

COMPUTED = {m.code for m in DOSSIER_MEASURES} | {m.code for m in PROCEDURE_MEASURES}


def _inputs() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for fid in PROVINCIAL_FRAMEWORKS:
        for node in load_builtin(fid).indicators():
            out.setdefault(node.input_code, []).append(f"{fid}:{node.id}")
    return out


def test_every_framework_input_has_a_source_or_is_allow_listed():
    cat = load_catalogue()
    problems = []
    for code, where in sorted(_inputs().items()):
        if code in NO_SOURCE_IN_SAMPLE:
            continue
        if code not in cat:
            problems.append(f"{code} ({where[0]}): not in the KPI catalogue, nobody can report it")
        elif cat[code].source in ("portal", "procedure") and code not in COMPUTED:
            problems.append(
                f"{code} ({where[0]}): a {cat[code].source} KPI that dossier_kpis does not compute"
            )
    assert problems == []


def test_allow_list_is_honest():
    """Allow-listed codes are really used, really portal KPIs, and really not computed."""
    cat, used = load_catalogue(), _inputs()
    for code in NO_SOURCE_IN_SAMPLE:
        assert code in used, f"{code} is allow-listed but no framework uses it"
        assert cat[code].source == "portal" and code not in COMPUTED, code


@pytest.fixture(scope="module")
def portal_quarter(tmp_path_factory):
    """One quarter after the reform and the province merger, through the portal's own path:
    generated export files, ingested by the readers, KPIs computed by DuckDB."""
    home = DxHome(tmp_path_factory.mktemp("portal_home"))
    q = Quarter(2025, 4)
    generate_sample(home, seed=5, scale=0.05, quarters=[q])
    ingest_portal_files(home, q)
    registry = load_registry(home.registry_file)
    return registry, q, portal_kpis(home, q)


def test_every_portal_input_is_computed_from_the_sample_export(portal_quarter):
    """Each portal or procedure KPI a provincial framework scores is computed for the agencies
    that receive dossiers - none is missing for every unit, so none scores zero for everyone."""
    registry, q, kpis = portal_quarter
    cat = load_catalogue()
    active = active_agencies(registry, q)
    serving = set(active.loc[active["provides_public_services"], "agency_code"])
    dossiers = set(kpis.loc[kpis["kpi_code"] == "dossiers_received", "agency_code"]) & serving
    assert len(dossiers) > 50
    missing = {}
    for code in _inputs():
        if code in cat and cat[code].source in ("portal", "procedure") and code not in NO_SOURCE_IN_SAMPLE:
            have = set(kpis.loc[kpis["kpi_code"] == code, "agency_code"]) & dossiers
            if len(have) < 0.9 * len(dossiers):
                missing[code] = f"{len(have)} of {len(dossiers)} agencies"
    assert missing == {}


def test_the_national_index_inputs_carry_real_figures_in_the_sample(portal_quarter):
    """Not just present: the new fields give numerators, and nothing-to-judge stays rare where
    the portal shows it rare (authentication, the data store) and common where it is (petitions)."""
    _, _, kpis = portal_quarter
    sums = kpis.groupby("kpi_code")[["numerator", "denominator"]].sum()
    for code in ("e_authenticated_rate", "personal_store_shared_rate", "e_certified_copy_rate",
                 "petition_on_time_rate", "petition_satisfaction_rate"):
        num, den = sums.loc[code, "numerator"], sums.loc[code, "denominator"]
        assert den > 0 and 0 < num <= den, code
    share = sums["numerator"] / sums["denominator"]
    assert 0.6 < share["e_authenticated_rate"] < 1
    assert 0 < share["personal_store_shared_rate"] < 0.1
    nothing_to_judge = kpis[kpis["flags"].fillna("").str.contains("zero_denominator")]
    zero = nothing_to_judge.groupby("kpi_code")["agency_code"].nunique()
    assert zero.get("e_authenticated_rate", 0) == 0
    assert zero.get("petition_on_time_rate", 0) > 0  # most units have no petition in a quarter


def test_self_reported_inputs_are_generated_by_the_sample_for_their_levels():
    cat = load_catalogue()
    generated = {i["code"]: i for i in load_province()["indicators"]}
    for code in _inputs():
        if code in cat and cat[code].source == "submission":
            assert code in generated, f"{code}: the sample province never reports it"
            at = generated[code].get("at")
            if at is not None:
                assert set(at) == set(cat[code].applies_to), code


def test_evidence_and_level_inputs_are_typed_for_present_absent_scoring():
    cat = load_catalogue()
    for code in _inputs():
        k = cat.get(code)
        if k is not None and k.source == "submission" and k.unit in ("evidence", "level", "bool"):
            assert k.aggregation == "latest", code
            if k.unit == "level":
                assert max(k.levels.values()) == 1.0 and min(k.levels.values()) == 0.0, code


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    home = DxHome(tmp_path_factory.mktemp("m_home"))
    q = Quarter(2024, 4)  # before the reform: departments, districts and communes all report
    generate_sample(home, seed=11, scale=0.01, quarters=[q])
    registry = load_registry(home.registry_file)
    result = ingest_submissions(home, q, registry, reporting_db_url=Settings(home).reporting_db())
    return registry, result


def test_sample_quarter_reports_every_self_reported_input_for_most_agencies(ingested):
    registry, result = ingested
    cat = load_catalogue()
    acc = result.accepted
    assert len(acc) > 0
    rejected_codes = set(result.rejects.get("indicator_code", pd.Series(dtype=str)).dropna())
    reported = acc.groupby("indicator_code")["agency_code"].nunique()
    level_of = registry.set_index("agency_code")["level"]
    active = set(acc["agency_code"])  # agencies that submitted at all this quarter
    for code in _inputs():
        k = cat.get(code)
        if k is None or k.source != "submission":
            continue
        generated = load_province()["indicators"]
        spec = next(i for i in generated if i["code"] == code)
        if "only" in spec or "only_sectors" in spec:
            assert reported.get(code, 0) >= 1, code
            continue
        for level in k.applies_to:
            expected = {a for a in active if level_of.get(a) == level}
            if not expected:
                continue
            got = set(acc.loc[acc["indicator_code"] == code, "agency_code"]) & expected
            assert len(got) >= 0.8 * len(expected), (
                code,
                level,
                len(got),
                len(expected),
                code in rejected_codes,
            )


def test_sample_evidence_items_cite_a_document(ingested):
    _, result = ingested
    acc = result.accepted
    ev = acc[(acc["indicator_code"] == "dx_regulations_issued") & (acc["value"] == 1.0)]
    assert len(ev) > 0
    # cp1252 CSVs lose the diacritics (as clerks' files do), so compare folded text
    cited = ev["evidence_ref"].map(fold)
    assert cited.str.fullmatch(r"quyet dinh so \d+/qd-\S+ ngay \d\d/\d\d/\d{4}").all(), list(cited)
    lv = acc[acc["indicator_code"] == "dx_communication_activities"]["value"]
    assert set(lv.dropna()) <= {0.0, 0.5, 1.0} and lv.nunique() >= 2
