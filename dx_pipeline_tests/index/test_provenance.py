"""Provenance: every framework says what it is taken from, per node, and no built-in claims a
source the project does not have. The published facts the project holds are the notes copied
into dx_pipeline_tests/reference_tables (see its README)."""

from __future__ import annotations

import copy

import pandas as pd
import pytest

from dx_pipeline.index import FrameworkError, builtin_frameworks, explain, load_builtin, score
from dx_pipeline.index.builtins import FRAMEWORKS_DIR
from dx_pipeline.index.loader import build_framework, load_framework
from dx_pipeline.reference.frameworks import ILLUSTRATION

from .conftest import MINIMAL, PUBLISHED, reference_kpis

PUBLISHED_FACTS = "\n".join(
    (PUBLISHED / name).read_text(encoding="utf-8") for name in ("dti.md", "qd766.md", "plan_targets.md")
)


@pytest.mark.parametrize("fw", builtin_frameworks(), ids=lambda f: f.id)
def test_every_decision_a_builtin_cites_is_one_the_project_holds(fw):
    for doc in fw.provenance.documents:
        if doc.kind != "decision":
            continue
        assert doc.number in PUBLISHED_FACTS, f"{fw.id}: {doc.number} is in none of the published notes"
        assert str(doc.date.year) in PUBLISHED_FACTS
        assert doc.issuer.vi and doc.issuer.en


@pytest.mark.parametrize("fw", builtin_frameworks(), ids=lambda f: f.id)
def test_no_indicator_claims_a_document_read_only_in_summary(fw):
    """A summary gives a structure, never the components: an indicator whose name, points or rule
    is credited to a document the project read only in summary would be a false claim."""
    summary_only = {d.id for d in fw.provenance.documents if d.consulted == "summary"}
    for node in fw.indicators():
        claimed = {node.origin.name, node.origin.points, node.origin.rule} & summary_only
        assert not claimed, f"{fw.id} {node.id} credits {claimed}, read only in summary"


def test_dti_department_no_longer_claims_decision_3473():
    fw = load_builtin("dti_department")
    assert fw.illustrative and fw.bands_illustrative
    assert all(n.origin.illustrated() == ("name", "points", "rule") for n in fw.indicators())
    doc = fw.provenance.document("dn3473")
    assert (doc.number, doc.date.isoformat(), doc.consulted) == ("3473/QĐ-UBND", "2023-12-29", "summary")
    statement = fw.provenance_statement()
    assert statement.en.startswith("Illustrative framework: the name, points or rule of 40 of 40 indicators")
    assert "not the text of Decision 3473/QĐ-UBND of 29/12/2023" in statement.en
    assert statement.vi.startswith("Bộ chỉ số minh họa: ")
    assert "e.g. Đồng Nai, Decision 3473" not in fw.description


def test_qd766_is_taken_from_the_decision_except_what_the_project_chose():
    fw = load_builtin("qd766")
    # the online-services group is one indicator on the ratio the portal publishes: nothing of
    # the indicators is the project's own; only the bands are
    assert fw.illustrated_nodes() == []
    assert fw.node("CLGQ.1").origin.rule == "portal"
    assert fw.provenance.primary.number == "766/QĐ-TTg" and fw.bands_illustrative
    assert fw.provenance_statement().en == (
        "Partly illustrative framework: the bands are this project's illustration.")
    # the formula text's two-part reading splits the group's 12 points by the project's choice
    variant = load_framework(FRAMEWORKS_DIR / "variants" / "qd766_clgq_two_part.yaml")
    illustrated = {n.id: n.origin.illustrated() for n in variant.illustrated_nodes()}
    assert illustrated == {"CLGQ.1": ("points",), "CLGQ.2": ("points",)}
    assert variant.provenance_statement().en.startswith(
        "Partly illustrative framework: the name, points or rule of 2 of 20")


def _doc(**over):
    doc = copy.deepcopy(MINIMAL)
    doc.update(over)
    return doc


def test_a_framework_wholly_from_its_decision_says_so():
    fw = build_framework(_doc(), "mini.yaml", reference_kpis())
    assert not fw.illustrative and fw.illustrated_nodes() == []
    assert fw.provenance_statement().en == (
        "Taken from Decision 1/QĐ-UBND of 29/12/2023 (Sample People's Committee).")
    assert fw.provenance_statement().vi == (
        "Theo Quyết định 1/QĐ-UBND ngày 29/12/2023 (Ủy ban nhân dân tỉnh Mẫu).")
    record = fw.provenance_record()
    assert record["illustrative"] is False and record["documents"][0]["number"] == "1/QĐ-UBND"
    assert fw.provenance_label == "from 1/QĐ-UBND"
    assert load_builtin("dti_department").provenance_label == "illustrative"
    assert load_builtin("qd766").provenance_label == "partly illustrative"


def test_a_node_overrides_the_default_origin_field_by_field():
    doc = _doc()
    doc["pillars"][1]["indicators"][0]["origin"] = {"points": ILLUSTRATION}
    fw = build_framework(doc, "mini.yaml", reference_kpis())
    node = fw.node("P2.1")
    assert (node.origin.name, node.origin.points, node.origin.rule) == ("qd1", ILLUSTRATION, "qd1")
    assert fw.illustrative and [n.id for n in fw.illustrated_nodes()] == ["P2.1"]
    assert fw.provenance_statement().en.startswith(
        "Partly illustrative framework: the name, points or rule of 1 of 4 indicators are this project's "
        "illustration")


def test_provenance_is_required_and_checked():
    doc = _doc()
    del doc["provenance"]
    with pytest.raises(FrameworkError, match="mini.yaml: 'provenance' is required"):
        build_framework(doc, "mini.yaml", reference_kpis())

    doc = _doc()
    del doc["provenance"]["documents"][0]["number"]
    with pytest.raises(FrameworkError, match="provenance.documents: 'number' is required"):
        build_framework(doc, "mini.yaml", reference_kpis())

    doc = _doc()
    doc["provenance"]["bands"] = "qd9"
    doc["pillars"][0]["origin"] = {"rule": "qd1"}
    doc["pillars"][0]["indicators"][1]["origin"] = {"rule": "annex"}
    with pytest.raises(FrameworkError) as err:
        build_framework(doc, "mini.yaml", reference_kpis())
    assert err.value.problems == [
        "provenance.bands names 'qd9', which is not a provenance document (qd1) nor 'illustration'",
        "node P1: origin.rule is for indicators (a pillar has no scoring rule)",
        "node P1.2: origin.rule names 'annex', which is not a provenance document (qd1) nor 'illustration'",
    ]


def test_explain_states_where_the_framework_comes_from():
    fw = load_builtin("dti_department")
    reg = pd.DataFrame([("SYT", "Sở Y tế", "Department of Health", "department", "department", True)],
                       columns=["agency_code", "name_vi", "name_en", "level", "peer_group",
                                "provides_public_services"])
    data = pd.DataFrame([("SYT", "on_time_rate", 0.7)], columns=["agency_code", "kpi_code", "value"])
    r = score(fw, data, reg)
    text = explain(r.scores, r.ranking, "SYT")
    head = text.split("Where points were lost")[0]
    assert "  source: Illustrative framework: the name, points or rule of 40 of 40 indicators" in head
    assert "Bộ chỉ số minh họa:" in head
