"""A quarter's inbox as it really arrives: late, resubmitted, mis-encoded and malformed files."""

import datetime as dt

import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa

from dx_pipeline.reference import schemas
from dx_pipeline.sources.reporting_db import load_mapping
from dx_pipeline.sources.submission_versions import deadline, submission_time
from dx_pipeline.sources.submissions import ingest_submissions
from dx_pipeline.storage import DxHome, write_partition
from dx_pipeline_tests.sources.test_reporting_db import make_table
from dx_pipeline_tests.sources.test_submission_readers import (
    CSV_HEADERS,
    REGISTRY,
    touch,
    write_csv,
    write_xlsx,
)

Q = "2025-Q2"


def row(n, code, value=None, num=None, den=None, evidence=None):
    return [n, code, "", "", num, den, value, evidence]


@pytest.fixture()
def inbox(tmp_path):
    home = DxHome(tmp_path / "home")
    folder = home.inbox_for(Q)
    (folder / "so_yte").mkdir(parents=True)
    # first submission, on time
    write_xlsx(folder / "so_yte" / "bao_cao_q2.xlsx",
               [row(1, "work_records_online_rate", num=70, den=100),
                row(2, "it_staff_qualified", "Không"),
                row(3, "ipv6_ready", "Có")],
               report_date="10/07/2025", when=dt.datetime(2025, 7, 10, 8, 0))
    # resubmission after the deadline: corrects two indicators only
    write_xlsx(folder / "so_yte" / "bao_cao_q2_sua.xlsx",
               [row(1, "work_records_online_rate", num=80, den=100),
                row(2, "it_staff_qualified", "Có")],
               report_date="20/07/2025", when=dt.datetime(2025, 7, 20, 16, 45))
    # cp1258 CSV with ';' and Vietnamese numbers
    write_csv(
        folder / "so_khcn.csv",
        [
            CSV_HEADERS,
            [
                "SO_KHCN",
                Q,
                "14/07/2025",
                "1",
                "e_document_exchange_rate",
                "Tỷ lệ văn bản điện tử",
                "%",
                "",
                "",
                "85,5 %",
                "",
            ],
            [
                "SO_KHCN",
                Q,
                "14/07/2025",
                "2",
                "dx_plan_issued",
                "Kế hoạch",
                "",
                "",
                "",
                "Có",
                "Kế hoạch 7/KH-SKHCN ngày 3/1/2025",
            ],
            ["SO_KHCN", Q, "14/07/2025", "3", "staff_digital_trained_rate", "", "%", "", "", "tám mươi", ""],
        ],
        encoding="cp1258",
    )
    # malformed: truncated workbook, empty file, Excel lock file (ignored)
    good = (folder / "so_yte" / "bao_cao_q2.xlsx").read_bytes()
    (folder / "hong.xlsx").write_bytes(good[:700])
    touch(folder / "hong.xlsx")
    (folder / "trong.csv").write_bytes(b"")
    touch(folder / "trong.csv")
    (folder / "~$bao_cao.xlsx").write_bytes(b"lock")
    # an agency merged before the quarter
    write_xlsx(folder / "so_tttt.xlsx", [row(1, "ipv6_ready", "Có")], agency_code="SO_TTTT")
    # a file of another quarter
    write_xlsx(folder / "nham_quy.xlsx", [row(1, "ipv6_ready", "Có")], quarter="2025-Q1")
    return home


