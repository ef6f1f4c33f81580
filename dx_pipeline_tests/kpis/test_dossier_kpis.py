"""The qd766 dossier definitions, one edge at a time, on hand-made dossiers (2025-Q1)."""

import duckdb
import pandas as pd
import pytest

from dx_pipeline.kpis.dossier_kpis import judged_dossiers_sql, portal_kpis
from dx_pipeline.reference import schemas
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.storage import write_partition

from .conftest import dossier_table

Q1 = Quarter.parse("2025-Q1")

# (case, dossier fields, expected on_time: True / False / None (not judged this quarter))
EDGES = [
    (
        "due today, finished in the afternoon",
        dict(received_at="2025-03-01T08:00", due_at="2025-03-10T00:00", finished_at="2025-03-10T16:00"),
        True,
    ),
    (
        "one day late",
        dict(received_at="2025-03-01T08:00", due_at="2025-03-10T17:00", finished_at="2025-03-11T09:00"),
        False,
    ),
    (
        "supplement time not counted",
        dict(
            received_at="2025-03-01T08:00",
            due_at="2025-03-10T17:00",
            finished_at="2025-03-13T09:00",
            supplement_requests=1,
            supplement_days=4.0,
        ),
        True,
    ),
    (
        "supplement time too short to save it",
        dict(
            received_at="2025-03-01T08:00",
            due_at="2025-03-10T17:00",
            finished_at="2025-03-13T09:00",
            supplement_requests=1,
            supplement_days=1.0,
        ),
        False,
    ),
    (
        "reopened: more than one supplement request is late",
        dict(
            received_at="2025-03-01T08:00",
            due_at="2025-03-10T17:00",
            finished_at="2025-03-05T09:00",
            supplement_requests=2,
            supplement_days=1.0,
        ),
        False,
    ),
    (
        "in supplement at quarter end, not yet due",
        dict(
            received_at="2025-03-20T08:00",
            due_at="2025-04-02T17:00",
            status="supplement",
            supplement_requests=1,
            supplement_days=3.0,
        ),
        True,
    ),
    (
        "open at quarter end, due after it",
        dict(received_at="2025-03-25T08:00", due_at="2025-04-05T17:00", status="processing"),
        True,
    ),
    (
        "open at quarter end, due on its last day",
        dict(received_at="2025-03-25T08:00", due_at="2025-03-31T17:00", status="processing"),
        True,
    ),
    (
        "open at quarter end, past due",
        dict(received_at="2025-03-01T08:00", due_at="2025-03-20T17:00", status="processing"),
        False,
    ),
    (
        "finished after the quarter: judged at its end, past due",
        dict(received_at="2025-03-01T08:00", due_at="2025-03-20T17:00", finished_at="2025-04-02T10:00"),
        False,
    ),
    (
        "finished after the quarter: judged at its end, not yet due",
        dict(received_at="2025-03-25T08:00", due_at="2025-04-10T17:00", finished_at="2025-04-02T10:00"),
        True,
    ),
    (
        "no due date: statutory time met",
        dict(received_at="2025-03-01T08:00", finished_at="2025-03-05T08:00", statutory_days=5.0),
        True,
    ),
    (
        "no due date: statutory time exceeded",
        dict(received_at="2025-03-01T08:00", finished_at="2025-03-08T08:00", statutory_days=5.0),
        False,
    ),
    (
        "no due date: statutory less supplement days",
        dict(
            received_at="2025-03-01T08:00",
            finished_at="2025-03-08T08:00",
            statutory_days=5.0,
            supplement_requests=1,
            supplement_days=3.0,
        ),
        True,
    ),
    (
        "status priority: finished before returned",
        dict(
            received_at="2025-03-01T08:00",
            due_at="2025-03-10T17:00",
            finished_at="2025-03-12T08:00",
            returned_at="2025-03-09T08:00",
        ),
        False,
    ),
    (
        "status priority: returned before stopped",
        dict(
            received_at="2025-03-01T08:00",
            due_at="2025-03-10T17:00",
            returned_at="2025-03-09T08:00",
            stopped_at="2025-03-20T08:00",
            status="returned",
        ),
        True,
    ),
    (
        "stopped counts as the end when nothing else",
        dict(
            received_at="2025-03-01T08:00",
            due_at="2025-03-10T17:00",
            stopped_at="2025-03-15T08:00",
            status="stopped",
        ),
        False,
    ),
    (
        "withdrawn is not judged",
        dict(received_at="2025-03-01T08:00", due_at="2025-03-10T17:00", status="withdrawn"),
        None,
    ),
    (
        "carried over from Q4, still open, past due",
        dict(received_at="2024-12-20T08:00", due_at="2025-01-10T17:00", status="processing"),
        False,
    ),
    (
        "carried over from Q4 and ended in Q4",
        dict(received_at="2024-12-02T08:00", due_at="2024-12-10T17:00", finished_at="2024-12-09T08:00"),
        None,
    ),
]


