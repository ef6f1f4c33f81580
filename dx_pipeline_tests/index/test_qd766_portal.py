"""qd766 against the national portal: every per-unit figure the portal published for 29 units of a
real snapshot (reference_tables/qd766_portal_units.json, Đắk Lắk, 2026-10-10) reproduced from the
numerators and denominators it published, through a long CSV file and the built-in framework.

What is compared, per unit: every indicator's points the portal publishes (all but the payment
group, which it publishes only as a group figure), the online-services group's points from the
combined ratio it publishes, every group's points and the total. Nothing is tuned to a figure:
where a published figure cannot be reproduced from what is published, it is listed in
``NOT_REPRODUCIBLE`` with the reason, and the test asserts it still differs by that amount (if
the portal's figure ever becomes reproducible, the list must shrink).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from dx_pipeline.index import load_builtin, score
from dx_pipeline.index.builtins import FRAMEWORKS_DIR
from dx_pipeline.index.loader import FrameworkError, build_framework, load_framework
from dx_pipeline_tests.index.conftest import PUBLISHED, read_checked

SNAPSHOT = PUBLISHED / "qd766_portal_units.json"

# the portal's metric code -> (the framework's indicator, the KPI it reads)
PORTAL_METRICS = {
    "PUBLISH_ON_TIME": ("CKMB.1", "procedures_published_on_time_rate"),
    "PUBLIC_UPDATE_ON_TIME": ("CKMB.2", "procedures_updated_on_time_rate"),
    "PUBLIC_CONTENT_FULL": ("CKMB.3", "procedures_full_content_rate"),
    "DOSSIER_SYNC": ("CKMB.4", "dossier_synced_rate"),
    "ON_TIME": ("TDGQ.1", "on_time_rate"),
    "ONLINE_SERVICE_COMBINED": ("CLGQ.1", "online_service_combined_rate"),
    "DOSSIER_PAID_ONLINE": ("TTTT.1", "online_payment_rate"),
    "PROCEDURE_WITH_ONLINE_PAYMENT": ("TTTT.2", "payment_transaction_procedure_rate"),
    "FEE_PROCEDURE_WITH_DOSSIERS": ("TTTT.3", "fee_procedure_with_dossiers_rate"),
    "ORIGINAL_RESULT_AVAILABLE": ("MDSH.1", "electronic_result_rate"),
    "DOSSIER_DIGITIZED": ("MDSH.2", "dossier_digitised_rate"),
    "REUSED_DIGITIZED_DATA": ("MDSH.3", "digitised_reuse_rate"),
    "SYNCED_PERSONAL_STORAGE": ("MDSH.4", "personal_store_shared_rate"),
    "CITIZEN_DATA_DOSSIER": ("MDSH.5", "population_data_rate"),
    "CITIZEN_DATA_FORMALITY": ("MDSH.6", "population_connected_procedure_rate"),
    "ELECTRONIC_CERTIFIED_COPY": ("MDSH.7", "e_certified_copy_rate"),
    "DOSSIER_SATISFACTION": ("MDHL.1", "dossier_satisfaction_rate"),
    "PETITION_ON_TIME": ("MDHL.2", "petition_on_time_rate"),
    "PETITION_SATISFACTION": ("MDHL.3", "petition_satisfaction_rate"),
}

# (unit, node) -> (published, reproduced, why the published figure cannot be reproduced)
NOT_REPRODUCIBLE = {
    ("H15.147", "TTTT"): (
        6.99, 6.98,
        "payment group: the portal publishes no per-metric points for it, only the group. From "
        "its numerators and denominators the three metrics give 1371/1508 × 6 = 5.4549 → 5.45, "
        "14/36 ÷ 0.8 × 2 = 0.9722 → 0.97 and 8/36 ÷ 0.8 × 2 = 0.5556 → 0.56, 6.98 in all. The "
        "portal's 6.99 would follow from rounding the ratio to a percentage with 2 decimals "
        "first (90.92 % × 6 = 5.4552 → 5.46), but that reading breaks a published indicator "
        "(H15.184 MDSH.3: 523/1909 = 27.40 % gives 0.69, the portal publishes 0.68), so it is "
        "not the portal's rule and is not applied",
    ),
    ("H15.147", "total"): (
        58.93, 58.92,
        "the sum of the groups, which carries the payment group's 0.01 above; the published "
        "total is the sum of the published groups (checked below)",
    ),
}


def _snapshot() -> dict:
    assert SNAPSHOT.exists(), (
        f"snapshot missing: {SNAPSHOT} (see dx_pipeline_tests/reference_tables/README.md)"
    )
    return json.loads(SNAPSHOT.read_text(encoding="utf-8"))


def _long_rows(units: list[dict]) -> pd.DataFrame:
    rows = []
    for u in units:
        for _group, code, num, den, _mx, _pts in u["metrics"]:
            rows.append((u["unit"], PORTAL_METRICS[code][1], None, num, den))
        for _group, code, ratio_pct, _mx, _pts in u["ratio_only"]:
            rows.append((u["unit"], PORTAL_METRICS[code][1], ratio_pct / 100, None, None))
    return pd.DataFrame(rows, columns=["agency_code", "kpi_code", "value", "numerator", "denominator"])


def _registry(units: list[dict]) -> pd.DataFrame:
    """Every unit in one ranking list, as the portal's province list has them."""
    level = {"PROVINCE": "department", "COMMUNE": "commune"}
    return pd.DataFrame({
        "agency_code": [u["unit"] for u in units],
        "name_vi": [u["name"] for u in units],
        "level": [level[u["level"]] for u in units],
        "peer_group": "province_list",
        "provides_public_services": True,
    })


