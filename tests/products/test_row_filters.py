"""Row filters: rows equal the SQL ground truth on every backend; no rule, no rows; queries never widen them."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from guardian.shortcuts import assign_perm

from access.models import AuditAction, AuditEvent
from products import delivery
from products.models import RowFilter
from tests.products import delivery_data
from tests.products.delivery_data import ground_truth

pytestmark = pytest.mark.django_db
# The shared fixtures (tests/products/delivery_data.py), made visible to this module's tests.
any_sales = delivery_data.any_sales
pg_scratch = delivery_data.pg_scratch
sales = delivery_data.sales


def group_of(name: str, *members) -> Group:
    group = Group.objects.create(name=name)
    group.user_set.add(*members)
    return group


def ids(user, output, **query) -> list[int]:
    stream = delivery.RowStream(delivery.plan(user, output, sort="order_id", **query), delivery.API)
    return [row["order_id"] for batch in stream for row in delivery.rows_as_dicts(batch)]


@pytest.fixture
def reader(charlie, any_sales):
    """charlie reads the output masked, as one of the North sales team, whose rule is region = North."""
    assign_perm("products.read_output", charlie, any_sales)
    north = group_of("North sales team", charlie)
    RowFilter.objects.create(output=any_sales, group=north, column="region", values=["North"])
    return charlie


class TestGroundTruth:
    def test_a_group_rule_gives_exactly_the_matching_rows(self, reader, any_sales):
        assert ids(reader, any_sales) == ground_truth(any_sales, "region = 'North'")

    def test_rules_for_the_user_and_their_groups_are_ored(self, reader, any_sales):
        RowFilter.objects.create(output=any_sales, user=reader, column="order_id", values=["3", "7"])
        expected = ground_truth(any_sales, "region = 'North' OR order_id IN (3, 7)")
        assert ids(reader, any_sales) == expected

    def test_query_filters_narrow_inside_the_rule(self, reader, any_sales):
        assert ids(reader, any_sales, filters=["amount:25.5"]) == ground_truth(
            any_sales, "region = 'North' AND order_id = 2"
        )

    @pytest.mark.parametrize(
        "filters",
        [
            ["region:South"],
            ["region:North' OR 1=1 --"],
            ["region:North') OR ('1'='1"],
            ["order_id:1 OR 1=1"],
        ],
    )
    def test_query_filters_never_widen_it(self, reader, any_sales, filters):
        rows = ids(reader, any_sales, filters=filters)
        assert set(rows) <= set(ground_truth(any_sales, "region = 'North'"))
        assert rows == []

    def test_a_reader_no_rule_names_gets_no_rows(self, any_sales, reader, django_user_model):
        dora = django_user_model.objects.create(username="dora")
        assign_perm("products.read_output", dora, any_sales)
        read_plan = delivery.plan(dora, any_sales)
        assert read_plan.row_filtered and read_plan.no_rows
        assert ids(dora, any_sales) == []

    @pytest.mark.parametrize("person", ["alice", "bob", "admin_user"])
    def test_the_owner_stewards_and_admins_read_every_row(self, request, reader, any_sales, person):
        user = request.getfixturevalue(person)
        assert ids(user, any_sales) == ground_truth(any_sales)
        assert not delivery.plan(user, any_sales).row_filtered

    def test_a_rule_on_a_column_since_removed_matches_nothing(self, reader, any_sales):
        RowFilter.objects.filter(output=any_sales).update(column="gone")
        assert ids(reader, any_sales) == []


class TestAudited:
    def test_a_filtered_read_says_so(self, reader, any_sales):
        ids(reader, any_sales)
        details = AuditEvent.objects.get(action=AuditAction.DATA_READ).details
        assert details["row_filtered"] is True
        assert details["rows"] == len(ground_truth(any_sales, "region = 'North'"))

    def test_rule_changes_are_audited_as_spec_changes(self, sales, charlie):
        rule = RowFilter.objects.create(output=sales, user=charlie, column="region", values=["North"])
        rule.values = ["North", "East"]
        rule.save()
        rule.delete()
        events = AuditEvent.objects.filter(object_type="products.rowfilter").order_by("id")
        assert [e.action for e in events] == [
            AuditAction.SPEC_CREATED,
            AuditAction.SPEC_CHANGED,
            AuditAction.SPEC_DELETED,
        ]
        assert events[0].product_slug == sales.product.slug


class TestModel:
    def test_a_rule_names_exactly_one_holder(self, sales, charlie):
        with pytest.raises(IntegrityError):
            RowFilter.objects.create(output=sales, column="region", values=["North"])

    @pytest.mark.parametrize(
        "values, field",
        [
            ({"column": "nope"}, "column"),
            ({"values": []}, "values"),
            ({"values": "North"}, "values"),
            ({"values": [1]}, "values"),
            ({"values": ["x" * 201]}, "values"),
            ({"values": [str(i) for i in range(1001)]}, "values"),
            ({"user": None}, "user"),
        ],
    )
    def test_clean_names_the_field(self, sales, charlie, values, field):
        rule = RowFilter(**{"output": sales, "user": charlie, "column": "region", "values": ["North"], **values})
        with pytest.raises(ValidationError) as caught:
            rule.full_clean()
        assert field in caught.value.message_dict

    def test_deleting_the_output_deletes_its_rules(self, sales, charlie):
        RowFilter.objects.create(output=sales, user=charlie, column="region", values=["North"])
        sales.delete()
        assert not RowFilter.objects.exists()
