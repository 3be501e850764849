"""Bad check definitions are refused with an error naming the field; custom SQL is for admins only."""

import pytest
from django.core.exceptions import ValidationError

from quality.checks import validate_select
from tests import factories
from tests.quality.conftest import add_schema

pytestmark = pytest.mark.django_db


@pytest.fixture
def output(product):
    output = factories.OutputFactory(product=product, name="orders")
    add_schema(output)
    return output


def errors_of(output, **fields) -> dict:
    check = factories.CheckFactory.build(output=output, name="a check", **fields)
    with pytest.raises(ValidationError) as caught:
        check.full_clean()
    return caught.value.message_dict


def test_a_valid_check_passes_and_copies_its_product(output):
    check = factories.CheckFactory.build(output=output, check_type="missing_count", column="id")
    check.full_clean()
    check.save()
    assert check.product == output.product
    assert (check.operator, check.threshold) == ("eq", 0)


@pytest.mark.parametrize(
    "fields, field, words",
    [
        ({"check_type": "missing_count", "column": "nope"}, "column", "no column 'nope'"),
        ({"check_type": "missing_count"}, "column", "needs a column"),
        ({"check_type": "duplicate_count", "columns": ["id", "nope"]}, "columns", "no column 'nope'"),
        ({"check_type": "duplicate_count"}, "columns", "unique"),
        ({"check_type": "invalid_count", "column": "email", "params": {"regex": "(unclosed"}}, "params", "regex"),
        ({"check_type": "invalid_count", "column": "amount", "params": {"min": 10, "max": 1}}, "params", "min"),
        ({"check_type": "invalid_count", "column": "status", "params": {"allowed_values": []}}, "params", "non-empty"),
        ({"check_type": "invalid_count", "column": "status", "params": {}}, "params", "allowed_values"),
        ({"check_type": "freshness", "column": "ts", "params": {"max_age_hours": 0}}, "params", "above 0"),
        ({"check_type": "freshness", "column": "ts", "params": {"max_age_hours": True}}, "params", "above 0"),
        ({"check_type": "schema", "params": {"columns": {"id": "bigint"}}}, "params", "bigint"),
        ({"check_type": "row_count", "schedule": "0 * * *"}, "schedule", "5 fields"),
        ({"check_type": "row_count", "schedule": "61 * * * *"}, "schedule", "minute"),
        ({"check_type": "row_count", "schedule": "0 25 * * *"}, "schedule", "hour"),
        ({"check_type": "row_count", "schedule": "0 0 32 * *"}, "schedule", "day_of_month"),
        ({"check_type": "row_count", "schedule": "0 0 * 13 *"}, "schedule", "month_of_year"),
        ({"check_type": "row_count", "schedule": "0 0 * * 9"}, "schedule", "day_of_week"),
        ({"check_type": "row_count", "schedule": "1,,2 * * * *"}, "schedule", "minute"),
        ({"check_type": "row_count", "schedule": "- * * * *"}, "schedule", "minute"),
        ({"check_type": "row_count", "schedule": "١ * * * *"}, "schedule", "minute"),
        ({"check_type": "row_count", "operator": "between", "threshold": 5}, "threshold_high", "upper bound"),
        ({"check_type": "row_count", "operator": "between", "threshold": 5, "threshold_high": 1}, "threshold_high",
         "below"),
        ({"check_type": "custom_sql", "params": {"sql": "DELETE FROM orders"}}, "params", "SELECT"),
        ({"check_type": "custom_sql", "params": {"sql": "SELECT 1; DROP TABLE orders"}}, "params", "semicolon"),
        ({"check_type": "nonsense"}, "check_type", "not a valid choice"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_naming_the_field(output, fields, field, words):
    errors = errors_of(output, **fields)
    assert field in errors
    assert words in " ".join(errors[field])


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1",
        "select count(*) from {table} where status = 'deleted'",
        "WITH recent AS (SELECT * FROM {table}) SELECT COUNT(*) FROM recent",
    ],
)
def test_read_only_selects_are_accepted(sql):
    validate_select(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE t SET a = 1",
        "WITH gone AS (DELETE FROM t RETURNING 1) SELECT COUNT(*) FROM gone",
        "SELECT 1 -- sneaky",
        "SELECT * FROM t /* */",
        "SELECT pg_sleep(1); SELECT 2",
        "SELECT 1 INTO new_table",
        "COPY t TO '/tmp/x'",
        "SELECT * FROM t WHERE a = 1 UNION SELECT 1 FROM (CREATE TABLE x)",
        "",
    ],
)
def test_anything_but_one_select_is_refused(sql):
    with pytest.raises(ValidationError):
        validate_select(sql)


def test_only_admins_may_edit_custom_sql_and_stewards_edit_the_rest(output, alice, bob, charlie, admin_user):
    custom = factories.CheckFactory.build(output=output, check_type="custom_sql", params={"sql": "SELECT 1"})
    plain = factories.CheckFactory.build(output=output, check_type="row_count")
    assert custom.may_be_edited_by(admin_user)
    assert not custom.may_be_edited_by(bob) and not custom.may_be_edited_by(alice)
    assert plain.may_be_edited_by(bob) and plain.may_be_edited_by(alice)
    assert not plain.may_be_edited_by(charlie)
