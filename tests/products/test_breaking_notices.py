"""Breaking changes: stored on the version, emailed downstream, shown as banners; a first change is checked too."""

import datetime

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from products import semver, versions
from products.history import ProductVersion, VersionSource
from tests import factories
from tests.conftest import client_for

from .conftest import formset_as_shown, orders_of

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate().isoformat()


@pytest.fixture
def orders(product, alice):
    """Cross-sell 1.4.0 with an output ``orders`` (id, email) and ``scores`` (score), recorded as version 1."""
    product.version = "1.4.0"
    product.save()
    output = factories.OutputFactory(product=product, name="orders")
    factories.OutputColumnFactory(output=output, name="id", data_type="integer")
    factories.OutputColumnFactory(output=output, name="email", data_type="string")
    scores = factories.OutputFactory(product=product, name="scores")
    factories.OutputColumnFactory(output=scores, name="score", data_type="integer")
    versions.record_version(product, source=VersionSource.DEMO, author=alice)
    return output


@pytest.fixture
def readers(orders, charlie):
    """dana's Campaigns reads orders; charlie's Reports reads only scores."""
    dana = factories.UserFactory(username="dana")
    campaigns = factories.DataProductFactory(slug="campaigns", name="Campaigns", owner=dana)
    reports = factories.DataProductFactory(slug="reports", name="Reports", owner=charlie)
    factories.ProductInputFactory(product=campaigns, source_output=orders)
    factories.ProductInputFactory(product=reports, source_output=orders.product.outputs.get(name="scores"))
    return {"campaigns": campaigns, "reports": reports}


def drop_email(product, version: str = "2.0.0") -> None:
    """Remove orders.email, raising the version to ``version`` in the same change."""

    def save() -> None:
        product.version = version
        product.save()
        product.outputs.get(name="orders").columns.get(name="email").delete()

    versions.within_semver(product, save)


def break_it(product, django_capture_on_commit_callbacks) -> ProductVersion:
    with django_capture_on_commit_callbacks(execute=True):
        drop_email(product)
    return versions.latest(product)


def notices(client, user, product) -> list[str]:
    client.force_login(user)
    response = client.get(product.get_absolute_url())
    assert response.status_code == 200
    if 'id="notices"' not in response.content.decode():
        return []
    html = response.content.decode().split('id="notices"')[1].split("</section>")[0]
    return [
        " ".join(part.split("</div>")[0].replace("<strong>", "").replace("</strong>", "").split())
        for part in html.split('role="status">')[1:]
    ]


# --- The version says what it breaks ------------------------------------------------------------


def test_a_breaking_version_stores_what_it_breaks(product, orders, django_capture_on_commit_callbacks):
    version = break_it(product, django_capture_on_commit_callbacks)
    version.refresh_from_db()
    assert (version.number, version.version) == (2, "2.0.0")
    assert version.breaking == ["output 'orders': column 'email' removed"]