def _published(units: list[dict]) -> dict[tuple[str, str], float]:
    """(unit, node id) -> every points figure the portal published for the unit."""
    out: dict[tuple[str, str], float] = {}
    for u in units:
        for _group, code, _num, _den, _mx, pts in u["metrics"]:
            if pts is not None:
                out[(u["unit"], PORTAL_METRICS[code][0])] = float(pts)
        for _group, code, _ratio, _mx, pts in u["ratio_only"]:
            out[(u["unit"], PORTAL_METRICS[code][0])] = float(pts)
        for group, pts in u["groups"].items():
            out[(u["unit"], group)] = float(pts)
        out[(u["unit"], "total")] = float(u["total"])
    return out


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    units = _snapshot()["units"]
    path = tmp_path_factory.mktemp("qd766") / "portal_long.csv"
    _long_rows(units).to_csv(path, index=False)
    result = score("qd766", read_checked(path, "qd766"), _registry(units))
    return units, result


def test_the_snapshot_is_what_the_note_says():
    snap = _snapshot()
    units = snap["units"]
    assert snap["date"] == "2026-10-10" and len(units) == 29
    assert {c for u in units for _, c, *_ in u["metrics"] + u["ratio_only"]} == set(PORTAL_METRICS)
    # the published total is the sum of the published groups, for every unit
    for u in units:
        assert round(sum(u["groups"].values()), 2) == pytest.approx(u["total"], abs=1e-9), u["unit"]


def test_portal_metrics_map_to_indicators_with_the_portal_max_points():
    fw = load_builtin("qd766")
    for u in _snapshot()["units"]:
        for group, code, *rest in u["metrics"] + u["ratio_only"]:
            node = fw.node(PORTAL_METRICS[code][0])
            assert node.parent_id == group and node.max_points == rest[-2], (u["unit"], code)
            assert node.kpi == PORTAL_METRICS[code][1]


def test_every_published_figure_is_reproduced(scored):
    units, result = scored
    ours = result.scores.set_index(["agency_code", "node_id"])["points"]
    published = _published(units)
    assert len(published) == 29 * (15 + 1 + 6 + 1)  # 15 metrics with points, CLGQ, 6 groups, total
    wrong = {}
    for key, pub in published.items():
        got = float(ours.loc[key])
        if key in NOT_REPRODUCIBLE:
            expected_pub, expected_ours, _why = NOT_REPRODUCIBLE[key]
            assert (pub, got) == (expected_pub, expected_ours), key
        elif got != pub:
            wrong[key] = (pub, got)
    assert wrong == {}, f"{len(wrong)} of {len(published)} figures differ (published, ours): {wrong}"


def test_the_payment_group_is_reproduced_wherever_it_can_be(scored):
    units, result = scored
    ours = result.scores.set_index(["agency_code", "node_id"])["points"]
    exact = [u["unit"] for u in units if float(ours.loc[(u["unit"], "TTTT")]) == u["groups"]["TTTT"]]
    assert len(exact) == 28 and "H15.147" not in exact


def test_zero_denominators_score_as_on_the_portal(scored):
    """Công an tỉnh (H15.39) had no dossiers: 0 on every dossier indicator at 0/0 and full points
    on electronic certified copies at 0/0, 7.85 in all as published; the communes without
    petitions get full points on both petition indicators at 0/0. With the old rule (full points
    at every 0/0) H15.39 would have had 63.85."""
    units, result = scored
    rows = result.scores.set_index(["agency_code", "node_id"])
    assert rows.loc[("H15.39", "total"), "points"] == 7.85
    for node in ("CKMB.4", "TDGQ.1", "MDSH.1", "MDSH.2", "MDSH.3", "MDSH.4", "MDSH.5", "TTTT.1", "MDHL.1"):
        assert rows.loc[("H15.39", node), "points"] == 0, node
        assert "zero denominator (0/0): scored 0 (policy zero)" in rows.loc[("H15.39", node), "note"], node
    full_at_zero = [(u["unit"], PORTAL_METRICS[code][0]) for u in units
                    for _, code, num, den, *_ in u["metrics"] if den == 0 and code in (
                        "PETITION_ON_TIME", "PETITION_SATISFACTION", "ELECTRONIC_CERTIFIED_COPY")]
    assert len(full_at_zero) > 29  # every unit's certified copies, most communes' petitions
    for key in full_at_zero:
        assert rows.loc[key, "points"] == rows.loc[key, "max_points"] > 0, key
        assert "nothing to judge, full points (policy full)" in rows.loc[key, "note"], key
    raw = yaml.safe_load((FRAMEWORKS_DIR / "qd766.yaml").read_text(encoding="utf-8"))
    raw["policies"]["zero_denominator"] = "full"
    everything_full = score(build_framework(raw, "qd766_full.yaml"), _long_rows(units))
    old = everything_full.scores.set_index(["agency_code", "node_id"])["points"]
    assert old.loc[("H15.39", "total")] == 63.85


