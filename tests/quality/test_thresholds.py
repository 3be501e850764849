"""The threshold decides: pass, or the check's severity (warn or fail) on a breach."""

import pytest

from quality.models import Check


def check(operator: str, threshold: float, high: float | None = None, severity: str = "fail") -> Check:
    return Check(check_type="row_count", operator=operator, threshold=threshold, threshold_high=high, severity=severity)


@pytest.mark.parametrize(
    "operator, threshold, high, observed, passes",
    [
        ("eq", 0, None, 0, True),
        ("eq", 0, None, 1, False),
        ("ne", 0, None, 1, True),
        ("ne", 0, None, 0, False),
        ("lt", 1, None, 0.99, True),
        ("lt", 1, None, 1, False),
        ("lte", 1, None, 1, True),
        ("lte", 1, None, 1.01, False),
        ("gt", 0, None, 1, True),
        ("gt", 0, None, 0, False),
        ("gte", 5, None, 5, True),
        ("gte", 5, None, 4, False),
        ("between", 10, 20, 10, True),
        ("between", 10, 20, 20, True),
        ("between", 10, 20, 15, True),
        ("between", 10, 20, 9.9, False),
        ("between", 10, 20, 20.1, False),
    ],
)
def test_each_operator_compares_the_observed_value(operator, threshold, high, observed, passes):
    assert check(operator, threshold, high).passes(observed) is passes


def test_a_breach_is_a_fail_with_severity_fail_and_a_warn_with_severity_warn():
    assert check("eq", 0, severity="fail").status_for(3) == "fail"
    assert check("eq", 0, severity="warn").status_for(3) == "warn"
    assert check("eq", 0, severity="warn").status_for(0) == "pass"


def test_the_threshold_reads_like_a_comparison():
    assert check("lte", 1.5).threshold_display == "<= 1.5"
    assert check("between", 10, 20).threshold_display == "between 10 and 20"


def test_blank_operator_and_threshold_take_the_types_defaults():
    row_count = Check(check_type="row_count")
    row_count.apply_defaults()
    assert (row_count.operator, row_count.threshold) == ("gt", 0)
    fresh = Check(check_type="freshness", params={"max_age_hours": 36})
    fresh.apply_defaults()
    assert (fresh.operator, fresh.threshold) == ("lte", 36)
