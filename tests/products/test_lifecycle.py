"""The lifecycle: which moves are allowed and to whom, deprecation's date and successor, emails, audit, banners."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from access.models import AuditAction, AuditEvent
from products import lifecycle
from products.choices import Status
from products.models import DataProduct
from tests import factories

pytestmark = pytest.mark.django_db

LATER = timezone.localdate() + datetime.timedelta(days=60)
YESTERDAY = timezone.localdate() - datetime.timedelta(days=1)


def in_status(status: str, owner, stewards=()) -> DataProduct:
    extra = {"sunset_date": LATER} if status in (Status.DEPRECATED, Status.RETIRED) else {}
    return factories.DataProductFactory(owner=owner, stewards=list(stewards), status=status, **extra)


def move(product, status, by, **kwargs):
    kwargs.setdefault("sunset_date", LATER if status == Status.DEPRECATED else None)
    return lifecycle.change_status(product, status, by=by, **kwargs)


# --- Transitions --------------------------------------------------------------------------------

ALLOWED = [
    ("draft", "published"),
    ("published", "deprecated"),
    ("deprecated", "published"),
    ("deprecated", "retired"),
    ("deprecated", "deprecated"),
]
REFUSED = [
    ("draft", "deprecated"),
    ("draft", "retired"),
    ("draft", "draft"),
    ("published", "draft"),
    ("published", "retired"),
    ("published", "published"),
    ("deprecated", "draft"),
    ("retired", "published"),
    ("retired", "deprecated"),
    ("retired", "draft"),
    ("retired", "retired"),
]


@pytest.mark.parametrize("before, after", ALLOWED)
def test_the_owner_may_make_the_lifecycle_moves(alice, before, after):
    product = in_status(before, alice)
    move(product, after, alice)
    product.refresh_from_db()
    assert product.status == after


@pytest.mark.parametrize("before, after", REFUSED)
def test_other_moves_are_refused_naming_status(alice, before, after):
    product = in_status(before, alice)
    with pytest.raises(ValidationError) as refused:
        move(product, after, alice)
    assert list(refused.value.message_dict) == ["status"]
    product.refresh_from_db()
    assert product.status == before
    assert not AuditEvent.objects.filter(action=AuditAction.LIFECYCLE_CHANGED).exists()


@pytest.mark.parametrize(
    "before, after",
    [("published", "draft"), ("draft", "retired"), ("published", "retired"), ("deprecated", "draft")],
)
def test_admins_may_make_any_move_but_out_of_retired(admin_user, alice, before, after):
    product = in_status(before, alice)
    move(product, after, admin_user)
    product.refresh_from_db()
    assert product.status == after


@pytest.mark.parametrize("after", ["draft", "published", "deprecated"])
def test_not_even_an_admin_brings_back_a_retired_product(admin_user, alice, after):
    product = in_status("retired", alice)
    with pytest.raises(ValidationError) as refused:
        move(product, after, admin_user)
    assert refused.value.message_dict == {"status": ["A retired product stays retired."]}


def test_an_unknown_status_is_refused_naming_status(alice, product):
    with pytest.raises(ValidationError) as refused:
        move(product, "archived", alice)
    assert list(refused.value.message_dict) == ["status"]


def test_stewards_may_deprecate_and_undo_but_not_retire(alice, bob):
    product = in_status("published", alice, [bob])
    move(product, "deprecated", bob)
    move(product, "published", bob)
    move(product, "deprecated", bob)
    with pytest.raises(PermissionDenied):
        move(product, "retired", bob)
    product.refresh_from_db()
    assert product.status == "deprecated"


def test_outsiders_may_not_move_a_product(alice, charlie, product):
    with pytest.raises(PermissionDenied):
        move(product, "deprecated", charlie)
    product.refresh_from_db()
    assert product.status == "published"


def test_allowed_statuses_follow_the_rules(alice, bob, charlie, admin_user):
    product = in_status("deprecated", alice, [bob])
    assert lifecycle.allowed_statuses(product, alice) == ["published", "deprecated", "retired"]
    assert lifecycle.allowed_statuses(product, bob) == ["published", "deprecated"]
    assert lifecycle.allowed_statuses(product, charlie) == []
    assert lifecycle.allowed_statuses(product, admin_user) == ["draft", "published", "deprecated", "retired"]
    assert lifecycle.allowed_statuses(in_status("retired", alice), admin_user) == []


# --- Deprecation: sunset date and replacement ---------------------------------------------------


def test_deprecating_records_the_sunset_date_and_replacement(alice, product):
    successor = factories.DataProductFactory(slug="cross-sell-v2", owner=alice)
    move(product, "deprecated", alice, replaced_by=successor, note="v2 has better scores")
    product.refresh_from_db()
    assert (product.status, product.sunset_date, product.replaced_by) == ("deprecated", LATER, successor)


def test_undoing_a_deprecation_clears_the_date_and_replacement(alice, product):
    move(product, "deprecated", alice, replaced_by=factories.DataProductFactory(owner=alice))
    move(product, "published", alice)
    product.refresh_from_db()
    assert (product.sunset_date, product.replaced_by) == (None, None)


def test_retiring_before_the_sunset_date_makes_today_the_sunset(alice, product):
    move(product, "deprecated", alice)
    move(product, "retired", alice)
    product.refresh_from_db()
    assert product.sunset_date == timezone.localdate()


@pytest.mark.parametrize(
    "sunset_date, message",
    [(None, "needs a sunset date"), (YESTERDAY, "today or later")],
)
def test_deprecating_needs_a_sunset_date_today_or_later(alice, product, sunset_date, message):
    with pytest.raises(ValidationError) as refused:
        move(product, "deprecated", alice, sunset_date=sunset_date)
    assert list(refused.value.message_dict) == ["sunset_date"]
    assert message in refused.value.message_dict["sunset_date"][0]
    product.refresh_from_db()
    assert product.status == "published"


def test_the_replacement_must_be_visible_not_retired_and_not_itself(alice, bob, product):
    hidden = factories.DataProductFactory(status="draft")  # bob may not see it
    retired = factories.DataProductFactory(status="retired", sunset_date=YESTERDAY)
    for replacement, message in [(hidden, "No such product."), (retired, "is retired"), (product, "itself")]:
        with pytest.raises(ValidationError) as refused:
            move(product, "deprecated", bob, replaced_by=replacement)
        assert list(refused.value.message_dict) == ["replaced_by"]
        assert message in refused.value.message_dict["replaced_by"][0]
    product.refresh_from_db()
    assert (product.status, product.replaced_by) == ("published", None)


# --- Audit --------------------------------------------------------------------------------------


def test_each_move_is_audited(alice, bob, product):
    successor = factories.DataProductFactory(slug="cross-sell-v2", owner=alice)
    move(product, "deprecated", bob, replaced_by=successor, note="Moving to v2")
    move(product, "retired", alice)
    events = list(AuditEvent.objects.filter(action=AuditAction.LIFECYCLE_CHANGED).order_by("id"))
    assert [(e.actor_name, e.product_slug, e.object_type) for e in events] == [
        ("bob", "cross-sell", "products.dataproduct"),
        ("alice", "cross-sell", "products.dataproduct"),
    ]
    assert events[0].details == {
        "from": "published",
        "to": "deprecated",
        "sunset_date": LATER.isoformat(),
        "replaced_by": "cross-sell-v2",
        "note": "Moving to v2",
    }
    assert (events[1].details["from"], events[1].details["to"]) == ("deprecated", "retired")


# --- Emails to the owners of downstream products ------------------------------------------------


@pytest.fixture
def downstream(product, charlie):
    """dana owns two products reading cross-sell, charlie one; a retired reader is not told."""
    dana = factories.UserFactory(username="dana", email="dana@example.com")
    scores = factories.OutputFactory(product=product, name="scores")
    segments = factories.OutputFactory(product=product, name="segments")
    made = {
        "campaigns": factories.DataProductFactory(slug="campaigns", name="Campaigns", owner=dana),
        "offers": factories.DataProductFactory(slug="offers", name="Offers", owner=dana),
        "reports": factories.DataProductFactory(slug="reports", name="Reports", owner=charlie),
        "old": factories.DataProductFactory(
            slug="old", name="Old", owner=dana, status="retired", sunset_date=YESTERDAY
        ),
    }
    factories.ProductInputFactory(product=made["campaigns"], source_output=scores)
    factories.ProductInputFactory(product=made["campaigns"], source_output=segments)
    factories.ProductInputFactory(product=made["offers"], source_output=scores)
    factories.ProductInputFactory(product=made["reports"], source_output=segments)
    factories.ProductInputFactory(product=made["old"], source_output=scores)
    return made


def test_deprecating_emails_each_downstream_owner_once(
    alice, product, downstream, mailoutbox, django_capture_on_commit_callbacks
):
    successor = factories.DataProductFactory(slug="cross-sell-v2", name="Cross-sell v2", owner=alice)
    with django_capture_on_commit_callbacks(execute=True):
        move(product, "deprecated", alice, replaced_by=successor)
    assert sorted(message.to[0] for message in mailoutbox) == ["charlie@example.com", "dana@example.com"]
    assert all(len(message.to) == 1 for message in mailoutbox)
    dana = next(message for message in mailoutbox if message.to == ["dana@example.com"])
    assert dana.subject == f"Deprecated: Cross-sell retires on {LATER.isoformat()}"
    assert f"will be retired on {LATER.isoformat()}" in dana.body
    assert "Use Cross-sell v2 instead:\nhttp://" in dana.body and "/products/cross-sell-v2/" in dana.body
    assert "- Campaigns (" in dana.body and ") reads scores, segments" in dana.body
    assert "- Offers (" in dana.body and ") reads scores" in dana.body
    assert "Old" not in dana.body and "Reports" not in dana.body
    charlie_mail = next(message for message in mailoutbox if message.to == ["charlie@example.com"])
    assert "- Reports (" in charlie_mail.body and "Campaigns" not in charlie_mail.body


def test_retiring_emails_the_downstream_owners_too(
    alice, product, downstream, mailoutbox, django_capture_on_commit_callbacks
):
    move(product, "deprecated", alice)
    with django_capture_on_commit_callbacks(execute=True):
        move(product, "retired", alice)
    assert len(mailoutbox) == 2
    assert mailoutbox[0].subject == "Retired: Cross-sell"
    assert "its outputs can no longer be read" in mailoutbox[0].body


def test_publishing_emails_nobody(alice, draft, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        move(draft, "published", alice)
    assert mailoutbox == []


def test_a_refused_move_emails_nobody(alice, product, downstream, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError):
        move(product, "deprecated", alice, sunset_date=YESTERDAY)
    assert mailoutbox == []


def test_notify_downstream_is_there_for_breaking_changes(
    product, downstream, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        recipients = lifecycle.notify_downstream(
            product, "Breaking change to Cross-sell", "scores.score is now a float."
        )
    assert sorted(recipients) == ["charlie@example.com", "dana@example.com"]
    assert {message.subject for message in mailoutbox} == {"Breaking change to Cross-sell"}
    assert all(message.body.startswith("scores.score is now a float.") for message in mailoutbox)


# --- The lifecycle page -------------------------------------------------------------------------


def page_url(product) -> str:
    return reverse("products:lifecycle", args=[product.slug])


def test_the_page_offers_the_moves_the_user_may_make(client, bob, product):
    client.force_login(bob)
    response = client.get(page_url(product))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<option value="deprecated">Deprecated</option>' in html
    assert 'value="retired"' not in html  # bob is a steward: retiring is the owner's


def test_the_product_page_links_to_it_for_those_who_may_change(client, bob, charlie, product):
    client.force_login(bob)
    assert page_url(product) in client.get(product.get_absolute_url()).content.decode()
    client.force_login(charlie)
    assert page_url(product) not in client.get(product.get_absolute_url()).content.decode()


def test_the_owner_deprecates_on_the_page(client, alice, product, mailoutbox):
    successor = factories.DataProductFactory(slug="cross-sell-v2", owner=alice)
    client.force_login(alice)
    data = {"status": "deprecated", "sunset_date": LATER.isoformat(), "replaced_by": successor.pk, "note": "v2"}
    response = client.post(page_url(product), data)
    assert response.status_code == 302
    assert response["Location"] == product.get_absolute_url()
    product.refresh_from_db()
    assert (product.status, product.sunset_date, product.replaced_by) == ("deprecated", LATER, successor)
    history = client.get(page_url(product)).content.decode()
    assert "published → deprecated" in history and "v2" in history


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"status": "deprecated"}, "sunset_date", "needs a sunset date"),
        ({"status": "deprecated", "sunset_date": YESTERDAY.isoformat()}, "sunset_date", "today or later"),
        ({"status": "deprecated", "sunset_date": "someday"}, "sunset_date", "valid date"),
        ({"status": "draft"}, "status", "cannot become draft"),
        ({"status": "lost"}, "status", "valid choice"),
        ({}, "status", "required"),
        ({"status": "deprecated", "sunset_date": LATER.isoformat(), "replaced_by": "999999"}, "replaced_by", "valid"),
        ({"status": "deprecated", "sunset_date": LATER.isoformat(), "note": "a\x00b"}, "note", "Null"),
    ],
)
def test_bad_input_on_the_page_names_the_field_and_changes_nothing(client, alice, product, data, field, message):
    client.force_login(alice)
    response = client.post(page_url(product), data)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [field]
    assert message.lower() in errors[field][0].lower()
    product.refresh_from_db()
    assert product.status == "published"


def test_a_steward_posting_retire_is_a_403(client, alice, bob):
    product = in_status("deprecated", alice, [bob])
    client.force_login(bob)
    assert client.post(page_url(product), {"status": "retired"}).status_code == 403
    product.refresh_from_db()
    assert product.status == "deprecated"


def test_outsiders_get_403_or_404(client, charlie, product, draft):
    client.force_login(charlie)
    assert client.get(page_url(product)).status_code == 403
    assert client.post(page_url(product), {"status": "deprecated"}).status_code == 403
    assert client.get(page_url(draft)).status_code == 404


def test_a_retired_product_offers_no_move(client, alice):
    product = in_status("retired", alice)
    client.force_login(alice)
    html = client.get(page_url(product)).content.decode()
    assert "A retired product stays retired." in html and "<form" not in html.split("lifecycle-now")[1]


# --- The API ------------------------------------------------------------------------------------


def api_url(product) -> str:
    return reverse("product-lifecycle", args=[product.slug])


def test_the_api_deprecates_and_answers_with_the_product(api, alice, product):
    successor = factories.DataProductFactory(slug="cross-sell-v2", owner=alice)
    body = {"status": "deprecated", "sunset_date": LATER.isoformat(), "replaced_by": "cross-sell-v2", "note": "v2"}
    response = api(alice).post(api_url(product), body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "deprecated"
    product.refresh_from_db()
    assert (product.sunset_date, product.replaced_by) == (LATER, successor)


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "status"),
        ({"status": "gone"}, "status"),
        ({"status": "deprecated"}, "sunset_date"),
        ({"status": "deprecated", "sunset_date": "31/12/2099"}, "sunset_date"),
        ({"status": "deprecated", "sunset_date": YESTERDAY.isoformat()}, "sunset_date"),
        ({"status": "deprecated", "sunset_date": LATER.isoformat(), "replaced_by": "hidden"}, "replaced_by"),
        ({"status": "deprecated", "sunset_date": LATER.isoformat(), "replaced_by": "cross-sell"}, "replaced_by"),
        ({"status": "draft"}, "status"),
        ({"status": "published", "note": "x" * 2001}, "note"),
    ],
)
def test_the_api_refuses_bad_input_naming_the_field(api, charlie, alice, product, body, field):
    factories.DataProductFactory(slug="hidden", owner=charlie, status="draft")  # alice may not see it
    response = api(alice).post(api_url(product), body, format="json")
    assert response.status_code == 400, response.json()
    assert list(response.json()) == [field]
    product.refresh_from_db()
    assert product.status == "published"


def test_the_api_answers_403_and_404_as_the_policy_says(api, alice, bob, charlie, draft):
    deprecated = in_status("deprecated", alice, [bob])
    assert api(bob).post(api_url(deprecated), {"status": "retired"}, format="json").status_code == 403
    assert api(charlie).post(api_url(deprecated), {"status": "published"}, format="json").status_code == 403
    assert api(charlie).post(api_url(draft), {"status": "published"}, format="json").status_code == 404
    assert api(None).post(api_url(draft), {"status": "published"}, format="json").status_code == 401


# --- The product's own form and serializer go through the same rules ----------------------------


def test_publishing_from_the_edit_form_is_audited(client, alice, draft):
    from tests.products.test_edit_views import edit_url, product_data

    client.force_login(alice)
    assert client.post(edit_url(draft), product_data(draft, status="published")).status_code == 302
    draft.refresh_from_db()
    assert draft.status == "published"
    assert AuditEvent.objects.filter(action=AuditAction.LIFECYCLE_CHANGED, product_slug="churn").count() == 1


@pytest.mark.parametrize("status, message", [("deprecated", "valid choice"), ("draft", "valid choice")])
def test_the_edit_form_refuses_moves_the_lifecycle_does_not_allow(client, bob, product, status, message):
    from tests.products.test_edit_views import edit_url, product_data

    client.force_login(bob)
    response = client.post(edit_url(product), product_data(product, status=status))
    assert response.status_code == 200
    assert message in response.context["form"].errors["status"][0]
    product.refresh_from_db()
    assert product.status == "published"


@pytest.mark.parametrize(
    "before, status, code",
    [("published", "deprecated", 400), ("published", "draft", 400), ("retired", "published", 400)],
)
def test_the_api_patch_follows_the_lifecycle(api, alice, before, status, code):
    product = in_status(before, alice)
    response = api(alice).patch(reverse("product-detail", args=[product.slug]), {"status": status}, format="json")
    assert response.status_code == code
    assert list(response.json()) == ["status"]
    product.refresh_from_db()
    assert product.status == before


def test_a_steward_retiring_through_patch_is_a_403(api, alice, bob):
    product = in_status("deprecated", alice, [bob])
    response = api(bob).patch(reverse("product-detail", args=[product.slug]), {"status": "retired"}, format="json")
    assert response.status_code == 403
    product.refresh_from_db()
    assert product.status == "deprecated"


def test_a_new_product_cannot_start_deprecated(api, alice, product):
    body = {"slug": "basket", "name": "Basket", "domain": product.domain.slug, "status": "deprecated"}
    response = api(alice).post(reverse("product-list"), body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["status"]


# --- Banners ------------------------------------------------------------------------------------


def notices(client, user, product) -> list[str]:
    client.force_login(user)
    response = client.get(product.get_absolute_url())
    bound = next((panel for panel in response.context["panels"] if panel.name == "notices"), None)
    if bound is None:
        return []
    html = response.content.decode().split('id="notices"')[1].split("</section>")[0]
    return [
        " ".join(part.split("</div>")[0].replace("<strong>", "").replace("</strong>", "").split())
        for part in html.split('role="status">')[1:]
    ]


def test_a_deprecated_product_says_when_it_retires_and_what_to_use(client, charlie, alice, product):
    successor = factories.DataProductFactory(slug="cross-sell-v2", name="Cross-sell v2", owner=alice)
    move(product, "deprecated", alice, replaced_by=successor)
    assert notices(client, charlie, product) == [
        f"Deprecated — retires on {LATER.isoformat()}; "
        'use <a href="/products/cross-sell-v2/">Cross-sell v2</a> instead.'
    ]


def test_a_replacement_the_reader_may_not_see_is_not_named(client, charlie, alice, product):
    successor = factories.DataProductFactory(slug="secret-v2", name="Secret v2", owner=alice, status="draft")
    move(product, "deprecated", alice, replaced_by=successor)
    assert notices(client, charlie, product) == [f"Deprecated — retires on {LATER.isoformat()}."]


def test_a_retired_product_says_so(client, charlie, alice):
    product = in_status("retired", alice)
    assert notices(client, charlie, product) == ["Retired — its outputs can no longer be read."]


def test_a_reader_of_a_deprecated_product_is_warned(client, charlie, alice, product):
    reader = factories.DataProductFactory(slug="campaigns", owner=alice)
    factories.ProductInputFactory(product=reader, source_output=factories.OutputFactory(product=product, name="scores"))
    move(product, "deprecated", alice)
    assert notices(client, charlie, reader) == [
        f'An input of this product, <a href="/products/cross-sell/#output-scores">cross-sell/scores</a>, '
        f"is deprecated (retires on {LATER.isoformat()})."
    ]
    move(product, "retired", alice)
    assert "is retired: it can no longer be read" in notices(client, charlie, reader)[0]


def test_a_published_product_has_no_notices(client, charlie, product):
    assert notices(client, charlie, product) == []


def test_the_product_api_shows_the_sunset_date_and_a_visible_replacement(api, alice, charlie, product):
    successor = factories.DataProductFactory(slug="cross-sell-v2", owner=alice, status="draft")
    move(product, "deprecated", alice, replaced_by=successor)
    detail = reverse("product-detail", args=[product.slug])
    assert (api(alice).get(detail).json()["sunset_date"], api(alice).get(detail).json()["replaced_by"]) == (
        LATER.isoformat(),
        "cross-sell-v2",
    )
    assert api(charlie).get(detail).json()["replaced_by"] is None  # charlie may not see the draft successor