def test_the_zero_denominator_policy_is_per_indicator():
    fw = load_builtin("qd766")
    policy = {n.id: n.zero_denominator or fw.zero_denominator for n in fw.indicators()}
    assert fw.zero_denominator == "zero"
    assert {k for k, v in policy.items() if v == "full"} == {"MDSH.7", "MDHL.2", "MDHL.3"}
    assert set(policy.values()) == {"zero", "full"}


def test_published_ranks_order_the_units_as_our_totals_do(scored):
    units, result = scored
    ranking = result.ranking.set_index("agency_code")
    published_rank = pd.Series({u["unit"]: u["rank"] for u in units})
    ours = ranking.loc[published_rank.index, "rank"].astype(int)
    assert (ours.sort_values().index == published_rank.sort_values().index).all()
    assert ours.is_unique


def _tied_scores(ties: str) -> pd.DataFrame:
    """Three units with the same inputs (as the portal's three units at 71.84), one better."""
    raw = yaml.safe_load((FRAMEWORKS_DIR / "qd766.yaml").read_text(encoding="utf-8"))
    raw["ranking"]["ties"] = ties
    rows = [(code, "on_time_rate", value) for code, value in
            (("X03", 0.5), ("X01", 0.5), ("X02", 0.5), ("X09", 0.9))]
    data = pd.DataFrame(rows, columns=["agency_code", "kpi_code", "value"])
    return score(build_framework(raw, f"qd766_{ties}.yaml"), data).ranking.set_index("agency_code")


def test_tie_rule_is_a_ranking_option():
    consecutive = _tied_scores("consecutive")  # the portal's list of one province's units
    assert consecutive.loc[["X09", "X01", "X02", "X03"], "rank"].tolist() == [1, 2, 3, 4]
    assert consecutive.loc["X01", "total_points"] == consecutive.loc["X03", "total_points"]
    shared = _tied_scores("shared")  # across provinces: ties share the best rank
    assert shared.loc[["X09", "X01", "X02", "X03"], "rank"].tolist() == [1, 2, 2, 2]
    assert load_builtin("qd766").ranking.ties == "consecutive"
    assert load_builtin("egdi").ranking.ties == "shared"


def test_an_unknown_tie_rule_is_refused():
    raw = yaml.safe_load((FRAMEWORKS_DIR / "qd766.yaml").read_text(encoding="utf-8"))
    raw["ranking"]["ties"] = "random"
    with pytest.raises(FrameworkError, match=r"qd766_bad.yaml: ranking.ties: 'random' is not one of"):
        build_framework(raw, "qd766_bad.yaml")


def test_the_formula_text_variant_differs_only_in_clgq():
    """The formula text's two-part reading of CLGQ is kept as a documented variant file."""
    base = load_builtin("qd766")
    variant = load_framework(FRAMEWORKS_DIR / "variants" / "qd766_clgq_two_part.yaml")
    assert "qd766_clgq_two_part" not in {p.stem for p in FRAMEWORKS_DIR.glob("*.yaml")}  # not a built-in

    def others(fw):
        return [(n.id, n.kpi, n.rule, dict(n.params), n.max_points, n.zero_denominator)
                for n in fw.nodes() if n.id != "CLGQ" and n.parent_id != "CLGQ"]

    assert others(variant) == others(base)
    assert (variant.zero_denominator, variant.ranking, variant.total_points) == (
        base.zero_denominator, base.ranking, base.total_points)
    parts = [(n.kpi, n.rule, n.params["threshold"], n.max_points) for n in variant.node("CLGQ").children]
    assert parts == [("online_service_rate", "goalpost", 0.8, 6), ("online_dossier_rate", "goalpost", 0.5, 6)]
    data = pd.DataFrame([("A", "online_service_rate", 0.6), ("A", "online_dossier_rate", 0.25)],
                        columns=["agency_code", "kpi_code", "value"])
    pts = score(variant, data).scores.set_index("node_id")["points"]
    assert (pts["CLGQ.1"], pts["CLGQ.2"], pts["CLGQ"]) == (4.5, 3.0, 7.5)
    combined = pd.DataFrame([("A", "online_service_combined_rate", 0.5392)],
                            columns=["agency_code", "kpi_code", "value"])
    assert score(base, combined).scores.set_index("node_id").loc["CLGQ", "points"] == 6.47
    assert np.isclose(variant.node("CLGQ").max_points, base.node("CLGQ").max_points)
