"""``GET /api/v1/outputs/?readable=masked|unmasked``: the outputs whose rows the caller may read."""

import pytest
from guardian.shortcuts import assign_perm

from access import grants
from tests import factories

pytestmark = pytest.mark.django_db
URL = "/api/v1/outputs/"


def names(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {item["name"] for item in response.json()["results"]}


@pytest.fixture
def outputs(product):
    return {name: factories.OutputFactory(product=product, name=name) for name in ("orders", "customers", "lines")}


def test_a_reader_lists_what_they_were_granted_at_each_level(api, charlie, alice, outputs):
    assign_perm("read_output", charlie, outputs["orders"])
    grants.grant(outputs["customers"], user=charlie, level="unmasked", days=7, by=alice)
    client = api(charlie)
    assert names(client.get(URL, {"readable": "masked"})) == {"orders", "customers"}
    assert names(client.get(URL, {"readable": "unmasked"})) == {"customers"}
    assert names(client.get(URL)) == {"orders", "customers", "lines"}  # seeing is not reading


def test_a_revoked_grant_drops_out_of_the_list_at_once(api, charlie, alice, outputs):
    grant = grants.grant(outputs["orders"], user=charlie, level="masked", by=alice)
    client = api(charlie)
    assert names(client.get(URL, {"readable": "masked"})) == {"orders"}
    grants.revoke(grant, by=alice)
    assert names(client.get(URL, {"readable": "masked"})) == set()


def test_the_owner_reads_all_in_clear_and_a_steward_all_masked(api, alice, bob, outputs):
    client = api(alice)
    assert names(client.get(URL, {"readable": "unmasked"})) == set(outputs)
    client = api(bob)
    assert names(client.get(URL, {"readable": "masked"})) == set(outputs)
    assert names(client.get(URL, {"readable": "unmasked"})) == set()


def test_an_unknown_level_is_a_400_naming_the_parameter(api, charlie, outputs):
    client = api(charlie)
    response = client.get(URL, {"readable": "everything"})
    assert response.status_code == 400
    assert "readable" in response.json()
