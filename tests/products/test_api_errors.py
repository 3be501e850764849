"""Bad input: a 400 that names the field, nothing saved, never a 500."""

import pytest

from products.models import DataProduct, Goal
from tests import factories

LIST = "/api/v1/products/"
MEGABYTE = "x" * 1_000_000


@pytest.fixture
def body(product):
    return {"slug": "basket", "name": "Basket analysis", "domain": product.domain.slug}


def post(client, data, url=LIST):
    return client.post(url, data, format="json")


def assert_refused(response, field: str) -> None:
    assert response.status_code == 400, response.content
    assert list(response.json()) == [field]


def test_a_slug_is_taken_once(api, alice, body):
    response = post(api(alice), {**body, "slug": "cross-sell"})
    assert_refused(response, "slug")
    assert DataProduct.objects.count() == 1


def test_an_unknown_domain_is_named(api, alice, body):
    response = post(api(alice), {**body, "domain": "nowhere"})
    assert response.json() == {"domain": ["Object with slug=nowhere does not exist."]}
    assert not DataProduct.objects.filter(slug="basket").exists()


@pytest.mark.parametrize("field", ["name", "summary", "vision"])
def test_a_nul_byte_is_refused(api, alice, body, field):
    response = post(api(alice), {**body, field: "before\x00after"})
    assert_refused(response, field)
    assert not DataProduct.objects.filter(slug="basket").exists()


@pytest.mark.parametrize("field", ["vision", "summary"])
def test_a_megabyte_of_text_is_refused(api, alice, body, field):
    response = post(api(alice), {**body, field: MEGABYTE})
    assert_refused(response, field)
    assert not DataProduct.objects.filter(slug="basket").exists()


def test_a_megabyte_of_text_is_refused_on_update(api, bob, product):
    response = api(bob).patch(f"{LIST}cross-sell/", {"vision": MEGABYTE}, format="json")
    assert_refused(response, "vision")
    product.refresh_from_db()
    assert len(product.vision) < 100


def test_a_megabyte_of_text_is_refused_in_a_part(api, alice, product):
    response = post(api(alice), {"product": "cross-sell", "title": "Big", "description": MEGABYTE}, "/api/v1/goals/")
    assert_refused(response, "description")
    assert not Goal.objects.exists()


@pytest.mark.parametrize(
    "field, value",
    [("version", "one"), ("status", "lost"), ("tags", "sales"), ("stewards", ["nobody"]), ("slug", "no spaces")],
)
def test_each_bad_field_is_named(api, alice, body, field, value):
    assert_refused(post(api(alice), {**body, field: value}), field)


def test_malformed_json_is_a_400(api, alice, product):
    response = api(alice).post(LIST, data='{"slug": "basket",', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")


def test_a_lone_surrogate_is_a_400(api, alice, product):
    response = api(alice).post(LIST, data='{"slug": "basket", "name": "\\ud800"}', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")


def test_json_nested_too_deeply_is_a_400(api, alice, product):
    response = api(alice).post(LIST, data="[" * 50_000 + "]" * 50_000, content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]


def test_a_body_that_is_not_an_object_is_a_400(api, alice, product):
    response = api(alice).post(LIST, data="[1, 2]", content_type="application/json")
    assert response.status_code == 400
    assert list(response.json()) == ["non_field_errors"]


def test_only_json_is_accepted(api, alice, body):
    response = api(alice).post(LIST, body)  # multipart form data
    assert response.status_code == 415
    assert not DataProduct.objects.filter(slug="basket").exists()


def test_an_id_too_large_for_the_database_is_a_404(api, alice, product):
    assert api(alice).get(f"/api/v1/goals/{10**30}/").status_code == 404


def test_a_link_too_large_for_the_database_is_a_400(api, alice, product):
    goal = factories.GoalFactory(product=product)
    body = {"product": "cross-sell", "title": "H", "goal": goal.pk, "initiative": 10**30, "statement": "S"}
    assert_refused(post(api(alice), body, "/api/v1/hypotheses/"), "initiative")


def test_a_number_out_of_range_is_named(api, alice, product):
    body = {"product": "cross-sell", "name": "Fresh", "indicator": "Daily", "objective_percent": "120"}
    assert_refused(post(api(alice), body, "/api/v1/slos/"), "objective_percent")
    assert_refused(post(api(alice), {**body, "objective_percent": "0"}, "/api/v1/slos/"), "objective_percent")


@pytest.mark.parametrize("url", [LIST, "/api/v1/domains/", "/api/v1/tags/", "/api/v1/goals/"])
def test_an_unsupported_method_is_a_405(api, alice, product, url):
    assert api(alice).generic("TRACE", url).status_code == 405


def test_a_body_over_the_upload_limit_is_a_413(api, alice, body, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100_000
    response = post(api(alice), {**body, "vision": "x" * 200_000})
    assert response.status_code == 413
    assert response.json() == {"detail": "The request body is too large."}
    assert not DataProduct.objects.filter(slug="basket").exists()


@pytest.mark.parametrize("field", ["domain", "owner", "stewards", "tags", "consumer_teams"])
def test_a_nul_byte_in_a_reference_is_a_field_error(api, alice, product, field):
    value = "bad\x00name"
    body = {field: [value] if field in {"stewards", "tags", "consumer_teams"} else value}
    response = api(alice).patch(f"/api/v1/products/{product.slug}/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_a_nul_byte_in_a_url_slug_is_a_404(api, alice):
    assert api(alice).get("/api/v1/products/bad%00slug/").status_code == 404
