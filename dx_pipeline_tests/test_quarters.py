import datetime as dt

import pytest

from dx_pipeline.reference.quarters import Quarter, quarter_range


def test_label_and_partition_key_round_trip():
    q = Quarter.parse("2024-Q3")
    assert q.partition_key == "2024-07"
    assert Quarter.parse("2024-07") == q
    assert Quarter.parse("2024-08-15") == q
    assert (q.start, q.end, q.last_day) == (
        dt.date(2024, 7, 1),
        dt.date(2024, 10, 1),
        dt.date(2024, 9, 30),
    )


def test_year_boundaries():
    assert Quarter.parse("2024-Q4").next().label == "2025-Q1"
    assert Quarter.parse("2025-Q1").previous().label == "2024-Q4"
    assert [q.label for q in quarter_range("2024-Q3", "2025-Q2")] == [
        "2024-Q3", "2024-Q4", "2025-Q1", "2025-Q2"
    ]


@pytest.mark.parametrize("bad", ["2024-Q5", "2024-02", "Q3-2024", ""])
def test_bad_labels_say_what_is_expected(bad):
    with pytest.raises(ValueError, match="not a quarter"):
        Quarter.parse(bad)