def judged(rows):
    con = duckdb.connect()
    con.register("d", dossier_table(rows))
    out = con.execute(
        f"SELECT dossier_id, judged, on_time FROM ({judged_dossiers_sql('d', Q1)}) ORDER BY dossier_id"
    ).fetchall()
    return {d: (j, o) for d, j, o in out}


@pytest.mark.parametrize("case, fields, expected", EDGES, ids=[e[0] for e in EDGES])
def test_on_time_edges(case, fields, expected):
    (is_judged, on_time), = judged([fields]).values()
    if expected is None:
        assert not is_judged
    else:
        assert is_judged and on_time is expected


def test_quarter_kpis_with_numerators_and_denominators(home, write_dossiers):
    # the quarter's own export carries the dossiers still open from Q4 (with their history)
    q1 = [EDGES[-2][1], EDGES[-1][1]] + [e[1] for e in EDGES[:-2]] + [
        # fee-bearing: paid online, not paid, and a zero fee that must not count
        dict(
            received_at="2025-02-01T08:00",
            due_at="2025-02-10T08:00",
            finished_at="2025-02-03T08:00",
            fee_required=True,
            fee_amount=50000,
            paid_online=True,
            payment_channel=1,
            channel=2,
            procedure_code="P2",
            input_digitized=True,
            result_digitized=True,
            rating=3,
        ),
        dict(
            received_at="2025-02-01T08:00",
            due_at="2025-02-10T08:00",
            finished_at="2025-02-05T08:00",
            fee_required=True,
            fee_amount=20000,
            procedure_code="P3",
            complaint=True,
        ),
        dict(
            received_at="2025-02-01T08:00",
            due_at="2025-02-10T08:00",
            finished_at="2025-02-03T08:00",
            fee_required=True,
            fee_amount=0,
            channel=2,
            rating=1,
        ),
    ]
    write_dossiers("2025-Q1", q1)
    k = portal_kpis(home, "2025-Q1").set_index("kpi_code")
    received = len(q1) - 2  # the two carried over from Q4 were not received in Q1
    assert k.loc["dossiers_received", "value"] == received
    # judged: Q1 dossiers except the withdrawn one, plus the open carry-over
    expected_on_time = sum(1 for e in EDGES[:-2] if e[2]) + 3
    expected_judged = sum(1 for e in EDGES[:-2] if e[2] is not None) + 3 + 1
    assert k.loc["on_time_rate", "denominator"] == expected_judged
    assert k.loc["on_time_rate", "numerator"] == expected_on_time
    assert k.loc["overdue_rate", "numerator"] == expected_judged - expected_on_time
    assert k.loc["online_payment_rate", ["numerator", "denominator"]].tolist() == [1, 2]
    assert k.loc["payment_transaction_procedure_rate", ["numerator", "denominator"]].tolist() == [1, 2]
    assert k.loc["online_dossier_rate", ["numerator", "denominator"]].tolist() == [2, received]
    assert k.loc["dossier_digitised_rate", "numerator"] == 1
    # satisfaction = judged - overdue - (complaint or not satisfied)
    sat = k.loc["dossier_satisfaction_rate"]
    assert sat["numerator"] == expected_judged - (expected_judged - expected_on_time) - 2
    assert sat["value"] == pytest.approx(sat["numerator"] / expected_judged)


def test_a_quarter_reads_its_own_export_only(home, write_dossiers):
    """Issue 14: earlier partitions hold dossiers as they stood at *their* export; reading them
    judged a dossier open back then as open until this quarter's end, and the KPIs changed with
    whichever earlier quarters happened to be loaded. The quarter's KPIs are the same with or
    without an earlier partition beside them."""
    write_dossiers("2025-Q1", [e[1] for e in EDGES[:-2]])
    alone = portal_kpis(home, "2025-Q1")
    assert alone.loc[alone["kpi_code"] == "on_time_rate", "denominator"].item() > 0
    # 2024-Q4 as exported then: one dossier still open at that export, long past due by now
    write_dossiers("2024-Q4", [EDGES[-2][1] | dict(received_at="2024-11-20T08:00"), EDGES[-1][1]])
    write_dossiers("2025-Q2", [dict(received_at="2025-04-01T08:00", status="processing")])
    beside = portal_kpis(home, "2025-Q1")
    pd.testing.assert_frame_equal(alone, beside)


