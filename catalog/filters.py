"""What the hub's search narrows and sorts by beyond the product's own fields: its health.

Products know nothing of quality; the health row (``product.health``, kept by quality) is reached
here by string lookups. A product without a health row has measured nothing yet: it is ``unknown``.
"""

from __future__ import annotations

from django.db.models import Case, CharField, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce

from quality.choices import HEALTH_ORDER, Health

HEALTH_LABELS = dict(Health.choices)


def health_state() -> Coalesce:
    """The product's health state, ``unknown`` when it has no health row."""
    return Coalesce("health__state", Value(Health.UNKNOWN), output_field=CharField())


def health_rank() -> Case:
    """0 for the worst health in HEALTH_ORDER, counting up: for a queryset annotated with ``health_state``."""
    whens = [When(health_state=state, then=Value(rank)) for rank, state in enumerate(HEALTH_ORDER)]
    return Case(*whens, default=Value(len(HEALTH_ORDER)), output_field=IntegerField())


def filter_health(queryset: QuerySet, state: str) -> QuerySet:
    """Products in this health ``state``; like the other facets, a value no product has matches nothing."""
    if not state:
        return queryset
    if "\x00" in state:
        return queryset.none()  # PostgreSQL refuses a NUL byte in a query
    if state == Health.UNKNOWN:
        return queryset.filter(Q(health__isnull=True) | Q(health__state=Health.UNKNOWN))
    return queryset.filter(health__state=state)


def narrow(queryset: QuerySet, selected: dict[str, str]) -> QuerySet:
    """Narrow by every selected facet: the product's own (``filter_facets``) and its health."""
    own = {name: value for name, value in selected.items() if name != "health"}
    return filter_health(queryset.filter_facets(**own), selected.get("health", ""))