def test_a_change_that_breaks_nothing_stores_none(product, orders, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        versions.within_semver(product, lambda: factories.OutputColumnFactory(output=orders, name="added"))
    version = versions.latest(product)
    assert (version.number, version.breaking) == (2, [])
    assert ProductVersion.objects.get(product=product, number=1).breaking == []


def test_changes_to_picks_the_lines_about_given_outputs():
    changes = [
        "output 'orders': column 'email' removed",
        "output 'scores' removed",
        "output 'order': column 'x' removed",
    ]
    assert semver.changes_to(changes, {"orders", "scores"}) == changes[:2]
    assert semver.changes_to(changes, set()) == []


# --- Emails to downstream owners ----------------------------------------------------------------


def test_the_owners_of_readers_of_the_broken_output_are_emailed_after_commit(
    product, readers, mailoutbox, django_capture_on_commit_callbacks
):
    break_it(product, django_capture_on_commit_callbacks)
    # charlie's Reports reads scores, which did not break: only dana hears of it.
    assert [message.to for message in mailoutbox] == [["dana@example.com"]]
    mail = mailoutbox[0]
    assert mail.subject == "Breaking change: Cross-sell 2.0.0"
    assert "- output 'orders': column 'email' removed\n" in mail.body
    assert "/products/cross-sell/history/?to=2" in mail.body
    assert "http://" in mail.body and "/products/cross-sell/\n" in mail.body
    assert "- Campaigns (" in mail.body and ") reads orders" in mail.body


def test_a_rolled_back_breaking_change_emails_nobody(product, readers, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            drop_email(product)
            transaction.set_rollback(True)
    assert callbacks == []
    assert mailoutbox == []
    assert list(ProductVersion.objects.filter(product=product).values_list("number", flat=True)) == [1]


def test_a_change_that_breaks_nothing_emails_nobody(
    product, orders, readers, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        versions.within_semver(product, lambda: factories.OutputColumnFactory(output=orders, name="added"))
    assert versions.latest(product).number == 2
    assert mailoutbox == []


def test_a_refused_breaking_change_emails_nobody(product, readers, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(semver.BreakingChange):
        drop_email(product, version="1.5.0")
    assert mailoutbox == []


# --- Banners ------------------------------------------------------------------------------------


def test_a_reader_of_the_broken_output_is_warned_with_a_link_to_the_history(
    client, alice, product, readers, django_capture_on_commit_callbacks
):
    break_it(product, django_capture_on_commit_callbacks)
    assert notices(client, alice, readers["campaigns"]) == [
        'Breaking change upstream — <a href="/products/cross-sell/history/?to=2">Cross-sell 2.0.0</a> '
        f"on {TODAY}: output &#x27;orders&#x27;: column &#x27;email&#x27; removed."
    ]
    assert notices(client, alice, readers["reports"]) == []  # it reads scores, which did not break


def test_the_product_itself_says_it_made_breaking_changes(
    client, charlie, product, orders, django_capture_on_commit_callbacks
):
    break_it(product, django_capture_on_commit_callbacks)
    assert notices(client, charlie, product) == [
        f"Version 2.0.0 made breaking changes on {TODAY}: output &#x27;orders&#x27;: column &#x27;email&#x27; removed."
    ]


def test_the_banners_go_after_thirty_days(client, alice, product, readers, django_capture_on_commit_callbacks):
    version = break_it(product, django_capture_on_commit_callbacks)
    days = versions.BREAKING_NOTICE_DAYS
    ProductVersion.objects.filter(pk=version.pk).update(created=timezone.now() - datetime.timedelta(days=days - 1))
    assert len(notices(client, alice, readers["campaigns"])) == 1
    ProductVersion.objects.filter(pk=version.pk).update(created=timezone.now() - datetime.timedelta(days=days + 1))
    assert notices(client, alice, readers["campaigns"]) == []
    assert notices(client, alice, product) == []


def test_a_reader_who_may_not_see_the_upstream_product_gets_no_name_nor_link(
    client, alice, charlie, django_capture_on_commit_callbacks
):
    secret = factories.DataProductFactory(slug="secret", name="Secret", owner=alice, status="draft", version="1.0.0")
    output = factories.OutputFactory(product=secret, name="orders")
    factories.OutputColumnFactory(output=output, name="email", data_type="string")
    versions.record_version(secret, source=VersionSource.DEMO)
    mine = factories.DataProductFactory(slug="mine", name="Mine", owner=charlie)
    factories.ProductInputFactory(product=mine, source_output=output)
    with django_capture_on_commit_callbacks(execute=True):
        drop_email(secret)
    [notice] = notices(client, charlie, mine)
    assert notice == (
        "Breaking change upstream — a product you may not see made a breaking change to an input of this product "
        f"on {TODAY}."
    )
    assert "secret" not in notice.lower() and "email" not in notice
    assert "Secret 2.0.0" in notices(client, alice, mine)[0]


def test_the_notices_take_the_same_queries_however_many_inputs_broke(
    client, alice, product, readers, django_capture_on_commit_callbacks
):
    campaigns = readers["campaigns"]
    break_it(product, django_capture_on_commit_callbacks)
    client.force_login(alice)
    client.get(campaigns.get_absolute_url())  # warm the per-process caches
    with CaptureQueriesContext(connection) as one:
        client.get(campaigns.get_absolute_url())
    for n in range(3):
        other = factories.DataProductFactory(slug=f"other-{n}", version="1.0.0")
        output = factories.OutputFactory(product=other, name="rows")
        factories.OutputColumnFactory(output=output, name="gone")
        versions.record_version(other, source=VersionSource.DEMO)
        factories.ProductInputFactory(product=campaigns, source_output=output)
        with django_capture_on_commit_callbacks(execute=True):
            versions.within_semver(other, lambda o=other, out=output: bump_and_drop(o, out))
    with CaptureQueriesContext(connection) as four:
        client.get(campaigns.get_absolute_url())
    assert len(notices(client, alice, campaigns)) == 4
    assert len(four) == len(one)


def bump_and_drop(product, output) -> None:
    product.version = "2.0.0"
    product.save()
    output.columns.all().delete()


# --- A product's first recorded change is checked too --------------------------------------------


@pytest.fixture
def unrecorded(product):
    """Cross-sell 1.4.0, published, with orders (id, email) and no version recorded (bulk-loaded)."""
    output = orders_of(product)
    ProductVersion.objects.filter(product=product).delete()
    return output


def test_ensure_baseline_records_the_spec_as_it_stands_once(product, unrecorded):
    baseline = versions.ensure_baseline(product)
    assert (baseline.number, baseline.source, baseline.message) == (
        1,
        "system",
        "Version before the first recorded change",
    )
    assert [column["name"] for column in baseline.snapshot["spec"]["outputs"][0]["columns"]] == ["id", "email"]
    assert versions.ensure_baseline(product) == baseline
    assert ProductVersion.objects.filter(product=product).count() == 1


def test_a_first_breaking_change_through_the_api_is_refused_without_a_bump(
    alice, product, unrecorded, django_capture_on_commit_callbacks
):
    columns = [{"name": "id", "data_type": "integer", "role": "dimension", "classification": "internal"}]
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(alice).patch(f"/api/v1/outputs/{unrecorded.pk}/", {"columns": columns}, format="json")
    assert response.status_code == 400, response.json()
    assert "from 1.4.0 to 2.0.0" in str(response.json()["version"])
    assert unrecorded.columns.count() == 2


def test_a_first_breaking_change_with_a_bump_leaves_the_baseline_and_the_change(
    client, alice, product, unrecorded, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    url = reverse("products:edit-section", args=[product.slug, "columns"]) + f"?output={unrecorded.pk}"
    formset = client.get(url).context["formset"]
    data = formset_as_shown(formset)
    data[f"{formset.forms[1].prefix}-DELETE"] = "on"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, data | {"new_version": "2.0.0"})
    assert response.status_code == 302
    recorded = ProductVersion.objects.filter(product=product).order_by("number")
    assert [(v.number, v.version, v.breaking) for v in recorded] == [
        (1, "1.4.0", []),
        (2, "2.0.0", ["output 'orders': column 'email' removed"]),
    ]
    assert recorded[0].message == "Version before the first recorded change"


def test_a_first_breaking_change_by_import_is_refused_without_a_bump(alice, product, unrecorded):
    from products.specs.document import dump, to_document
    from products.specs.importer import import_documents
    from products.specs.loader import SpecErrors, load

    document = to_document(product)
    document["spec"]["outputs"][0]["columns"].pop()
    with pytest.raises(SpecErrors) as caught:
        import_documents(load(dump(document)), user=alice)
    [error] = caught.value.errors
    assert error.path == "metadata.version" and "from 1.4.0 to 2.0.0" in error.message
    assert unrecorded.columns.count() == 2
    assert not ProductVersion.objects.filter(product=product).exists()  # the baseline rolled back with the rest


# --- Readers that list the columns they read ------------------------------------------------------


def test_changes_to_a_column_concern_only_readers_of_that_column():
    changes = ["output 'orders': column 'email' removed", "output 'scores' removed"]
    assert semver.changes_to(changes, {"orders": {"id"}, "scores": {"score"}}) == changes[1:]
    assert semver.changes_to(changes, {"orders": {"id", "email"}}) == changes[:1]
    assert semver.changes_to(changes, {"orders": set()}) == changes[:1]  # no columns listed: all of them
    reads: dict = {}
    semver.merge_reads(reads, "orders", ["id"])
    semver.merge_reads(reads, "orders", ["email"])
    assert reads == {"orders": {"id", "email"}}
    semver.merge_reads(reads, "orders", [])
    assert reads == {"orders": set()}


def test_a_reader_of_other_columns_hears_nothing_and_sees_no_warning(
    client, product, orders, charlie, mailoutbox, django_capture_on_commit_callbacks
):
    ids_only = factories.DataProductFactory(slug="ids-only", name="Ids only", owner=charlie)
    factories.ProductInputFactory(product=ids_only, source_output=orders, columns=["id"])
    dana = factories.UserFactory(username="dana", email="dana@example.com")
    emails = factories.DataProductFactory(slug="emails", name="Emails", owner=dana)
    factories.ProductInputFactory(product=emails, source_output=orders, columns=["id", "email"])
    break_it(product, django_capture_on_commit_callbacks)
    assert [message.to for message in mailoutbox] == [[dana.email]]
    assert not any("Breaking change upstream" in text for text in notices(client, charlie, ids_only))
    seen = notices(client, dana, emails)
    assert any("column &#x27;email&#x27; removed" in text for text in seen), seen  # as the page escapes it