def test_average_processing_days_excludes_supplement_and_open(home, write_dossiers):
    write_dossiers(
        "2025-Q1",
        [
            dict(received_at="2025-03-01T00:00", finished_at="2025-03-05T00:00"),  # 4 days
            dict(
                received_at="2025-03-01T00:00",
                finished_at="2025-03-11T00:00",
                supplement_days=2.0,
                supplement_requests=1,
            ),  # 8
            dict(received_at="2025-03-01T00:00", status="processing"),  # open: not counted
        ],
    )
    k = portal_kpis(home, "2025-Q1").set_index("kpi_code")
    assert k.loc["avg_processing_days", ["numerator", "denominator", "value"]].tolist() == [12, 2, 6]


def test_missing_field_is_missing_not_zero(home, write_dossiers):
    table = dossier_table(
        [dict(received_at="2025-03-01T08:00", finished_at="2025-03-02T08:00", due_at="2025-03-05T08:00")]
    )
    table = table.set_column(table.schema.get_field_index("citizen_data_used"), "citizen_data_used",
                             __import__("pyarrow").nulls(1, __import__("pyarrow").bool_()))
    write_partition(home, "portal_dossiers", "2025-Q1", table)
    codes = set(portal_kpis(home, "2025-Q1")["kpi_code"])
    assert "population_data_rate" not in codes
    assert "on_time_rate" in codes


def test_procedure_kpis(home, write_dossiers):
    import pyarrow as pa

    write_dossiers("2025-Q1", [dict(received_at="2025-03-01T08:00", procedure_code="P1")])
    blank = dict.fromkeys(schemas.PROCEDURES.names)  # every contract column, unset
    procs = pa.Table.from_pylist(
        [
            blank | row
            for row in [
            dict(
                procedure_code="P1",
                agency_code="SO_A",
                service_level="full",
                full_online_eligible=True,
                fee_required=True,
                payment_integrated=True,
                portal_integrated=True,
                mobile_ready=True,
                published_on_time=True,
            ),
            dict(
                procedure_code="P2",
                agency_code="SO_A",
                service_level="partial",
                full_online_eligible=True,
                fee_required=True,
                payment_integrated=False,
                portal_integrated=False,
                mobile_ready=False,
                published_on_time=False,
            ),
            dict(
                procedure_code="P3",
                agency_code="SO_A",
                service_level="none",
                full_online_eligible=False,
                fee_required=False,
                payment_integrated=False,
                portal_integrated=False,
                mobile_ready=False,
                published_on_time=True,
            ),
            ]
        ]
    )
    write_partition(home, "procedures", "2025-Q1", procs)
    k = portal_kpis(home, "2025-Q1").set_index("kpi_code")
    pairs = lambda code: k.loc[code, ["numerator", "denominator"]].tolist()  # noqa: E731
    assert pairs("full_online_service_rate") == [1, 2]
    assert pairs("online_service_rate") == [2, 3]
    assert pairs("mobile_service_rate") == [1, 1]
    assert pairs("portal_integrated_rate") == [1, 2]
    assert pairs("payment_integrated_rate") == [1, 2]
    assert pairs("procedures_published_on_time_rate") == [2, 3]
    assert pairs("fee_procedure_with_dossiers_rate") == [1, 2]


def test_a_duplicated_dossier_counts_once_and_the_latest_update_wins(home, write_dossiers):
    first = dict(dossier_id="G1", received_at="2025-02-01T08:00", due_at="2025-02-10T08:00",
                 finished_at=None, status="processing", updated_at="2025-02-02T08:00")
    later = dict(first, finished_at="2025-02-05T08:00", status="finished", updated_at="2025-02-05T09:00")
    write_dossiers("2025-Q1", [first, later, dict(later)])
    k = portal_kpis(home, "2025-Q1").set_index("kpi_code")
    assert k.loc["dossiers_received", "value"] == 1
    assert k.loc["on_time_rate", ["numerator", "denominator"]].tolist() == [1, 1]


