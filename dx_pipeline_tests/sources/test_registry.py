import datetime as dt

import pandas as pd
import pyarrow as pa
import pytest

from dx_pipeline.reference import schemas
from dx_pipeline.reference.registry import (
    RegistryError,
    active_agencies,
    is_valid_in,
    is_valid_on,
    load_registry,
    restate_to_successors,
    successor_map,
    validity_problem,
)

HEADER = ",".join(schemas.AGENCIES.names)
ROWS = [
    "TINH,UBND tỉnh,Provincial People's Committee,province,province,,false,2020-01-01,,",
    "SO_TTTT,Sở Thông tin và Truyền thông,Dept of Information,department,department,TINH,true,"
    "2020-01-01,2025-02-28,SO_KHCN",
    "SO_KHCN,Sở Khoa học và Công nghệ,Dept of Science and Technology,department,department,TINH,true,"
    "2020-01-01,,",
    "HUYEN_A,UBND huyện A,District A,district,district,TINH,true,2020-01-01,2025-06-30,XA_MOI",
    "XA_MOI,UBND xã Mới,New commune,commune,commune,TINH,true,2025-07-01,,",
]


def write_csv(tmp_path, rows, name="agencies.csv"):
    p = tmp_path / name
    p.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return p


def test_load_csv_contract_columns_and_types(tmp_path):
    reg = load_registry(write_csv(tmp_path, ROWS))
    assert list(reg.columns) == schemas.AGENCIES.names
    assert len(reg) == 5
    row = reg.set_index("agency_code").loc["SO_TTTT"]
    assert row["valid_to"] == dt.date(2025, 2, 28)
    assert bool(row["provides_public_services"]) is True
    # conforms to the arrow contract
    table = schemas.conform("agencies", pa.Table.from_pandas(reg, preserve_index=False))
    assert table.schema.field("valid_from").type == pa.date32()


def test_load_yaml(tmp_path):
    p = tmp_path / "agencies.yaml"
    p.write_text(
        "agencies:\n"
        "  - {agency_code: TINH, name_vi: UBND tỉnh, name_en: Province, level: province,\n"
        "     peer_group: province, provides_public_services: false, valid_from: 2020-01-01}\n"
        "  - {agency_code: SO_A, name_vi: Sở A, name_en: Dept A, level: department,\n"
        "     peer_group: department, parent_code: TINH, provides_public_services: true,\n"
        "     valid_from: 2020-01-01}\n",
        encoding="utf-8",
    )
    reg = load_registry(p)
    assert reg["agency_code"].tolist() == ["SO_A", "TINH"]
    assert reg.loc[0, "parent_code"] == "TINH"


def test_validation_lists_every_problem_with_file_row_field(tmp_path):
    bad = ROWS + [
        "SO_KHCN,Dup,Dup,department,department,TINH,true,2020-01-01,,",  # duplicate, line 7
        "X1,Xã,Commune,ward,commune,NOPE,maybe,2025-13-01,,",  # line 8
        "X2,Xã 2,Commune 2,commune,commune,TINH,true,2025-05-01,2025-01-01,GHOST",  # line 9
    ]
    with pytest.raises(RegistryError) as err:
        load_registry(write_csv(tmp_path, bad))
    msg = str(err.value)
    assert "agencies.csv row 7 (agency_code=SO_KHCN): field agency_code: duplicate" in msg
    assert "row 8 (agency_code=X1): field level: 'ward'" in msg
    assert "row 8 (agency_code=X1): field parent_code: 'NOPE'" in msg
    assert "row 8 (agency_code=X1): field provides_public_services" in msg
    assert "row 8 (agency_code=X1): field valid_from: '2025-13-01' is not a date" in msg
    assert "row 9 (agency_code=X2): field valid_to" in msg
    assert "row 9 (agency_code=X2): field successor_code: 'GHOST'" in msg


def test_successor_loop_is_an_error(tmp_path):
    rows = [
        "A,A,A,department,d,,true,2020-01-01,2021-01-01,B",
        "B,B,B,department,d,,true,2020-01-01,2021-01-01,A",
    ]
    with pytest.raises(RegistryError, match="loops"):
        load_registry(write_csv(tmp_path, rows))


