"""Half-year and annual periods: labels, and quarters' KPIs combined as the catalogue says."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from dx_pipeline.kpis.periods import combine_quarters
from dx_pipeline.reference.quarters import Period


def test_period_labels():
    h1 = Period.parse("2025-H1")
    assert (h1.kind, h1.folder) == ("half", "period=2025-H1")
    assert [q.label for q in h1.quarters] == ["2025-Q1", "2025-Q2"]
    assert h1.previous.label == "2024-H2" and Period.parse("2025-H2").previous.label == "2025-H1"
    year = Period.parse("2025")
    assert year.kind == "year" and len(year.quarters) == 4 and year.previous.label == "2024"
    q = Period.parse("2025-04")
    assert (q.kind, q.label, q.folder) == ("quarter", "2025-Q2", "quarter=2025-Q2")
    assert Period.parse("2025-Q1").previous.label == "2024-Q4"
    assert h1.title_vi == "6 tháng đầu năm 2025" and year.title_en == "Year 2025"
    with pytest.raises(ValueError, match="not a publication period: '2025-H3'"):
        Period.parse("2025-H3")


def _row(q, agency, kpi, num=None, den=None, value=None, target=None, flags=None):
    if value is None and num is not None and den:
        value = num / den
    elif value is None and num is not None:
        value = num
    return dict(quarter=q, agency_code=agency, kpi_code=kpi, numerator=num, denominator=den,
                value=value, target=target, target_met=None, source="portal", flags=flags)


CATALOGUE = {
    "online_dossier_rate": {"aggregation": "ratio", "direction": "higher"},
    "overdue_rate": {"aggregation": "ratio", "direction": "lower"},
    "dossiers_received": {"aggregation": "sum", "direction": "higher"},
    "network_connected": {"aggregation": "latest", "direction": "higher"},
}


def _kpis():
    return pd.DataFrame(
        [
            _row("2025-Q1", "STC", "online_dossier_rate", 40, 100, target=0.5),
            _row("2025-Q2", "STC", "online_dossier_rate", 90, 300, target=0.5, flags="late"),
            _row("2025-Q1", "STC", "overdue_rate", 2, 100, target=0.05),
            _row("2025-Q2", "STC", "overdue_rate", 10, 100, target=0.05),
            _row("2025-Q1", "STC", "dossiers_received", 100),
            _row("2025-Q2", "STC", "dossiers_received", 150),
            _row("2025-Q1", "STC", "network_connected", value=1.0),
            _row("2025-Q2", "STC", "network_connected", value=0.0),
            _row("2025-Q1", "SYT", "network_connected", value=1.0),
            _row("2025-Q2", "SYT", "network_connected", value=None),
            _row("2025-Q1", "XTANTHANH", "online_dossier_rate", 5, 10, target=0.4),
        ]
    )


def test_ratios_sum_parts_stocks_take_the_latest_flows_sum():
    out = combine_quarters(_kpis(), CATALOGUE).set_index(["agency_code", "kpi_code"])
    r = out.loc[("STC", "online_dossier_rate")]
    assert (r["numerator"], r["denominator"]) == (130.0, 400.0)
    assert r["value"] == pytest.approx(0.325)  # not the mean of 0.4 and 0.3
    assert not r["target_met"] and r["target"] == 0.5 and r["flags"] == "late"
    assert r["period"] == "2025-H1" and r["quarters"] == 2 and r["aggregation"] == "ratio"
    assert out.loc[("STC", "overdue_rate"), "value"] == pytest.approx(0.06)
    assert not out.loc[("STC", "overdue_rate"), "target_met"]  # lower is better, 6 % > 5 %
    assert out.loc[("STC", "dossiers_received"), "value"] == 250
    assert out.loc[("STC", "network_connected"), "value"] == 0.0
    assert out.loc[("SYT", "network_connected"), "value"] == 1.0  # latest known value
    x = out.loc[("XTANTHANH", "online_dossier_rate")]
    assert x["value"] == 0.5 and x["target_met"] and x["flags"] == "incomplete_period"
    assert len(out) == 6


def test_ratio_reported_without_parts_keeps_the_latest_value_and_says_so():
    df = pd.DataFrame(
        [
            _row("2025-Q3", "SXD", "online_dossier_rate", value=0.7),
            _row("2025-Q4", "SXD", "online_dossier_rate", value=0.8),
        ]
    )
    out = combine_quarters(df, CATALOGUE)
    assert out["period"].item() == "2025-H2"
    assert out["value"].item() == 0.8 and math.isnan(out["numerator"].item())
    assert out["flags"].item() == "ratio_without_parts_latest_value"


def test_real_catalogue_and_a_year():
    from dx_pipeline.reference.catalogue import load_catalogue

    rows = [_row(f"2025-Q{q}", "STC", "on_time_rate", 9 * q, 10 * q, target=0.95) for q in range(1, 5)]
    rows += [_row(f"2025-Q{q}", "STC", "ipv6_ready", value=float(q > 2)) for q in range(1, 5)]
    out = combine_quarters(pd.DataFrame(rows), load_catalogue(), period="2025").set_index("kpi_code")
    assert out.loc["on_time_rate", "value"] == pytest.approx(0.9)
    assert out.loc["on_time_rate", "denominator"] == 100
    assert out.loc["on_time_rate", "target_met"] == False  # noqa: E712 - pandas boolean
    assert out.loc["ipv6_ready", "value"] == 1.0 and out.loc["ipv6_ready", "aggregation"] == "latest"
    assert set(out["period"]) == {"2025"} and set(out["quarters"]) == {4}


def test_without_a_catalogue_denominators_mean_ratio():
    out = combine_quarters(_kpis(), None).set_index(["agency_code", "kpi_code"])
    assert out.loc[("STC", "online_dossier_rate"), "value"] == pytest.approx(0.325)
    assert out.loc[("STC", "network_connected"), "aggregation"] == "latest"
    assert pd.isna(out.loc[("STC", "online_dossier_rate"), "target_met"])  # no direction known


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="not in period 2025-H2"):
        combine_quarters(_kpis(), CATALOGUE, period="2025-H2")
    with pytest.raises(ValueError, match="span several years"):
        combine_quarters(
            pd.DataFrame([_row("2024-Q4", "STC", "x", value=1), _row("2025-Q1", "STC", "x", value=1)])
        )
    with pytest.raises(ValueError, match="dossiers_received: unknown aggregation 'median'"):
        combine_quarters(_kpis(), {**CATALOGUE, "dossiers_received": {"aggregation": "median"}})
    with pytest.raises(ValueError, match="need a 'quarter' column"):
        combine_quarters(_kpis().drop(columns=["quarter"]), CATALOGUE)