def test_dedupe_keeps_unique_ids_and_picks_one_row_per_repeated_id():
    """Ids seen once stream through; repeated ids go through the window: the latest update
    wins, an unknown update time loses, a full tie goes to the first agency code."""
    base = dict(received_at="2025-02-01T08:00", due_at="2025-02-10T08:00", status="processing")
    rows = [
        dict(base, dossier_id="U1"),
        dict(base, dossier_id="U2", updated_at=None),
        dict(base, dossier_id="R1", updated_at="2025-02-02T08:00", agency_code="OLD"),
        dict(base, dossier_id="R1", updated_at="2025-02-05T08:00", agency_code="NEW"),
        dict(base, dossier_id="R1", updated_at=None, agency_code="NONE"),
        dict(base, dossier_id="R2", updated_at="2025-02-03T08:00", agency_code="B"),
        dict(base, dossier_id="R2", updated_at="2025-02-03T08:00", agency_code="A"),
        dict(base, dossier_id="R3", updated_at=None, agency_code="B"),
        dict(base, dossier_id="R3", updated_at=None, agency_code="A"),
        dict(base, dossier_id="LATE", received_at="2025-04-02T08:00"),  # after the quarter: dropped
    ]
    con = duckdb.connect()
    con.register("d", dossier_table(rows))
    out = con.execute(
        f"SELECT dossier_id, agency_code FROM ({judged_dossiers_sql('d', Q1)}) ORDER BY dossier_id"
    ).fetchall()
    assert out == [("R1", "NEW"), ("R2", "A"), ("R3", "A"), ("U1", "SO_A"), ("U2", "SO_A")]


def test_authentication_personal_store_and_certified_copies(home, write_dossiers):
    done = dict(received_at="2025-02-03T08:00", due_at="2025-02-10T17:00",
                finished_at="2025-02-05T08:00")
    write_dossiers("2025-Q1", [
        dict(done, vneid_authenticated=True, personal_store_component=True, personal_store_result=False),
        dict(done, vneid_authenticated=True, personal_store_component=False, personal_store_result=True),
        dict(done, vneid_authenticated=False, personal_store_component=False, personal_store_result=False),
        # the store flags unknown for this one: it still counts as received, not as shared
        dict(done, vneid_authenticated=False, certified_copy=True, certified_copy_electronic=True),
        dict(done, certified_copy=True, certified_copy_electronic=False),
        dict(done, certified_copy=False, certified_copy_electronic=False),
    ])
    k = portal_kpis(home, "2025-Q1").set_index("kpi_code")
    pairs = lambda code: k.loc[code, ["numerator", "denominator"]].tolist()  # noqa: E731
    # authenticated over every dossier received whose flag is known (4 of 6)
    assert pairs("e_authenticated_rate") == [2, 4]
    # a component from the store or a result into it, over the dossiers received (portal's denominator)
    assert pairs("personal_store_shared_rate") == [2, 3]
    # electronic copies over certified-copy requests
    assert pairs("e_certified_copy_rate") == [1, 2]


def test_nothing_to_certify_is_zero_denominator_but_no_field_is_missing(home, write_dossiers):
    done = dict(received_at="2025-02-03T08:00", due_at="2025-02-10T17:00",
                finished_at="2025-02-05T08:00")
    write_dossiers("2025-Q1", [
        dict(done, agency_code="SO_A", certified_copy=False),
        dict(done, agency_code="SO_B"),  # the export carries no certification field for it
    ])
    k = portal_kpis(home, "2025-Q1").set_index(["agency_code", "kpi_code"])
    assert k.loc[("SO_A", "e_certified_copy_rate"), "denominator"] == 0
    assert k.loc[("SO_A", "e_certified_copy_rate"), "flags"] == "zero_denominator"
    assert ("SO_B", "e_certified_copy_rate") not in k.index
    assert ("SO_B", "e_authenticated_rate") not in k.index  # no VNeID flag either


PETITION = dict(received_at="2025-01-06T08:00", due_at="2025-01-20T17:00",
                finished_at="2025-01-10T08:00", complaint=True)


def _petition(received, due, answered=None, rating=None):
    return dict(petition_received_at=received, petition_due_at=due, petition_answered_at=answered,
                petition_rating=rating)


