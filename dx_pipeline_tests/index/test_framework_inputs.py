"""Every input of the provincial frameworks has a source: the portal computes it, agencies report
it, or it is named below as having no source in the sample. An input nobody provides costs every
agency its points and `explain` says "no data", so a new framework indicator must come with
its catalogue entry and its sample generation."""

from __future__ import annotations

import pandas as pd
import pytest

from dx_pipeline.index import load_builtin
from dx_pipeline.kpis.dossier_kpis import DOSSIER_MEASURES, PROCEDURE_MEASURES
from dx_pipeline.reference.catalogue import load_catalogue
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.reference.registry import load_registry
from dx_pipeline.sample.generate import generate_sample
from dx_pipeline.sample.province import load_province
from dx_pipeline.sources.submission_numbers import fold
from dx_pipeline.sources.submissions import default_reporting_db_url, ingest_submissions
from dx_pipeline.storage.home import DxHome

PROVINCIAL_FRAMEWORKS = ["dti_department", "dti_district", "dti_commune_2024", "dx_commune", "qd766"]

# Catalogue KPIs of the portal that the pipeline knows how to read but that have no field in the
# sample portal export (nor in the provincial one we model), so they are honestly missing.
NO_SOURCE_IN_SAMPLE = {
    "e_authenticated_rate": "no authentication field in the dossier export (VNeID log not exported)",
    "personal_store_shared_rate": "no personal-data-store sharing field in the dossier export",
    "e_certified_copy_rate": "certified copies are not in the dossier export",
    "petition_on_time_rate": "petitions (PAKN) come from another system, not exported",
    "petition_satisfaction_rate": "petitions (PAKN) come from another system, not exported",
    "online_service_combined_rate": "the portal publishes it only as its own Decision-766 evaluation figure "
                                    "(a ratio, no numerator or denominator); not in the dossier export",
}

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
    result = ingest_submissions(home, q, registry, reporting_db_url=default_reporting_db_url(home))
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
