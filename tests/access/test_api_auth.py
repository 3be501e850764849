"""Signing in to the API: tokens for machines, sessions (with CSRF) for the browser."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests import factories

TOKEN_URL = "/api/v1/auth/token/"


@pytest.fixture
def body(product):
    return {"slug": "basket", "name": "Basket analysis", "domain": product.domain.slug}


def test_it_hands_out_a_token_for_a_username_and_password(alice):
    response = APIClient().post(TOKEN_URL, {"username": "alice", "password": factories.PASSWORD}, format="json")
    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=alice).key}


def test_the_token_signs_requests_in(alice, product):
    token = APIClient().post(TOKEN_URL, {"username": "alice", "password": factories.PASSWORD}, format="json")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    assert client.get("/api/v1/products/cross-sell/").status_code == 200


def test_a_bad_password_is_a_400(alice):
    response = APIClient().post(TOKEN_URL, {"username": "alice", "password": "wrong"}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["non_field_errors"]
    assert not Token.objects.exists()


@pytest.mark.parametrize("missing", ["username", "password"])
def test_a_missing_field_is_named(alice, missing):
    body = {"username": "alice", "password": factories.PASSWORD}
    del body[missing]
    response = APIClient().post(TOKEN_URL, body, format="json")
    assert response.status_code == 400
    assert response.json() == {missing: ["This field is required."]}


def test_an_unknown_token_is_a_401(product):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get("/api/v1/products/")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Token"


def test_an_inactive_users_token_is_refused(alice, product):
    token = Token.objects.create(user=alice)
    alice.is_active = False
    alice.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/v1/products/").status_code == 401


def test_session_writes_need_the_csrf_token(alice, body):
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username="alice", password=factories.PASSWORD)
    assert client.get("/api/v1/products/").status_code == 200  # reads need no token
    refused = client.post("/api/v1/products/", body, format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    # The browsable API page hands the browser its CSRF cookie, as a form page would.
    client.get("/api/v1/products/", HTTP_ACCEPT="text/html")
    csrf = client.cookies["csrftoken"].value
    accepted = client.post("/api/v1/products/", body, format="json", HTTP_X_CSRFTOKEN=csrf)
    assert accepted.status_code == 201


def test_token_requests_need_no_csrf_token(alice, body):
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=alice).key}")
    assert client.post("/api/v1/products/", body, format="json").status_code == 201


def test_password_guessing_is_slowed_down(alice, monkeypatch):
    from django.core.cache import cache
    from rest_framework.throttling import ScopedRateThrottle

    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"token": "3/minute"})
    cache.clear()
    guesses = [
        APIClient().post(TOKEN_URL, {"username": "alice", "password": f"guess{n}"}, format="json").status_code
        for n in range(5)
    ]
    cache.clear()
    assert guesses == [400, 400, 400, 429, 429]


@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/"])
def test_the_schema_and_its_docs_are_for_signed_in_users(alice, url):
    assert APIClient().get(url).status_code in {401, 403}
    client = APIClient()
    client.force_authenticate(alice)
    assert client.get(url).status_code == 200
