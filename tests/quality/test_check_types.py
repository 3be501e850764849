"""Known answers for every check type, on Parquet, CSV, a SQLite table and a PostgreSQL table."""

import pytest

from quality.engine import run_checks_for_output
from tests import factories
from tests.quality.conftest import BACKENDS

pytestmark = pytest.mark.django_db

# name → (check fields, expected observed value, expected status)
CASES = {
    "row_count": ({"check_type": "row_count"}, 6, "pass"),
    "missing_count": ({"check_type": "missing_count", "column": "id"}, 1, "fail"),
    "missing_percent": (
        {"check_type": "missing_percent", "column": "email", "operator": "lte", "threshold": 20},
        100 / 6,
        "pass",
    ),
    "duplicate_count": ({"check_type": "duplicate_count", "columns": ["id"]}, 1, "fail"),
    "duplicate_count_composite": ({"check_type": "duplicate_count", "columns": ["id", "status"]}, 0, "pass"),
    "invalid_regex": (
        {"check_type": "invalid_count", "column": "email", "params": {"regex": r"[^@\s]+@[^@\s]+\.[a-z]+"}},
        2,
        "fail",
    ),
    "invalid_allowed_values": (
        {"check_type": "invalid_count", "column": "status", "params": {"allowed_values": ["ok", "late"]}},
        1,
        "fail",
    ),
    "invalid_min": ({"check_type": "invalid_count", "column": "amount", "params": {"min": 0}}, 1, "fail"),
    "invalid_range": (
        {"check_type": "invalid_count", "column": "amount", "params": {"min": 0, "max": 100}, "severity": "warn"},
        2,
        "warn",
    ),
    "freshness": ({"check_type": "freshness", "column": "ts", "params": {"max_age_hours": 24}}, 10, "pass"),
    "stale": ({"check_type": "freshness", "column": "ts", "params": {"max_age_hours": 6}}, 10, "fail"),
    "schema": ({"check_type": "schema"}, 0, "pass"),
    "custom_sql": (
        {
            "check_type": "custom_sql",
            "params": {"sql": "SELECT COUNT(*) FROM {table} WHERE amount > 5"},
            "threshold": 2,
        },
        2,
        "pass",
    ),
}


def make_check(output, name: str, fields: dict):
    check = factories.CheckFactory.build(output=output, name=name, **fields)
    check.full_clean()
    check.save()
    return check


def assert_observed(result, expected: float) -> None:
    assert result.error == ""
    # Freshness is measured against the clock: allow the seconds the test takes.
    assert result.observed_value == pytest.approx(expected, abs=0.01)


@pytest.mark.parametrize("known_output", BACKENDS, indirect=True)
@pytest.mark.parametrize("case", list(CASES))
def test_each_check_type_gives_the_known_answer(known_output, case):
    fields, expected, status = CASES[case]
    check = make_check(known_output, case, fields)
    [result] = run_checks_for_output(known_output)
    assert result.check == check
    assert_observed(result, expected)
    assert result.status == status
    assert result.duration_ms >= 0


@pytest.mark.parametrize("known_output", BACKENDS, indirect=True)
def test_all_checks_of_an_output_run_together_in_one_pass(known_output):
    for case, (fields, _, _) in CASES.items():
        make_check(known_output, case, fields)
    results = {result.check.name: result for result in run_checks_for_output(known_output)}
    assert set(results) == set(CASES)
    for case, (_, expected, status) in CASES.items():
        assert_observed(results[case], expected)
        assert results[case].status == status, case


def test_disabled_checks_do_not_run(known_output):
    make_check(known_output, "rows", {"check_type": "row_count"})
    make_check(known_output, "off", {"check_type": "row_count", "enabled": False})
    assert [result.check.name for result in run_checks_for_output(known_output)] == ["rows"]


def test_failing_rows_are_sampled_with_pii_masked(known_output):
    make_check(known_output, "amount", {"check_type": "invalid_count", "column": "amount", "params": {"min": 0}})
    [result] = run_checks_for_output(known_output)
    [row] = result.samples
    assert row["id"] == 2 and row["amount"] == -5.0 and row["status"] == "ok"
    assert row["email"] == "***"  # classified PII in the output's schema
    assert isinstance(row["ts"], str)  # stored as JSON


def test_samples_show_at_most_five_rows_and_none_when_passing(known_output):
    make_check(known_output, "no rows", {"check_type": "row_count", "operator": "gt", "threshold": 100})
    allowed = {"allowed_values": ["none of these"]}
    make_check(known_output, "status", {"check_type": "invalid_count", "column": "status", "params": allowed})
    make_check(known_output, "rows", {"check_type": "row_count"})
    results = {result.check.name: result for result in run_checks_for_output(known_output)}
    assert results["status"].observed_value == 6 and len(results["status"].samples) == 5
    assert results["rows"].samples == []
    assert results["no rows"].status == "fail" and results["no rows"].samples == []  # no failing rows for a count


def test_schema_mismatches_are_listed(known_output):
    known_output.columns.filter(name="status").delete()  # an extra column in the data
    known_output.columns.filter(name="amount").update(data_type="integer")  # a wrong type
    factories.OutputColumnFactory(output=known_output, name="region", data_type="string")  # a missing column
    make_check(known_output, "schema", {"check_type": "schema"})
    [result] = run_checks_for_output(known_output)
    assert (result.status, result.observed_value) == ("fail", 3)
    assert sorted(result.samples, key=lambda item: item["column"]) == [
        {"column": "amount", "problem": "wrong type", "expected": "integer", "actual": "float"},
        {"column": "region", "problem": "missing", "expected": "string", "actual": None},
        {"column": "status", "problem": "unexpected", "expected": None, "actual": "string"},
    ]


def test_schema_can_be_given_in_params(known_output):
    expected = {"id": "integer", "email": "string", "amount": "float", "status": "string", "ts": "date"}
    make_check(known_output, "schema", {"check_type": "schema", "params": {"columns": expected}})
    [result] = run_checks_for_output(known_output)
    assert result.observed_value == 1
    assert result.samples == [{"column": "ts", "problem": "wrong type", "expected": "date", "actual": "timestamp"}]
