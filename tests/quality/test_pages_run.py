"""A run's page: who may see it, what it shows, and who sees the failing rows."""

import pytest
from django.urls import reverse
from django.utils import timezone

from quality.choices import RunStatus
from quality.models import CheckRun
from tests import factories
from tests.quality.outcomes import run_and_follow

pytestmark = pytest.mark.django_db

SAMPLES = [
    {"order_id": "SO-1", "email": "***", "amount": 10.5},
    {"order_id": "SO-1", "email": "***", "amount": None},
]


def run_url(run, product=None) -> str:
    product = product or run.quality_check.product
    return reverse("quality:run", args=[product.slug, run.pk])


def failed_run(product, **fields) -> CheckRun:
    check = factories.CheckFactory(
        output=factories.OutputFactory(product=product, name="orders"), name="ids unique", check_type="duplicate_count"
    )
    check.columns = ["order_id"]
    check.save()
    now = timezone.now()
    values = {
        "status": RunStatus.FAIL,
        "observed_value": 1,
        "samples": SAMPLES,
        "started": now,
        "finished": now,
        "duration_ms": 42,
        "attempts": 1,
    }
    return CheckRun.objects.create(quality_check=check, scheduled_for=now, **{**values, **fields})


class TestWhoMaySee:
    def test_it_hides_a_drafts_runs_from_outsiders(self, client, charlie, draft):
        run = failed_run(draft)
        client.force_login(charlie)
        assert client.get(run_url(run)).status_code == 404

    def test_outsiders_see_a_published_products_run_but_not_its_rows(self, client, charlie, product):
        run = failed_run(product)
        client.force_login(charlie)
        response = client.get(run_url(run))
        assert response.status_code == 200
        html = response.content.decode()
        assert "ids unique" in html
        assert "SO-1" not in html
        assert "shown to the product's owner and stewards" in html

    @pytest.mark.parametrize("person", ["alice", "bob", "admin_user"])
    def test_owners_stewards_and_admins_see_the_failing_rows(self, client, request, person, product):
        run = failed_run(product)
        client.force_login(request.getfixturevalue(person))
        html = client.get(run_url(run)).content.decode()
        assert '<th scope="col">order_id</th>' in html
        assert html.count("SO-1") == 2
        assert 'class="q-masked">***<' in html
        assert '<span class="faint">null</span>' in html

    def test_a_run_of_another_product_is_not_found_under_this_one(self, client, bob, product, draft):
        other = failed_run(factories.DataProductFactory(slug="other"))
        client.force_login(bob)
        assert client.get(run_url(other, product)).status_code == 404
        assert client.get(run_url(failed_run(draft), product)).status_code == 404

    def test_anonymous_visitors_are_sent_to_sign_in(self, client, product):
        response = client.get(run_url(failed_run(product)))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


class TestWhatItShows:
    def test_it_shows_the_check_the_slot_the_result_against_the_threshold(self, client, bob, product):
        run = failed_run(product)
        client.force_login(bob)
        html = client.get(run_url(run)).content.decode()
        for text in ["ids unique", "orders", "A duplicate keys check", "== 0", "42 ms", ">Fail<", "Back to Cross-sell"]:
            assert text in html, text
        assert product.get_absolute_url() in html

    def test_an_error_shows_its_text_and_no_value(self, client, bob, product):
        run = failed_run(product, status=RunStatus.ERROR, observed_value=None, samples=[], error="No such file")
        client.force_login(bob)
        html = client.get(run_url(run)).content.decode()
        assert "No such file" in html
        assert "no value" in html
        assert "badge--error" in html

    def test_a_pending_run_has_not_finished(self, client, bob, product):
        unfinished = {"observed_value": None, "samples": [], "started": None, "finished": None}
        run = failed_run(product, status=RunStatus.PENDING, **unfinished)
        client.force_login(bob)
        assert "The run has not finished yet." in client.get(run_url(run)).content.decode()

    def test_a_failure_links_to_its_incident(self, client, bob, product):
        check = factories.CheckFactory(output=factories.OutputFactory(product=product), name="rows present")
        run = run_and_follow(check, RunStatus.FAIL, 0, timezone.now())
        incident = product.incidents.get()
        client.force_login(bob)
        html = client.get(run_url(run)).content.decode()
        assert reverse("quality:incident", args=[product.slug, incident.pk]) in html


def test_sample_columns_follow_the_schema_whatever_order_the_database_kept():
    from quality.views import sample_table

    # jsonb hands keys back shortest first: the table still reads in the output's column order.
    samples = [{"region": "North", "revenue": 10, "order_id": 7, "extra": 1}, {"order_id": 8, "region": "South"}]
    columns, rows = sample_table(samples, ["order_id", "customer_email", "region", "revenue"])
    assert columns == ["order_id", "region", "revenue", "extra"]
    assert rows == [[7, "North", 10, 1], [8, "South", None, None]]
