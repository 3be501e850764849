"""Change review: a steward's edit of a product under review waits for its owner."""

import pytest
from django.core import mail
from django.urls import reverse

from products import review, versions
from products.history import ChangeRequest, ChangeStatus, VersionSource
from tests import factories
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

GOALS = {
    "goals-TOTAL_FORMS": "1",
    "goals-INITIAL_FORMS": "0",
    "goals-0-title": "Grow revenue",
    "goals-0-success_measure": "Revenue",
    "goals-0-target_value": "12",
}


@pytest.fixture
def reviewed(product, alice):
    product.review_changes = True
    product.save()
    alice.email = "alice@example.com"
    alice.save()
    versions.record_version(product, source=VersionSource.DEMO, message="Demo data")
    return product


def propose_goal(client, product, bob, callbacks):
    client.force_login(bob)
    with callbacks(execute=True):
        return client.post(reverse("products:edit-section", args=[product.slug, "goals"]), GOALS)


def test_a_stewards_edit_becomes_a_change_request(client, reviewed, bob, django_capture_on_commit_callbacks):
    response = propose_goal(client, reviewed, bob, django_capture_on_commit_callbacks)
    change = ChangeRequest.objects.get()
    assert response.status_code == 302 and response.url == change.get_absolute_url()
    assert reviewed.goals.count() == 0  # nothing applied
    assert [goal["title"] for goal in change.proposed["spec"]["goals"]] == ["Grow revenue"]
    assert versions.latest(reviewed).number == 1
    assert mail.outbox[-1].to == ["alice@example.com"]


def test_the_owner_approves_and_the_author_hears(client, reviewed, alice, bob, django_capture_on_commit_callbacks):
    bob.email = "bob@example.com"
    bob.save()
    propose_goal(client, reviewed, bob, django_capture_on_commit_callbacks)
    change = ChangeRequest.objects.get()
    client.force_login(alice)
    page = client.get(change.get_absolute_url())
    assert "goal &#x27;Grow revenue&#x27; added" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(change.get_absolute_url(), {"decision": "approve", "comment": "Good"})
    assert response.status_code == 302
    change.refresh_from_db()
    assert change.status == ChangeStatus.APPROVED and change.decided_by == alice
    assert list(reviewed.goals.values_list("title", flat=True)) == ["Grow revenue"]
    latest = versions.latest(reviewed)
    assert (latest.number, latest.source, latest.author) == (2, VersionSource.REVIEW, bob)
    assert mail.outbox[-1].to == ["bob@example.com"] and "Approved" in mail.outbox[-1].subject


def test_a_rejection_needs_a_comment(client, reviewed, alice, bob, django_capture_on_commit_callbacks):
    propose_goal(client, reviewed, bob, django_capture_on_commit_callbacks)
    change = ChangeRequest.objects.get()
    response = client_for(alice).post(
        f"/api/v1/products/{reviewed.slug}/changes/{change.pk}/reject/", {"comment": ""}, format="json"
    )
    assert response.status_code == 400 and "comment" in response.json()
    response = client_for(alice).post(
        f"/api/v1/products/{reviewed.slug}/changes/{change.pk}/reject/", {"comment": "Not now"}, format="json"
    )
    assert response.status_code == 200 and response.json()["status"] == "rejected"
    assert reviewed.goals.count() == 0


def test_a_stale_request_is_refused(client, reviewed, alice, bob, django_capture_on_commit_callbacks):
    propose_goal(client, reviewed, bob, django_capture_on_commit_callbacks)
    change = ChangeRequest.objects.get()
    factories.GoalFactory(product=reviewed, title="Something else")  # the owner edits directly meanwhile
    with pytest.raises(Exception, match="spec changed since this request"):
        review.approve(change, alice)
    assert reviewed.goals.count() == 1
    change.refresh_from_db()
    assert change.status == ChangeStatus.OPEN


def test_the_author_may_not_decide_and_outsiders_do_not_see(
    client, reviewed, bob, charlie, django_capture_on_commit_callbacks
):
    propose_goal(client, reviewed, bob, django_capture_on_commit_callbacks)
    change = ChangeRequest.objects.get()
    url = f"/api/v1/products/{reviewed.slug}/changes/{change.pk}/approve/"
    assert client_for(bob).post(url, {}, format="json").status_code == 403
    assert client_for(charlie).post(url, {}, format="json").status_code == 403
    assert client_for(charlie).get(f"/api/v1/products/{reviewed.slug}/changes/").status_code == 403
    assert client_for(factories.UserFactory()).get("/api/v1/products/nope/changes/").status_code == 404


def test_owners_edit_directly(client, reviewed, alice, django_capture_on_commit_callbacks):
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("products:edit-section", args=[reviewed.slug, "goals"]), GOALS)
    assert ChangeRequest.objects.count() == 0 and reviewed.goals.count() == 1


def test_an_api_write_by_a_steward_is_sent_for_review(reviewed, bob):
    response = client_for(bob).patch(f"/api/v1/products/{reviewed.slug}/", {"summary": "New"}, format="json")
    assert response.status_code == 202
    assert ChangeRequest.objects.get().proposed["spec"]["summary"] == "New"
    reviewed.refresh_from_db()
    assert reviewed.summary != "New"
