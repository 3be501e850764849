"""The Access section of the product page (registered from ``AccessConfig.ready()``).

For everyone who sees the product: per output, how they read it and a request form (or their
pending request). For those who manage access: pending requests to decide, grants in force, the
permanent read permissions, and a form to grant; for the owner and admins, which stewards may
manage access. A constant number of queries, however many outputs, requests or grants.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.contenttypes.models import ContentType
from django.http import HttpRequest
from guardian.utils import get_group_obj_perms_model, get_user_obj_perms_model

from . import policy
from .forms import AccessRequestForm, DecisionForm, GrantForm, read_permission_choices
from .models import AccessGrant, AccessRequest, RequestStatus
from .readable import delegates, may_delegate, readable_model

LEVEL_TEXT = {
    policy.UNMASKED: "You read this in clear",
    policy.MASKED: "You read this masked",
    None: "You have no access",
}


@dataclass
class OutputAccess:
    output: object
    level: str | None
    my_requests: list = field(default_factory=list)
    pending: list = field(default_factory=list)  # for managers: requests to decide
    grants: list = field(default_factory=list)
    permissions: list = field(default_factory=list)  # (holder kind, holder, codename, level)
    form: AccessRequestForm | None = None

    @property
    def level_text(self) -> str:
        return LEVEL_TEXT[self.level]

    @property
    def can_ask(self) -> bool:
        """A request makes sense below unmasked, unless one is already pending for every higher level."""
        asked = {request.level for request in self.my_requests}
        return self.level != policy.UNMASKED and policy.UNMASKED not in asked and (self.level or "x") not in asked


def access_context(request: HttpRequest, product) -> dict | None:
    user = request.user
    if not policy.is_signed_in(user):
        return None
    outputs = list(product.outputs.all())
    levels = read_levels(user, product)
    rows = {output.pk: OutputAccess(output, levels.get(output.pk)) for output in outputs}
    ids = list(rows)
    for access_request in requests_on(ids).filter(requester=user, status=RequestStatus.PENDING):
        rows[access_request.object_id].my_requests.append(access_request)
    for row in rows.values():
        row.form = AccessRequestForm(auto_id=f"id_request_{row.output.pk}_%s")
    manages = policy.can_manage_access(user, product)
    context = {"rows": list(rows.values()), "manages": manages, "count": len(outputs)}
    if manages:
        add_management(context, rows, product, user)
    return context


def read_levels(user, product) -> dict[int, str]:
    """Each output's read level for the user, in two queries (``policy.readable``, agreeing with ``read_level``)."""
    outputs = readable_model()._default_manager.filter(product=product)
    masked = set(policy.readable(outputs, user, policy.MASKED).values_list("pk", flat=True))
    unmasked = set(policy.readable(outputs, user, policy.UNMASKED).values_list("pk", flat=True))
    return {pk: policy.UNMASKED if pk in unmasked else policy.MASKED for pk in masked | unmasked}


def requests_on(ids: list[int]):
    content_type = ContentType.objects.get_for_model(readable_model())
    return AccessRequest.objects.filter(content_type=content_type, object_id__in=ids).select_related("requester")


def add_management(context: dict, rows: dict, product, user) -> None:
    ids = list(rows)
    for access_request in requests_on(ids).filter(status=RequestStatus.PENDING).order_by("created"):
        rows[access_request.object_id].pending.append(access_request)
    grants = AccessGrant.objects.active().filter(content_type=content_type(), object_id__in=ids)
    for grant in grants.select_related("user", "group").order_by("expires_at", "id"):
        rows[grant.object_id].grants.append(grant)
    for output_id, entry in read_permissions(ids):
        rows[output_id].permissions.append(entry)
    outputs = readable_model()._default_manager.filter(product=product)
    context.update(
        decision_form=DecisionForm(),
        grant_form=GrantForm(outputs=outputs, auto_id="id_grant_%s"),
        pending_count=sum(len(row.pending) for row in rows.values()),
        managers=stewards_who_manage(product) if may_delegate(user, product) else None,
    )


def content_type():
    return ContentType.objects.get_for_model(readable_model())


def read_permissions(ids: list[int]):
    """(output id, entry) for each permanent read permission on the outputs, to users and groups."""
    model = readable_model()
    levels = dict(read_permission_choices())
    for kind, table in (("user", get_user_obj_perms_model(model)), ("group", get_group_obj_perms_model(model))):
        perms = table.objects.filter(content_object__in=ids, permission__codename__in=levels)
        for perm in perms.select_related(kind, "permission").order_by("pk"):
            holder = getattr(perm, kind)
            entry = {"kind": kind, "holder": holder, "codename": perm.permission.codename}
            yield perm.content_object_id, {**entry, "level": levels[perm.permission.codename]}


def stewards_who_manage(product) -> list[tuple]:
    """(steward, may manage access) for each steward who is not the owner."""
    table = get_user_obj_perms_model(type(product))
    holders = set(
        table.objects.filter(content_object=product, permission__codename=policy.MANAGE_ACCESS).values_list(
            "user_id", flat=True
        )
    )
    return [(person, person.pk in holders) for person in delegates(product) if person.pk != product.owner_id]
