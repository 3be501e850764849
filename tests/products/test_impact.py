"""Impact: what breaks if an output changes — over the API, on the product page — and the columns an input reads."""

import pytest
from django.urls import reverse

from products.models import ProductInput
from tests import factories
from tests.products.test_forms import formset_data

pytestmark = pytest.mark.django_db


def impact_url(output) -> str:
    return reverse("output-impact", args=[output.pk])


@pytest.fixture
def scores(product):
    output = factories.OutputFactory(product=product, name="scores")
    for order, name in enumerate(["customer_id", "score", "segment"]):
        factories.OutputColumnFactory(output=output, name=name, order=order)
    return output


@pytest.fixture
def readers(scores, charlie):
    dana = factories.UserFactory(username="dana", first_name="Dana", last_name="Reader", email="dana@example.com")
    campaigns = factories.DataProductFactory(slug="campaigns", name="Campaigns", owner=dana)
    factories.ProductInputFactory(product=campaigns, source_output=scores, columns=["customer_id", "score"])
    reports = factories.DataProductFactory(slug="reports", name="Reports", owner=charlie)
    factories.ProductInputFactory(product=reports, source_output=scores)  # no columns declared
    hidden = factories.DataProductFactory(slug="secret", name="Secret", owner=dana, status="draft")
    factories.ProductInputFactory(product=hidden, source_output=scores, columns=["segment"])
    return {"campaigns": campaigns, "reports": reports, "hidden": hidden}


def test_it_lists_readers_their_owners_and_the_columns_they_read(api, alice, scores, readers):
    response = api(alice).get(impact_url(scores))
    assert response.status_code == 200
    answer = response.json()
    assert answer["output"] == {"id": scores.pk, "name": "scores", "product": "cross-sell"}
    assert answer["hidden"] == 1  # alice may not see dana's draft
    assert answer["readers"] == [
        {
            "product": "campaigns",
            "name": "Campaigns",
            "status": "published",
            "owner": {"username": "dana", "name": "Dana Reader", "email": "dana@example.com"},
            "columns": ["customer_id", "score"],
            "all_columns": False,
        },
        {
            "product": "reports",
            "name": "Reports",
            "status": "published",
            "owner": {"username": "charlie", "name": "", "email": "charlie@example.com"},
            "columns": [],
            "all_columns": True,
        },
    ]


def test_an_admin_sees_every_reader(api, admin_user, scores, readers):
    answer = api(admin_user).get(impact_url(scores)).json()
    assert [reader["product"] for reader in answer["readers"]] == ["campaigns", "reports", "secret"]
    assert answer["hidden"] == 0


def test_an_output_nobody_reads_breaks_nothing(api, charlie, scores):
    assert api(charlie).get(impact_url(scores)).json() == {
        "output": {"id": scores.pk, "name": "scores", "product": "cross-sell"},
        "readers": [],
        "hidden": 0,
    }


def test_the_impact_of_an_output_the_user_may_not_see_is_a_404(api, charlie, draft):
    output = factories.OutputFactory(product=draft)
    assert api(charlie).get(impact_url(output)).status_code == 404
    assert api(charlie).get(reverse("output-impact", args=[999999])).status_code == 404
    assert api(None).get(impact_url(output)).status_code == 401


def test_the_product_page_shows_the_impact_per_output(client, alice, product, scores, readers):
    client.force_login(alice)
    html = client.get(product.get_absolute_url()).content.decode()
    table = html.split('id="impact-scores"')[1].split("</table>")[0]
    assert '<a href="/products/campaigns/">Campaigns</a>' in table
    assert "Dana Reader" in table and "mailto:dana@example.com" in table
    assert "<code>customer_id</code>, <code>score</code>" in table
    assert "Not declared: assume all" in table
    assert "Secret" not in html
    assert "1 hidden — read by product you may not see." in html


# --- Recording the columns an input reads -------------------------------------------------------


def section_post(client, user, reader, rows, initial=0):
    client.force_login(user)
    url = reverse("products:edit-section", args=[reader.slug, "inputs"])
    return client.post(url, formset_data("inputs", rows, initial))


def test_a_steward_records_the_columns_read(client, alice, bob, scores):
    reader = factories.DataProductFactory(slug="campaigns", owner=alice, stewards=[bob])
    row = {"kind": "output", "source_output": scores.pk, "columns": "score, customer_id, score"}
    response = section_post(client, bob, reader, [row])
    assert response.status_code == 302
    assert ProductInput.objects.get(product=reader).columns == ["score", "customer_id"]


def test_the_form_shows_the_columns_already_recorded(client, alice, scores):
    reader = factories.DataProductFactory(slug="campaigns", owner=alice)
    factories.ProductInputFactory(product=reader, source_output=scores, columns=["customer_id", "segment"])
    client.force_login(alice)
    html = client.get(reverse("products:edit-section", args=["campaigns", "inputs"])).content.decode()
    assert 'value="customer_id, segment"' in html


@pytest.mark.parametrize(
    "row, message",
    [
        ({"kind": "output", "columns": "score, nope"}, "has no column nope"),
        ({"kind": "external", "external_name": "CRM", "columns": "score"}, "upstream output only"),
        ({"kind": "output", "columns": "x" * 101}, "at most 100 characters"),
    ],
)
def test_bad_columns_are_refused_on_the_columns_field(client, alice, scores, row, message):
    reader = factories.DataProductFactory(slug="campaigns", owner=alice)
    if row["kind"] == "output":
        row = {**row, "source_output": scores.pk}
    response = section_post(client, alice, reader, [row])
    assert response.status_code == 200
    errors = response.context["formset"].forms[0].errors
    assert list(errors) == ["columns"]
    assert message in errors["columns"][0]
    assert not ProductInput.objects.filter(product=reader).exists()


def test_the_api_writes_and_reads_columns(api, alice, scores):
    factories.DataProductFactory(slug="campaigns", owner=alice)
    body = {"product": "campaigns", "kind": "output", "source_output": scores.pk, "columns": ["segment"]}
    response = api(alice).post(reverse("input-list"), body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["columns"] == ["segment"]
    assert ProductInput.objects.get(product__slug="campaigns").columns == ["segment"]


@pytest.mark.parametrize(
    "columns, message",
    [(["segment", "missing"], "has no column missing"), ("segment", "list"), ([1, {"a": 2}], "valid string")],
)
def test_the_api_refuses_bad_columns_naming_the_field(api, alice, scores, columns, message):
    factories.DataProductFactory(slug="campaigns", owner=alice)
    body = {"product": "campaigns", "kind": "output", "source_output": scores.pk, "columns": columns}
    response = api(alice).post(reverse("input-list"), body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["columns"]
    assert message in str(response.json()["columns"]).lower() or message in str(response.json()["columns"])
    assert not ProductInput.objects.filter(product__slug="campaigns").exists()
