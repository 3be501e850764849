"""'Run now' on the product page: stewards queue an output's enabled checks; others cannot."""

import pytest
from django.test import Client
from django.urls import reverse

from quality.choices import RunStatus
from quality.models import CheckRun
from quality.tasks import run_output_checks
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch) -> list[dict]:
    """The tasks sent to the broker, instead of sending them."""
    messages = []
    monkeypatch.setattr(run_output_checks, "apply_async", lambda **kwargs: messages.append(kwargs))
    return messages


def output_with_checks(product, enabled: int = 2, disabled: int = 1):
    output = factories.OutputFactory(product=product, name="orders")
    factories.CheckFactory.create_batch(enabled, output=output)
    factories.CheckFactory.create_batch(disabled, output=output, enabled=False)
    return output


def run_now_url(output) -> str:
    return reverse("quality:run-now", args=[output.product.slug, output.pk])


@pytest.mark.parametrize("person", ["alice", "bob", "admin_user"])
def test_stewards_owners_and_admins_queue_the_enabled_checks(
    client, request, person, product, sent, django_capture_on_commit_callbacks
):
    output = output_with_checks(product)
    client.force_login(request.getfixturevalue(person))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(run_now_url(output))
    assert response.status_code == 302
    assert response["Location"] == f"{product.get_absolute_url()}#quality"
    assert CheckRun.objects.filter(status=RunStatus.PENDING).count() == 2
    assert [message["kwargs"]["output_id"] for message in sent] == [output.pk]
    page = client.get(response["Location"]).content.decode()
    assert "Queued 2 checks of orders." in page
    assert page.count('q-cell q-cell--pending" href') == 2


def test_it_refuses_outsiders_on_a_published_product(client, charlie, product, sent):
    output = output_with_checks(product)
    client.force_login(charlie)
    assert client.post(run_now_url(output)).status_code == 403
    assert not CheckRun.objects.exists()


def test_it_hides_a_drafts_outputs_from_outsiders(client, charlie, draft, sent):
    output = output_with_checks(draft)
    client.force_login(charlie)
    assert client.post(run_now_url(output)).status_code == 404
    assert not CheckRun.objects.exists()


def test_it_only_takes_posts(client, bob, product):
    client.force_login(bob)
    assert client.get(run_now_url(output_with_checks(product))).status_code == 405
    assert not CheckRun.objects.exists()


def test_an_output_of_another_product_is_not_found_under_this_one(client, bob, product, sent):
    other = output_with_checks(factories.DataProductFactory(slug="other", stewards=[bob]))
    client.force_login(bob)
    assert client.post(reverse("quality:run-now", args=[product.slug, other.pk])).status_code == 404
    assert not CheckRun.objects.exists()


def test_without_an_enabled_check_it_says_so(client, bob, product, sent):
    output = output_with_checks(product, enabled=0)
    client.force_login(bob)
    response = client.post(run_now_url(output), follow=True)
    assert "Nothing to run on orders: There is no enabled check to run." in response.content.decode()
    assert not CheckRun.objects.exists()


def test_it_needs_the_csrf_token(bob, product, sent):
    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    assert client.post(run_now_url(output_with_checks(product))).status_code == 403
    assert not CheckRun.objects.exists()
