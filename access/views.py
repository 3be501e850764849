"""Base view mixins over the policy, so views never filter by hand (after NetBox ``utilities/views.py``).

Generic over models: a view names its queryset and, for a single object, the action
it performs; these mixins ask :mod:`access.policy` and answer 404 for an object the
user may not see and 403 for one they may see but not act on.
"""

from __future__ import annotations

from django.db import models

from . import policy


class RestrictedQuerysetMixin:
    """``get_queryset()`` returns only the rows the user may do ``action`` on (default: view)."""

    action: str = policy.VIEW

    def get_base_queryset(self) -> models.QuerySet:
        """The unrestricted queryset (with its select/prefetch); subclasses override this, not get_queryset."""
        return super().get_queryset()

    def get_queryset(self) -> models.QuerySet:
        return policy.restrict(self.get_base_queryset(), self.request.user, self.action)


class RestrictedObjectMixin:
    """``get_object()`` through the policy: 404 if the user may not see it, 403 if they may not do ``action``.

    Use with a ``SingleObjectMixin`` view (DetailView, UpdateView, DeleteView); the lookup
    is the view's ``slug_field``/``slug_url_kwarg`` or ``pk_url_kwarg``.
    """

    action: str = policy.VIEW

    def get_object_lookup(self) -> dict:
        pk = self.kwargs.get(self.pk_url_kwarg)
        if pk is not None:
            return {"pk": pk}
        return {self.get_slug_field(): self.kwargs[self.slug_url_kwarg]}

    def get_object(self, queryset: models.QuerySet | None = None) -> models.Model:
        if queryset is None:
            queryset = self.get_queryset()
        obj = policy.get_visible_or_404(queryset, self.request.user, **self.get_object_lookup())
        if self.action != policy.VIEW:
            policy.require(self.request.user, self.action, obj)
        return obj
