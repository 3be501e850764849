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

import pytest
import schemathesis
from django.db import transaction
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from hub.wsgi import application
from tests import factories

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)

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
        parts = {
            "goals": hypothesis.goal,
            "initiatives": hypothesis.initiative,
            "hypotheses": hypothesis,
            "use-cases": factories.UseCaseFactory(product=product),
            "usage-patterns": factories.UsagePatternFactory(product=product),
            "outputs": output,
            "kpis": kpi,
            "slos": factories.SLOFactory(product=product, kpi=kpi),
            "inputs": factories.ProductInputFactory(product=product),
        }
        return {name: part.pk for name, part in parts.items()}

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Token {self.tokens[role].key}"}

    def aim(self, case) -> None:
        """Point the case's path parameters and named references at objects that exist."""
        collection = case.operation.path.split("/")[3]
        known = {
            "slug": {"products": "cross-sell", "domains": "sales", "teams": "growth"}.get(collection),
            "name": self.tag.name,
            "id": self.ids.get(collection),
        }
        for key in list(case.path_parameters or {}):
            if known.get(key) is not None:
                case.path_parameters[key] = known[key]
        if isinstance(case.body, dict) and collection != "domains":
            for key, value in {"product": "cross-sell", "domain": "sales"}.items():
                if key in case.body:
                    case.body[key] = value


@pytest.fixture
def world(db):
    return World()


@schema.parametrize()
@pytest.mark.parametrize("role", ["pm", "admin"])
@settings(max_examples=10, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_the_api_keeps_to_its_schema(case, role, world):
    world.aim(case)
    import time, os
    t = time.perf_counter()
    with transaction.atomic():
        case.call_and_validate(headers=world.headers(role), checks=CHECKS)
        transaction.set_rollback(True)
    with open("/tmp/probe.log", "a") as f:
        f.write(f"{case.method} {case.operation.path} {case.meta.phase.name if case.meta else None} {time.perf_counter()-t:.3f}\n")
