"""Quality settings: webhooks (the secret shown once), enabling and deleting them, auto-resolving incidents."""

import re

import pytest
from django.urls import reverse

from quality.models import Webhook
from tests import factories

pytestmark = pytest.mark.django_db

HOOK = "http://127.0.0.1:9/lodestar"  # an address literal: no DNS lookup in tests


@pytest.fixture
def private_allowed(settings):
    settings.LODESTAR_WEBHOOK_ALLOW_PRIVATE = True


def url(product, name: str = "settings", **kwargs) -> str:
    return reverse(f"quality:{name}", args=[product.slug, *kwargs.values()])


def webhook_of(product, address: str = HOOK) -> Webhook:
    webhook = Webhook(product=product, url=address)
    webhook.set_secret("s3cret-value-for-tests")
    webhook.save()
    return webhook


class TestWhoMayChange:
    def test_it_hides_a_drafts_settings_from_outsiders(self, client, charlie, draft):
        webhook = webhook_of(draft)
        client.force_login(charlie)
        assert client.get(url(draft)).status_code == 404
        assert client.post(url(draft, "webhook-add"), {"url": HOOK + "/2"}).status_code == 404
        assert client.post(url(draft, "webhook-delete", pk=webhook.pk)).status_code == 404
        assert client.post(url(draft, "incident-settings"), {"auto_resolve_incidents": "on"}).status_code == 404
        assert Webhook.objects.count() == 1

    def test_it_refuses_outsiders_on_a_published_product(self, client, charlie, product, private_allowed):
        webhook = webhook_of(product)
        client.force_login(charlie)
        assert client.get(url(product)).status_code == 403
        assert client.post(url(product, "webhook-add"), {"url": HOOK + "/2"}).status_code == 403
        assert client.post(url(product, "webhook-toggle", pk=webhook.pk), {"enabled": "false"}).status_code == 403
        assert client.post(url(product, "webhook-delete", pk=webhook.pk)).status_code == 403
        assert client.post(url(product, "incident-settings"), {"auto_resolve_incidents": "on"}).status_code == 403
        webhook.refresh_from_db()
        product.refresh_from_db()
        assert (Webhook.objects.count(), webhook.enabled, product.auto_resolve_incidents) == (1, True, False)

    @pytest.mark.parametrize("person", ["alice", "bob", "admin_user"])
    def test_owners_stewards_and_admins_open_it(self, client, request, person, product):
        factories.CheckFactory(output=factories.OutputFactory(product=product, name="orders"))
        client.force_login(request.getfixturevalue(person))
        html = client.get(url(product)).content.decode()
        assert "Quality settings" in html and "orders" in html

    def test_a_webhook_of_another_product_is_not_found_under_this_one(self, client, bob, product):
        other = webhook_of(factories.DataProductFactory(slug="other", stewards=[bob]))
        client.force_login(bob)
        assert client.post(url(product, "webhook-delete", pk=other.pk)).status_code == 404
        assert client.post(url(product, "webhook-toggle", pk=other.pk), {"enabled": "false"}).status_code == 404
        assert Webhook.objects.filter(pk=other.pk, enabled=True).exists()


class TestWebhooks:
    def test_the_secret_is_shown_once_after_creation(self, client, bob, product, private_allowed):
        client.force_login(bob)
        response = client.post(url(product, "webhook-add"), {"url": HOOK})
        assert response.status_code == 200
        assert response["Cache-Control"] == "no-store"
        webhook = Webhook.objects.get(product=product)
        html = response.content.decode()
        assert f'value="{webhook.secret}"' in html
        assert "will not be shown again" in html
        assert webhook.secret not in client.get(url(product)).content.decode()
        assert webhook.secret not in webhook.encrypted_secret

    def test_a_private_address_is_refused_next_to_the_field(self, client, bob, product, settings):
        settings.LODESTAR_WEBHOOK_ALLOW_PRIVATE = False
        client.force_login(bob)
        response = client.post(url(product, "webhook-add"), {"url": "http://10.1.2.3/hook"})
        html = response.content.decode()
        assert '<p class="field__error" id="id_url_error1">' in html
        assert "10.1.2.3" in html and "private" in html
        assert not Webhook.objects.exists()

    @pytest.mark.parametrize("address", ["", "not a url", "ftp://example.com/hook"])
    def test_a_malformed_url_is_refused(self, client, bob, product, private_allowed, address):
        client.force_login(bob)
        response = client.post(url(product, "webhook-add"), {"url": address})
        assert 'id="id_url_error1"' in response.content.decode()
        assert not Webhook.objects.exists()

    def test_the_same_url_twice_is_refused(self, client, bob, product, private_allowed):
        webhook_of(product)
        client.force_login(bob)
        response = client.post(url(product, "webhook-add"), {"url": HOOK})
        assert "already has a webhook to this URL" in response.content.decode()
        assert Webhook.objects.count() == 1

    def test_a_steward_disables_enables_and_deletes_a_webhook(self, client, bob, product):
        webhook = webhook_of(product)
        client.force_login(bob)
        toggle = url(product, "webhook-toggle", pk=webhook.pk)
        response = client.post(toggle, {"enabled": "false"}, follow=True)
        assert "Disabled the webhook" in response.content.decode()
        assert not Webhook.objects.get().enabled
        client.post(toggle, {"enabled": "true"})
        assert Webhook.objects.get().enabled
        assert client.post(toggle, {"enabled": "maybe"}).status_code == 400
        assert Webhook.objects.get().enabled
        response = client.post(url(product, "webhook-delete", pk=webhook.pk), follow=True)
        assert "Deleted the webhook" in response.content.decode()
        assert not Webhook.objects.exists()

    def test_the_secret_is_never_on_the_page(self, client, bob, product):
        webhook_of(product)
        client.force_login(bob)
        html = client.get(url(product)).content.decode()
        assert HOOK in html
        assert "s3cret-value-for-tests" not in html


class TestIncidentSettings:
    def test_a_steward_turns_auto_resolve_on_and_off(self, client, bob, product):
        client.force_login(bob)
        response = client.post(url(product, "incident-settings"), {"auto_resolve_incidents": "on"})
        assert response.status_code == 302
        product.refresh_from_db()
        assert product.auto_resolve_incidents
        client.post(url(product, "incident-settings"), {})
        product.refresh_from_db()
        assert not product.auto_resolve_incidents

    def test_the_checkbox_shows_the_current_value(self, client, bob, product):
        product.auto_resolve_incidents = True
        product.save()
        client.force_login(bob)
        html = client.get(url(product)).content.decode()
        assert re.search(r"<input type=\"checkbox\" name=\"auto_resolve_incidents\"[^>]* checked>", html)