# (case, petition fields, judged in Q1, on time, received in Q1)
PETITIONS = [
    ("answered before due",
     _petition("2025-02-03T09:00", "2025-02-24T17:00", "2025-02-20T10:00", 2), True, True, True),
    ("answered on the due day",
     _petition("2025-02-03T09:00", "2025-02-24T17:00", "2025-02-24T20:00"), True, True, True),
    ("answered late, rated satisfied",
     _petition("2025-02-03T09:00", "2025-02-24T17:00", "2025-02-27T10:00", 3), True, False, True),
    ("on time but not satisfied",
     _petition("2025-03-03T09:00", "2025-03-24T17:00", "2025-03-10T10:00", 1), True, True, True),
    ("open at quarter end, past due",
     _petition("2025-03-03T09:00", "2025-03-24T17:00"), True, False, True),
    ("open at quarter end, not yet due",
     _petition("2025-03-24T09:00", "2025-04-14T17:00"), True, True, True),
    ("answered after the quarter: judged at its end",
     _petition("2025-03-24T09:00", "2025-04-14T17:00", "2025-04-10T10:00"), True, True, True),
    ("received in Q4, answered in Q1 late",
     _petition("2024-12-20T09:00", "2025-01-13T17:00", "2025-01-15T10:00"), True, False, False),
    ("received and answered in Q4",
     _petition("2024-12-02T09:00", "2024-12-23T17:00", "2024-12-10T10:00"), False, None, False),
    ("received after the quarter",
     _petition("2025-04-02T09:00", "2025-04-23T17:00"), False, None, False),
]


def test_petition_edges():
    con = duckdb.connect()
    rows = [dict(PETITION, **fields) for _, fields, *_ in PETITIONS]
    con.register("d", dossier_table(rows))
    out = con.execute(
        "SELECT dossier_id, coalesce(petition_judged, FALSE), petition_on_time, "
        f"coalesce(petition_in_period, FALSE) FROM ({judged_dossiers_sql('d', Q1)}) ORDER BY dossier_id"
    ).fetchall()
    got = {d: (j, o, r) for d, j, o, r in out}
    for i, (case, _, is_judged, on_time, in_period) in enumerate(PETITIONS):
        j, o, r = got[f"D{i}"]
        assert (j, r) == (is_judged, in_period), case
        if is_judged:
            assert o is on_time, case


def test_petition_kpis_follow_the_portal_formulas(home, write_dossiers):
    write_dossiers("2025-Q1", [dict(PETITION, **fields) for _, fields, *_ in PETITIONS]
                   + [dict(PETITION, complaint=False)])  # a dossier without a petition changes nothing
    k = portal_kpis(home, "2025-Q1").set_index("kpi_code")
    judged = [p for p in PETITIONS if p[2]]
    assert k.loc["petition_on_time_rate", ["numerator", "denominator"]].tolist() == [
        sum(1 for p in judged if p[3]), len(judged)]
    received = [p for p in PETITIONS if p[4]]
    unhappy_or_late = [p for p in received if p[1].get("petition_rating") == 1 or not p[3]]
    assert k.loc["petition_satisfaction_rate", ["numerator", "denominator"]].tolist() == [
        len(received) - len(unhappy_or_late), len(received)]


def test_petitions_without_their_dates_are_missing_and_no_petition_is_nothing_to_judge(home, write_dossiers):
    done = dict(received_at="2025-02-03T08:00", due_at="2025-02-10T17:00",
                finished_at="2025-02-05T08:00")
    write_dossiers("2025-Q1", [
        dict(done, agency_code="SO_A", complaint=True),  # a complaint, but the export has no PAKN dates
        dict(done, agency_code="SO_B", complaint=False),  # no petition at all
    ])
    k = portal_kpis(home, "2025-Q1").set_index(["agency_code", "kpi_code"])
    assert ("SO_A", "petition_on_time_rate") not in k.index
    assert ("SO_A", "petition_satisfaction_rate") not in k.index
    assert k.loc[("SO_B", "petition_on_time_rate"), ["numerator", "denominator"]].tolist() == [0, 0]
    assert k.loc[("SO_B", "petition_satisfaction_rate"), "flags"] == "zero_denominator"


def test_dossiers_handled_electronically_and_inter_agency_exchange(home, write_dossiers):
    done = dict(received_at="2025-02-03T08:00", due_at="2025-02-10T17:00",
                finished_at="2025-02-05T08:00")
    write_dossiers("2025-Q1", [
        dict(done, channel=2, input_digitized=False, inter_agency=True, inter_agency_online=True),
        dict(done, channel=1, input_digitized=True, inter_agency=True, inter_agency_online=False),
        dict(done, channel=1, input_digitized=False, inter_agency=False),
        dict(done, channel=3, input_digitized=False, inter_agency=False),
    ])
    k = portal_kpis(home, "2025-Q1").set_index("kpi_code")
    pairs = lambda code: k.loc[code, ["numerator", "denominator"]].tolist()  # noqa: E731
    # online, or digitised at the counter: electronic either way; not the same as submitted online
    assert pairs("dossier_handled_online_rate") == [2, 4]
    assert pairs("online_dossier_rate") == [1, 4]
    assert pairs("interagency_online_rate") == [1, 2]