def test_validity_uses_the_quarters_last_day(tmp_path):
    reg = load_registry(write_csv(tmp_path, ROWS))
    # SO_TTTT ended 2025-02-28: valid in 2024-Q4, not in 2025-Q1 (merged mid-quarter)
    assert is_valid_in(reg, "SO_TTTT", "2024-Q4")
    assert not is_valid_in(reg, "SO_TTTT", "2025-Q1")
    assert is_valid_on(reg, "SO_TTTT", dt.date(2025, 2, 15))
    assert is_valid_in(reg, "HUYEN_A", "2025-Q2")
    assert not is_valid_in(reg, "HUYEN_A", "2025-Q3")
    assert not is_valid_in(reg, "XA_MOI", "2025-Q2")
    assert is_valid_in(reg, "XA_MOI", "2025-Q3")
    assert not is_valid_in(reg, "NOBODY", "2025-Q3")
    codes_q3 = set(active_agencies(reg, "2025-Q3")["agency_code"])
    assert codes_q3 == {"TINH", "SO_KHCN", "XA_MOI"}
    assert "successor SO_KHCN" in validity_problem(reg, "SO_TTTT", "2025-Q2")
    assert "not in the agency registry" in validity_problem(reg, "NOBODY", "2025-Q2")
    assert validity_problem(reg, "SO_KHCN", "2025-Q2") is None


def test_successor_map_follows_chains(tmp_path):
    rows = ROWS + ["OLD,Cũ,Old,department,department,TINH,true,2019-01-01,2019-12-31,SO_TTTT"]
    reg = load_registry(write_csv(tmp_path, rows))
    assert successor_map(reg) == {"OLD": "SO_KHCN", "SO_TTTT": "SO_KHCN", "HUYEN_A": "XA_MOI"}


def test_restate_ratios_as_ratio_of_sums(tmp_path):
    reg = load_registry(write_csv(tmp_path, ROWS))
    kpis = pd.DataFrame(
        {
            "quarter": ["2024-Q4"] * 4,
            "agency_code": ["SO_TTTT", "SO_KHCN", "SO_TTTT", "SO_KHCN"],
            "kpi_code": [
                "online_dossier_rate",
                "online_dossier_rate",
                "dossiers_received",
                "dossiers_received",
            ],
            "numerator": [90.0, 10.0, 100.0, 20.0],
            "denominator": [100.0, 100.0, None, None],
            "value": [0.9, 0.1, 100.0, 20.0],
            "target": [0.5, 0.5, None, None],
            "target_met": [True, False, None, None],
            "source": ["portal"] * 4,
            "flags": [None, "late", None, None],
        }
    )
    out = restate_to_successors(kpis, reg, "2025-Q3", units={"dossiers_received": "count"})
    assert out["agency_code"].tolist() == ["SO_KHCN", "SO_KHCN"]
    rate = out[out["kpi_code"] == "online_dossier_rate"].iloc[0]
    assert rate["numerator"] == 100.0 and rate["denominator"] == 200.0
    assert rate["value"] == pytest.approx(0.5)  # not the mean of 0.9 and 0.1 weighted equally by chance
    assert rate["restated_from"] == "SO_TTTT"
    assert "restated" in rate["flags"] and "late" in rate["flags"]
    count = out[out["kpi_code"] == "dossiers_received"].iloc[0]
    assert count["value"] == 120.0


def test_restate_unequal_denominators(tmp_path):
    reg = load_registry(write_csv(tmp_path, ROWS))
    kpis = pd.DataFrame(
        {
            "agency_code": ["SO_TTTT", "SO_KHCN", "TINH"],
            "kpi_code": ["r", "r", "r"],
            "numerator": [9.0, 1.0, 5.0],
            "denominator": [10.0, 90.0, 10.0],
            "value": [0.9, 1 / 90, 0.5],
        }
    )
    out = restate_to_successors(kpis, reg, "2025-Q3").set_index("agency_code")
    assert out.loc["SO_KHCN", "value"] == pytest.approx(10 / 100)
    assert out.loc["TINH", "value"] == 0.5
    assert pd.isna(out.loc["TINH", "restated_from"])