def test_ingest_inbox_keeps_every_good_row_and_every_reject(inbox):
    result = ingest_submissions(inbox, Q, REGISTRY)
    acc = result.accepted
    assert list(acc.columns) == schemas.AGENCY_SUBMISSIONS.names
    assert len(acc) == 7  # 3 + 2 + 2 good rows
    yte = acc[acc["agency_code"] == "SO_YTE"].set_index(["indicator_code", "version"])
    # the resubmission supersedes only the indicators it covers
    assert yte.loc[("work_records_online_rate", 1), "value"] == pytest.approx(0.7)
    assert not yte.loc[("work_records_online_rate", 1), "is_effective"]
    assert yte.loc[("work_records_online_rate", 2), "value"] == pytest.approx(0.8)
    assert yte.loc[("work_records_online_rate", 2), "is_effective"]
    assert yte.loc[("ipv6_ready", 1), "is_effective"]
    assert yte.loc[("it_staff_qualified", 2), "value"] == 1.0
    # lateness: deadline 15 days after 30/06 = 15/07
    assert not yte.loc[("work_records_online_rate", 1), "is_late"]
    assert yte.loc[("work_records_online_rate", 2), "is_late"]
    assert yte.loc[("work_records_online_rate", 2), "submitted_at"] == pd.Timestamp("2025-07-20 16:45")
    khcn = acc[acc["agency_code"] == "SO_KHCN"].set_index("indicator_code")
    assert khcn.loc["e_document_exchange_rate", "value"] == pytest.approx(0.855)
    assert khcn.loc["dx_plan_issued", "evidence_ref"] == "Kế hoạch 7/KH-SKHCN ngày 3/1/2025"
    assert not khcn["is_late"].any()
    # deterministic order
    assert acc[["agency_code", "indicator_code", "version"]].values.tolist() == sorted(
        acc[["agency_code", "indicator_code", "version"]].values.tolist()
    )
    rej = result.rejects
    assert list(rej.columns)[: len(schemas.SUBMISSION_REJECTS.names)] == schemas.SUBMISSION_REJECTS.names
    by_file = {f: g for f, g in rej.groupby("file")}
    assert set(by_file) == {"2025-Q2/hong.xlsx", "2025-Q2/trong.csv", "2025-Q2/so_tttt.xlsx",
                            "2025-Q2/nham_quy.xlsx", "2025-Q2/so_khcn.csv"}
    assert "damaged" in by_file["2025-Q2/hong.xlsx"]["reason"].iloc[0]
    assert by_file["2025-Q2/trong.csv"]["reason"].iloc[0] == "the file is empty"
    assert "successor SO_KHCN" in by_file["2025-Q2/so_tttt.xlsx"]["reason"].iloc[0]
    assert "reports period 2025-Q1" in by_file["2025-Q2/nham_quy.xlsx"]["reason"].iloc[0]
    bad = by_file["2025-Q2/so_khcn.csv"].iloc[0]
    assert (bad["row"], bad["field"], bad["value"]) == (4, "GiaTri", "tám mươi")
    assert bad["source_ref"] == "2025-Q2/so_khcn.csv row 4"
    assert rej["reason"].notna().all()
    # files: every file but the lock file, with its checksum and rows read
    names = [p.name for p, _, _ in result.files]
    assert "~$bao_cao.xlsx" not in names and len(names) == 7
    assert all(len(sha) == 64 for _, sha, _ in result.files)
    # both tables store under their contracts
    write_partition(inbox, "agency_submissions", Q, acc)
    write_partition(inbox, "submission_rejects", Q, rej)
    schemas.conform("agency_submissions", pa.Table.from_pandas(acc.assign(quarter=Q), preserve_index=False))


def test_ingest_is_deterministic_and_deadline_configurable(inbox):
    a = ingest_submissions(inbox, Q, REGISTRY)
    b = ingest_submissions(inbox, Q, REGISTRY, deadline_days=30)
    pd.testing.assert_frame_equal(a.accepted.drop(columns="is_late"), b.accepted.drop(columns="is_late"))
    pd.testing.assert_frame_equal(a.rejects, ingest_submissions(inbox, Q, REGISTRY).rejects)
    assert a.accepted["is_late"].sum() == 2 and b.accepted["is_late"].sum() == 0


def test_inbox_and_reporting_db_together(inbox, tmp_path):
    url = f"sqlite:///{tmp_path / 'reporting.db'}"
    engine = sa.create_engine(url)
    make_table(engine, load_mapping())
    engine.dispose()
    result = ingest_submissions(inbox, Q, REGISTRY, reporting_db_url=url)
    acc = result.accepted
    assert set(acc["source"]) == {"inbox", "reporting_db"}
    # SO_YTE work records: DB 08/07 09:00 (v1), inbox 10/07 (v2), inbox 20/07 (v3, effective)
    wr = acc[(acc["agency_code"] == "SO_YTE") & (acc["indicator_code"] == "work_records_online_rate")]
    assert wr["source"].tolist() == ["reporting_db", "inbox", "inbox"]
    assert wr["version"].tolist() == [1, 2, 3]
    assert wr["is_effective"].tolist() == [False, False, True]
    assert (result.rejects["source"] == "reporting_db").sum() == 4
    assert result.db_rows == 7


def test_submission_time_rule_and_deadline():
    arrived = dt.datetime(2025, 7, 10, 14, 30)
    assert submission_time(dt.date(2025, 7, 10), arrived) == arrived
    assert submission_time(dt.date(2025, 7, 8), arrived) == dt.datetime(2025, 7, 8)
    assert submission_time(None, arrived) == arrived
    assert deadline(Q) == dt.date(2025, 7, 15)
    assert deadline("2025-Q4", 10) == dt.date(2026, 1, 10)


def test_empty_quarter(tmp_path):
    result = ingest_submissions(DxHome(tmp_path), Q, REGISTRY)
    assert result.accepted.empty and result.rejects.empty and result.files == []
    assert list(result.accepted.columns) == schemas.AGENCY_SUBMISSIONS.names
