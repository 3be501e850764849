"""Every page goes out with a strict Content-Security-Policy and the other security headers."""

import re

import pytest
from django.urls import reverse

from tests import factories


def directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    parsed = {}
    for part in filter(None, (p.strip() for p in header.split(";"))):
        name, *values = part.split()
        parsed[name] = values
    return parsed


def assert_secure_headers(response) -> None:
    csp = directives(response)
    assert csp["script-src"] == ["'self'"], csp.get("script-src")
    assert "'unsafe-inline'" not in csp["script-src"]
    assert "'unsafe-eval'" not in csp["script-src"]
    assert csp["object-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def assert_no_inline_code(html: str) -> None:
    """Our templates keep to the CSP: scripts are files, and nothing carries a style or on* attribute."""
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag, tag
    assert not re.search(r"<style", html)
    assert not re.search(r"<[^>]+\sstyle\s*=", html)
    assert not re.search(r"<[^>]+\son\w+\s*=", html)


@pytest.fixture
def pages(product, draft):
    output = factories.OutputFactory(product=product)
    factories.OutputColumnFactory(output=output, classification="pii")
    factories.KPIFactory(product=product, level="north_star")
    return [
        reverse("catalog:home"),
        reverse("catalog:home") + "?q=cross&status=published",
        reverse("catalog:home") + "?health=unknown&sort=health",
        reverse("health"),
        product.get_absolute_url(),
        draft.get_absolute_url(),
        "/no-such-page/",
    ]


def test_the_login_page_sends_the_headers(client, db):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert_secure_headers(response)
    assert_no_inline_code(response.content.decode())


def test_redirects_to_login_send_the_headers(client, db):
    response = client.get(reverse("catalog:home"))
    assert response.status_code == 302
    assert_secure_headers(response)


def test_every_page_sends_the_headers(client, alice, pages):
    client.force_login(alice)
    for url in pages:
        response = client.get(url)
        assert response.status_code in (200, 404), url
        assert_secure_headers(response)
        assert_no_inline_code(response.content.decode())


def test_error_pages_send_the_headers(client, charlie, draft):
    client.force_login(charlie)
    response = client.get(draft.get_absolute_url())
    assert response.status_code == 404
    assert_secure_headers(response)
    assert_no_inline_code(response.content.decode())


def test_the_admin_sends_the_headers(client, admin_user, product):
    client.force_login(admin_user)
    for url in (reverse("admin:index"), reverse("admin:products_dataproduct_change", args=[product.pk])):
        response = client.get(url)
        assert response.status_code == 200
        assert_secure_headers(response)


def test_the_api_docs_render_under_the_csp(client, alice):
    client.force_login(alice)
    page = client.get(reverse("api-docs"))
    assert page.status_code == 200
    assert_secure_headers(page)
    # Swagger UI's page has one inline <style>: inline styles are allowed there, and only there.
    assert "'unsafe-inline'" in directives(page)["style-src"]
    html = page.content.decode()
    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts and all("src=" in tag for tag in scripts)
    script_url = re.findall(r'<script src="([^"]+\?[^"]*script[^"]*)"', html)[0].replace("&amp;", "&")
    init = client.get(script_url)
    assert init.status_code == 200
    assert init["Content-Type"].startswith("application/javascript")
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        assert asset.startswith("/static/drf_spectacular_sidecar/"), asset


def test_inline_styles_stay_forbidden_elsewhere(client, alice):
    client.force_login(alice)
    assert directives(client.get(reverse("catalog:home")))["style-src"] == ["'self'"]
