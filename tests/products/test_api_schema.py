"""Property-based tests of the whole API against its own OpenAPI schema (schemathesis over WSGI).

Every operation is called with generated parameters and bodies, signed in by token as a
product manager and as an admin: no answer may be a 5xx, and every documented answer
must match the schema.

Data: a function-scoped fixture builds a small world once per operation and role; each
generated example then runs inside a transaction that is rolled back, so a DELETE or PUT
in one example never changes what the next one sees. Path parameters and the slugs a
body names are pointed at that world's objects, so most calls reach the serializers and
model rules instead of stopping at a 404.
"""

import json

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core import signals
from django.core.management import call_command
from django.db import close_old_connections, transaction
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from rest_framework.renderers import JSONRenderer
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from hub.wsgi import application
from tests import factories

# The coverage phase (every boundary value of every field: hundreds of calls per operation) and the
# stateful phase would take many minutes; ten fuzzed examples per operation and role (positive and
# negative), with a fixed seed, keep this file to about a minute and a half.
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20261122,
        "generation": {"max-examples": 10, "deterministic": True, "database": "none"},
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
    }
)


def load_schema():
    """The schema as /api/schema/ serves it (that page needs a signed-in user, so build it directly)."""
    raw = json.loads(JSONRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))
    loaded = schemathesis.openapi.from_dict(raw, config=CONFIG)
    loaded.app = application
    return loaded


schema = load_schema()

CHECKS = [not_a_server_error, response_schema_conformance]


class World:
    """A product manager, an admin, and a published product with one of each part."""

    def __init__(self) -> None:
        self.pm = factories.ProductManagerFactory(username="pm")
        admin = factories.AdminFactory(username="root")
        self.tokens = {"pm": Token.objects.create(user=self.pm), "admin": Token.objects.create(user=admin)}
        self.domain = factories.DomainFactory(slug="sales")
        self.tag = factories.TagFactory(name="retail")
        self.team = factories.TeamFactory(slug="growth")
        self.product = factories.DataProductFactory(slug="cross-sell", owner=self.pm, domain=self.domain)
        factories.DataProductFactory(slug="churn", owner=self.pm, status="draft", domain=self.domain)
        self.ids = self.make_parts(self.product)

    @staticmethod
    def make_parts(product) -> dict[str, int]:
        hypothesis = factories.HypothesisFactory(product=product)
        output = factories.OutputFactory(product=product)
        factories.OutputColumnFactory(output=output, name="amount")
        kpi = factories.KPIFactory(product=product, output=output)
        product_input = factories.ProductInputFactory(product=product)
        parts = {
            "goals": hypothesis.goal,
            "initiatives": hypothesis.initiative,
            "hypotheses": hypothesis,
            "use-cases": factories.UseCaseFactory(product=product),
            "usage-patterns": factories.UsagePatternFactory(product=product),
            "outputs": output,
            "kpis": kpi,
            "slos": factories.SLOFactory(product=product, kpi=kpi),
            "inputs": product_input,
        }
        return {name: part.pk for name, part in parts.items()} | {"upstream": product_input.source_output_id}

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Token {self.tokens[role].key}"}

    def aim(self, case) -> None:
        """Point the case's path parameters and the references in its body at objects that exist."""
        collection = case.operation.path.split("/")[3]
        known = {
            "slug": {"products": "cross-sell", "domains": "sales", "teams": "growth"}.get(collection),
            "name": self.tag.name,
            "id": self.ids.get(collection),
        }
        for key in list(case.path_parameters or {}):
            if known.get(key) is not None:
                case.path_parameters[key] = known[key]
        if isinstance(case.body, dict) and collection not in ("domains", "tags"):
            self.aim_body(case.body)

    def aim_body(self, body: dict) -> None:
        references = {
            "product": "cross-sell",
            "domain": "sales",
            "goal": self.ids["goals"],
            "initiative": self.ids["initiatives"],
            "output": self.ids["outputs"],
            "kpi": self.ids["kpis"],
            "source_output": self.ids["upstream"],
        }
        for key, value in references.items():
            if key in body:
                body[key] = value


@pytest.fixture
def world(db):
    # Schemathesis calls the WSGI app directly, so Django's request signals would close the
    # test's database connection (and its transaction) after each call; keep it open.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield World()
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@pytest.mark.parametrize("role", ["pm", "admin"])
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_keeps_to_its_schema(case, role, world):
    world.aim(case)
    with transaction.atomic():
        case.call_and_validate(headers=world.headers(role), checks=CHECKS)
        transaction.set_rollback(True)


@pytest.mark.skipif(
    "ENUM_NAME_OVERRIDES" not in django_settings.SPECTACULAR_SETTINGS,
    reason="needs SPECTACULAR_SETTINGS['ENUM_NAME_OVERRIDES'] to name the shared choice sets",
)
def test_the_schema_is_generated_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
