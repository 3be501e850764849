"""Failing-row samples on a run's page: for anyone who may read the output, except a reader under row filtering."""

import pytest
from django.contrib.auth.models import Group
from guardian.shortcuts import assign_perm

from products.models import RowFilter
from tests import factories
from tests.quality.test_pages_run import failed_run, run_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(product):
    run = failed_run(product)
    factories.OutputColumnFactory(output=run.quality_check.output, name="order_id")
    return run


def page(client, user, run) -> str:
    client.force_login(user)
    response = client.get(run_url(run))
    assert response.status_code == 200
    return response.content.decode()


def test_a_granted_reader_sees_the_samples(client, charlie, run):
    assign_perm("products.read_output", charlie, run.quality_check.output)
    assert page(client, charlie, run).count("SO-1") == 2


def test_a_reader_under_row_filtering_does_not_and_is_told_why(client, charlie, run):
    output = run.quality_check.output
    assign_perm("products.read_output", charlie, output)
    RowFilter.objects.create(output=output, user=charlie, column="order_id", values=["SO-1"])
    html = page(client, charlie, run)
    assert "SO-1" not in html
    assert "a row filter limits what you read of this output" in html


def test_the_owner_still_sees_them_under_a_row_filter(client, alice, charlie, run):
    output = run.quality_check.output
    RowFilter.objects.create(output=output, group=Group.objects.create(name="g"), column="order_id", values=["x"])
    assert page(client, alice, run).count("SO-1") == 2


def test_a_user_without_read_access_does_not(client, charlie, run):
    html = page(client, charlie, run)
    assert "SO-1" not in html
    assert "Request access" in html
